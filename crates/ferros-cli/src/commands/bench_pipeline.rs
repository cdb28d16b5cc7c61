//! `ferros bench pipeline`: the pipeline's steps on a simulated frame of
//! the configured catalogue's stars, timed, beside SExtractor.

use std::sync::Arc;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use ferros_catalog::Catalogue;
use ferros_devices::{Exposure, FrameType};
use ferros_devices_sim::{CameraConfig, SimCamera};
use ferros_pipeline::astrometry::{Problem, Refine, Solver};
use ferros_pipeline::calibrate::{self, Masters};
use ferros_pipeline::{ExtractSettings, Image, Wcs};

use crate::context::Context;
use crate::error::{CliError, CliResult};
use crate::output::say;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn run(ctx: &Context, size: u32, runs: u32) -> CliResult {
    if !(64..=8192).contains(&size) || !(1..=100).contains(&runs) {
        return Err(CliError::input("--size 64 to 8192 pixels, --runs 1 to 100"));
    }
    let catalogue = match ctx.settings.pipeline.catalogue_path() {
        Some(p) => ferros_catalog::shared(&p).map_err(CliError::input)?,
        None => Arc::new(Catalogue::synthetic()),
    };
    // M 13's field, 60 s, as the simulated VIS camera sees it (its pixel
    // scale kept: a larger frame covers more sky).
    let (ra, dec) = (250.4226, 36.4602);
    let config = CameraConfig { width: size, height: size, ..CameraConfig::default() };
    let cam =
        SimCamera::new("bench", ferros_clock::Clock::Real, config, None).with_catalogue(catalogue.clone());
    let exposure = Exposure { duration: 60.0, frame: FrameType::Light, binning: 1, window: None };
    let started = Instant::now();
    let frame =
        cam.render_light(ra, dec, 70.0, Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap(), exposure);
    let render = started.elapsed().as_secs_f64();
    let nominal = Wcs::nominal(ra, dec, size, size, config.pixel_scale, 0.0);
    let mut header = ferros_fits::Header::default();
    for (k, v, c) in nominal.cards() {
        header.set(&k, v, c);
    }
    header.set("EXPTIME", 60.0, "").set("GAIN", config.gain, "");
    let bytes =
        ferros_fits::write(frame.width, frame.height, &frame.pixels, &header).map_err(CliError::input)?;
    let raw = Image::from_fits(&bytes).map_err(CliError::input)?;
    let n = raw.pixels.len();
    // Masters as the night's would be: bias, a 60 s dark, a flat.
    let bias = vec![1000.0f32; n];
    let dark = vec![20.0f32; n];
    let flat: Vec<f32> = (0..n).map(|i| 0.9 + 0.1 * ((i % 977) as f32 / 977.0)).collect();
    let masters = Masters { bias: Some(&bias), dark: Some((&dark, 60.0)), flat: Some(&flat) };
    let settings = ExtractSettings::default();
    say!(
        "pipeline on a {size} x {size} simulated frame ({} catalogue, {:.2} s to render), median of {runs} run(s):",
        catalogue.name(),
        render
    );
    let (mut cal, mut ext, mut ast) = (Vec::new(), Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let (pixels, saturation) = calibrate::apply(&raw, 60.0, &masters).map_err(CliError::input)?;
        cal.push(t.elapsed().as_secs_f64());
        let l1 = Image { pixels, saturation, ..raw.clone() };
        let t = Instant::now();
        let a = ferros_pipeline::analyse(&l1, &settings);
        ext.push(t.elapsed().as_secs_f64());
        let problem = Problem {
            width: l1.width,
            height: l1.height,
            sources: &a.sources,
            nominal: Some(&nominal),
            file: None,
        };
        let t = Instant::now();
        let solved = Refine { catalogue: &catalogue, max_offset_arcsec: 300.0 }.solve(&problem);
        ast.push(t.elapsed().as_secs_f64());
        last = Some((a.sources.len(), solved));
    }
    let (cal, ext, ast) = (median(cal), median(ext), median(ast));
    say!("  calibration (bias, dark, flat)   {:>8.3} s", cal);
    say!("  extraction (background, sources) {:>8.3} s", ext);
    say!("  calibration and extraction       {:>8.3} s", cal + ext);
    match &last {
        Some((sources, Ok(s))) => say!(
            "  astrometric refinement           {:>8.3} s  ({sources} sources, {} matched, {:.3}\" rms)",
            ast,
            s.matched,
            s.rms_arcsec
        ),
        Some((sources, Err(e))) => {
            say!("  astrometric refinement           {ast:>8.3} s  ({sources} sources): {e}")
        }
        None => {}
    }
    // SExtractor on the same frame, the same settings.
    let dir = tempfile::tempdir().map_err(|e| CliError::Failure(e.into()))?;
    let file = dir.path().join("frame.fits");
    std::fs::write(&file, &bytes).map_err(|e| CliError::Failure(e.into()))?;
    std::fs::write(dir.path().join("f.param"), "X_IMAGE\nY_IMAGE\nFLUX_APER\nFLAGS\n")
        .map_err(|e| CliError::Failure(e.into()))?;
    std::fs::write(dir.path().join("f.conv"), "CONV NORM\n1 2 1\n2 4 2\n1 2 1\n")
        .map_err(|e| CliError::Failure(e.into()))?;
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let status = std::process::Command::new("source-extractor")
            .arg(&file)
            .args(["-c", "/dev/null", "-PARAMETERS_NAME", "f.param", "-FILTER_NAME", "f.conv"])
            .args([
                "-DETECT_THRESH",
                "1.5",
                "-DETECT_MINAREA",
                "5",
                "-PHOT_APERTURES",
                "10",
                "-BACK_SIZE",
                "64",
            ])
            .args([
                "-CATALOG_TYPE",
                "ASCII",
                "-CATALOG_NAME",
                "se.cat",
                "-VERBOSE_TYPE",
                "QUIET",
                "-NTHREADS",
                "0",
            ])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        match status {
            Ok(s) if s.success() => times.push(t.elapsed().as_secs_f64()),
            _ => {
                say!("  SExtractor                       (source-extractor is not installed or failed)");
                return Ok(());
            }
        }
    }
    let lines = std::fs::read_to_string(dir.path().join("se.cat")).map(|t| t.lines().count()).unwrap_or(0);
    say!("  SExtractor (extraction, process) {:>8.3} s  ({lines} sources)", median(times));
    Ok(())
}
