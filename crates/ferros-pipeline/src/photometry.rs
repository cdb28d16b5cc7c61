//! Photometry against the catalogue, and the transient candidates of an
//! alert's error circle.
//!
//! The zero point is the clipped median of catalogue magnitude minus
//! instrumental magnitude (-2.5 log10 of the flux per second) over the
//! well-measured sources (S/N above 10, not split from a blend, not sharper
//! than a pixel) matched to a catalogue star, at least two; every source then
//! gets its magnitude. A candidate is a source inside the error circle,
//! well measured (S/N at least 5, not saturated, not at the edge, not
//! sharper than the stars: a hot pixel or a cosmic ray), that has no
//! catalogue star within the match radius, or is brighter than its star by
//! more than 0.75 magnitude.

use ferros_catalog::{Catalogue, Star};
use serde::{Deserialize, Serialize};

use crate::extract::flags;
use crate::wcs::separation;
use crate::{Analysis, Measured, stats};

/// The zero point and what it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZeroPoint {
    /// Magnitude of a source of 1 count per second.
    pub zero_point: f64,
    /// Its uncertainty (the scatter over the stars, divided by their number's root).
    pub error: f64,
    pub stars: usize,
}

/// An error circle: centre and radius, degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Circle {
    pub ra: f64,
    pub dec: f64,
    pub radius: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub x: f64,
    pub y: f64,
    pub ra: f64,
    pub dec: f64,
    pub mag: Option<f64>,
    pub mag_err: Option<f64>,
    /// From the circle's centre, arcseconds.
    pub offset_arcsec: f64,
    /// The catalogue star at its place, when it is brighter than it.
    pub catalogue_mag: Option<f64>,
    pub why: String,
}

fn well_measured(s: &Measured, sn: f64) -> bool {
    s.flux > sn * s.flux_err
        && s.flags & (flags::SATURATED | flags::TRUNCATED | flags::APERTURE_INCOMPLETE) == 0
}

/// The stars of the catalogue over the image (its WCS's), brightest first.
pub fn stars_over(analysis: &Analysis, catalogue: &Catalogue, width: usize, height: usize) -> Vec<Star> {
    let Some(w) = &analysis.wcs else { return Vec::new() };
    let (ra, dec) = w.pixel_to_sky((width as f64 + 1.0) / 2.0, (height as f64 + 1.0) / 2.0);
    let half = (width as f64).hypot(height as f64) / 2.0 * w.scale() / 3600.0;
    catalogue.cone(ra, dec, half * 1.02)
}

/// The nearest star within `radius` arcseconds of a source.
fn nearest<'a>(s: &Measured, stars: &'a [Star], radius: f64) -> Option<(&'a Star, f64)> {
    let (ra, dec) = (s.ra?, s.dec?);
    let cosd = dec.to_radians().cos().max(1e-3);
    stars
        .iter()
        .filter(|st| {
            (st.dec - dec).abs() * 3600.0 <= radius
                && ((st.ra - ra + 540.0) % 360.0 - 180.0).abs() * cosd * 3600.0 <= radius
        })
        .map(|st| (st, separation((ra, dec), (st.ra, st.dec)) * 3600.0))
        .filter(|(_, d)| *d <= radius)
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// Fits the zero point and gives every source its magnitude; `None` (and
/// the magnitudes left empty) with fewer than 2 matched stars.
pub fn calibrate(
    analysis: &mut Analysis,
    stars: &[Star],
    exposure_s: f64,
    radius_arcsec: f64,
) -> Option<ZeroPoint> {
    if exposure_s.is_nan() || exposure_s <= 0.0 {
        return None;
    }
    let mut offsets: Vec<f32> = analysis
        .sources
        .iter()
        .filter(|s| well_measured(s, 10.0) && s.flags & flags::DEBLENDED == 0 && s.fwhm >= 1.0)
        .filter_map(|s| {
            let (st, _) = nearest(s, stars, radius_arcsec)?;
            Some((f64::from(st.mag) + 2.5 * (s.flux / exposure_s).log10()) as f32)
        })
        .collect();
    if offsets.len() < 2 {
        return None;
    }
    let c = stats::clipped(&mut offsets, 3.0, 10);
    let zp = c.median;
    let error = c.std / (c.kept.max(1) as f64).sqrt();
    for s in &mut analysis.sources {
        if s.flux > 0.0 {
            s.mag = Some(zp - 2.5 * (s.flux / exposure_s).log10());
            s.mag_err = Some((1.0857 * s.flux_err / s.flux).hypot(error));
        }
    }
    Some(ZeroPoint { zero_point: zp, error, stars: c.kept })
}

/// The transient candidates inside `circle`.
pub fn candidates(analysis: &Analysis, stars: &[Star], circle: Circle, radius_arcsec: f64) -> Vec<Candidate> {
    let fwhm = analysis.fwhm.unwrap_or(0.0);
    let mut out = Vec::new();
    for s in &analysis.sources {
        let (Some(ra), Some(dec)) = (s.ra, s.dec) else { continue };
        let offset = separation((ra, dec), (circle.ra, circle.dec));
        if offset > circle.radius || !well_measured(s, 5.0) || s.fwhm < 1.0 || s.fwhm < 0.5 * fwhm {
            continue;
        }
        let why;
        let mut catalogue_mag = None;
        match nearest(s, stars, radius_arcsec) {
            None => why = "not in the catalogue".to_owned(),
            Some((st, _)) => match s.mag {
                Some(m) if m < f64::from(st.mag) - 0.75 => {
                    why = format!("{:.2} magnitude brighter than the catalogue", f64::from(st.mag) - m);
                    catalogue_mag = Some(f64::from(st.mag));
                }
                _ => continue,
            },
        }
        out.push(Candidate {
            x: s.x,
            y: s.y,
            ra,
            dec,
            mag: s.mag,
            mag_err: s.mag_err,
            offset_arcsec: offset * 3600.0,
            catalogue_mag,
            why,
        });
    }
    out.sort_by(|a, b| a.mag.unwrap_or(f64::MAX).total_cmp(&b.mag.unwrap_or(f64::MAX)));
    out
}
