//! The pipeline on simulated frames: the simulated camera renders a
//! catalogue's stars through its true optics (a pointing error, a rotation,
//! distortion), the header carries the nominal WCS, and the pipeline finds
//! the stars and the true WCS. With FERROS_TEST_TYCHO2 (Debian's index
//! folder) the catalogue is Tycho-2, else the synthetic sky.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use ferros_catalog::Catalogue;
use ferros_devices::{Exposure, FrameType};
use ferros_devices_sim::{CameraConfig, SimCamera};
use ferros_pipeline::astrometry::{Problem, Refine, SolveField, Solver};
use ferros_pipeline::photometry::Circle;
use ferros_pipeline::{ExtractSettings, Image, Reduction, Wcs};

fn catalogue() -> Arc<Catalogue> {
    match std::env::var("FERROS_TEST_TYCHO2") {
        Ok(dir) => ferros_catalog::shared(std::path::Path::new(&dir)).unwrap(),
        Err(_) => Arc::new(Catalogue::synthetic()),
    }
}

/// A simulated light frame as FITS, with the nominal WCS of the pointing.
fn frame(config: CameraConfig, ra: f64, dec: f64, seconds: f64) -> (Vec<u8>, Wcs) {
    framed(
        SimCamera::new("vis", ferros_clock::Clock::Real, config, None).with_catalogue(catalogue()),
        ra,
        dec,
        seconds,
    )
}

fn framed(cam: SimCamera, ra: f64, dec: f64, seconds: f64) -> (Vec<u8>, Wcs) {
    let config = cam.config();
    let exposure = Exposure { duration: seconds, frame: FrameType::Light, binning: 1, window: None };
    let f = cam.render_light(ra, dec, 70.0, Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap(), exposure);
    let wcs = Wcs::nominal(ra, dec, config.width, config.height, config.pixel_scale, 0.0);
    let mut h = ferros_fits::Header::default();
    for (k, v, c) in wcs.cards() {
        h.set(&k, v, c);
    }
    h.set("GAIN", config.gain, "").set("EXPTIME", seconds, "");
    (ferros_fits::write(f.width, f.height, &f.pixels, &h).unwrap(), wcs)
}

#[test]
fn the_refined_wcs_puts_the_stars_where_the_catalogue_has_them() {
    let config = CameraConfig { width: 1024, height: 1024, ..CameraConfig::default() };
    let cat = catalogue();
    // M 13's field and a field near the pole, far from the galactic plane.
    for (ra, dec) in [(250.4226, 36.4602), (15.0, 80.0), (83.8, -5.4)] {
        let (bytes, nominal) = frame(config, ra, dec, 60.0);
        let image = Image::from_fits(&bytes).unwrap();
        let analysis = ferros_pipeline::analyse(&image, &ExtractSettings::default());
        assert!(analysis.sources.len() >= 5, "{ra} {dec}: {} sources", analysis.sources.len());
        let problem = Problem {
            width: 1024,
            height: 1024,
            sources: &analysis.sources,
            nominal: Some(&nominal),
            file: None,
        };
        let solution = Refine { catalogue: &cat, max_offset_arcsec: 300.0 }.solve(&problem).unwrap();
        println!(
            "{ra} {dec}: {} sources, {} matched, {:.3}\" rms; the pointing was off by {:.1}\"",
            analysis.sources.len(),
            solution.matched,
            solution.rms_arcsec,
            ferros_pipeline::astrometry::disagreement(&nominal, &solution.wcs, 1024, 1024)
        );
        assert!(solution.matched >= 5 && solution.rms_arcsec < 0.5, "{solution:?}");
    }
    // Perfect optics: the solution is the nominal WCS.
    let perfect = CameraConfig { pointing_error: 0.0, rotation: 0.0, distortion: 0.0, ..config };
    let (bytes, nominal) = frame(perfect, 250.4226, 36.4602, 60.0);
    let image = Image::from_fits(&bytes).unwrap();
    let analysis = ferros_pipeline::analyse(&image, &ExtractSettings::default());
    let problem = Problem {
        width: 1024,
        height: 1024,
        sources: &analysis.sources,
        nominal: Some(&nominal),
        file: None,
    };
    let solution = Refine { catalogue: &cat, max_offset_arcsec: 300.0 }.solve(&problem).unwrap();
    let off = ferros_pipeline::astrometry::disagreement(&nominal, &solution.wcs, 1024, 1024);
    println!("perfect optics: {} matched, {off:.3}\" from the truth at worst", solution.matched);
    assert!(off < 0.15, "{off}");
}

