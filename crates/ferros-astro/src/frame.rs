//! The observing frame of one site at one instant: everything SOFA needs to
//! turn a catalogue position into an apparent topocentric one (aberration,
//! light deflection, precession-nutation, Earth rotation), computed once and
//! shared by every target. Refraction is not applied: altitudes are geometric.

use ferros_domain::{Coordinates, JulianDate};
use serde::Serialize;
use sofars::astro::{IauAstrom, ab, apco13, atciq, atioq};
use sofars::vm::{anp, c2s, rxp};

use crate::time::{ERA_RATE, MJD_ZERO, check_range, tt_of};
use crate::{AstroError, Site};

/// Light time for one au, days.
const AU_LIGHT_DAYS: f64 = 499.004_783_836_1 / 86_400.0;

/// Where a body or star appears from the site.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Horizontal {
    /// Altitude, degrees (no refraction).
    pub alt: f64,
    /// Azimuth, degrees from north through east.
    pub az: f64,
    /// Local hour angle, hours, -12..12 (west positive).
    pub ha: f64,
}

impl Horizontal {
    /// The airmass (secant of the zenith distance), or `None` below the horizon.
    pub fn airmass(&self) -> Option<f64> {
        (self.alt > 0.0).then(|| 1.0 / self.alt.to_radians().sin())
    }
}

/// An apparent place in the CIRS (celestial intermediate) frame, radians.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cirs {
    pub ri: f64,
    pub di: f64,
}

impl Cirs {
    pub fn unit(&self) -> [f64; 3] {
        let (sr, cr) = self.ri.sin_cos();
        let (sd, cd) = self.di.sin_cos();
        [cd * cr, cd * sr, sd]
    }
}

#[derive(Debug, Clone)]
pub struct Frame {
    pub(crate) utc_jd: f64,
    pub(crate) tt: (f64, f64),
    pub(crate) astrom: IauAstrom,
}

impl Frame {
    pub fn new(site: &Site, utc: JulianDate) -> Result<Self, AstroError> {
        Self::at(site, utc.days())
    }

    pub(crate) fn at(site: &Site, jd: f64) -> Result<Self, AstroError> {
        check_range(jd)?;
        let mut astrom = IauAstrom::default();
        let mut eo = 0.0;
        apco13(
            MJD_ZERO,
            jd - MJD_ZERO,
            0.0,
            site.longitude().to_radians(),
            site.latitude().to_radians(),
            site.elevation(),
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            &mut astrom,
            &mut eo,
        )
        .map_err(|e| AstroError::Sofa("apco13", e))?;
        Ok(Self { utc_jd: jd, tt: tt_of(jd)?, astrom })
    }

    pub fn utc(&self) -> f64 {
        self.utc_jd
    }

    /// This frame moved by `dt` days, turning only the Earth: accurate to far
    /// below an arcsecond over minutes, and far cheaper than a new frame.
    pub(crate) fn rotated(&self, dt: f64) -> IauAstrom {
        let mut a = self.astrom;
        a.eral += ERA_RATE * dt;
        a
    }

    /// A J2000 (ICRS) catalogue position as seen from here, in CIRS.
    pub fn star_cirs(&self, c: Coordinates) -> Cirs {
        let mut astrom = self.astrom;
        let (ri, di) =
            atciq(c.ra.degrees().to_radians(), c.dec.degrees().to_radians(), 0.0, 0.0, 0.0, 0.0, &mut astrom);
        Cirs { ri, di }
    }

    /// A body given by its barycentric position (au) as a function of TT,
    /// corrected for light time and aberration, in CIRS; with its distance (au).
    pub(crate) fn body_cirs(&self, bary_at: impl Fn(f64, f64) -> [f64; 3]) -> (Cirs, f64) {
        apparent(&self.astrom, self.tt, bary_at)
    }

    pub fn horizontal(&self, c: Cirs) -> Horizontal {
        horizontal_with(&self.astrom, c)
    }

    /// Alt/az of a J2000 position at this instant.
    pub fn star(&self, c: Coordinates) -> Horizontal {
        self.horizontal(self.star_cirs(c))
    }
}

/// The apparent place, as seen by the observer of `astrom`, of a body whose
/// barycentric position is given as a function of TT: light time, aberration,
/// then precession-nutation to CIRS.
pub(crate) fn apparent(
    astrom: &IauAstrom,
    tt: (f64, f64),
    bary_at: impl Fn(f64, f64) -> [f64; 3],
) -> (Cirs, f64) {
    let eb = astrom.eb;
    let mut lt = 0.0;
    let mut p = [0.0; 3];
    let mut dist = 0.0;
    for _ in 0..3 {
        let b = bary_at(tt.0, tt.1 - lt);
        p = [b[0] - eb[0], b[1] - eb[1], b[2] - eb[2]];
        dist = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt();
        lt = dist * AU_LIGHT_DAYS;
    }
    let pnat = [p[0] / dist, p[1] / dist, p[2] / dist];
    let ppr = ab(&pnat, &astrom.v, astrom.em, astrom.bm1);
    let mut pi = [0.0; 3];
    rxp(&astrom.bpn, &ppr, &mut pi);
    let (ri, di) = c2s(&pi);
    (Cirs { ri: anp(ri), di }, dist)
}

pub(crate) fn horizontal_with(astrom: &IauAstrom, c: Cirs) -> Horizontal {
    let (aob, zob, hob, _dob, _rob) = atioq(c.ri, c.di, astrom);
    let mut ha = hob.to_degrees() / 15.0;
    if ha > 12.0 {
        ha -= 24.0;
    } else if ha <= -12.0 {
        ha += 24.0;
    }
    Horizontal { alt: 90.0 - zob.to_degrees(), az: aob.to_degrees(), ha }
}

/// Angle between two unit vectors, degrees.
pub fn separation(a: [f64; 3], b: [f64; 3]) -> f64 {
    let cross = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
    let s = (cross[0] * cross[0] + cross[1] * cross[1] + cross[2] * cross[2]).sqrt();
    let c = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    s.atan2(c).to_degrees()
}
