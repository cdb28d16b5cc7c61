//! Moves with a trapezoidal speed profile: accelerate, cruise, decelerate.

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

#[cfg(test)]
mod tests {
    use super::*;

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
