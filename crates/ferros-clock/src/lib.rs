//! The one clock every part of Ferros reads time from:
//!
//! - **real** UTC;
//! - **simulated**: a live clock that starts at a given instant and runs N
//!   times faster than the wall clock (the "mock time" of seed 004), for a
//!   demonstration that someone watches (`ferros start --time T --speed N`);
//! - **virtual**: the time of a discrete-event simulation. It is tokio's
//!   paused clock: it stands still while any task has work to do and jumps
//!   to the next timer when every task waits on one. A simulated night on it
//!   gives the same result on any machine, loaded or idle, and runs as fast
//!   as the machine can. Everything a step does (database, files, CPU work)
//!   must then finish inside the step: [`Clock::offload`] runs blocking work
//!   in place on a virtual clock, and the database has a blocking mode
//!   (`ferros_db::Db::connect_virtual`).
//!
//! Simulated and virtual time are measured with tokio's clock, so a test may
//! pause it too (`tokio::time::pause`, `#[tokio::test(start_paused = true)]`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub enum Clock {
    Real,
    /// Live, accelerated: `speed` seconds of clock per real second.
    Simulated {
        start: DateTime<Utc>,
        origin: Instant,
        speed: f64,
    },
    /// A discrete-event simulation's time, on a runtime whose clock is paused.
    Virtual {
        start: DateTime<Utc>,
        origin: Instant,
    },
}

/// A simulated clock's speed must be a finite number > 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InvalidSpeed(pub f64);

impl std::fmt::Display for InvalidSpeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "clock speed must be a number > 0, got {}", self.0)
    }
}

impl std::error::Error for InvalidSpeed {}

/// Blocking work that could not finish (it panicked, or its runtime is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("blocking work failed: {0}")]
pub struct OffloadError(String);

impl Clock {
    pub fn real() -> Self {
        Clock::Real
    }

    /// Simulated time: `start` now, then `speed` simulated seconds per real second.
    pub fn simulated(start: DateTime<Utc>, speed: f64) -> Result<Self, InvalidSpeed> {
        if speed.is_finite() && speed > 0.0 {
            Ok(Clock::Simulated { start, origin: Instant::now(), speed })
        } else {
            Err(InvalidSpeed(speed))
        }
    }

    /// Virtual time from `start`. Meant for a runtime whose clock is paused
    /// (`start_paused`): time then moves only when every task waits.
    pub fn virtual_from(start: DateTime<Utc>) -> Self {
        Clock::Virtual { start, origin: Instant::now() }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match *self {
            Clock::Real => Utc::now(),
            Clock::Simulated { start, origin, speed } => {
                let elapsed = origin.elapsed().as_secs_f64() * speed;
                start + chrono::Duration::microseconds((elapsed * 1e6).round() as i64)
            }
            Clock::Virtual { start, origin } => {
                let elapsed = origin.elapsed();
                start
                    + chrono::Duration::from_std(elapsed)
                        .unwrap_or_else(|_| chrono::Duration::seconds(i64::from(u32::MAX)))
            }
        }
    }

    /// Clock seconds per real second (1 for real and virtual time).
    pub fn speed(&self) -> f64 {
        match *self {
            Clock::Real | Clock::Virtual { .. } => 1.0,
            Clock::Simulated { speed, .. } => speed,
        }
    }

    /// Not the wall clock: simulated or virtual.
    pub fn is_simulated(&self) -> bool {
        !matches!(self, Clock::Real)
    }

    /// A discrete-event simulation's clock.
    pub fn is_virtual(&self) -> bool {
        matches!(self, Clock::Virtual { .. })
    }

    /// How long tokio's clock must run for `simulated` to pass on this clock.
    pub fn real_duration(&self, simulated: Duration) -> Duration {
        simulated.div_f64(self.speed())
    }

    /// Sleeps for a duration of this clock's time.
    pub async fn sleep(&self, simulated: Duration) {
        tokio::time::sleep(self.real_duration(simulated)).await;
    }

    /// Runs blocking work (files, CPU-heavy planning): on a blocking thread,
    /// so the async workers (safety first) never wait on it; in place on a
    /// virtual clock, where a step's work must be over before time moves.
    pub async fn offload<T, F>(&self, work: F) -> Result<T, OffloadError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if self.is_virtual() {
            Ok(work())
        } else {
            tokio::task::spawn_blocking(work).await.map_err(|e| OffloadError(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[tokio::test(start_paused = true)]
    async fn simulated_time_runs_at_its_speed() {
        let start = Utc.with_ymd_and_hms(2026, 11, 22, 18, 0, 0).unwrap();
        let clock = Clock::simulated(start, 60.0).unwrap();
        assert_eq!(clock.now(), start);
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(clock.now(), start + chrono::Duration::minutes(10));
        // One simulated hour takes one real minute.
        let before = Instant::now();
        clock.sleep(Duration::from_secs(3600)).await;
        assert_eq!(before.elapsed(), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn virtual_time_moves_only_when_every_task_waits() {
        let start = Utc.with_ymd_and_hms(2026, 11, 22, 18, 0, 0).unwrap();
        let clock = Clock::virtual_from(start);
        assert!(clock.is_virtual() && clock.is_simulated());
        // Work done in place takes no time at all.
        let n = clock.offload(|| (0..1_000_000u64).sum::<u64>()).await.unwrap();
        assert_eq!(n, 499_999_500_000);
        assert_eq!(clock.now(), start);
        // Two sleepers: time jumps from one wake-up to the next.
        let a = tokio::spawn(async move {
            clock.sleep(Duration::from_secs(3600)).await;
            clock.now()
        });
        let b = tokio::spawn(async move {
            clock.sleep(Duration::from_secs(60)).await;
            clock.now()
        });
        assert_eq!(b.await.unwrap(), start + chrono::Duration::minutes(1));
        assert_eq!(a.await.unwrap(), start + chrono::Duration::hours(1));
    }

    #[test]
    fn speed_must_be_positive() {
        assert!(Clock::simulated(Utc::now(), 0.0).is_err());
        assert!(Clock::simulated(Utc::now(), f64::NAN).is_err());
        assert_eq!(Clock::real().speed(), 1.0);
        let drift = (Clock::real().now() - Utc::now()).num_seconds().abs();
        assert!(drift < 5);
    }
}
