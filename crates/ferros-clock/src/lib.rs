//! The one clock every part of Ferros reads time from: real UTC, or simulated
//! time that starts at a given instant and runs N times faster (the "mock time"
//! of seed 004), so a whole night can run in seconds in a test or a demo.
//!
//! Simulated time is measured with tokio's clock, so tests may pause and advance
//! it (`tokio::time::pause`) and stay deterministic.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub enum Clock {
    Real,
    Simulated { start: DateTime<Utc>, origin: Instant, speed: f64 },
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

    pub fn now(&self) -> DateTime<Utc> {
        match *self {
            Clock::Real => Utc::now(),
            Clock::Simulated { start, origin, speed } => {
                let elapsed = origin.elapsed().as_secs_f64() * speed;
                start + chrono::Duration::microseconds((elapsed * 1e6).round() as i64)
            }
        }
    }

    pub fn speed(&self) -> f64 {
        match *self {
            Clock::Real => 1.0,
            Clock::Simulated { speed, .. } => speed,
        }
    }

    pub fn is_simulated(&self) -> bool {
        matches!(self, Clock::Simulated { .. })
    }

    /// How long to really wait for `simulated` to pass on this clock.
    pub fn real_duration(&self, simulated: Duration) -> Duration {
        simulated.div_f64(self.speed())
    }

    /// Sleeps for a duration of this clock's time.
    pub async fn sleep(&self, simulated: Duration) {
        tokio::time::sleep(self.real_duration(simulated)).await;
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

    #[test]
    fn speed_must_be_positive() {
        assert!(Clock::simulated(Utc::now(), 0.0).is_err());
        assert!(Clock::simulated(Utc::now(), f64::NAN).is_err());
        assert_eq!(Clock::real().speed(), 1.0);
        let drift = (Clock::real().now() - Utc::now()).num_seconds().abs();
        assert!(drift < 5);
    }
}
