//! The pipeline agent: reduces each image as soon as it is archived
//! (docs/pipeline.md). Its queue is the images' `pipeline` state in the
//! database, so it survives restarts; a failure is recorded on its image
//! and the queue goes on.
//!
//! - A bias, dark or flat is looked at and kept for its master; when a set
//!   is complete (enough frames, none newer for five minutes) the master is
//!   built (bias, then darks, then flats), written under `masters/` and
//!   recorded with the frames it was made of.
//! - A sky image is calibrated with the best masters there are (the same
//!   detector, binning and size; a dark of the same exposure and
//!   temperature, else the nearest scaled; a flat of its filter), written
//!   beside the raw one as `<name>_L1.fits` with the masters named in its
//!   header, then reduced: sources, the WCS solved, the zero point; for an
//!   alert image, the candidates of the notice's error circle, the analysis
//!   published in `exchange/FSC/TO` with the calibrated image.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeDelta;
use ferros_archive::Archive;
use ferros_catalog::Catalogue;
use ferros_config::Settings;
use ferros_domain::{CalibrationLevel, Image, ImageKind, LogLevel, Master, PipelineState};
use ferros_limits::{MAX_IMAGE_BYTES, MAX_PIPELINE_BATCH};
use ferros_pipeline::astrometry::{Refine, SolveField, Solver};
use ferros_pipeline::calibrate::{self, Masters};
use ferros_pipeline::photometry::Circle;
use ferros_pipeline::{Analysis, ExtractSettings, PipelineError, Reduction};

use crate::AgentError;
use crate::runtime::{Agent, AgentContext, Event};

/// A set of calibration frames is complete when none came for this long.
const SET_QUIET: TimeDelta = TimeDelta::minutes(5);
/// An image whose file is still missing this long after it was taken fails.
const FILE_WAIT: TimeDelta = TimeDelta::hours(1);
/// Master frames kept in memory.
const MASTERS_CACHED: usize = 16;

/// A master's pixels, shared.
type Pixels = Arc<Vec<f32>>;
/// The masters read lately, by id.
type Cache = std::sync::Mutex<Vec<(i64, Pixels)>>;

pub struct PipelineAgent {
    settings: Arc<Settings>,
    archive: Archive,
    catalogue: Option<Arc<Catalogue>>,
    period: Duration,
    cache: Arc<Cache>,
}

impl std::fmt::Debug for PipelineAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineAgent")
            .field("catalogue", &self.catalogue.as_ref().map(|c| c.name()))
            .finish()
    }
}

impl PipelineAgent {
    pub fn new(
        settings: &Settings,
        archive: Archive,
        catalogue: Option<Arc<Catalogue>>,
        period: Duration,
    ) -> Self {
        Self { settings: Arc::new(settings.clone()), archive, catalogue, period, cache: Arc::default() }
    }

    async fn log(&self, ctx: &AgentContext, level: LogLevel, m: impl Into<String>) {
        ctx.log("pipeline", level, m).await;
    }
}

/// Why one image could not be reduced now: wait for its file, or fail it.
enum Outcome {
    Wait,
    Fail(String),
}

impl From<PipelineError> for Outcome {
    fn from(e: PipelineError) -> Self {
        Outcome::Fail(e.to_string())
    }
}

#[async_trait]
impl Agent for PipelineAgent {
    fn name(&self) -> &str {
        "pipeline"
    }

    fn period(&self) -> Duration {
        self.period
    }

    fn wakes_on(&self, e: &Event) -> bool {
        matches!(e, Event::Archived { .. })
    }

