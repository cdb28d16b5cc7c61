//! The data reduction pipeline (docs/pipeline.md): master calibration frames
//! and calibrated images (`calibrate`), the sky background (`background`),
//! source extraction and photometry (`extract`), world coordinates (`wcs`),
//! astrometric solutions (`astrometry`) and the analysis of one image
//! against a catalogue (`analyse`): zero point, magnitudes, and the
//! transient candidates of an alert's error circle.

pub mod astrometry;
pub mod background;
pub mod calibrate;
pub mod extract;
mod par;
pub mod photometry;
pub mod stats;
pub mod wcs;

use serde::{Deserialize, Serialize};

pub use extract::{ExtractSettings, Source};
pub use wcs::Wcs;

use ferros_limits::{MAX_IMAGE_SIDE, MAX_SOURCES};

/// Why an image cannot be reduced: said of that image, the rest go on.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("not a readable FITS image: {0}")]
    Fits(#[from] ferros_fits::FitsError),
    #[error("{0}x{1} pixels: the pipeline reads images of 8x8 to {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE}")]
    Size(u32, u32),
    #[error("every pixel is blank (NaN or infinite)")]
    Blank,
    #[error("saturated: {0:.1} % of the pixels are at or above {1}")]
    Saturated(f64, f64),
    #[error("{key}: {message}")]
    Header { key: String, message: String },
    #[error("{0}")]
    Calibration(String),
    #[error("astrometry: {0}")]
    Astrometry(String),
    #[error("{0}")]
    Io(String),
}

/// An image as the pipeline takes it: real pixels and the header's facts.
#[derive(Debug, Clone)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<f32>,
    pub header: Vec<(String, String)>,
    /// Pixels that were NaN or infinite.
    pub blank: usize,
    /// At and above this value a pixel is saturated (SATURATE, else the
    /// largest 16-bit value for integer images).
    pub saturation: f64,
    /// Electrons per ADU (GAIN), 0 when unknown.
    pub gain: f64,
}

impl Image {
    /// Reads a FITS file's primary image and checks what the pipeline needs.
    pub fn from_fits(bytes: &[u8]) -> Result<Image, PipelineError> {
        let f = ferros_fits::read_real(bytes)?;
        let (w, h) = (f.width, f.height);
        if !(8..=MAX_IMAGE_SIDE).contains(&w) || !(8..=MAX_IMAGE_SIDE).contains(&h) {
            return Err(PipelineError::Size(w, h));
        }
        let number = |k: &str| -> Result<Option<f64>, PipelineError> {
            match f.keyword(k) {
                None => Ok(None),
                Some(v) => v.parse::<f64>().ok().filter(|x| x.is_finite()).map(Some).ok_or_else(|| {
                    PipelineError::Header { key: k.to_owned(), message: format!("\"{v}\" is not a number") }
                }),
            }
        };
        let saturation = match number("SATURATE")? {
            Some(s) => s,
            None if f.bitpix > 0 => {
                let bzero = number("BZERO")?.unwrap_or(0.0);
                let top = match f.bitpix {
                    8 => 255.0,
                    16 => 32767.0,
                    _ => 2147483647.0,
                };
                bzero + number("BSCALE")?.unwrap_or(1.0) * top
            }
            None => f64::INFINITY,
        };
        let gain = number("GAIN")?.filter(|g| *g > 0.0).unwrap_or(0.0);
        let mut pixels = f.pixels;
        let mut blank = 0;
        for p in &mut pixels {
            if !p.is_finite() {
                *p = f32::NAN;
                blank += 1;
            }
        }
        if blank == pixels.len() {
            return Err(PipelineError::Blank);
        }
        let saturated = pixels.iter().filter(|&&p| f64::from(p) >= saturation).count();
        let share = 100.0 * saturated as f64 / pixels.len() as f64;
        if share > 50.0 {
            return Err(PipelineError::Saturated(share, saturation));
        }
        Ok(Image { width: w as usize, height: h as usize, pixels, header: f.header, blank, saturation, gain })
    }

    pub fn keyword(&self, k: &str) -> Option<&str> {
        self.header.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
    }
}

/// One source as the pipeline reports it: positions in the FITS convention
/// (the first pixel's centre is 1,1, as SExtractor writes), `flux` in the
/// circular aperture and `flux_auto` in Kron's; sky position and magnitude
/// when the image has a WCS and a zero point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    pub x: f64,
    pub y: f64,
    pub flux: f64,
    pub flux_err: f64,
    pub flux_auto: f64,
    pub flux_auto_err: f64,
    pub fwhm: f64,
    pub ellipticity: f64,
    pub flags: u32,
    pub ra: Option<f64>,
    pub dec: Option<f64>,
    pub mag: Option<f64>,
    pub mag_err: Option<f64>,
}

/// What the pipeline made of an image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// The sky's median level and noise, image units.
    pub background: f64,
    pub rms: f64,
    pub sources: Vec<Measured>,
    pub wcs: Option<Wcs>,
    /// Median FWHM of the unflagged sources, pixels.
    pub fwhm: Option<f64>,
    /// Blank (NaN) pixels left out.
    pub blank_pixels: usize,
    /// What could not be done, and why (no WCS, too few stars...).
    pub notes: Vec<String>,
    /// The astrometric solution's solver and quality, when solved.
    #[serde(default)]
    pub astrometry: Option<AstrometryOutcome>,
    #[serde(default)]
    pub photometry: Option<photometry::ZeroPoint>,
    /// An alert image's error circle and what is new in it.
    #[serde(default)]
    pub circle: Option<photometry::Circle>,
    #[serde(default)]
    pub candidates: Vec<photometry::Candidate>,
}

