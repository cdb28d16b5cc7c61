//! Star catalogues for the simulated cameras and the pipeline: the stars
//! (J2000 position, V magnitude) within a cone of the sky.
//!
//! Three sources: the Tycho-2 stars of an astrometry.net index file (Debian's
//! `astrometry-data-tycho2-*` packages: a kd-tree of unit vectors and a
//! `MAG_VT` column), a star list in text (`ra dec mag`, degrees), or a
//! synthetic sky drawn from a hash of the position (the same stars every
//! time, about 2000 per square degree, magnitudes 10 to 19) for a machine
//! without a catalogue.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use ferros_limits::{MAX_CATALOGUE_STARS, MAX_CATALOGUE_TEXT_BYTES, MAX_CONE_DEG, MAX_FITS_HDUS};

/// A star: J2000 right ascension and declination (degrees), V magnitude.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Star {
    pub ra: f64,
    pub dec: f64,
    pub mag: f32,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{path}, line {line}: {message}")]
    Line { path: PathBuf, line: usize, message: String },
}

fn file_error(path: &Path, message: impl std::fmt::Display) -> CatalogueError {
    CatalogueError::File { path: path.to_owned(), message: message.to_string() }
}

/// Width of a declination zone, degrees.
const ZONE: f64 = 0.5;
const ZONES: usize = (180.0 / ZONE) as usize;

/// A catalogue, searched by cone.
#[derive(Debug, Clone)]
pub struct Catalogue {
    name: String,
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    /// Stars in declination zones, each sorted by right ascension.
    Stored {
        zones: Vec<Vec<Star>>,
        count: usize,
    },
    Synthetic,
}

impl Catalogue {
    /// A catalogue of the given stars.
    pub fn from_stars(name: &str, stars: Vec<Star>) -> Self {
        let mut zones = vec![Vec::new(); ZONES];
        let count = stars.len();
        for s in stars {
            zones[zone_of(s.dec)].push(s);
        }
        for z in &mut zones {
            z.sort_by(|a, b| a.ra.total_cmp(&b.ra));
        }
        Self { name: name.to_owned(), source: Source::Stored { zones, count } }
    }

    /// The synthetic sky (see the crate's documentation).
    pub fn synthetic() -> Self {
        Self { name: "synthetic sky".to_owned(), source: Source::Synthetic }
    }