/// Ferros's solution and astrometry.net's agree within half an arcsecond
/// over the whole frame. Set FERROS_TEST_SOLVE_FIELD (the program) and
/// FERROS_TEST_TYCHO2 (its index folder) to run it.
#[test]
fn ferros_and_astrometry_net_agree() {
    let (Ok(program), Ok(index)) =
        (std::env::var("FERROS_TEST_SOLVE_FIELD"), std::env::var("FERROS_TEST_TYCHO2"))
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A calibrated frame: no hot pixels.
    let config = CameraConfig { width: 1024, height: 1024, hot_pixels: 0.0, ..CameraConfig::default() };
    let cat = catalogue();
    for (ra, dec) in [(250.4226, 36.4602), (15.0, 80.0), (83.8, -5.4)] {
        let (bytes, nominal) = frame(config, ra, dec, 60.0);
        let file = dir.path().join(format!("sim_{ra}_{dec}.fits"));
        std::fs::write(&file, &bytes).unwrap();
        let image = Image::from_fits(&bytes).unwrap();
        let analysis = ferros_pipeline::analyse(&image, &ExtractSettings::default());
        let problem = Problem {
            width: 1024,
            height: 1024,
            sources: &analysis.sources,
            nominal: Some(&nominal),
            file: Some(&file),
        };
        let started = std::time::Instant::now();
        let ours = Refine { catalogue: &cat, max_offset_arcsec: 300.0 }.solve(&problem).unwrap();
        let ours_s = started.elapsed().as_secs_f64();
        let solver = SolveField {
            program: program.clone(),
            index_dir: index.clone().into(),
            timeout: std::time::Duration::from_secs(120),
            work_dir: dir.path().to_owned(),
            tweak_order: if cat.is_synthetic() { 2 } else { 1 },
        };
        let started = std::time::Instant::now();
        let theirs = solver.solve(&problem).unwrap();
        let theirs_s = started.elapsed().as_secs_f64();
        let apart = ferros_pipeline::astrometry::disagreement(&ours.wcs, &theirs.wcs, 1024, 1024);
        println!(
            "{ra} {dec}: Ferros ({} stars, {ours_s:.3} s) and astrometry.net ({theirs_s:.1} s) {apart:.3}\" apart at worst",
            ours.matched
        );
        assert!(apart < 0.5, "{apart}");
    }
}

#[test]
fn a_transient_in_the_error_circle_is_found_with_its_magnitude() {
    let config = CameraConfig { width: 1024, height: 1024, ..CameraConfig::default() };
    let cat = catalogue();
    let (ra, dec) = (250.4226, 36.4602);
    let cam = SimCamera::new("vis", ferros_clock::Clock::Real, config, None).with_catalogue(cat.clone());
    let start = Utc.with_ymd_and_hms(2026, 11, 23, 5, 0, 0).unwrap();
    // 13th magnitude an hour before the frame, fading by 0.5 an hour: 13.5.
    let (tra, tdec) = (ra + 0.05, dec - 0.03);
    cam.inject_transient(ferros_devices_sim::Transient { ra: tra, dec: tdec, mag: 13.0, fade: 0.5, start });
    let (bytes, _) = framed(cam, ra, dec, 60.0);
    let image = Image::from_fits(&bytes).unwrap();
    let solver = Refine { catalogue: &cat, max_offset_arcsec: 300.0 };
    let circle = Circle { ra: tra + 0.01, dec: tdec, radius: 3.0 / 60.0 };
    let r = Reduction {
        extract: ExtractSettings::default(),
        catalogue: Some(&cat),
        solver: Some(&solver),
        file: None,
        match_radius_arcsec: 3.0,
        circle: Some(circle),
    };
    let a = ferros_pipeline::reduce(&image, &r);
    let zp = a.photometry.as_ref().unwrap();
    println!(
        "zero point {:.3} +- {:.3} on {} stars; candidates {:?}",
        zp.zero_point, zp.error, zp.stars, a.candidates
    );
    assert!((zp.zero_point - 18.0).abs() < 0.15, "{zp:?}");
    assert_eq!(a.candidates.len(), 1, "{:?}", a.candidates);
    let c = &a.candidates[0];
    assert!(ferros_pipeline::wcs::separation((c.ra, c.dec), (tra, tdec)) * 3600.0 < 0.5, "{c:?}");
    assert!((c.mag.unwrap() - 13.5).abs() < 0.15, "{c:?}");
    assert_eq!(c.why, "not in the catalogue");
}

