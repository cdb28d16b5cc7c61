//! Ferros ephemerides, on SOFA (the `sofars` crate): time scales, apparent
//! positions of the Sun, the Moon and J2000 targets for a site, the Moon's
//! phase, rise/set/twilight events and visibility windows.
//!
//! Pure: no IO, no clock. Times are UTC Julian dates; angles are degrees.
//! Conventions (docs/astronomy.md): altitudes are geometric (no refraction);
//! sunrise and sunset when the Sun's centre is at -0.833 degrees; twilights
//! at -6/-12/-18 degrees; Moon and target rise/set when the topocentric centre
//! is at the horizon altitude (0 by default); UT1 - UTC is taken as 0.

mod bodies;
mod dark;
pub mod equinox;
mod frame;
pub mod search;
mod sky;
mod time;
mod track;

use serde::Serialize;
use thiserror::Error;

pub use bodies::{Body, BodyPosition, Equatorial, MoonPhase};
pub use dark::{MAX_NIGHTS, dark_seconds};
pub use frame::{Cirs, Frame, Horizontal, separation};
pub use sky::{
    ASTRONOMICAL, CIVIL, Limits, NAUTICAL, NightEvents, NightSky, STEP_MINUTES, SUNRISE_ALTITUDE,
    TargetEvents, Window, altitude_floor, local_noon, night_of,
};
pub use time::{FIRST_JD, LAST_JD, TimeScales, gmst_hours, utc_from_tai, utc_from_tt};
pub use track::SunAltitudes;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum AstroError {
    #[error("{field} = {value} is out of range (expected {expected})")]
    Invalid { field: &'static str, value: f64, expected: &'static str },
    #[error("JD {0} is outside the dates Ferros computes (1900-01-01 to 2100-01-01)")]
    DateOutOfRange(f64),
    #[error("SOFA {0} failed with status {1}")]
    Sofa(&'static str, i32),
}

impl AstroError {
    pub(crate) fn invalid(field: &'static str, value: f64, expected: &'static str) -> Self {
        AstroError::Invalid { field, value, expected }
    }
}

/// An observatory's place: geodetic latitude and longitude (degrees, east
/// positive) and height above the WGS84 ellipsoid (metres).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Site {
    latitude: f64,
    longitude: f64,
    elevation: f64,
}

impl Site {
    pub fn new(latitude: f64, longitude: f64, elevation: f64) -> Result<Self, AstroError> {
        if !(latitude.is_finite() && (-90.0..=90.0).contains(&latitude)) {
            return Err(AstroError::invalid("latitude", latitude, "-90..90 degrees"));
        }
        if !(longitude.is_finite() && (-180.0..=180.0).contains(&longitude)) {
            return Err(AstroError::invalid("longitude", longitude, "-180..180 degrees, east positive"));
        }
        if !(elevation.is_finite() && (-500.0..=10_000.0).contains(&elevation)) {
            return Err(AstroError::invalid("elevation", elevation, "-500..10000 metres"));
        }
        Ok(Self { latitude, longitude, elevation })
    }

    pub fn latitude(&self) -> f64 {
        self.latitude
    }

    pub fn longitude(&self) -> f64 {
        self.longitude
    }

    pub fn elevation(&self) -> f64 {
        self.elevation
    }
}