    /// Opens `path`: an astrometry.net index file (`*.fits`), a folder of
    /// them (the one with the most stars), or a star list in text.
    pub fn open(path: &Path) -> Result<Self, CatalogueError> {
        if path.is_dir() {
            let best = index_files(path)?.into_iter().max_by_key(|(_, stars)| *stars).ok_or_else(|| {
                file_error(path, "no astrometry.net index file (index-*.fits) in this folder")
            })?;
            return Self::open(&best.0);
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let stars = if name.ends_with(".fits") || name.ends_with(".fit") {
            read_index(path)?
        } else {
            read_list(path)?
        };
        Ok(Self::from_stars(&name, stars))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stars held, `None` for the synthetic sky (endless).
    pub fn stars(&self) -> Option<usize> {
        match &self.source {
            Source::Stored { count, .. } => Some(*count),
            Source::Synthetic => None,
        }
    }

    pub fn is_synthetic(&self) -> bool {
        matches!(self.source, Source::Synthetic)
    }

    /// The stars within `radius` degrees (at most [`MAX_CONE_DEG`]) of a
    /// position, brightest first.
    pub fn cone(&self, ra: f64, dec: f64, radius: f64) -> Vec<Star> {
        let radius = radius.clamp(0.0, MAX_CONE_DEG);
        if !(ra.is_finite() && dec.is_finite()) {
            return Vec::new();
        }
        let centre = unit(ra, dec);
        let cos_r = radius.to_radians().cos();
        let inside = |s: &Star| dot(unit(s.ra, s.dec), centre) >= cos_r;
        let lo = (dec - radius).max(-90.0);
        let hi = (dec + radius).min(90.0);
        // The half-width in right ascension of the cone, over its zones.
        let cosd = lo.abs().max(hi.abs()).to_radians().cos();
        let span = if hi >= 89.999 || lo <= -89.999 || cosd < radius.to_radians().sin() {
            180.0
        } else {
            (radius.to_radians().sin() / cosd).asin().to_degrees() + 1e-9
        };
        let mut out = Vec::new();
        match &self.source {
            Source::Stored { zones, .. } => {
                for stars in &zones[zone_of(lo)..=zone_of(hi)] {
                    for (a, b) in ra_ranges(ra, span) {
                        let from = stars.partition_point(|s| s.ra < a);
                        let to = stars.partition_point(|s| s.ra <= b);
                        out.extend(stars[from..to].iter().filter(|s| inside(s)));
                    }
                }
            }
            Source::Synthetic => {
                let (j0, j1) = ((lo / CELL).floor() as i64, (hi / CELL).floor() as i64);
                for j in j0..=j1 {
                    for (a, b) in ra_ranges(ra, span) {
                        for i in (a / CELL).floor() as i64..=((b / CELL).floor() as i64).min(CELLS_RA - 1) {
                            out.extend(cell_stars(i, j).into_iter().filter(|s| inside(s)));
                        }
                    }
                }
            }
        }
        out.sort_by(|a, b| a.mag.total_cmp(&b.mag).then(a.ra.total_cmp(&b.ra)));
        out
    }
}

/// The catalogue of `path`, read once per process and shared (every
/// simulated camera of every night shows the same stars).
pub fn shared(path: &Path) -> Result<std::sync::Arc<Catalogue>, CatalogueError> {
    static OPEN: std::sync::Mutex<Vec<(PathBuf, std::sync::Arc<Catalogue>)>> =
        std::sync::Mutex::new(Vec::new());
    let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, c)) = open.iter().find(|(p, _)| p == path) {
        return Ok(c.clone());
    }
    let c = std::sync::Arc::new(Catalogue::open(path)?);
    open.push((path.to_owned(), c.clone()));
    Ok(c)
}

fn zone_of(dec: f64) -> usize {
    (((dec + 90.0) / ZONE).floor().max(0.0) as usize).min(ZONES - 1)
}

/// The right-ascension intervals (within 0..360) of `ra` +- `span`.
fn ra_ranges(ra: f64, span: f64) -> Vec<(f64, f64)> {
    if span >= 180.0 {
        return vec![(0.0, 360.0)];
    }
    let (a, b) = ((ra - span).rem_euclid(360.0), (ra + span).rem_euclid(360.0));
    if a <= b { vec![(a, b)] } else { vec![(0.0, b), (a, 360.0)] }
}

fn unit(ra: f64, dec: f64) -> [f64; 3] {
    let (a, d) = (ra.to_radians(), dec.to_radians());
    [d.cos() * a.cos(), d.cos() * a.sin(), d.sin()]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

// ---- The synthetic sky ----

/// Size of the sky cells stars are drawn in, degrees.
const CELL: f64 = 0.05;
const CELLS_RA: i64 = (360.0 / CELL) as i64;
/// Stars per cell, down to the faintest magnitude (about 2000 per square degree).
const STARS_PER_CELL: u64 = 5;

/// A small deterministic generator (SplitMix64).
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The stars of one sky cell, always the same.
fn cell_stars(i: i64, j: i64) -> Vec<Star> {
    let mut seed = Mix(0x5EED);
    for p in [i as u64, j as u64] {
        seed.0 ^= p.wrapping_mul(0x100_0000_01B3);
        seed.next();
    }
    let mut r = Mix(seed.next());
    // A cell's area shrinks with the cosine of its declination: so do its stars.
    let keep = ((j as f64 + 0.5) * CELL).to_radians().cos();
    (0..STARS_PER_CELL)
        .filter_map(|_| {
            let dec = ((j as f64 + r.uniform()) * CELL).clamp(-90.0, 90.0);
            let ra = ((i as f64 + r.uniform()) * CELL).rem_euclid(360.0);
            // More faint stars than bright ones: magnitudes 10..19.
            let mag = (19.0 - 9.0 * r.uniform().powf(3.0)) as f32;
            (r.uniform() < keep).then_some(Star { ra, dec, mag })
        })
        .collect()
}

// ---- astrometry.net index files ----

/// The index files of a folder with their star counts (`NSTARS`).
pub fn index_files(dir: &Path) -> Result<Vec<(PathBuf, u64)>, CatalogueError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| file_error(dir, e))?.flatten() {
        let p = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("index-") && name.ends_with(".fits")) {
            continue;
        }
        let Ok(mut f) = File::open(&p) else { continue };
        if let Ok(units) = ferros_fits::hdus(&mut f, 1) {
            let stars = units.first().and_then(|u| u.keyword("NSTARS")).and_then(|v| v.parse().ok());
            out.push((p, stars.unwrap_or(0)));
        }
    }
    out.sort();
    Ok(out)
}

