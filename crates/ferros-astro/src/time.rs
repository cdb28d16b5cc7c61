//! Time scales: UTC, TAI (with leap seconds), TT, UT1, Julian dates and MJD,
//! Earth rotation angle and sidereal time.
//!
//! UT1 - UTC is taken as 0: |UT1 - UTC| < 0.9 s by definition, so positions
//! computed with it are off by at most 0.9 s of Earth rotation, 13.5 arcsec on
//! the equator, and event times by at most 0.9 s.

use ferros_domain::JulianDate;
use serde::Serialize;
use sofars::{erst, ts};

use crate::AstroError;

/// The Julian date of the MJD origin, used to split dates for precision.
pub const MJD_ZERO: f64 = 2_400_000.5;
/// The Earth rotation angle's rate, radians per UT1 day.
pub const ERA_RATE: f64 = std::f64::consts::TAU * 1.002_737_811_911_354_5;

/// The dates ferros-astro serves: the span of its Earth ephemeris (1900..2100).
pub const FIRST_JD: f64 = 2_415_020.5;
pub const LAST_JD: f64 = 2_488_069.5;

pub(crate) fn check_range(jd: f64) -> Result<(), AstroError> {
    if (FIRST_JD..=LAST_JD).contains(&jd) { Ok(()) } else { Err(AstroError::DateOutOfRange(jd)) }
}

/// One UTC instant in the time scales astronomy needs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TimeScales {
    pub utc_jd: f64,
    pub mjd: f64,
    /// TAI - UTC, seconds (37 since 2017).
    pub leap_seconds: f64,
    pub tai_jd: f64,
    pub tt_jd: f64,
    pub ut1_jd: f64,
    /// Earth rotation angle, degrees.
    pub era_deg: f64,
    /// Greenwich mean and apparent sidereal time (IAU 2006/2000A), hours.
    pub gmst_h: f64,
    pub gast_h: f64,
}

impl TimeScales {
    pub fn at(utc: JulianDate) -> Result<Self, AstroError> {
        let jd = utc.days();
        let ((u1, u2), (tai1, tai2), (tt1, tt2)) = split_scales(jd)?;
        let (ut1, ut2) = (u1, u2);
        let to_hours = 12.0 / std::f64::consts::PI;
        Ok(Self {
            utc_jd: jd,
            mjd: u2,
            leap_seconds: ((tai1 - u1) + (tai2 - u2)) * 86_400.0,
            tai_jd: tai1 + tai2,
            tt_jd: tt1 + tt2,
            ut1_jd: ut1 + ut2,
            era_deg: erst::era00(ut1, ut2).to_degrees(),
            gmst_h: erst::gmst06(ut1, ut2, tt1, tt2) * to_hours,
            gast_h: erst::gst06a(ut1, ut2, tt1, tt2) * to_hours,
        })
    }
}

/// Greenwich mean sidereal time (IAU 2006) at `utc`, hours: what
/// [`TimeScales::at`] gives as `gmst_h`, without the rest.
pub fn gmst_hours(utc: JulianDate) -> Result<f64, AstroError> {
    let ((u1, u2), _, (tt1, tt2)) = split_scales(utc.days())?;
    Ok(erst::gmst06(u1, u2, tt1, tt2) * 12.0 / std::f64::consts::PI)
}

/// A UTC Julian date as SOFA's two-part UTC (= UT1 here), TAI and TT.
type TwoPart = (f64, f64);
fn split_scales(jd: f64) -> Result<(TwoPart, TwoPart, TwoPart), AstroError> {
    check_range(jd)?;
    let (u1, u2) = (MJD_ZERO, jd - MJD_ZERO);
    let (tai1, tai2) = ts::utctai(u1, u2).map_err(|e| AstroError::Sofa("utctai", e))?;
    let (tt1, tt2) = ts::taitt(tai1, tai2).map_err(|e| AstroError::Sofa("taitt", e))?;
    Ok(((u1, u2), (tai1, tai2), (tt1, tt2)))
}

/// The UTC Julian date of a TT Julian date (the inverse of [`TimeScales::tt_jd`]).
pub fn utc_from_tt(tt_jd: f64) -> Result<JulianDate, AstroError> {
    check_range(tt_jd)?;
    let (tai1, tai2) = ts::tttai(MJD_ZERO, tt_jd - MJD_ZERO).map_err(|e| AstroError::Sofa("tttai", e))?;
    let (u1, u2) = ts::taiutc(tai1, tai2).map_err(|e| AstroError::Sofa("taiutc", e))?;
    JulianDate::new(u1 + u2).map_err(|_| AstroError::DateOutOfRange(u1 + u2))
}

/// The UTC Julian date of a TAI Julian date.
pub fn utc_from_tai(tai_jd: f64) -> Result<JulianDate, AstroError> {
    check_range(tai_jd)?;
    let (u1, u2) = ts::taiutc(MJD_ZERO, tai_jd - MJD_ZERO).map_err(|e| AstroError::Sofa("taiutc", e))?;
    JulianDate::new(u1 + u2).map_err(|_| AstroError::DateOutOfRange(u1 + u2))
}

/// TT as a two-part Julian date, for the ephemerides.
pub(crate) fn tt_of(utc_jd: f64) -> Result<(f64, f64), AstroError> {
    let (tai1, tai2) = ts::utctai(MJD_ZERO, utc_jd - MJD_ZERO).map_err(|e| AstroError::Sofa("utctai", e))?;
    ts::taitt(tai1, tai2).map_err(|e| AstroError::Sofa("taitt", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leap_seconds_and_tt() {
        // 2026-11-22T00:00:00 UTC.
        let t = TimeScales::at(JulianDate::new(2_461_366.5).unwrap()).unwrap();
        assert!((t.leap_seconds - 37.0).abs() < 1e-6, "{t:?}");
        assert!(((t.tt_jd - t.utc_jd) * 86_400.0 - 69.184).abs() < 1e-4);
        assert!((t.mjd - 61_366.0).abs() < 1e-9);
        // 2000-01-01T12:00 UTC: the ERA at J2000.0 is 280.46 degrees.
        let j2000 = TimeScales::at(JulianDate::new(2_451_545.0).unwrap()).unwrap();
        assert!((j2000.era_deg - 280.4606).abs() < 0.01, "{j2000:?}");
        assert!((j2000.gmst_h - 18.697).abs() < 0.01, "{j2000:?}");
        assert!(TimeScales::at(JulianDate::new(2_500_000.0).unwrap()).is_err());
        assert_eq!(gmst_hours(JulianDate::new(2_451_545.0).unwrap()).unwrap(), j2000.gmst_h);
        assert!(gmst_hours(JulianDate::new(2_500_000.0).unwrap()).is_err());
        // And back.
        assert!((utc_from_tt(t.tt_jd).unwrap().days() - t.utc_jd).abs() * 86_400.0 < 1e-4);
        assert!((utc_from_tai(t.tai_jd).unwrap().days() - t.utc_jd).abs() * 86_400.0 < 1e-4);
        // Across the leap second of 2016-12-31: TAI - UTC went from 36 to 37 s.
        let before = TimeScales::at(JulianDate::new(2_457_753.5 - 1e-4).unwrap()).unwrap();
        let after = TimeScales::at(JulianDate::new(2_457_754.5).unwrap()).unwrap();
        assert!((before.leap_seconds - 36.0).abs() < 1e-3 && (after.leap_seconds - 37.0).abs() < 1e-3);
    }
}
