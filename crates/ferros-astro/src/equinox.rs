//! What mounts speak: J2000 to and from "JNow" (true equator and equinox of
//! date, as INDI's EQUATORIAL_EOD_COORD), local sidereal time, and hour angle
//! and declination to and from altitude and azimuth. Precession-nutation only
//! (no aberration, no refraction): what a mount's pointing needs.

use ferros_domain::JulianDate;
use sofars::pnp::pnm06a;
use sofars::vm::{anp, c2s, rxp, s2c, trxp};

use crate::AstroError;
use crate::time::TimeScales;

/// J2000 RA/Dec (degrees) to RA/Dec of date at `utc`.
pub fn j2000_to_jnow(ra: f64, dec: f64, utc: JulianDate) -> Result<(f64, f64), AstroError> {
    let tt = TimeScales::at(utc)?.tt_jd;
    let m = pnm06a(tt, 0.0);
    let mut p = [0.0; 3];
    rxp(&m, &s2c(ra.to_radians(), dec.to_radians()), &mut p);
    let (a, d) = c2s(&p);
    Ok((anp(a).to_degrees(), d.to_degrees()))
}

/// RA/Dec of date at `utc` (degrees) to J2000.
pub fn jnow_to_j2000(ra: f64, dec: f64, utc: JulianDate) -> Result<(f64, f64), AstroError> {
    let tt = TimeScales::at(utc)?.tt_jd;
    let m = pnm06a(tt, 0.0);
    let mut p = [0.0; 3];
    trxp(&m, &s2c(ra.to_radians(), dec.to_radians()), &mut p);
    let (a, d) = c2s(&p);
    Ok((anp(a).to_degrees(), d.to_degrees()))
}

/// Local apparent sidereal time (degrees) at east longitude `longitude`.
pub fn local_sidereal_time(utc: JulianDate, longitude: f64) -> Result<f64, AstroError> {
    Ok((TimeScales::at(utc)?.gast_h * 15.0 + longitude).rem_euclid(360.0))
}

/// Hour angle and declination (degrees) to altitude and azimuth (north through east).
pub fn altaz(ha: f64, dec: f64, lat: f64) -> (f64, f64) {
    let (h, d, p) = (ha.to_radians(), dec.to_radians(), lat.to_radians());
    let alt = (p.sin() * d.sin() + p.cos() * d.cos() * h.cos()).clamp(-1.0, 1.0).asin();
    let az = (-d.cos() * h.sin()).atan2(d.sin() * p.cos() - d.cos() * p.sin() * h.cos());
    (alt.to_degrees(), az.to_degrees().rem_euclid(360.0))
}

/// Altitude and azimuth (degrees) to hour angle and declination.
pub fn hadec(alt: f64, az: f64, lat: f64) -> (f64, f64) {
    let (a, z, p) = (alt.to_radians(), az.to_radians(), lat.to_radians());
    let dec = (p.sin() * a.sin() + p.cos() * a.cos() * z.cos()).clamp(-1.0, 1.0).asin();
    let ha = (-a.cos() * z.sin()).atan2(a.sin() * p.cos() - a.cos() * p.sin() * z.cos());
    (ha.to_degrees(), dec.to_degrees())
}
