//! One night at one site: the Sun's and Moon's events, and for any target its
//! rise, set, transit and visibility windows under constraints.
//!
//! The night of a date runs from the site's local mean noon of that date
//! (12:00 UTC minus longitude/15 hours, east positive) to the next one. Frames
//! are computed every [`STEP_MINUTES`] minutes once for the night and shared by
//! every target; crossings are refined to 0.05 s.

use chrono::NaiveDate;
use ferros_domain::{Coordinates, JulianDate};
use serde::Serialize;

use crate::bodies::Body;
use crate::frame::{Cirs, Frame, Horizontal, horizontal_with, separation};
use crate::search::{Crossing, crossings, grid, intersect, intervals_where};
use crate::{AstroError, Site};

pub const STEP_MINUTES: usize = 10;
const STEPS: usize = 24 * 60 / STEP_MINUTES;

/// Sun altitudes of the events, degrees of the Sun's centre.
pub const SUNRISE_ALTITUDE: f64 = -0.833;
pub const CIVIL: f64 = -6.0;
pub const NAUTICAL: f64 = -12.0;
pub const ASTRONOMICAL: f64 = -18.0;

/// The events of a night; `None` when one does not happen (polar day or night).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NightEvents {
    /// The night's span: local mean noon to the next.
    pub noon_start: JulianDate,
    pub noon_end: JulianDate,
    pub sunset: Option<JulianDate>,
    pub sunrise: Option<JulianDate>,
    pub civil_dusk: Option<JulianDate>,
    pub civil_dawn: Option<JulianDate>,
    pub nautical_dusk: Option<JulianDate>,
    pub nautical_dawn: Option<JulianDate>,
    pub astronomical_dusk: Option<JulianDate>,
    pub astronomical_dawn: Option<JulianDate>,
    /// When the Sun goes below / comes above the configured night altitude.
    pub night_start: Option<JulianDate>,
    pub night_end: Option<JulianDate>,
    pub moonrise: Option<JulianDate>,
    pub moonset: Option<JulianDate>,
    /// Illuminated fraction of the Moon at local midnight (0..1).
    pub moon_illumination: f64,
}

/// A target's events in the night; `None` when they do not happen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetEvents {
    pub rise: Option<JulianDate>,
    pub set: Option<JulianDate>,
    /// Upper culmination.
    pub transit: Option<JulianDate>,
    pub transit_altitude: Option<f64>,
}

/// Limits a target must meet to be observed, as in [`ferros_domain::Constraints`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    /// Minimum altitude, degrees (default 0).
    pub min_altitude: Option<f64>,
    pub max_airmass: Option<f64>,
    /// Minimum distance to the Moon's centre, degrees.
    pub min_moon_distance: Option<f64>,
    /// Maximum Sun altitude, degrees; the night's own limit always applies too.
    pub max_sun_altitude: Option<f64>,
    /// Only within this span (Julian dates).
    pub between: Option<(f64, f64)>,
}

impl From<&ferros_domain::Constraints> for Limits {
    fn from(c: &ferros_domain::Constraints) -> Self {
        Limits {
            min_altitude: c.min_altitude,
            max_airmass: c.max_airmass,
            min_moon_distance: c.min_moon_distance,
            max_sun_altitude: c.max_sun_altitude,
            between: None,
        }
    }
}

/// A time interval of a visibility window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Window {
    pub start: JulianDate,
    pub end: JulianDate,
}

pub struct NightSky {
    site: Site,
    night_altitude: f64,
    frames: Vec<Frame>,
    sun_alt: Vec<f64>,
    moon: Vec<Cirs>,
    moon_alt: Vec<f64>,
    events: NightEvents,
    /// Where the Sun is below the night altitude.
    dark: Vec<(f64, f64)>,
}

