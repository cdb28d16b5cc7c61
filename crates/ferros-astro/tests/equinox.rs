//! J2000 and of-date places, and the horizontal frame helpers.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use ferros_astro::equinox::{altaz, hadec, j2000_to_jnow, jnow_to_j2000, local_sidereal_time};
use ferros_domain::JulianDate;

#[test]
fn precession_to_2026_and_back() {
    let t = JulianDate::new(2_461_366.5).unwrap(); // 2026-11-22
    // Vega precessed over 26.9 years; astropy (ICRS -> FK5, equinox J2026.89) gives
    // 279.4605, 38.8080 (nutation, up to 0.005 deg, is not in FK5).
    let (ra, dec) = j2000_to_jnow(279.234_735, 38.783_689, t).unwrap();
    assert!((ra - 279.4605).abs() < 0.01 && (dec - 38.8080).abs() < 0.01, "{ra} {dec}");
    let (ra0, dec0) = jnow_to_j2000(ra, dec, t).unwrap();
    assert!((ra0 - 279.234_735).abs() < 1e-9 && (dec0 - 38.783_689).abs() < 1e-9);
}

#[test]
fn hour_angle_and_horizon_are_inverse() {
    for (ha, dec) in [(0.0, 10.0), (-45.0, 60.0), (120.0, -30.0), (179.0, 80.0)] {
        let (alt, az) = altaz(ha, dec, 31.04);
        let (h, d) = hadec(alt, az, 31.04);
        assert!((h - ha).abs() < 1e-9 && (d - dec).abs() < 1e-9, "{ha} {dec}: {h} {d}");
    }
    // On the meridian, south of the zenith: azimuth 180, altitude 90 - lat + dec.
    let (alt, az) = altaz(0.0, 10.0, 31.04);
    assert!((alt - 68.96).abs() < 1e-9 && (az - 180.0).abs() < 1e-9);
    let t = JulianDate::new(2_461_366.5).unwrap();
    let lst = local_sidereal_time(t, -115.4637).unwrap();
    assert!((0.0..360.0).contains(&lst));
}