/// The stars of an astrometry.net index file: `kdtree_data_stars` (unit
/// vectors as scaled 32-bit integers, in the file's byte order, scaled by
/// `kdtree_range_stars`) and the `MAG_VT` tag-along column (FITS big-endian).
fn read_index(path: &Path) -> Result<Vec<Star>, CatalogueError> {
    let mut f = File::open(path).map_err(|e| file_error(path, e))?;
    let units = ferros_fits::hdus(&mut f, MAX_FITS_HDUS).map_err(|e| file_error(path, e))?;
    let little = match units.first().and_then(|u| u.keyword("ENDIAN")) {
        Some("04:03:02:01") => true,
        Some("01:02:03:04") => false,
        other => {
            return Err(file_error(path, format!("ENDIAN = {other:?}: not an astrometry.net index file")));
        }
    };
    let table = |name: &str| {
        units
            .iter()
            .find(|u| u.keyword("TTYPE1").is_some_and(|t| t.eq_ignore_ascii_case(name)))
            .ok_or_else(|| file_error(path, format!("no {name} table: not a star index")))
    };
    let data = table("kdtree_data_stars")?;
    let range = table("kdtree_range_stars")?;
    let mags = table("MAG_VT").or_else(|_| table("MAG"))?;
    let n = usize::try_from(data.data_len / 12).unwrap_or(usize::MAX);
    if n > MAX_CATALOGUE_STARS {
        return Err(file_error(path, format!("{n} stars: more than {MAX_CATALOGUE_STARS}")));
    }
    if mags.data_len != n as u64 * 4 || range.data_len < 56 {
        return Err(file_error(path, "the star, range and magnitude tables do not agree in size"));
    }
    let mut read = |at: u64, len: u64| -> Result<Vec<u8>, CatalogueError> {
        let mut buf = vec![0u8; usize::try_from(len).map_err(|e| file_error(path, e))?];
        f.seek(SeekFrom::Start(at)).and_then(|_| f.read_exact(&mut buf)).map_err(|e| file_error(path, e))?;
        Ok(buf)
    };
    let r = read(range.data_at, 56)?;
    let double = |i: usize| {
        let b: [u8; 8] = r[i * 8..i * 8 + 8].try_into().unwrap_or_default();
        if little { f64::from_le_bytes(b) } else { f64::from_be_bytes(b) }
    };
    let (lower, scale) = ([double(0), double(1), double(2)], double(6));
    if !(scale.is_finite() && scale > 0.0 && lower.iter().all(|v| v.is_finite())) {
        return Err(file_error(path, format!("kdtree range: scale {scale}")));
    }
    let xyz = read(data.data_at, n as u64 * 12)?;
    let m = read(mags.data_at, n as u64 * 4)?;
    let mut stars = Vec::with_capacity(n);
    for (v, mag) in xyz.chunks_exact(12).zip(m.chunks_exact(4)) {
        let c = |k: usize| {
            let b = [v[4 * k], v[4 * k + 1], v[4 * k + 2], v[4 * k + 3]];
            let u = if little { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) };
            lower[k] + f64::from(u) / scale
        };
        let (x, y, z) = (c(0), c(1), c(2));
        let norm = (x * x + y * y + z * z).sqrt();
        let mag = f32::from_be_bytes([mag[0], mag[1], mag[2], mag[3]]);
        if !(norm > 0.5 && mag.is_finite()) {
            continue;
        }
        let dec = (z / norm).clamp(-1.0, 1.0).asin().to_degrees();
        let ra = y.atan2(x).to_degrees().rem_euclid(360.0);
        stars.push(Star { ra, dec, mag });
    }
    Ok(stars)
}

