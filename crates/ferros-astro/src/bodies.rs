//! The Sun and the Moon: barycentric positions from SOFA's ephemerides
//! (`epv00` for the Earth, `moon98` for the Moon, the ones astropy's built-in
//! ephemeris uses), apparent topocentric places, and the Moon's phase.

use serde::Serialize;
use sofars::astro::{IauAstrom, apci13};
use sofars::eph::{epv00, moon98};
use sofars::vm::anp;

use crate::frame::{Cirs, Frame, Horizontal, apparent};

/// Earth's barycentric and heliocentric positions at a TT date (au).
fn earth(tt1: f64, tt2: f64) -> ([f64; 3], [f64; 3]) {
    // The dates served are checked to lie inside epv00's span (1900..2100),
    // where it always answers.
    match epv00(tt1, tt2) {
        Some((helio, bary)) => (bary[0], helio[0]),
        None => ([f64::NAN; 3], [f64::NAN; 3]),
    }
}

pub(crate) fn sun_bary(tt1: f64, tt2: f64) -> [f64; 3] {
    let (b, h) = earth(tt1, tt2);
    [b[0] - h[0], b[1] - h[1], b[2] - h[2]]
}

pub(crate) fn moon_bary(tt1: f64, tt2: f64) -> [f64; 3] {
    let (b, _) = earth(tt1, tt2);
    let m = moon98(tt1, tt2)[0];
    [b[0] + m[0], b[1] + m[1], b[2] + m[2]]
}

/// A body as seen from the site.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BodyPosition {
    #[serde(flatten)]
    pub horizontal: Horizontal,
    /// Apparent place in the CIRS frame: RA (from the CIO) and Dec, degrees.
    pub ra_cirs: f64,
    pub dec_cirs: f64,
    /// Distance from the site, au.
    pub distance_au: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Body {
    Sun,
    Moon,
}

impl Frame {
    pub(crate) fn body(&self, body: Body) -> (Cirs, f64) {
        match body {
            Body::Sun => self.body_cirs(sun_bary),
            Body::Moon => self.body_cirs(moon_bary),
        }
    }

    pub fn sun(&self) -> BodyPosition {
        self.position(Body::Sun)
    }

    pub fn moon(&self) -> BodyPosition {
        self.position(Body::Moon)
    }

    fn position(&self, body: Body) -> BodyPosition {
        let (c, d) = self.body(body);
        BodyPosition {
            horizontal: self.horizontal(c),
            ra_cirs: c.ri.to_degrees(),
            dec_cirs: c.di.to_degrees(),
            distance_au: d,
        }
    }

    /// The apparent geocentric place of the Sun or the Moon: right ascension
    /// and declination on the true equator and equinox of date, and distance.
    pub fn geocentric(&self, body: Body) -> Equatorial {
        let mut astrom = IauAstrom::default();
        let mut eo = 0.0;
        apci13(self.tt.0, self.tt.1, &mut astrom, &mut eo);
        let bary = match body {
            Body::Sun => sun_bary,
            Body::Moon => moon_bary,
        };
        let (c, distance_au) = apparent(&astrom, self.tt, bary);
        Equatorial { ra: anp(c.ri - eo).to_degrees(), dec: c.di.to_degrees(), distance_au }
    }

    /// Angular distance from the Moon's centre to a J2000 position, as seen from the site, degrees.
    pub fn moon_separation(&self, c: ferros_domain::Coordinates) -> f64 {
        let (moon, _) = self.body(Body::Moon);
        crate::frame::separation(moon.unit(), self.star_cirs(c).unit())
    }

    /// The Moon's phase as seen from the Earth's centre.
    pub fn moon_phase(&self) -> MoonPhase {
        let (tt1, tt2) = self.tt;
        let (earth_b, _) = earth(tt1, tt2);
        let geo = |p: [f64; 3]| [p[0] - earth_b[0], p[1] - earth_b[1], p[2] - earth_b[2]];
        let light_time = |f: fn(f64, f64) -> [f64; 3]| {
            let mut lt = 0.0;
            let mut v = [0.0; 3];
            for _ in 0..3 {
                v = geo(f(tt1, tt2 - lt));
                lt = norm(v) * 499.004_783_836_1 / 86_400.0;
            }
            v
        };
        let sun = light_time(sun_bary);
        let moon = light_time(moon_bary);
        let (ds, dm) = (norm(sun), norm(moon));
        let elongation = crate::frame::separation(scale(sun, 1.0 / ds), scale(moon, 1.0 / dm)).to_radians();
        let phase_angle = (ds * elongation.sin()).atan2(dm - ds * elongation.cos());
        MoonPhase {
            phase_angle: phase_angle.to_degrees(),
            illumination: (1.0 + phase_angle.cos()) / 2.0,
            elongation: elongation.to_degrees(),
        }
    }
}

/// An apparent place on the true equator and equinox of date, degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Equatorial {
    pub ra: f64,
    pub dec: f64,
    pub distance_au: f64,
}

/// The Moon's phase angle (Sun-Moon-Earth, degrees), illuminated fraction (0..1)
/// and elongation from the Sun (degrees).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MoonPhase {
    pub phase_angle: f64,
    pub illumination: f64,
    pub elongation: f64,
}

fn norm(v: [f64; 3]) -> f64 {
    (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt()
}

fn scale(v: [f64; 3], k: f64) -> [f64; 3] {
    [v[0] * k, v[1] * k, v[2] * k]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Site;
    use ferros_domain::JulianDate;

    /// Values from astropy 8.0 (`get_body(..).transform_to(TETE(obstime=t))`, UT1 = UTC).
    #[test]
    fn geocentric_places_match_astropy() {
        let site = Site::new(31.0439, -115.4637, 2790.0).unwrap();
        let cases = [
            (2461367.25, Body::Sun, 238.2841242294923, -20.242867863274125, 0.9876468584942949),
            (2461367.25, Body::Moon, 30.76588249714082, 17.511943700960444, 0.002458275280944405),
            (2451545.0, Body::Sun, 281.2783878797111, -23.032429708687857, 0.9833276195910324),
            (2451545.0, Body::Moon, 222.45232952065416, -10.900258375175165, 0.002689963669730002),
        ];
        for (jd, body, ra, dec, dist) in cases {
            let (ra, dec, dist): (f64, f64, f64) = (ra, dec, dist);
            let f = Frame::new(&site, JulianDate::new(jd).unwrap()).unwrap();
            let g = f.geocentric(body);
            let err =
                (((g.ra - ra) * dec.to_radians().cos()).powi(2) + (g.dec - dec).powi(2)).sqrt() * 3600.0;
            assert!(err < 2.0, "{body:?} at {jd}: {g:?} is {err} arcsec from astropy");
            assert!((g.distance_au - dist).abs() / dist < 1e-6, "{g:?}");
        }
    }

    #[test]
    fn moon_separation_is_symmetric_with_the_moon_itself() {
        let site = Site::new(31.0439, -115.4637, 2790.0).unwrap();
        let f = Frame::new(&site, JulianDate::new(2461367.25).unwrap()).unwrap();
        let g = f.geocentric(Body::Moon);
        // Geocentric and topocentric Moon differ by the parallax, under a degree.
        let c = ferros_domain::Coordinates::new(g.ra, g.dec).unwrap();
        assert!(f.moon_separation(c) < 1.2, "{}", f.moon_separation(c));
    }
}
