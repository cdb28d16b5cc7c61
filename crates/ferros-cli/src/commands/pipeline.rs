//! `ferros pipeline run FILE.fits [--json]`: one image through the pipeline
//! by hand (docs/pipeline.md).

use std::path::Path;

use ferros_limits::MAX_IMAGE_BYTES;
use ferros_pipeline::astrometry::{Refine, SolveField, Solver};
use ferros_pipeline::{Analysis, ExtractSettings, Image, Reduction};

use super::common::read_head;
use super::print_json;
use crate::cli::PipelineCmd;
use crate::context::Context;
use crate::error::{CliError, CliResult};
use crate::output::say;

pub fn run(ctx: &Context, cmd: PipelineCmd) -> CliResult {
    match cmd {
        PipelineCmd::Run { file, aperture, threshold, json, no_solve } => {
            let mut settings = ExtractSettings::default();
            if let Some(r) = aperture {
                if !(r.is_finite() && (0.5..=100.0).contains(&r)) {
                    return Err(CliError::input(format!("--aperture {r}: a radius of 0.5 to 100 pixels")));
                }
                settings.aperture = r;
            }
            if let Some(t) = threshold {
                if !(t.is_finite() && (0.5..=1000.0).contains(&t)) {
                    return Err(CliError::input(format!("--threshold {t}: 0.5 to 1000 sigmas")));
                }
                settings.threshold = t;
            }
            let analysis = analyse_file(ctx, &file, &settings, !no_solve)?;
            if json {
                return print_json(&analysis);
            }
            table(&file, &analysis);
            Ok(())
        }
    }
}

/// The file's analysis; with `solve`, its WCS solved (the configured
/// solver and catalogue) and its zero point.
fn analyse_file(ctx: &Context, path: &Path, settings: &ExtractSettings, solve: bool) -> CliResult<Analysis> {
    let bytes = read_head(path, MAX_IMAGE_BYTES)?;
    if bytes.len() as u64 > MAX_IMAGE_BYTES {
        return Err(CliError::input(format!(
            "{}: more than the {MAX_IMAGE_BYTES} bytes of an image",
            path.display()
        )));
    }
    let image = Image::from_fits(&bytes).map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
    if !solve {
        return Ok(ferros_pipeline::analyse(&image, settings));
    }
    let p = &ctx.settings.pipeline;
    let catalogue = match p.catalogue_path() {
        Some(c) => ferros_catalog::shared(&c).map_err(CliError::input)?,
        None => std::sync::Arc::new(ferros_catalog::Catalogue::synthetic()),
    };
    let refine = Refine { catalogue: &catalogue, max_offset_arcsec: 600.0 };
    let dir = tempfile::tempdir().map_err(|e| CliError::Failure(e.into()))?;
    let solve_field = SolveField {
        program: p.solve_field.clone(),
        index_dir: p.index_dir.clone(),
        timeout: std::time::Duration::from_secs_f64(p.solve_timeout_s),
        work_dir: dir.path().to_owned(),
        tweak_order: if catalogue.is_synthetic() { 2 } else { 1 },
    };
    let solver: &dyn Solver = if p.solver == "astrometry.net" { &solve_field } else { &refine };
    let r = Reduction {
        extract: *settings,
        catalogue: Some(&catalogue),
        solver: Some(solver),
        file: Some(path),
        match_radius_arcsec: p.match_radius_arcsec,
        circle: None,
    };
    Ok(ferros_pipeline::reduce(&image, &r))
}

fn table(path: &Path, a: &Analysis) {
    say!("{}: background {:.2}, rms {:.3}, {} sources", path.display(), a.background, a.rms, a.sources.len());
    if let Some(f) = a.fwhm {
        say!("median FWHM {f:.2} px");
    }
    for n in &a.notes {
        say!("note: {n}");
    }
    say!(
        "{:>9} {:>9} {:>12} {:>9} {:>6} {:>5} {:>5} {:>11} {:>11} {:>7}",
        "x",
        "y",
        "flux",
        "flux_err",
        "fwhm",
        "ell",
        "flags",
        "ra",
        "dec",
        "mag"
    );
    let opt = |v: Option<f64>, digits: usize| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"));
    for s in &a.sources {
        say!(
            "{:>9.3} {:>9.3} {:>12.1} {:>9.1} {:>6.2} {:>5.2} {:>5} {:>11} {:>11} {:>7}",
            s.x,
            s.y,
            s.flux,
            s.flux_err,
            s.fwhm,
            s.ellipticity,
            s.flags,
            opt(s.ra, 6),
            opt(s.dec, 6),
            opt(s.mag, 3)
        );
    }
}
