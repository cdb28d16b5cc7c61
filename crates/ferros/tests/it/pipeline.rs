//! `ferros pipeline run`: the pipeline on one file, checked against
//! SExtractor (Debian `source-extractor`, named by FERROS_TEST_SEXTRACTOR)
//! and sep (PyPI, in the Python named by FERROS_TEST_SEP) on a real image,
//! the DSS frame of M 13 that astropy ships; and every kind of bad file.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::Ferros;

/// A source: x, y (FITS convention), aperture flux, its error, flags.
#[derive(Debug, Clone, Copy)]
struct Found {
    x: f64,
    y: f64,
    flux: f64,
    flux_err: f64,
    flags: u64,
}

fn ferros_sources(f: &Ferros, image: &Path) -> (Value, Vec<Found>) {
    let out = f.ok(&["pipeline", "run", image.to_str().unwrap(), "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let sources = v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Found {
            x: s["x"].as_f64().unwrap(),
            y: s["y"].as_f64().unwrap(),
            flux: s["flux"].as_f64().unwrap(),
            flux_err: s["flux_err"].as_f64().unwrap(),
            flags: s["flags"].as_u64().unwrap(),
        })
        .collect();
    (v, sources)
}

/// SExtractor with the settings Ferros uses by default (docs/pipeline.md).
fn sextractor(program: &str, image: &Path, dir: &Path) -> Vec<Found> {
    std::fs::write(dir.join("f.param"), "X_IMAGE\nY_IMAGE\nFLUX_APER\nFLUXERR_APER\nFLAGS\n").unwrap();
    std::fs::write(dir.join("f.conv"), "CONV NORM\n1 2 1\n2 4 2\n1 2 1\n").unwrap();
    let cat = dir.join("se.cat");
    let status = Command::new(program)
        .arg(image)
        .args(["-c", "/dev/null", "-PARAMETERS_NAME", "f.param", "-FILTER_NAME", "f.conv"])
        .args(["-DETECT_THRESH", "1.5", "-DETECT_MINAREA", "5", "-PHOT_APERTURES", "10"])
        .args(["-BACK_SIZE", "64", "-BACK_FILTERSIZE", "3", "-GAIN", "0", "-SATUR_LEVEL", "32767"])
        .args(["-DEBLEND_NTHRESH", "32", "-DEBLEND_MINCONT", "0.005", "-CLEAN", "N"])
        .args(["-CATALOG_TYPE", "ASCII", "-CATALOG_NAME", cat.to_str().unwrap(), "-VERBOSE_TYPE", "QUIET"])
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "{program} failed");
    std::fs::read_to_string(&cat)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Vec<f64> = l.split_whitespace().map(|x| x.parse().unwrap()).collect();
            Found { x: v[0], y: v[1], flux: v[2], flux_err: v[3], flags: v[4] as u64 }
        })
        .collect()
}

fn sep(python: &str, image: &Path) -> Vec<Found> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/sep_extract.py");
    let out = Command::new(python).arg(script).arg(image).output().unwrap();
    assert!(out.status.success(), "sep: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| Found {
            x: s["x"].as_f64().unwrap(),
            y: s["y"].as_f64().unwrap(),
            flux: s["flux"].as_f64().unwrap(),
            flux_err: s["flux_err"].as_f64().unwrap(),
            flags: s["flags"].as_u64().unwrap(),
        })
        .collect()
}

/// The bright (S/N > 50), unblended sources of the reference, each found by
/// Ferros within a pixel: (count, position rms in pixels, flux rms and
/// worst deviation, as fractions).
fn agreement(reference: &[Found], ours: &[Found], blended: u64) -> (usize, f64, f64, f64) {
    let bright: Vec<&Found> =
        reference.iter().filter(|r| r.flux / r.flux_err > 50.0 && r.flags & blended == 0).collect();
    let (mut sq, mut flux_sq, mut worst) = (0.0, 0.0, 0.0f64);
    for r in &bright {
        let near = ours
            .iter()
            .min_by(|a, b| {
                let d = |s: &Found| (s.x - r.x).hypot(s.y - r.y);
                d(a).total_cmp(&d(b))
            })
            .unwrap();
        let d = (near.x - r.x).hypot(near.y - r.y);
        assert!(d < 1.0, "the source at {:.2},{:.2} is not found (nearest {d:.2} px away)", r.x, r.y);
        sq += d * d;
        let dev = near.flux / r.flux - 1.0;
        flux_sq += dev * dev;
        worst = worst.max(dev.abs());
    }
    let n = bright.len().max(1) as f64;
    (bright.len(), (sq / n).sqrt(), (flux_sq / n).sqrt(), worst)
}