    async fn step(&mut self, ctx: &AgentContext) -> Result<(), AgentError> {
        let pending = ctx.db.pipeline_pending(MAX_PIPELINE_BATCH as i64).await?;
        for (id, image) in pending {
            let now = ctx.clock.now();
            let outcome = match image.kind {
                ImageKind::Bias | ImageKind::Dark | ImageKind::Flat => {
                    self.read(ctx, &image).await.map(|_| None)
                }
                ImageKind::Light => {
                    // The error circle of the alert behind it, looked up once.
                    let circle = match image.request_id {
                        Some(r) => ctx.db.alert_circle(r.0).await?,
                        None => None,
                    }
                    .map(|(_, ra, dec, radius)| Circle { ra, dec, radius });
                    if self.settings.pipeline.images == "alerts" && circle.is_none() {
                        ctx.db
                            .pipeline_outcome(
                                id,
                                PipelineState::Skipped,
                                Some("pipeline.images is \"alerts\""),
                            )
                            .await?;
                        continue;
                    }
                    self.light(ctx, id, &image, circle).await.map(Some)
                }
            };
            match outcome {
                Ok(None) => ctx.db.pipeline_outcome(id, PipelineState::Done, None).await?,
                Ok(Some((path, a))) => ctx.bus.publish(Event::Reduced {
                    at: now,
                    path,
                    sources: a.sources.len(),
                    candidates: a.candidates.len(),
                    error: None,
                }),
                Err(Outcome::Wait) if now - image.date_obs < FILE_WAIT => {}
                Err(Outcome::Wait) => {
                    let why = "the file is missing";
                    ctx.db.pipeline_outcome(id, PipelineState::Failed, Some(why)).await?;
                    self.log(ctx, LogLevel::Warn, format!("{}: {why}", image.path)).await;
                }
                Err(Outcome::Fail(why)) => {
                    ctx.db.pipeline_outcome(id, PipelineState::Failed, Some(&why)).await?;
                    self.log(ctx, LogLevel::Warn, format!("{}: {why}", image.path)).await;
                    ctx.bus.publish(Event::Reduced {
                        at: now,
                        path: image.path.clone(),
                        sources: 0,
                        candidates: 0,
                        error: Some(why),
                    });
                }
            }
        }
        self.build_masters(ctx).await
    }
}

impl PipelineAgent {
    /// The image's file, read and checked (off the async workers).
    async fn read(&self, ctx: &AgentContext, image: &Image) -> Result<ferros_pipeline::Image, Outcome> {
        let path = self.archive.root().join(&image.path);
        let read = ctx
            .clock
            .offload(move || -> Result<ferros_pipeline::Image, Outcome> {
                let bytes = read_limited(&path)?;
                Ok(ferros_pipeline::Image::from_fits(&bytes)?)
            })
            .await;
        read.map_err(|e| Outcome::Fail(e.to_string()))?
    }

