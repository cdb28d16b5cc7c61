//! When a target can first be observed from the site: above its altitude
//! limit while the Sun is below the night's altitude.

use chrono::{DateTime, TimeDelta, Utc};
use ferros_astro::{Frame, Site};
use ferros_domain::{Coordinates, JulianDate};

/// The site's sky, as the decisions ask it.
#[derive(Debug, Clone)]
pub struct Sky {
    pub site: Site,
    /// The Sun's altitude below which it is night, degrees (-12 by default).
    pub night_altitude: f64,
}

/// Steps of the search, seconds: a target rises a degree in 4 minutes at most.
const STEP_S: i64 = 300;

impl Sky {
    /// The first instant in `from ..= from + within` at which the target is
    /// at least `min_altitude` high at night, to the search's 5 minutes
    /// (`from` itself when it is observable at once).
    pub fn first_observable(
        &self,
        c: Coordinates,
        min_altitude: f64,
        from: DateTime<Utc>,
        within: TimeDelta,
    ) -> Option<DateTime<Utc>> {
        let steps = within.num_seconds().max(0) / STEP_S;
        (0..=steps)
            .map(|k| from + TimeDelta::seconds(k * STEP_S))
            .find(|&t| self.observable(c, min_altitude, t))
    }

    /// Whether the target is observable at `t`.
    pub fn observable(&self, c: Coordinates, min_altitude: f64, t: DateTime<Utc>) -> bool {
        let Ok(jd) = JulianDate::from_datetime(t) else { return false };
        let Ok(frame) = Frame::new(&self.site, jd) else { return false };
        frame.sun().horizontal.alt <= self.night_altitude && frame.star(c).alt >= min_altitude
    }
}