impl std::fmt::Debug for NightSky {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NightSky")
            .field("site", &self.site)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// Local mean noon of a date at a longitude, as a UTC Julian date.
pub fn local_noon(date: NaiveDate, longitude: f64) -> f64 {
    let days = date.signed_duration_since(NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default()).num_days();
    2_451_544.5 + days as f64 + 0.5 - longitude / 360.0
}

/// The date of the night `jd` belongs to: nights start at local mean noon.
pub fn night_of(jd: JulianDate, longitude: f64) -> NaiveDate {
    let date = jd.to_datetime().date_naive();
    if jd.days() < local_noon(date, longitude) { date - chrono::Duration::days(1) } else { date }
}

/// The lowest altitude a sequence may be observed at: its own minimum, and
/// never under the site's horizon (`site.horizon`, counted up to 10 degrees).
/// The planner places blocks and the executor checks them with this one rule:
/// were they to differ, the executor would give back what the planner placed.
pub fn altitude_floor(min_altitude: Option<f64>, horizon: f64) -> f64 {
    min_altitude.unwrap_or(0.0).max(horizon.min(10.0))
}

fn jd(v: f64) -> Option<JulianDate> {
    JulianDate::new(v).ok()
}

impl NightSky {
    /// Computes the night of `date` at `site`; `night_altitude` (degrees, e.g.
    /// -12) is the Sun altitude below which it is night.
    pub fn new(site: Site, date: NaiveDate, night_altitude: f64) -> Result<Self, AstroError> {
        if !(-90.0..=90.0).contains(&night_altitude) {
            return Err(AstroError::invalid("night altitude", night_altitude, "-90..90 degrees"));
        }
        let start = local_noon(date, site.longitude());
        let times = grid(start, start + 1.0, STEPS);
        let frames = times.iter().map(|&t| Frame::at(&site, t)).collect::<Result<Vec<_>, _>>()?;
        let mut sun_alt = Vec::with_capacity(frames.len());
        let mut moon = Vec::with_capacity(frames.len());
        let mut moon_alt = Vec::with_capacity(frames.len());
        for f in &frames {
            let (s, _) = f.body(Body::Sun);
            sun_alt.push(f.horizontal(s).alt);
            let (m, _) = f.body(Body::Moon);
            moon.push(m);
            moon_alt.push(f.horizontal(m).alt);
        }
        let midnight = Frame::at(&site, start + 0.5)?;
        let mut sky = NightSky {
            site,
            night_altitude,
            frames,
            sun_alt,
            moon,
            moon_alt,
            events: NightEvents {
                noon_start: JulianDate::new(start).map_err(|_| AstroError::DateOutOfRange(start))?,
                noon_end: JulianDate::new(start + 1.0).map_err(|_| AstroError::DateOutOfRange(start))?,
                sunset: None,
                sunrise: None,
                civil_dusk: None,
                civil_dawn: None,
                nautical_dusk: None,
                nautical_dawn: None,
                astronomical_dusk: None,
                astronomical_dawn: None,
                night_start: None,
                night_end: None,
                moonrise: None,
                moonset: None,
                moon_illumination: midnight.moon_phase().illumination,
            },
            dark: Vec::new(),
        };
        let (sunset, sunrise) = sky.dusk_dawn(SUNRISE_ALTITUDE);
        let (civil_dusk, civil_dawn) = sky.dusk_dawn(CIVIL);
        let (nautical_dusk, nautical_dawn) = sky.dusk_dawn(NAUTICAL);
        let (astronomical_dusk, astronomical_dawn) = sky.dusk_dawn(ASTRONOMICAL);
        let (night_start, night_end) = sky.dusk_dawn(night_altitude);
        let moon_crossings = sky.moon_crossings(0.0);
        let e = &mut sky.events;
        (e.sunset, e.sunrise) = (sunset, sunrise);
        (e.civil_dusk, e.civil_dawn) = (civil_dusk, civil_dawn);
        (e.nautical_dusk, e.nautical_dawn) = (nautical_dusk, nautical_dawn);
        (e.astronomical_dusk, e.astronomical_dawn) = (astronomical_dusk, astronomical_dawn);
        (e.night_start, e.night_end) = (night_start, night_end);
        e.moonrise = moon_crossings.iter().find(|c| c.rising).and_then(|c| jd(c.jd));
        e.moonset = moon_crossings.iter().find(|c| !c.rising).and_then(|c| jd(c.jd));
        sky.dark = sky.sun_below(night_altitude);
        Ok(sky)
    }

    pub fn events(&self) -> &NightEvents {
        &self.events
    }

    pub fn site(&self) -> &Site {
        &self.site
    }

    /// The spans of the night when the Sun is below the night altitude.
    pub fn dark(&self) -> Vec<Window> {
        to_windows(&self.dark)
    }

    fn times(&self) -> impl Iterator<Item = f64> + '_ {
        self.frames.iter().map(Frame::utc)
    }

    /// Precise Sun altitude at any time (a fresh frame).
    fn sun_altitude_at(&self, t: f64) -> f64 {
        Frame::at(&self.site, t).map(|f| f.horizontal(f.body(Body::Sun).0).alt).unwrap_or(f64::NAN)
    }

    fn sun_crossings(&self, level: f64) -> Vec<Crossing> {
        let samples: Vec<(f64, f64)> = self.times().zip(&self.sun_alt).map(|(t, a)| (t, a - level)).collect();
        crossings(&samples, |t| self.sun_altitude_at(t) - level)
    }

    fn moon_crossings(&self, level: f64) -> Vec<Crossing> {
        let samples: Vec<(f64, f64)> =
            self.times().zip(&self.moon_alt).map(|(t, a)| (t, a - level)).collect();
        crossings(&samples, |t| {
            Frame::at(&self.site, t)
                .map(|f| f.horizontal(f.body(Body::Moon).0).alt - level)
                .unwrap_or(f64::NAN)
        })
    }

    /// When the Sun's centre goes below `level` degrees (the first setting in
    /// the night) and comes back above it (the first rising after that): the
    /// twilights for any Sun altitude.
    pub fn dusk_dawn(&self, level: f64) -> (Option<JulianDate>, Option<JulianDate>) {
        let c = self.sun_crossings(level);
        let dusk = c.iter().find(|c| !c.rising).map(|c| c.jd);
        let dawn = c.iter().find(|c| c.rising && dusk.is_none_or(|d| c.jd > d)).map(|c| c.jd);
        (dusk.and_then(jd), dawn.and_then(jd))
    }