    /// A sky image: calibrated, written, reduced, recorded.
    async fn light(
        &self,
        ctx: &AgentContext,
        id: i64,
        image: &Image,
        circle: Option<Circle>,
    ) -> Result<(String, Analysis), Outcome> {
        let raw = self.read(ctx, image).await?;
        let masters = self.masters_for(ctx, image, &raw).await.map_err(|e| Outcome::Fail(e.to_string()))?;
        let ids = [
            masters[0].as_ref().map(|m| m.id),
            masters[1].as_ref().map(|m| m.id),
            masters[2].as_ref().map(|m| m.id),
        ];
        let p = &self.settings.pipeline;
        let extract = ExtractSettings {
            threshold: p.threshold,
            aperture: p.aperture_px,
            mesh: p.mesh_px as usize,
            ..ExtractSettings::default()
        };
        let (catalogue, settings, archive) =
            (self.catalogue.clone(), self.settings.clone(), self.archive.clone());
        let l1_path = l1_of(&image.path);
        let (full, exposure) = (archive.root().join(&l1_path), image.exposure_s);
        let cache = self.cache.clone();
        let work = move || -> Result<(Analysis, Vec<(String, String)>), Outcome> {
            let loaded: Vec<Option<(Pixels, &Master)>> = masters
                .iter()
                .map(|m| m.as_ref().map(|m| load_master(&archive, &cache, m).map(|px| (px, m))).transpose())
                .collect::<Result<_, _>>()?;
            let m = Masters {
                bias: loaded[0].as_ref().map(|(p, _)| p.as_slice()),
                dark: loaded[1].as_ref().map(|(p, m)| (p.as_slice(), m.exposure_s)),
                flat: loaded[2].as_ref().map(|(p, _)| p.as_slice()),
            };
            let (pixels, saturation) = calibrate::apply(&raw, exposure, &m)?;
            let mut l1 = ferros_pipeline::Image { pixels, saturation, ..raw.clone() };
            let mut header = carried_header(&raw.header);
            header.set("SATURATE", saturation, "counts, after calibration");
            header.set("CALLEVEL", "L1", "calibrated");
            let missing: Vec<&str> = ["bias", "dark", "flat"]
                .iter()
                .zip(&loaded)
                .filter(|(_, m)| m.is_none())
                .map(|(n, _)| *n)
                .collect();
            for ((key, name), m) in
                [("BIASFRM", "bias"), ("DARKFRM", "dark"), ("FLATFRM", "flat")].iter().zip(&loaded)
            {
                match m {
                    Some((_, m)) => {
                        header.set(key, ferros_fits::card_text(&m.path).0, &format!("master {name}"))
                    }
                    None => header.set(key, "none", &format!("no master {name} yet")),
                };
            }
            l1.header = header.as_text();
            l1.saturation = saturation;
            // The solver: Ferros's own from the header's pointing, or solve-field on a copy.
            let tmp = tempfile::tempdir().map_err(|e| Outcome::Fail(format!("a work folder: {e}")))?;
            let copy = tmp.path().join("image.fits");
            let pp = &settings.pipeline;
            let refine = catalogue.as_deref().map(|c| Refine { catalogue: c, max_offset_arcsec: 600.0 });
            let few = catalogue.as_ref().is_none_or(|c| !c.is_synthetic());
            let solve_field = SolveField {
                program: pp.solve_field.clone(),
                index_dir: pp.index_dir.clone(),
                timeout: Duration::from_secs_f64(pp.solve_timeout_s),
                work_dir: tmp.path().to_owned(),
                tweak_order: if few { 1 } else { 2 },
            };
            let solver: Option<&dyn Solver> = if pp.solver == "astrometry.net" {
                let bytes = ferros_fits::write_real(l1.width as u32, l1.height as u32, &l1.pixels, &header)
                    .map_err(|e| Outcome::Fail(e.to_string()))?;
                std::fs::write(&copy, bytes)
                    .map_err(|e| Outcome::Fail(format!("{}: {e}", copy.display())))?;
                Some(&solve_field)
            } else {
                refine.as_ref().map(|r| r as &dyn Solver)
            };
            let reduction = Reduction {
                extract,
                catalogue: catalogue.as_deref(),
                solver,
                file: Some(&copy),
                match_radius_arcsec: pp.match_radius_arcsec,
                circle,
            };
            let mut a = ferros_pipeline::reduce(&l1, &reduction);
            if !missing.is_empty() {
                a.notes.push(format!("calibrated without a master {}: none matches yet", missing.join(", ")));
            }
            // The solved WCS replaces the nominal one in the calibrated image's header.
            if let (Some(w), Some(_)) = (&a.wcs, &a.astrometry) {
                for (k, v, c) in w.cards() {
                    header.set(&k, v, c);
                }
                if let Some(z) = &a.photometry {
                    header.set("MAGZP", z.zero_point, "magnitude of 1 count per second");
                }
            }
            let bytes = ferros_fits::write_real(l1.width as u32, l1.height as u32, &l1.pixels, &header)
                .map_err(|e| Outcome::Fail(e.to_string()))?;
            archive.write_product(&full, bytes, true).map_err(|e| Outcome::Fail(e.to_string()))?;
            Ok((a, header.as_text()))
        };
        let (analysis, headers) =
            ctx.clock.offload(work).await.map_err(|e| Outcome::Fail(e.to_string()))??;
        let level = if analysis.astrometry.is_some() {
            CalibrationLevel::Analysed
        } else {
            CalibrationLevel::Calibrated
        };
        let text = serde_json::to_string(&analysis).map_err(|e| Outcome::Fail(e.to_string()))?;
        let row = Image {
            path: l1_path.clone(),
            calibration: level,
            headers,
            analysis: Some(text.clone()),
            ..image.clone()
        };
        let fail = |e: ferros_db::DbError| Outcome::Fail(e.to_string());
        let l1_id = match ctx.db.record_calibrated(id, &row, ids).await {
            Ok(i) => i,
            // Already calibrated (a restart after the row, before the raw's outcome).
            Err(ferros_db::DbError::Conflict(_)) => {
                ctx.db.pipeline_outcome(id, PipelineState::Done, None).await.map_err(fail)?;
                return Ok((l1_path, analysis));
            }
            Err(e) => return Err(fail(e)),
        };
        ctx.db.record_analysis(l1_id, level.code(), &text).await.map_err(fail)?;
        if circle.is_some() {
            let name = Path::new(&l1_path).with_extension("json");
            let name = name.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let (archive, full) = (self.archive.clone(), self.archive.root().join(&l1_path));
            let published = ctx
                .clock
                .offload(move || -> Result<(), ferros_archive::ArchiveError> {
                    archive.publish_fsc(&name, text.into_bytes())?;
                    archive.flush()?;
                    archive.link_fsc(&full).map(|_| ())
                })
                .await;
            match published {
                Ok(Ok(())) => {}
                Ok(Err(e)) => self.log(ctx, LogLevel::Warn, format!("{l1_path}: to the FSC: {e}")).await,
                Err(e) => self.log(ctx, LogLevel::Warn, format!("{l1_path}: to the FSC: {e}")).await,
            }
            let found = analysis.candidates.len();
            self.log(ctx, LogLevel::Info, format!("{l1_path}: {found} candidate(s) in the error circle"))
                .await;
        }
        Ok((l1_path, analysis))
    }