fn m13(python: &str) -> PathBuf {
    let out = Command::new(python)
        .args(["-c", "import astropy, os; print(os.path.join(os.path.dirname(astropy.__file__), 'io/fits/hdu/compressed/tests/data/m13.fits'))"])
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

#[test]
fn the_sources_of_m13_agree_with_sextractor_and_sep() {
    let (Ok(program), Ok(python)) =
        (std::env::var("FERROS_TEST_SEXTRACTOR"), std::env::var("FERROS_TEST_SEP"))
    else {
        return;
    };
    let f = Ferros::new();
    let image = m13(&python);
    let (v, ours) = ferros_sources(&f, &image);
    assert!(v["wcs"]["crval"][0].as_f64().is_some_and(|ra| (ra - 250.4226).abs() < 1e-9), "{}", v["wcs"]);
    // The faintest of them (S/N about 50) differ by up to 2.2 % in flux: half
    // a count of sky per pixel, within the sky's own uncertainty.
    let reference = sextractor(&program, &image, f.dir.path());
    let (n, rms, flux_rms, worst) = agreement(&reference, &ours, 2);
    println!(
        "SExtractor: {} sources, {n} bright and unblended: positions {rms:.4} px rms, fluxes {:.2} % rms, {:.2} % at worst",
        reference.len(),
        flux_rms * 100.0,
        worst * 100.0
    );
    assert!(n >= 10 && rms < 0.1 && flux_rms < 0.02 && worst < 0.03, "{n} {rms} {flux_rms} {worst}");
    let reference = sep(&python, &image);
    let (n, rms, flux_rms, worst) = agreement(&reference, &ours, 1);
    println!(
        "sep: {} sources, {n} bright and unblended: positions {rms:.4} px rms, fluxes {:.2} % rms, {:.2} % at worst",
        reference.len(),
        flux_rms * 100.0,
        worst * 100.0
    );
    assert!(n >= 10 && rms < 0.1 && flux_rms < 0.02 && worst < 0.03, "{n} {rms} {flux_rms} {worst}");
}

/// A frame of 64 x 64: sky 100 with noise, and `stars` (x, y from 0, flux).
fn frame(stars: &[(f64, f64, f64)]) -> Vec<f32> {
    let mut px = Vec::with_capacity(64 * 64);
    let mut seed = 7u64;
    for y in 0..64 {
        for x in 0..64 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let mut v = 100.0 + ((seed >> 40) as f64 / (1u64 << 24) as f64 - 0.5) * 10.0;
            for &(sx, sy, flux) in stars {
                let d2 = (f64::from(x) - sx).powi(2) + (f64::from(y) - sy).powi(2);
                v += flux / (std::f64::consts::TAU * 2.25) * (-d2 / 4.5).exp();
            }
            px.push(v as f32);
        }
    }
    px
}

#[test]
fn bad_images_are_told_and_good_ones_measured() {
    let f = Ferros::new();
    let dir = f.dir.path();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let mut header = ferros_fits::Header::default();
    header.set("GAIN", 2.0, "");
    let good = ferros_fits::write_real(64, 64, &frame(&[(20.0, 30.0, 50_000.0)]), &header).unwrap();
    let p = write("good.fits", &good);
    let out: Value = serde_json::from_str(&f.ok(&["pipeline", "run", &p, "--json"])).unwrap();
    let s = &out["sources"][0];
    assert_eq!(out["sources"].as_array().unwrap().len(), 1, "{out}");
    assert!(
        (s["x"].as_f64().unwrap() - 21.0).abs() < 0.05 && (s["y"].as_f64().unwrap() - 31.0).abs() < 0.05,
        "{s}"
    );
    assert!(out["wcs"].is_null() && s["ra"].is_null());
    for key in ["background", "rms"] {
        assert!(out[key].as_f64().is_some(), "{key}");
    }
    for key in ["flux", "flux_err", "flux_auto", "fwhm", "ellipticity", "flags", "mag"] {
        assert!(s.get(key).is_some(), "{key}");
    }
    assert!(f.ok(&["pipeline", "run", &p]).contains("1 sources"));
    // Each bad file: a clear error naming the file, exit status 2.
    let mut nan = frame(&[]);
    nan.fill(f32::NAN);
    let mut saturated = frame(&[]);
    saturated.fill(65535.0);
    let mut wrong_bitpix = good.clone();
    wrong_bitpix[80 + 10..80 + 30].copy_from_slice(b"                  12");
    for (name, bytes, want) in [
        ("text.fits", b"this is not FITS".to_vec(), "no END card"),
        ("cut.fits", good[..4000].to_vec(), "bytes of pixels for 64x64"),
        ("bitpix.fits", wrong_bitpix, "BITPIX = 12"),
        ("nan.fits", ferros_fits::write_real(64, 64, &nan, &header).unwrap(), "every pixel is blank"),
        ("sat.fits", ferros_fits::write_u16(64, 64, &[65535; 4096]), "saturated: 100.0 %"),
        ("tiny.fits", ferros_fits::write_u16(4, 4, &[1; 16]), "4x4 pixels"),
        (
            "gain.fits",
            {
                let mut h = ferros_fits::Header::default();
                h.set("GAIN", "lots", "");
                ferros_fits::write_real(64, 64, &frame(&[]), &h).unwrap()
            },
            "GAIN: \"lots\" is not a number",
        ),
    ] {
        let p = write(name, &bytes);
        let e = f.fails(&["pipeline", "run", &p], 2);
        assert!(e.contains(name) && e.contains(want), "{name}: {e}");
    }
    let _ = saturated;
    // An empty sky is no error: no source, and a note says so.
    let p = write("empty.fits", &ferros_fits::write_real(64, 64, &frame(&[]), &header).unwrap());
    let out: Value = serde_json::from_str(&f.ok(&["pipeline", "run", &p, "--json"])).unwrap();
    assert_eq!(out["sources"].as_array().unwrap().len(), 0);
    assert!(out["notes"].to_string().contains("no source found"), "{out}");
    // Some NaN pixels: left out and counted; a star next to them is flagged.
    let mut holes = frame(&[(30.0, 30.0, 50_000.0)]);
    holes[30 * 64 + 33] = f32::NAN;
    let p = write("holes.fits", &ferros_fits::write_real(64, 64, &holes, &header).unwrap());
    let out: Value = serde_json::from_str(&f.ok(&["pipeline", "run", &p, "--json"])).unwrap();
    assert_eq!(out["blank_pixels"], 1);
    assert_eq!(out["sources"][0]["flags"].as_u64().unwrap() & 16, 16, "{out}");
    assert!(f.fails(&["pipeline", "run", "missing.fits"], 2).contains("missing.fits: cannot read"));
    assert!(f.fails(&["pipeline", "run", &p, "--aperture", "0"], 2).contains("--aperture 0"));
}