    /// Spans of the night (noon to noon) when the Sun is below `level`.
    fn sun_below(&self, level: f64) -> Vec<(f64, f64)> {
        let samples: Vec<(f64, f64)> = self.times().zip(&self.sun_alt).map(|(t, a)| (t, level - a)).collect();
        intervals_where(&samples, |t| level - self.sun_altitude_at(t))
    }

    /// The frame at or before `t`, turned to `t`.
    fn astrom_at(&self, t: f64) -> sofars::astro::IauAstrom {
        let k = self.index(t);
        self.frames[k].rotated(t - self.frames[k].utc())
    }

    fn index(&self, t: f64) -> usize {
        let start = self.frames[0].utc();
        let step = 1.0 / STEPS as f64;
        (((t - start) / step).floor().max(0.0) as usize).min(self.frames.len() - 2)
    }

    /// The Moon's apparent direction (CIRS unit vector) at `t`, interpolated.
    fn moon_unit(&self, t: f64) -> [f64; 3] {
        let k = self.index(t);
        let (a, b) = (self.moon[k].unit(), self.moon[k + 1].unit());
        let w = (t - self.frames[k].utc()) * STEPS as f64;
        let v = [a[0] + (b[0] - a[0]) * w, a[1] + (b[1] - a[1]) * w, a[2] + (b[2] - a[2]) * w];
        let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        [v[0] / n, v[1] / n, v[2] / n]
    }

    /// A J2000 position's apparent place for this night (taken at local midnight).
    pub fn apparent(&self, c: Coordinates) -> Cirs {
        self.frames[STEPS / 2].star_cirs(c)
    }

    /// Where a J2000 position is at `t` (any time in the night).
    pub fn horizontal(&self, c: Cirs, t: f64) -> Horizontal {
        horizontal_with(&self.astrom_at(t), c)
    }

    /// Rise and set through `horizon` degrees, and transit, inside the night.
    pub fn target(&self, c: Coordinates, horizon: f64) -> TargetEvents {
        let p = self.apparent(c);
        let alt_samples: Vec<(f64, f64)> =
            self.times().map(|t| (t, self.horizontal(p, t).alt - horizon)).collect();
        let events = crossings(&alt_samples, |t| self.horizontal(p, t).alt - horizon);
        let ha_samples: Vec<(f64, f64)> = self.times().map(|t| (t, self.horizontal(p, t).ha)).collect();
        // Upper culmination: the hour angle going from negative to positive
        // (not its jump from +12 h to -12 h).
        let transit = ha_samples
            .windows(2)
            .find(|w| w[0].1 < 0.0 && w[1].1 >= 0.0 && w[1].1 - w[0].1 < 6.0)
            .map(|w| crossings(w, |t| self.horizontal(p, t).ha))
            .and_then(|c| c.first().map(|c| c.jd));
        TargetEvents {
            rise: events.iter().find(|e| e.rising).and_then(|e| jd(e.jd)),
            set: events.iter().find(|e| !e.rising).and_then(|e| jd(e.jd)),
            transit: transit.and_then(jd),
            transit_altitude: transit.map(|t| self.horizontal(p, t).alt),
        }
    }

    /// The windows of the night (Sun below the night altitude) when the target
    /// meets every limit; several per night when it sets and rises again.
    pub fn windows(&self, c: Coordinates, limits: &Limits) -> Vec<Window> {
        let mut span = match limits.max_sun_altitude {
            Some(s) if s < self.night_altitude => self.sun_below(s),
            _ => self.dark.clone(),
        };
        if let Some((a, b)) = limits.between {
            span = intersect(&span, &[(a, b)]);
        }
        let mut min_alt = limits.min_altitude.unwrap_or(0.0);
        if let Some(x) = limits.max_airmass.filter(|x| *x >= 1.0) {
            min_alt = min_alt.max((1.0 / x).asin().to_degrees());
        }
        let p = self.apparent(c);
        let mut out = Vec::new();
        for &(a, b) in &span {
            let samples = self.span_samples(a, b, |t| self.horizontal(p, t).alt - min_alt);
            let mut ok = intervals_where(&samples, |t| self.horizontal(p, t).alt - min_alt);
            if let Some(sep) = limits.min_moon_distance {
                let target = p.unit();
                let moon_sep = |t: f64| separation(target, self.moon_unit(t)) - sep;
                let samples = self.span_samples(a, b, moon_sep);
                ok = intersect(&ok, &intervals_where(&samples, moon_sep));
            }
            out.extend(ok);
        }
        to_windows(&out)
    }

    /// `f` at the frame times inside `a..b` and at both ends.
    fn span_samples(&self, a: f64, b: f64, mut f: impl FnMut(f64) -> f64) -> Vec<(f64, f64)> {
        let mut s = vec![(a, f(a))];
        s.extend(self.times().filter(|&t| t > a && t < b).map(|t| (t, f(t))));
        s.push((b, f(b)));
        s
    }
}

fn to_windows(spans: &[(f64, f64)]) -> Vec<Window> {
    spans.iter().filter_map(|&(a, b)| Some(Window { start: jd(a)?, end: jd(b)? })).collect()
}
