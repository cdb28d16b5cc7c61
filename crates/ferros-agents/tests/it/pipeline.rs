//! The pipeline agent on its queue: a broken file fails with its reason and
//! the queue goes on; calibration frames make their masters once their set
//! is complete; a sky image is calibrated with them, written beside its raw
//! file and analysed; a new agent (a restart) takes up what was left.

use chrono::{DateTime, TimeDelta, Utc};
use ferros_agents::{Agent, AgentContext, Bus, PipelineAgent};
use ferros_archive::Archive;
use ferros_clock::Clock;
use ferros_devices::{Exposure, FrameType};
use ferros_devices_sim::{CameraConfig, SimCamera};
use ferros_domain::{CalibrationLevel, Detector, Image, ImageKind};

use super::start_time;

fn row(
    path: &str,
    kind: ImageKind,
    at: DateTime<Utc>,
    exposure: f64,
    filter: &str,
    headers: Vec<(String, String)>,
) -> Image {
    Image {
        path: path.into(),
        kind,
        request_id: None,
        sequence_id: None,
        album_id: None,
        plan_id: None,
        detector: Detector::Vis,
        date_obs: at,
        exposure_s: exposure,
        filter: filter.into(),
        headers,
        calibration: CalibrationLevel::Raw,
        analysis: None,
    }
}

#[tokio::test(start_paused = true)]
async fn the_queue_reduces_what_it_can_and_records_why_not_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let db = ferros_db::Db::connect_virtual(&format!("sqlite://{}", dir.path().join("f.db").display()))
        .await
        .unwrap();
    let t0 = start_time();
    let ctx = AgentContext::new(db.clone(), Clock::virtual_from(t0), Bus::default());
    let archive = Archive::open(&dir.path().join("archive")).unwrap();
    let mut settings = super::settings();
    settings.pipeline.catalogue = None;
    let catalogue = std::sync::Arc::new(ferros_catalog::Catalogue::synthetic());
    let cam = SimCamera::new(
        "vis",
        Clock::Real,
        CameraConfig { width: 256, height: 256, ..CameraConfig::default() },
        None,
    )
    .with_catalogue(catalogue.clone());
    let produced = archive.produced();
    let write = |name: &str, frame: &ferros_devices::Frame, h: &ferros_fits::Header| {
        std::fs::write(
            produced.join(name),
            ferros_fits::write(frame.width, frame.height, &frame.pixels, h).unwrap(),
        )
        .unwrap();
        format!("produced/{name}")
    };
    // Three biases and three flats of r, a 60 s light frame with its nominal WCS, a broken file.
    for (k, kind, exposure) in
        [(0, FrameType::Bias, 0.0), (1, FrameType::Bias, 0.0), (2, FrameType::Bias, 0.0)]
            .into_iter()
            .chain((3..6).map(|k| (k, FrameType::Flat, 5.0)))
    {
        let e = Exposure { duration: exposure, frame: kind, binning: 1, window: None };
        let mut frame = cam.render_light(30.0, 20.0, 70.0, t0, e.clone());
        // Calibration frames have no stars: a flat sky of their own.
        let level = if kind == FrameType::Bias { 1000 } else { 21_000 };
        frame.pixels.iter_mut().for_each(|p| *p = level + (*p % 7));
        let name = format!("cal_{k}.fits");
        let path = write(&name, &frame, &ferros_fits::Header::default());
        let (ik, filter) =
            if kind == FrameType::Bias { (ImageKind::Bias, "dark") } else { (ImageKind::Flat, "r") };
        db.insert_image(&row(&path, ik, t0 + TimeDelta::seconds(k), exposure, filter, Vec::new()))
            .await
            .unwrap();
    }
    std::fs::write(produced.join("broken.fits"), b"SIMPLE  =  not a FITS file at all").unwrap();
    db.insert_image(&row("produced/broken.fits", ImageKind::Light, t0, 60.0, "r", Vec::new())).await.unwrap();
    let light = cam.render_light(
        30.0,
        20.0,
        70.0,
        t0,
        Exposure { duration: 60.0, frame: FrameType::Light, binning: 1, window: None },
    );
    let wcs = ferros_pipeline::Wcs::nominal(30.0, 20.0, 256, 256, 1.5, 0.0);
    let mut h = ferros_fits::Header::default();
    for (k, v, c) in wcs.cards() {
        h.set(&k, v, c);
    }
    h.set("EXPTIME", 60.0, "").set("GAIN", 1.5, "");
    let lpath = write("light.fits", &light, &h);
    let headers = h.as_text();
    let mut agent = PipelineAgent::new(
        &settings,
        archive.clone(),
        Some(catalogue.clone()),
        ferros_agents::PIPELINE_PERIOD,
    );
    agent.step(&ctx).await.unwrap();
    // The broken file failed with why; the calibration frames are done, no master yet (the set is new).
    let failures = db.pipeline_failures(10).await.unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].0.ends_with("broken.fits") && failures[0].1.contains("not a readable FITS image"),
        "{failures:?}"
    );
    assert!(db.masters(ImageKind::Bias, Detector::Vis).await.unwrap().is_empty());
    // Five minutes later, a new agent (a restart): the sets are complete, the masters made.
    tokio::time::advance(std::time::Duration::from_secs(400)).await;
    let mut agent = PipelineAgent::new(
        &settings,
        archive.clone(),
        Some(catalogue.clone()),
        ferros_agents::PIPELINE_PERIOD,
    );
    agent.step(&ctx).await.unwrap();
    let bias = db.masters(ImageKind::Bias, Detector::Vis).await.unwrap();
    let flat = db.masters(ImageKind::Flat, Detector::Vis).await.unwrap();
    assert_eq!((bias.len(), flat.len()), (1, 1), "{bias:?} {flat:?}");
    assert_eq!((bias[0].frames, flat[0].filter.as_str()), (3, "r"));
    assert!(archive.root().join(&bias[0].path).exists());
    // The light frame now: calibrated with both, written beside its raw file, analysed.
    db.insert_image(&row(&lpath, ImageKind::Light, t0 + TimeDelta::seconds(400), 60.0, "r", headers))
        .await
        .unwrap();
    agent.step(&ctx).await.unwrap();
    let l1 = db.image_by_path("produced/light_L1.fits").await.unwrap().expect("the calibrated image's row");
    assert_eq!(l1.calibration, CalibrationLevel::Analysed, "{:?}", l1.analysis);
    let analysis: ferros_pipeline::Analysis = serde_json::from_str(l1.analysis.as_deref().unwrap()).unwrap();
    assert!(analysis.astrometry.is_some() && analysis.photometry.is_some(), "{:?}", analysis.notes);
    assert!(analysis.notes.iter().any(|n| n.contains("without a master dark")), "{:?}", analysis.notes);
    let file = ferros_fits::read_real(&std::fs::read(archive.root().join("produced/light_L1.fits")).unwrap())
        .unwrap();
    assert_eq!(file.keyword("CALLEVEL"), Some("L1"));
    assert_eq!(file.keyword("BIASFRM"), Some(bias[0].path.as_str()));
    assert_eq!(file.keyword("DARKFRM"), Some("none"));
    // Nothing is left pending: raw done, the broken one failed, the frames in their masters.
    let counts: std::collections::BTreeMap<String, i64> =
        db.pipeline_counts().await.unwrap().into_iter().collect();
    assert_eq!(counts.get("pending"), None, "{counts:?}");
    assert_eq!(counts.get("failed"), Some(&1), "{counts:?}");
}
