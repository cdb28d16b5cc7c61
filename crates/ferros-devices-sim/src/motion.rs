//! Moves with a trapezoidal speed profile: accelerate, cruise, decelerate;
//! and the record of a device's motions.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// A clock interval in seconds (very long ones saturate).
pub(crate) fn seconds(d: chrono::Duration) -> f64 {
    d.num_microseconds().map_or(f64::MAX, |us| us as f64 * 1e-6)
}

/// A move of `distance` (degrees) at most `rate` (deg/s) with `accel` (deg/s²).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Profile {
    pub distance: f64,
    pub rate: f64,
    pub accel: f64,
}

impl Profile {
    /// Seconds the move takes.
    pub fn duration(&self) -> f64 {
        let d = self.distance.abs();
        if d == 0.0 {
            return 0.0;
        }
        let ramp = self.rate * self.rate / self.accel;
        if d >= ramp { d / self.rate + self.rate / self.accel } else { 2.0 * (d / self.accel).sqrt() }
    }

    /// Signed distance covered after `t` seconds.
    pub fn covered(&self, t: f64) -> f64 {
        let d = self.distance.abs();
        let total = self.duration();
        if t <= 0.0 || d == 0.0 {
            return 0.0;
        }
        if t >= total {
            return self.distance;
        }
        let peak = (self.rate).min((d * self.accel).sqrt());
        let t_ramp = peak / self.accel;
        let cruise = total - 2.0 * t_ramp;
        let x = if t < t_ramp {
            0.5 * self.accel * t * t
        } else if t < t_ramp + cruise {
            0.5 * self.accel * t_ramp * t_ramp + peak * (t - t_ramp)
        } else {
            let left = total - t;
            d - 0.5 * self.accel * left * left
        };
        x.min(d) * self.distance.signum()
    }
}

/// What a simulated device spent moving (or reading out), seen from inside
/// it: one interval per motion started, cut short by an abort or a new
/// motion of the same kind that the device received. Off until
/// [`Motions::start_recording`] (a long-running simulator would otherwise
/// keep every motion); a simulated night turns it on for its efficiency
/// figures.
#[derive(Debug, Clone, Default)]
pub struct Motions(Arc<Mutex<Option<Vec<Motion>>>>);

/// One motion: what moved, from when to when.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Motion {
    pub what: &'static str,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Motions {
    pub fn start_recording(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(Vec::new);
    }

    /// The motions recorded so far (none when not recording).
    pub fn recorded(&self) -> Vec<Motion> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_default()
    }

    /// A motion of `what` starting at `start` for `secs` seconds (an absurd
    /// length saturates); the last one of the same kind, if still going,
    /// ends there.
    pub(crate) fn started(&self, what: &'static str, start: DateTime<Utc>, secs: f64) {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let Some(list) = guard.as_mut() else { return };
        cut(list, what, start);
        let end = chrono::TimeDelta::try_milliseconds((secs.max(0.0) * 1000.0) as i64)
            .and_then(|d| start.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        list.push(Motion { what, start, end });
    }

    /// The last motion of `what` stopped at `at`.
    pub(crate) fn stopped(&self, what: &'static str, at: DateTime<Utc>) {
        if let Some(list) = self.0.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            cut(list, what, at);
        }
    }
}

fn cut(list: &mut [Motion], what: &'static str, at: DateTime<Utc>) {
    if let Some(last) = list.iter_mut().rev().find(|m| m.what == what) {
        last.end = last.end.min(at.max(last.start));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn motions_are_cut_by_a_stop_or_a_new_motion_of_their_kind() {
        let t = |s: i64| DateTime::<Utc>::from_timestamp(1_800_000_000 + s, 0).unwrap();
        let m = Motions::default();
        m.started("slew", t(0), 10.0);
        assert!(m.recorded().is_empty(), "not recording yet");
        m.start_recording();
        m.started("slew", t(0), 10.0);
        m.started("shutter", t(2), 60.0);
        m.started("slew", t(4), 5.0);
        m.stopped("shutter", t(30));
        m.stopped("slew", t(100));
        let r: Vec<(&str, DateTime<Utc>, DateTime<Utc>)> =
            m.recorded().iter().map(|x| (x.what, x.start, x.end)).collect();
        assert_eq!(r, vec![("slew", t(0), t(4)), ("shutter", t(2), t(30)), ("slew", t(4), t(9))]);
        m.started("readout", t(50), f64::INFINITY);
        assert_eq!(m.recorded()[3].end, DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn long_and_short_moves() {
        let long = Profile { distance: 90.0, rate: 5.0, accel: 2.0 };
        assert!((long.duration() - 20.5).abs() < 1e-9);
        assert!((long.covered(2.5) - 6.25).abs() < 1e-9);
        assert!((long.covered(20.5) - 90.0).abs() < 1e-9);
        assert!((long.covered(10.25) - 45.0).abs() < 1e-9, "symmetric: half way at half time");
        let short = Profile { distance: -2.0, rate: 5.0, accel: 2.0 };
        assert!((short.duration() - 2.0).abs() < 1e-9);
        assert!((short.covered(1.0) + 1.0).abs() < 1e-9);
        assert_eq!(Profile { distance: 0.0, rate: 1.0, accel: 1.0 }.duration(), 0.0);
    }
}