    /// The best masters (bias, dark, flat) for a raw image.
    async fn masters_for(
        &self,
        ctx: &AgentContext,
        image: &Image,
        raw: &ferros_pipeline::Image,
    ) -> Result<[Option<Master>; 3], ferros_db::DbError> {
        let binning = header_number(&image.headers, "XBINNING").unwrap_or(1.0) as u32;
        let temperature = header_number(&image.headers, "CCD-TEMP");
        let fits = |m: &Master| {
            m.binning == binning && m.width as usize == raw.width && m.height as usize == raw.height
        };
        let bias = ctx.db.masters(ImageKind::Bias, image.detector).await?.into_iter().find(|m| fits(m));
        let tol = self.settings.pipeline.dark_temperature_tolerance;
        let darks: Vec<Master> = ctx
            .db
            .masters(ImageKind::Dark, image.detector)
            .await?
            .into_iter()
            .filter(|m| fits(m))
            .filter(|m| match (m.temperature, temperature) {
                (Some(a), Some(b)) => (a - b).abs() <= tol,
                _ => true,
            })
            .collect();
        // The same exposure first, else the longest (scaled down: less noise).
        let dark = darks
            .iter()
            .find(|m| (m.exposure_s - image.exposure_s).abs() <= 0.01 * image.exposure_s.max(1.0))
            .or_else(|| darks.iter().max_by(|a, b| a.exposure_s.total_cmp(&b.exposure_s)))
            .cloned();
        let flat = ctx
            .db
            .masters(ImageKind::Flat, image.detector)
            .await?
            .into_iter()
            .find(|m| fits(m) && m.filter == image.filter);
        Ok([bias, dark, flat])
    }

