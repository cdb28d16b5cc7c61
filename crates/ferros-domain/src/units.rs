//! Validated value types: coordinates, Julian dates, durations, priorities and
//! observing limits. Each constructor checks its range once, at the edge, so the
//! rest of Ferros never sees an RA of 400 degrees or a negative exposure.

use std::fmt;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::DomainError;

fn finite(field: &'static str, value: f64) -> Result<f64, DomainError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(DomainError::out_of_range(field, value, "a finite number"))
    }
}

/// Right ascension, J2000, in degrees within `0 <= ra < 360`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Ra(f64);

impl Ra {
    pub fn from_degrees(deg: f64) -> Result<Self, DomainError> {
        let deg = finite("ra", deg)?;
        if (0.0..360.0).contains(&deg) {
            Ok(Self(deg))
        } else {
            Err(DomainError::out_of_range("ra", deg, "0 <= ra < 360 degrees"))
        }
    }

    pub fn degrees(self) -> f64 {
        self.0
    }

    /// Right ascension in hours (0..24).
    pub fn hours(self) -> f64 {
        self.0 / 15.0
    }
}

impl TryFrom<f64> for Ra {
    type Error = DomainError;
    fn try_from(v: f64) -> Result<Self, DomainError> {
        Self::from_degrees(v)
    }
}

impl From<Ra> for f64 {
    fn from(v: Ra) -> f64 {
        v.0
    }
}

/// Declination, J2000, in degrees within `-90 <= dec <= 90`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Dec(f64);

impl Dec {
    pub fn from_degrees(deg: f64) -> Result<Self, DomainError> {
        let deg = finite("dec", deg)?;
        if (-90.0..=90.0).contains(&deg) {
            Ok(Self(deg))
        } else {
            Err(DomainError::out_of_range("dec", deg, "-90 <= dec <= 90 degrees"))
        }
    }

    pub fn degrees(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Dec {
    type Error = DomainError;
    fn try_from(v: f64) -> Result<Self, DomainError> {
        Self::from_degrees(v)
    }
}

impl From<Dec> for f64 {
    fn from(v: Dec) -> f64 {
        v.0
    }
}

/// A position on the sky, J2000 equatorial.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Coordinates {
    pub ra: Ra,
    pub dec: Dec,
}

impl Coordinates {
    pub fn new(ra_deg: f64, dec_deg: f64) -> Result<Self, DomainError> {
        Ok(Self { ra: Ra::from_degrees(ra_deg)?, dec: Dec::from_degrees(dec_deg)? })
    }
}

/// The Julian date of the Unix epoch, 1970-01-01T00:00:00 UTC.
const JD_UNIX_EPOCH: f64 = 2_440_587.5;
const SECONDS_PER_DAY: f64 = 86_400.0;

/// A Julian date in the UTC time scale (days). Ferros keeps every instant of the
/// planning in this form, as PyROS did; conversions to calendar time go through
/// [`JulianDate::to_datetime`].
///
/// Valid dates lie between JD 2 000 000 (year 763) and JD 3 000 000 (year 3501): a
/// number outside is a unit mistake (seconds, MJD) rather than a date.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct JulianDate(f64);

impl JulianDate {
    pub const MIN: f64 = 2_000_000.0;
    pub const MAX: f64 = 3_000_000.0;

    pub fn new(days: f64) -> Result<Self, DomainError> {
        let days = finite("jd", days)?;
        if (Self::MIN..=Self::MAX).contains(&days) {
            Ok(Self(days))
        } else {
            Err(DomainError::out_of_range("jd", days, "a Julian date between 2000000 and 3000000"))
        }
    }

    pub fn days(self) -> f64 {
        self.0
    }

    /// The Julian date of a calendar instant (in range for years 763..3501).
    pub fn from_datetime(t: DateTime<Utc>) -> Result<Self, DomainError> {
        let secs = t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) * 1e-9;
        Self::new(JD_UNIX_EPOCH + secs / SECONDS_PER_DAY)
    }