/// On a simulated frame, SExtractor (FERROS_TEST_SEXTRACTOR names it) and
/// Ferros find the same bright sources, at the same places, with the same fluxes.
#[test]
fn sextractor_agrees_on_a_simulated_frame() {
    let Ok(program) = std::env::var("FERROS_TEST_SEXTRACTOR") else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = CameraConfig { width: 1024, height: 1024, hot_pixels: 0.0, ..CameraConfig::default() };
    let (bytes, _) = frame(config, 250.4226, 36.4602, 60.0);
    let file = dir.path().join("sim.fits");
    std::fs::write(&file, &bytes).unwrap();
    let ours = ferros_pipeline::analyse(&Image::from_fits(&bytes).unwrap(), &ExtractSettings::default());
    std::fs::write(dir.path().join("f.param"), "X_IMAGE\nY_IMAGE\nFLUX_APER\nFLUXERR_APER\nFLAGS\n").unwrap();
    std::fs::write(dir.path().join("f.conv"), "CONV NORM\n1 2 1\n2 4 2\n1 2 1\n").unwrap();
    let status = std::process::Command::new(&program)
        .arg(&file)
        .args(["-c", "/dev/null", "-PARAMETERS_NAME", "f.param", "-FILTER_NAME", "f.conv"])
        .args(["-DETECT_THRESH", "1.5", "-DETECT_MINAREA", "5", "-PHOT_APERTURES", "10"])
        .args(["-BACK_SIZE", "64", "-BACK_FILTERSIZE", "3", "-GAIN", "0", "-SATUR_LEVEL", "65535"])
        .args(["-DEBLEND_NTHRESH", "32", "-DEBLEND_MINCONT", "0.005", "-CLEAN", "N"])
        .args(["-CATALOG_TYPE", "ASCII", "-CATALOG_NAME", "se.cat", "-VERBOSE_TYPE", "QUIET"])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let se: Vec<Vec<f64>> = std::fs::read_to_string(dir.path().join("se.cat"))
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect())
        .collect();
    let bright: Vec<&Vec<f64>> = se
        .iter()
        .filter(|r| r[2] / r[3] > 50.0 && (r[4] as u32) & 2 == 0 && (r[4] as u32) & 4 == 0)
        .collect();
    let (mut sq, mut flux_sq, mut worst) = (0.0, 0.0, 0.0f64);
    for r in &bright {
        let near = ours
            .sources
            .iter()
            .min_by(|a, b| (a.x - r[0]).hypot(a.y - r[1]).total_cmp(&(b.x - r[0]).hypot(b.y - r[1])))
            .unwrap();
        let d = (near.x - r[0]).hypot(near.y - r[1]);
        assert!(d < 1.0, "SExtractor's source at {:.2},{:.2} is not found", r[0], r[1]);
        sq += d * d;
        let dev = near.flux / r[2] - 1.0;
        flux_sq += dev * dev;
        worst = worst.max(dev.abs());
    }
    let n = bright.len() as f64;
    let (rms, flux_rms) = ((sq / n).sqrt(), (flux_sq / n).sqrt());
    println!(
        "simulated frame: {} bright sources: positions {rms:.4} px rms, fluxes {:.2} % rms, {:.2} % at worst",
        bright.len(),
        flux_rms * 100.0,
        worst * 100.0
    );
    assert!(bright.len() >= 5 && rms < 0.1 && flux_rms < 0.02 && worst < 0.03, "{rms} {flux_rms} {worst}");
}