    /// Builds the masters whose sets are complete: bias, then darks, then flats.
    async fn build_masters(&self, ctx: &AgentContext) -> Result<(), AgentError> {
        let now = ctx.clock.now();
        let frames = ctx.db.calibration_frames().await?;
        let min = self.settings.pipeline.master_min_frames as usize;
        let tol = self.settings.pipeline.dark_temperature_tolerance;
        for kind in [ImageKind::Bias, ImageKind::Dark, ImageKind::Flat] {
            // Sets: detector, binning, filter (flats), exposure and temperature (darks).
            let mut sets: HashMap<String, Vec<(i64, Image)>> = HashMap::new();
            for (id, f) in frames.iter().filter(|(_, f)| f.kind == kind) {
                let binning = header_number(&f.headers, "XBINNING").unwrap_or(1.0);
                let key = match kind {
                    ImageKind::Flat => format!("{}|{binning}|{}", f.detector.code(), f.filter),
                    ImageKind::Dark => {
                        let t = header_number(&f.headers, "CCD-TEMP").map_or(0, |t| (t / tol).round() as i64);
                        format!("{}|{binning}|{:.1}|{t}", f.detector.code(), f.exposure_s)
                    }
                    _ => format!("{}|{binning}", f.detector.code()),
                };
                sets.entry(key).or_default().push((*id, f.clone()));
            }
            let mut keys: Vec<String> = sets.keys().cloned().collect();
            keys.sort();
            for key in keys {
                let set = &sets[&key];
                let newest = set.iter().map(|(_, f)| f.date_obs).max().unwrap_or(now);
                if set.len() < min || now - newest < SET_QUIET {
                    continue;
                }
                if let Err(e) = self.build_master(ctx, kind, set).await {
                    self.log(ctx, LogLevel::Warn, format!("master {} ({key}): {e}", kind.code())).await;
                    // The frames are not tried again: each is failed with why.
                    for (id, _) in set {
                        ctx.db
                            .pipeline_outcome(
                                *id,
                                PipelineState::Failed,
                                Some(&format!("master {}: {e}", kind.code())),
                            )
                            .await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn build_master(
        &self,
        ctx: &AgentContext,
        kind: ImageKind,
        set: &[(i64, Image)],
    ) -> Result<(), String> {
        let first = &set[0].1;
        let mut frames = Vec::with_capacity(set.len());
        for (_, f) in set.iter().take(ferros_limits::MAX_MASTER_FRAMES) {
            frames.push(self.read(ctx, f).await.map_err(|o| match o {
                Outcome::Wait => format!("{}: the file is missing", f.path),
                Outcome::Fail(e) => format!("{}: {e}", f.path),
            })?);
        }
        let (w, h) = (frames[0].width, frames[0].height);
        let binning = header_number(&first.headers, "XBINNING").unwrap_or(1.0) as u32;
        let temps: Vec<f64> = set.iter().filter_map(|(_, f)| header_number(&f.headers, "CCD-TEMP")).collect();
        let temperature = (!temps.is_empty()).then(|| temps.iter().sum::<f64>() / temps.len() as f64);
        let fits = |m: &Master| m.binning == binning && m.width as usize == w && m.height as usize == h;
        let db = &ctx.db;
        let newest = |kind| async move { db.masters(kind, first.detector).await.map_err(|e| e.to_string()) };
        let bias = newest(ImageKind::Bias).await?.into_iter().find(|m| fits(m));
        let dark = match kind {
            ImageKind::Flat => newest(ImageKind::Dark).await?.into_iter().find(|m| fits(m)),
            _ => None,
        };
        let exposures: Vec<f64> = set.iter().map(|(_, f)| f.exposure_s).collect();
        let (archive, cache) = (self.archive.clone(), self.cache.clone());
        let night = first.date_obs.format("%Y%m%d").to_string();
        let name = match kind {
            ImageKind::Flat => {
                format!("flat_{}_{}_{night}_{}.fits", first.detector.code(), safe(&first.filter), set[0].0)
            }
            ImageKind::Dark => {
                format!("dark_{}_{}s_{night}_{}.fits", first.detector.code(), first.exposure_s, set[0].0)
            }
            _ => format!("bias_{}_{night}_{}.fits", first.detector.code(), set[0].0),
        };
        let relative = PathBuf::from("masters").join(&name);
        let full = archive.root().join(&relative);
        let (bias_m, dark_m) = (bias.clone(), dark.clone());
        let exposure = first.exposure_s;
        let filter = first.filter.clone();
        let work = move || -> Result<(), String> {
            let load = |m: &Option<Master>| -> Result<Option<Arc<Vec<f32>>>, String> {
                m.as_ref()
                    .map(|m| {
                        load_master(&archive, &cache, m).map_err(|o| match o {
                            Outcome::Fail(e) => e,
                            Outcome::Wait => format!("{}: missing", m.path),
                        })
                    })
                    .transpose()
            };
            let (b, d) = (load(&bias_m)?, load(&dark_m)?);
            let refs: Vec<&ferros_pipeline::Image> = frames.iter().collect();
            let pixels = match kind {
                ImageKind::Bias => calibrate::master_bias(&refs),
                ImageKind::Dark => calibrate::master_dark(&refs, b.as_deref().map(Vec::as_slice)),
                _ => calibrate::master_flat(
                    &refs,
                    &exposures,
                    b.as_deref().map(Vec::as_slice),
                    d.as_deref().map(|p| (p.as_slice(), dark_m.as_ref().map_or(0.0, |m| m.exposure_s))),
                ),
            }
            .map_err(|e| e.to_string())?;
            let mut header = ferros_fits::Header::default();
            header
                .set("IMAGETYP", format!("MASTER {}", kind.code().to_uppercase()), "")
                .set("NCOMBINE", frames.len() as i64, "frames combined")
                .set("EXPTIME", exposure, "seconds")
                .set("FILTER", ferros_fits::card_text(&filter).0, "")
                .set("XBINNING", i64::from(binning), "");
            if let Some(t) = temperature {
                header.set("CCD-TEMP", t, "C, mean of the frames");
            }
            let bytes =
                ferros_fits::write_real(w as u32, h as u32, &pixels, &header).map_err(|e| e.to_string())?;
            archive.write_product(&full, bytes, true).map_err(|e| e.to_string())?;
            archive.flush().map_err(|e| e.to_string())
        };
        ctx.clock.offload(work).await.map_err(|e| e.to_string())??;
        let master = Master {
            id: 0,
            kind,
            detector: first.detector,
            filter: if kind == ImageKind::Flat { first.filter.clone() } else { String::new() },
            exposure_s: if kind == ImageKind::Dark { first.exposure_s } else { 0.0 },
            temperature,
            binning,
            width: w as u32,
            height: h as u32,
            frames: set.len().min(ferros_limits::MAX_MASTER_FRAMES) as u32,
            path: relative.to_string_lossy().into_owned(),
            created_at: ctx.clock.now(),
        };
        let ids: Vec<i64> = set.iter().map(|(id, _)| *id).collect();
        ctx.db.insert_master(&master, &ids).await.map_err(|e| e.to_string())?;
        self.log(
            ctx,
            LogLevel::Info,
            format!(
                "master {} {} of {} frame(s): {}",
                kind.code(),
                first.detector.code(),
                ids.len(),
                master.path
            ),
        )
        .await;
        Ok(())
    }
}

/// A master's pixels, from the cache or its file.
fn load_master(archive: &Archive, cache: &Cache, m: &Master) -> Result<Arc<Vec<f32>>, Outcome> {
    if let Some((_, p)) = cache.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|(id, _)| *id == m.id) {
        return Ok(p.clone());
    }
    let bytes = read_limited(&archive.root().join(&m.path)).map_err(|o| match o {
        Outcome::Wait => Outcome::Fail(format!("master {}: the file is missing", m.path)),
        other => other,
    })?;
    let img = ferros_fits::read_real(&bytes).map_err(|e| Outcome::Fail(format!("master {}: {e}", m.path)))?;
    let pixels = Arc::new(img.pixels);
    let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
    if c.len() >= MASTERS_CACHED {
        c.remove(0);
    }
    c.push((m.id, pixels.clone()));
    Ok(pixels)
}

/// A file of at most `MAX_IMAGE_BYTES`; a missing one is waited for.
fn read_limited(path: &Path) -> Result<Vec<u8>, Outcome> {
    use std::io::Read;
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Outcome::Wait),
        Err(e) => return Err(Outcome::Fail(format!("cannot read: {e}"))),
    };
    let mut bytes = Vec::new();
    f.take(MAX_IMAGE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Outcome::Fail(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_IMAGE_BYTES {
        return Err(Outcome::Fail(format!("more than the {MAX_IMAGE_BYTES} bytes of an image")));
    }
    Ok(bytes)
}

/// `dir/name.fits` -> `dir/name_L1.fits`.
fn l1_of(path: &str) -> String {
    match path.strip_suffix(".fits") {
        Some(stem) => format!("{stem}_L1.fits"),
        None => format!("{path}_L1.fits"),
    }
}

fn header_number(headers: &[(String, String)], key: &str) -> Option<f64> {
    headers.iter().find(|(k, _)| k == key).and_then(|(_, v)| v.parse::<f64>().ok()).filter(|v| v.is_finite())
}

/// The raw header's cards as the calibrated image carries them (the
/// structural ones are written anew).
fn carried_header(raw: &[(String, String)]) -> ferros_fits::Header {
    const STRUCTURAL: [&str; 8] =
        ["SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "BZERO", "BSCALE", "EXTEND"];
    let mut h = ferros_fits::Header::default();
    for (k, v) in raw {
        if STRUCTURAL.contains(&k.as_str()) {
            continue;
        }
        match v.parse::<f64>() {
            Ok(n)
                if n.is_finite()
                    && !v.is_empty()
                    && v.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) =>
            {
                if v.contains(['.', 'e', 'E']) { h.set(k, n, "") } else { h.set(k, n as i64, "") }
            }
            _ if v == "T" || v == "F" => h.set(k, v == "T", ""),
            _ => h.set(k, ferros_fits::card_text(v).0, ""),
        };
    }
    h
}

/// A name for a file: letters, digits, `-` and `_` kept.
fn safe(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// How often the pipeline looks at its queue when nothing wakes it.
pub const PIPELINE_PERIOD: Duration = Duration::from_secs(30);