    /// Calendar time of this date, to the microsecond.
    pub fn to_datetime(self) -> DateTime<Utc> {
        let micros = ((self.0 - JD_UNIX_EPOCH) * SECONDS_PER_DAY * 1e6).round() as i64;
        // The range check in `new` keeps this well inside chrono's range.
        Utc.timestamp_micros(micros).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// This date moved by a number of seconds (may be negative).
    pub fn plus_seconds(self, seconds: f64) -> Result<Self, DomainError> {
        Self::new(self.0 + seconds / SECONDS_PER_DAY)
    }

    /// Seconds from `earlier` to `self`.
    pub fn seconds_since(self, earlier: JulianDate) -> f64 {
        (self.0 - earlier.0) * SECONDS_PER_DAY
    }
}

impl TryFrom<f64> for JulianDate {
    type Error = DomainError;
    fn try_from(v: f64) -> Result<Self, DomainError> {
        Self::new(v)
    }
}

impl From<JulianDate> for f64 {
    fn from(v: JulianDate) -> f64 {
        v.0
    }
}

impl fmt::Display for JulianDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A length of time in seconds, never negative.
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Seconds(f64);

impl Seconds {
    pub const ZERO: Seconds = Seconds(0.0);

    pub fn new(field: &'static str, secs: f64) -> Result<Self, DomainError> {
        let secs = finite(field, secs)?;
        if secs >= 0.0 {
            Ok(Self(secs))
        } else {
            Err(DomainError::out_of_range(field, secs, "a duration >= 0 seconds"))
        }
    }

    pub fn from_hours(field: &'static str, hours: f64) -> Result<Self, DomainError> {
        Self::new(field, hours * 3600.0)
    }

    pub fn get(self) -> f64 {
        self.0
    }

    pub fn hours(self) -> f64 {
        self.0 / 3600.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0.0
    }

    pub fn max(self, other: Seconds) -> Seconds {
        if other.0 > self.0 { other } else { self }
    }

    /// `self - other`, floored at zero.
    pub fn saturating_sub(self, other: Seconds) -> Seconds {
        Seconds((self.0 - other.0).max(0.0))
    }
}

impl std::ops::Add for Seconds {
    type Output = Seconds;
    fn add(self, rhs: Seconds) -> Seconds {
        Seconds(self.0 + rhs.0)
    }
}

impl std::iter::Sum for Seconds {
    fn sum<I: Iterator<Item = Seconds>>(iter: I) -> Seconds {
        iter.fold(Seconds::ZERO, |a, b| a + b)
    }
}

impl TryFrom<f64> for Seconds {
    type Error = DomainError;
    fn try_from(v: f64) -> Result<Self, DomainError> {
        Self::new("duration", v)
    }
}

impl From<Seconds> for f64 {
    fn from(v: Seconds) -> f64 {
        v.0
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} s", self.0)
    }
}

/// A scheduling priority: lower numbers are more urgent. Alerts use 0; routine
/// programs use 1..=100 (TAC grade A = 10, B = 20, C = 30, see [`crate::Grade`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i32", into = "i32")]
pub struct Priority(u8);

impl Priority {
    pub const ALERT: Priority = Priority(0);
    pub const MAX: u8 = 100;

    pub fn new(value: i32) -> Result<Self, DomainError> {
        if (0..=i32::from(Self::MAX)).contains(&value) {
            Ok(Self(value as u8))
        } else {
            Err(DomainError::out_of_range("priority", value as f64, "0..=100"))
        }
    }

    pub fn get(self) -> i32 {
        i32::from(self.0)
    }
}

impl TryFrom<i32> for Priority {
    type Error = DomainError;
    fn try_from(v: i32) -> Result<Self, DomainError> {
        Self::new(v)
    }
}