/// A star list: one `ra dec mag` (degrees, degrees, magnitude) per line,
/// separated by spaces or commas; `#` starts a comment.
fn read_list(path: &Path) -> Result<Vec<Star>, CatalogueError> {
    let f = File::open(path).map_err(|e| file_error(path, e))?;
    let mut text = String::new();
    f.take(MAX_CATALOGUE_TEXT_BYTES + 1).read_to_string(&mut text).map_err(|e| file_error(path, e))?;
    if text.len() as u64 > MAX_CATALOGUE_TEXT_BYTES {
        return Err(file_error(path, format!("more than {MAX_CATALOGUE_TEXT_BYTES} bytes")));
    }
    parse_list(&text).map_err(|(line, message)| CatalogueError::Line { path: path.to_owned(), line, message })
}

/// The stars of a star list's text, or the line (from 1) that is wrong and why.
pub fn parse_list(text: &str) -> Result<Vec<Star>, (usize, String)> {
    let mut stars = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split([' ', '\t', ',']).filter(|f| !f.is_empty()).collect();
        let [ra, dec, mag] = fields[..] else {
            return Err((i + 1, format!("{} fields; ra dec mag expected", fields.len())));
        };
        let num = |what: &str, v: &str| -> Result<f64, (usize, String)> {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| (i + 1, format!("{what} \"{v}\" is not a number")))
        };
        let (ra, dec, mag) = (num("ra", ra)?, num("dec", dec)?, num("mag", mag)?);
        if !(0.0..360.0).contains(&ra) || !(-90.0..=90.0).contains(&dec) || !(-30.0..=40.0).contains(&mag) {
            return Err((i + 1, format!("ra {ra} dec {dec} mag {mag} out of range")));
        }
        if stars.len() == MAX_CATALOGUE_STARS {
            return Err((i + 1, format!("more than {MAX_CATALOGUE_STARS} stars")));
        }
        stars.push(Star { ra, dec, mag: mag as f32 });
    }
    Ok(stars)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails by panicking")]
    use super::*;

    fn separation(a: (f64, f64), b: (f64, f64)) -> f64 {
        dot(unit(a.0, a.1), unit(b.0, b.1)).clamp(-1.0, 1.0).acos().to_degrees()
    }

    #[test]
    fn a_cone_finds_exactly_the_stars_inside_it_across_ra_zero_and_the_poles() {
        let mut stars = Vec::new();
        let mut r = Mix(3);
        for _ in 0..20_000 {
            let ra = r.uniform() * 360.0;
            let dec = (2.0 * r.uniform() - 1.0).asin().to_degrees();
            stars.push(Star { ra, dec, mag: (r.uniform() * 10.0) as f32 });
        }
        let cat = Catalogue::from_stars("test", stars.clone());
        for (ra, dec, radius) in
            [(0.1, 10.0, 3.0), (359.9, -20.0, 2.5), (120.0, 89.0, 4.0), (200.0, -88.5, 2.0), (45.0, 0.0, 0.4)]
        {
            let got = cat.cone(ra, dec, radius);
            let want = stars.iter().filter(|s| separation((s.ra, s.dec), (ra, dec)) <= radius).count();
            assert_eq!(got.len(), want, "cone at {ra} {dec} r {radius}");
            assert!(got.windows(2).all(|w| w[0].mag <= w[1].mag), "brightest first");
        }
        assert_eq!(cat.stars(), Some(20_000));
    }

    #[test]
    fn the_synthetic_sky_is_always_the_same_and_fills_its_cones() {
        let cat = Catalogue::synthetic();
        let a = cat.cone(359.98, 30.0, 0.2);
        let polar = cat.cone(10.0, 80.0, 0.2);
        assert_eq!(a, cat.cone(359.98, 30.0, 0.2));
        // About 2000 stars per square degree.
        let area = std::f64::consts::PI * 0.2f64.powi(2);
        assert!((a.len() as f64 / area - 2000.0).abs() < 400.0, "{} stars", a.len());
        assert!((polar.len() as f64 / area - 2000.0).abs() < 400.0, "{} stars near the pole", polar.len());
        assert!(a.iter().all(|s| separation((s.ra, s.dec), (359.98, 30.0)) <= 0.2));
        assert!(cat.stars().is_none() && cat.is_synthetic());
    }

    /// Debian's Tycho-2 index, read as astropy reads it: around M 13, 35
    /// stars within half a degree, the brightest V = 7.016 at 250.7676
    /// +36.5096. Set `FERROS_TEST_TYCHO2` to the index folder
    /// (`/usr/share/astrometry`) to run it.
    #[test]
    fn tycho2_as_astropy_reads_it() {
        let Ok(dir) = std::env::var("FERROS_TEST_TYCHO2") else { return };
        let cat = Catalogue::open(Path::new(&dir)).unwrap();
        assert_eq!(cat.name(), "index-tycho2-07.littleendian.fits");
        assert_eq!(cat.stars(), Some(1_871_011));
        let m13 = cat.cone(250.4226, 36.4602, 0.5);
        assert_eq!(m13.len(), 35);
        assert!((m13[0].mag - 7.016).abs() < 1e-3);
        assert!(separation((m13[0].ra, m13[0].dec), (250.767_593_383_85, 36.509_643_563_89)) < 1e-5);
    }

    #[test]
    fn star_lists_read_and_say_which_line_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("stars.txt");
        std::fs::write(&p, "# ra dec mag\n10.5 -20.25 11.2\n10.6, -20.3, 9.0 # bright\n").unwrap();
        let cat = Catalogue::open(&p).unwrap();
        assert_eq!(cat.stars(), Some(2));
        assert_eq!(cat.cone(10.55, -20.27, 0.2)[0].mag, 9.0);
        for (text, want) in [
            ("10 20\n", "line 1: 2 fields"),
            ("1 2 3\n400 0 1\n", "line 2: ra 400 dec 0 mag 1 out of range"),
            ("1 x 3\n", "dec \"x\" is not a number"),
            ("1 NaN 3\n", "dec \"NaN\" is not a number"),
        ] {
            std::fs::write(&p, text).unwrap();
            let e = Catalogue::open(&p).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("stars.txt"), "{e}");
        }
        let e = Catalogue::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("no astrometry.net index file"), "{e}");
        std::fs::write(dir.path().join("index-bad.fits"), "not a fits file").unwrap();
        let e = Catalogue::open(&dir.path().join("index-bad.fits")).unwrap_err().to_string();
        assert!(e.contains("index-bad.fits"), "{e}");
    }
}

/// Whatever the text, a star list reads (stars or the line that is wrong),
/// never panics; every star it gives is in range.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        #[test]
        fn any_text_reads_without_panic(text in "[0-9 .,eE+#\\-NaInf\n\t]{0,400}") {
            if let Ok(stars) = parse_list(&text) {
                for s in stars {
                    prop_assert!((0.0..360.0).contains(&s.ra) && (-90.0..=90.0).contains(&s.dec) && s.mag.is_finite());
                }
            }
        }

        #[test]
        fn any_cone_of_any_catalogue_is_inside_it(ra in -720.0f64..720.0, dec in -100.0f64..100.0, r in -1.0f64..20.0) {
            let cat = Catalogue::synthetic();
            for s in cat.cone(ra, dec.clamp(-90.0, 90.0), r.min(0.3)) {
                prop_assert!((0.0..360.0).contains(&s.ra) && (-90.0..=90.0).contains(&s.dec));
            }
        }
    }
}