/// Which solver gave the WCS, on how many stars, how well.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AstrometryOutcome {
    pub solver: String,
    pub matched: usize,
    pub rms_arcsec: f64,
}

/// What `reduce` does beyond extraction.
#[derive(Clone, Copy)]
pub struct Reduction<'a> {
    pub extract: ExtractSettings,
    /// The catalogue of the astrometry and photometry.
    pub catalogue: Option<&'a ferros_catalog::Catalogue>,
    pub solver: Option<&'a dyn astrometry::Solver>,
    /// The file, for a solver that reads it.
    pub file: Option<&'a std::path::Path>,
    /// Sources and stars are one within this, arcseconds.
    pub match_radius_arcsec: f64,
    /// An alert's error circle: its candidates are looked for.
    pub circle: Option<photometry::Circle>,
}

impl std::fmt::Debug for Reduction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reduction")
            .field("extract", &self.extract)
            .field("catalogue", &self.catalogue.map(|c| c.name()))
            .field("solver", &self.solver.map(|s| s.name()))
            .field("circle", &self.circle)
            .finish_non_exhaustive()
    }
}

/// One image through the whole analysis: sources, then (with a solver)
/// the WCS solved and the sources' sky positions, then (with a catalogue)
/// the zero point and magnitudes, then (with a circle) the candidates.
/// What cannot be done is said in `notes`; the rest is done.
pub fn reduce(image: &Image, r: &Reduction<'_>) -> Analysis {
    let mut a = analyse(image, &r.extract);
    if let Some(solver) = r.solver {
        let problem = astrometry::Problem {
            width: image.width,
            height: image.height,
            sources: &a.sources,
            nominal: a.wcs.as_ref(),
            file: r.file,
        };
        match solver.solve(&problem) {
            Ok(sol) => {
                a.astrometry = Some(AstrometryOutcome {
                    solver: sol.solver.clone(),
                    matched: sol.matched,
                    rms_arcsec: sol.rms_arcsec,
                });
                for s in &mut a.sources {
                    let (ra, dec) = sol.wcs.pixel_to_sky(s.x, s.y);
                    (s.ra, s.dec) = (Some(ra), Some(dec));
                }
                a.wcs = Some(sol.wcs);
            }
            Err(e) => a.notes.push(format!("not solved: {e}")),
        }
    }
    let exposure = image.keyword("EXPTIME").and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    if let Some(cat) = r.catalogue
        && a.wcs.is_some()
    {
        let stars = photometry::stars_over(&a, cat, image.width, image.height);
        a.photometry = photometry::calibrate(&mut a, &stars, exposure, r.match_radius_arcsec);
        if a.photometry.is_none() {
            a.notes.push(format!(
                "no zero point: fewer than 2 well-measured sources match {} stars (EXPTIME {exposure})",
                cat.name()
            ));
        }
        if let Some(circle) = r.circle {
            a.circle = Some(circle);
            // On the header's nominal WCS alone (off by the pointing's error),
            // every star would look new: candidates need the solution.
            if a.astrometry.is_some() {
                a.candidates = photometry::candidates(&a, &stars, circle, r.match_radius_arcsec);
            } else {
                a.notes.push("no candidates looked for: the image is not solved".to_owned());
            }
        }
    } else if r.circle.is_some() {
        a.notes.push("no candidates looked for: no WCS or no catalogue".to_owned());
    }
    a
}

/// Extracts the sources of an image; with its WCS (from the header, or
/// as an astrometric solution gives it later), their sky positions.
pub fn analyse(image: &Image, settings: &ExtractSettings) -> Analysis {
    let bg = background::estimate(&image.pixels, image.width, image.height, settings.mesh);
    let frame = extract::Frame {
        width: image.width,
        height: image.height,
        pixels: &image.pixels,
        background: &bg.level,
        rms: &bg.rms,
        noise: bg.global_rms,
        saturation: image.saturation,
        gain: image.gain,
    };
    let found = extract::extract(&frame, settings, MAX_SOURCES);
    let mut notes = Vec::new();
    let wcs = match Wcs::from_header(&image.header) {
        Ok(w) => w,
        Err(e) => {
            notes.push(format!("the header's WCS is not used: {e}"));
            None
        }
    };
    if found.is_empty() {
        notes.push("no source found: an empty or blank sky".to_owned());
    }
    // Sharper than a pixel: a hot pixel or a cosmic ray, not a star.
    let mut fwhms: Vec<f32> =
        found.iter().filter(|s| s.flags == 0 && s.fwhm >= 1.0).map(|s| s.fwhm as f32).collect();
    let fwhm = (!fwhms.is_empty()).then(|| f64::from(stats::median(&mut fwhms)));
    let sources = found.iter().map(|s| measured(s, wcs.as_ref())).collect();
    Analysis {
        background: bg.global_level,
        rms: bg.global_rms,
        sources,
        wcs,
        fwhm,
        blank_pixels: image.blank,
        notes,
        astrometry: None,
        photometry: None,
        circle: None,
        candidates: Vec::new(),
    }
}

fn measured(s: &Source, wcs: Option<&Wcs>) -> Measured {
    let (x, y) = (s.x + 1.0, s.y + 1.0);
    let sky = wcs.map(|w| w.pixel_to_sky(x, y));
    Measured {
        x,
        y,
        flux: s.flux,
        flux_err: s.flux_err,
        flux_auto: s.flux_auto,
        flux_auto_err: s.flux_auto_err,
        fwhm: s.fwhm,
        ellipticity: s.ellipticity,
        flags: s.flags,
        ra: sky.map(|p| p.0),
        dec: sky.map(|p| p.1),
        mag: None,
        mag_err: None,
    }
}