impl From<Priority> for i32 {
    fn from(v: Priority) -> i32 {
        v.get()
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The per-sequence shift of its program's priority, at most 5 either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i32", into = "i32")]
pub struct PriorityModulation(i8);

impl PriorityModulation {
    pub const LIMIT: i32 = 5;

    pub fn new(value: i32) -> Result<Self, DomainError> {
        if (-Self::LIMIT..=Self::LIMIT).contains(&value) {
            Ok(Self(value as i8))
        } else {
            Err(DomainError::out_of_range(
                "priority",
                value as f64,
                "-5..=5 (a modulation of the program's priority)",
            ))
        }
    }

    pub fn get(self) -> i32 {
        i32::from(self.0)
    }

    /// The priority a sequence is planned with: its program's priority moved by
    /// this modulation. A routine sequence never reaches 0, which alerts own.
    pub fn apply(self, program: Priority) -> Priority {
        let p = (program.get() + self.get()).clamp(1, i32::from(Priority::MAX));
        Priority(p as u8)
    }
}

impl TryFrom<i32> for PriorityModulation {
    type Error = DomainError;
    fn try_from(v: i32) -> Result<Self, DomainError> {
        Self::new(v)
    }
}

impl From<PriorityModulation> for i32 {
    fn from(v: PriorityModulation) -> i32 {
        v.get()
    }
}

/// An angle in degrees used as a limit (altitude, separation), checked against a range.
pub fn degrees_in(field: &'static str, value: f64, min: f64, max: f64) -> Result<f64, DomainError> {
    let value = finite(field, value)?;
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(DomainError::out_of_range(field, value, &format!("{min}..={max} degrees")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ra_and_dec_reject_out_of_range() {
        assert!(Ra::from_degrees(0.0).is_ok());
        assert!(Ra::from_degrees(359.999).is_ok());
        assert!(Ra::from_degrees(360.0).is_err());
        assert!(Ra::from_degrees(-0.1).is_err());
        assert!(Ra::from_degrees(f64::NAN).is_err());
        assert!(Dec::from_degrees(-90.0).is_ok());
        assert!(Dec::from_degrees(90.0).is_ok());
        assert!(Dec::from_degrees(90.01).is_err());
        let err = Dec::from_degrees(-91.0).unwrap_err().to_string();
        assert!(err.contains("dec") && err.contains("-91"), "{err}");
    }

    #[test]
    fn julian_date_round_trips_calendar_time() {
        let t = Utc.with_ymd_and_hms(2017, 11, 18, 18, 0, 0).unwrap();
        let jd = JulianDate::from_datetime(t).unwrap();
        assert!((jd.days() - 2_458_076.25).abs() < 1e-9);
        assert_eq!(jd.to_datetime(), t);
        assert!(JulianDate::new(15.0).is_err());
        assert!(JulianDate::from_datetime(Utc.with_ymd_and_hms(4000, 1, 1, 0, 0, 0).unwrap()).is_err());
        let later = jd.plus_seconds(3600.0).unwrap();
        assert!((later.seconds_since(jd) - 3600.0).abs() < 1e-4);
    }

    #[test]
    fn seconds_are_never_negative() {
        assert!(Seconds::new("exposure", -1.0).is_err());
        assert_eq!(Seconds::from_hours("quota", 2.0).unwrap().get(), 7200.0);
        let a = Seconds::new("a", 5.0).unwrap();
        let b = Seconds::new("b", 7.0).unwrap();
        assert_eq!(a.saturating_sub(b), Seconds::ZERO);
        assert_eq!(a.max(b), b);
    }

    #[test]
    fn modulation_is_bounded_and_keeps_zero_for_alerts() {
        assert!(PriorityModulation::new(6).is_err());
        assert!(PriorityModulation::new(-6).is_err());
        let p = Priority::new(3).unwrap();
        assert_eq!(PriorityModulation::new(-5).unwrap().apply(p).get(), 1);
        assert_eq!(PriorityModulation::new(5).unwrap().apply(p).get(), 8);
        assert_eq!(PriorityModulation::new(2).unwrap().apply(Priority::new(99).unwrap()).get(), 100);
        assert!(Priority::new(101).is_err());
    }
}
