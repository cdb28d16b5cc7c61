//! The executor on the simulated observatory with ENV, the majordome and the
//! planner: a sequence runs to FITS files and Image rows with its quota
//! charged; an alert pre-empts a routine sequence at the end of its exposure;
//! a cancelled sequence stops and is charged nothing; a sequence left
//! EXECUTING while the executor is idle goes back to the planner.
//!
//! Both run on the virtual clock: time moves only when every agent waits, so
//! the limits below are seconds of the Ferros clock and hold on any machine.

use std::sync::Arc;
use std::time::Duration;

use ferros_agents::{Agent, EnvAgent, ExecutorAgent, Factory, MajordomeAgent, PlannerAgent};
use ferros_archive::Archive;
use ferros_clock::Clock;
use ferros_config::Preemption;
use ferros_db::Db;
use ferros_devices_sim::Scenario;
use ferros_domain::{JulianDate, NewProgram, Period, Priority, Profile, RequestId, Seconds, SequenceStatus};
use ferros_observatory::Observatory;
use ferros_request_xml::{ReadOptions, read_request};

use super::{Harness, safe, settings, start_time};

fn request(name: &str, alert: bool, images: u32) -> String {
    // RA 37, Dec 31: near the zenith of San Pedro Martir at 06:00 UTC on 2026-11-23.
    // The overhead budgets the first slew from the park and the dome opening.
    format!(
        r#"<request name="{name}" scientific_program="AGN" target_type="galaxy" is_alert="{}">
  <sequence name="{name}" target="{name}" ra="37" dec="31" jd1="2461367.5" jd2="2461368.0" overhead="180">
    <album name="vis" detector="VIS"><plan name="r" filter="r" exposure="10" nb_images="{images}"/></album>
    <album name="nir" detector="NIR"><plan name="J" filter="J" exposure="5" nb_images="4" dithering="10"/></album>
  </sequence>
</request>"#,
        u8::from(alert)
    )
}

async fn submit(db: &Db, xml: &str, now: chrono::DateTime<chrono::Utc>) -> RequestId {
    let jd = JulianDate::from_datetime(now).unwrap();
    let r = read_request(xml, &ReadOptions::at(jd)).unwrap().request;
    db.create_request(&r, "ana", true, now).await.unwrap()
}

/// The program AGN and its PI, ana.
async fn program_and_observer(db: &Db, now: chrono::DateTime<chrono::Utc>) {
    let program = NewProgram {
        name: "AGN".into(),
        description: String::new(),
        period: Period::containing(start_time().date_naive()),
        priority: Priority::new(50).unwrap(),
        quota: ferros_domain::Quota::Time(Seconds::new("quota", 36_000.0).unwrap()),
    };
    db.create_program(&program, None, now).await.unwrap();
    let ana = ferros_db::NewUser {
        username: "ana".into(),
        email: String::new(),
        password_hash: "x".into(),
        profiles: [Profile::Pi].into(),
        programs: vec!["AGN".into()],
    };
    db.create_user(&ana, now).await.unwrap();
}

fn planner_and_executor(
    s: &ferros_config::Settings,
    obs: &Observatory,
    archive: &Archive,
    ctx: &ferros_agents::AgentContext,
) -> (Factory, Factory) {
    let planner: Factory = {
        let (s, o) = (s.clone(), obs.clone());
        Arc::new(move || Box::new(PlannerAgent::new(&s, o.site)) as Box<dyn Agent>)
    };
    let executor: Factory = {
        let (s, o, a, ctx) = (s.clone(), obs.clone(), archive.clone(), ctx.clone());
        Arc::new(move || {
            Box::new(ExecutorAgent::new(&s, o.clone(), a.clone(), ctx.clone())) as Box<dyn Agent>
        })
    };
    (planner, executor)
}

/// ENV, the majordome, the planner and the executor: an observatory that observes.
async fn observing(c: Clock, s: &ferros_config::Settings, obs: &Observatory, archive: &Archive) -> Harness {
    Harness::start_with(c, |ctx| {
        let env: Factory = {
            let (s, w, d, site) = (s.clone(), obs.weather.clone().unwrap(), obs.dome.clone(), obs.site);
            Arc::new(move || Box::new(EnvAgent::new(&s, site, w.clone(), d.clone())) as Box<dyn Agent>)
        };
        let majordome: Factory = {
            let (s, o) = (s.clone(), obs.clone());
            Arc::new(move || Box::new(MajordomeAgent::new(&s, o.clone())) as Box<dyn Agent>)
        };
        let (planner, executor) = planner_and_executor(s, obs, archive, ctx);
        vec![env, majordome, planner, executor]
    })
    .await
}

async fn status_of(db: &Db, id: RequestId) -> SequenceStatus {
    db.request(id).await.unwrap().unwrap().sequences[0].status
}

/// Checks `ok` each second of the clock, for at most `secs` seconds.
async fn wait(what: &str, secs: f64, mut ok: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(secs);
    while !ok().await {
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within {secs} s");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Waits like [`wait`]; on failure, says what the agents logged and where the sequences are.
async fn wait_or_tell(db: &Db, what: &str, secs: f64, mut ok: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(secs);
    while !ok().await {
        if tokio::time::Instant::now() >= deadline {
            let logs: Vec<String> = db
                .recent_logs(60)
                .await
                .unwrap()
                .iter()
                .rev()
                .map(|l| format!("{} {}: {}", l.at, l.source, l.message))
                .collect();
            let schedule = db.latest_schedule().await.unwrap().map(|s| s.entries);
            let agents: Vec<String> = db
                .list_agents()
                .await
                .unwrap()
                .iter()
                .map(|a| format!("{} {} beat {} restarts {}", a.name, a.state, a.heartbeat_at, a.restarts))
                .collect();
            let write = db.agent_heartbeat("test", chrono::Utc::now()).await;
            panic!(
                "{what}: not within {secs} s\nlogs:\n{}\nschedule: {schedule:?}\nagents: {agents:?}\na write now: {write:?}",
                logs.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The simulated observatory observing on the virtual clock with `s`: ENV,
/// the majordome, the planner and the executor, program AGN and its PI,
/// SAFE. Bind every field (`_dir`, not `_`): the archive's folder and the
/// devices must live as long as the night.
struct Night {
    c: Clock,
    obs: Observatory,
    archive_dir: tempfile::TempDir,
    archive: Archive,
    h: Harness,
}

async fn safe_night(s: &ferros_config::Settings) -> Night {
    let c = Clock::virtual_from(start_time());
    let obs = Observatory::build(s, c, Scenario { iterations: 0, changes: vec![] }).unwrap();
    let archive_dir = tempfile::tempdir().unwrap();
    let archive = Archive::open(archive_dir.path()).unwrap();
    let h = observing(c, s, &obs, &archive).await;
    program_and_observer(&h.db, c.now()).await;
    h.until(150.0, "safe", safe).await;
    Night { c, obs, archive_dir, archive, h }
}

#[tokio::test(start_paused = true)]
async fn sequences_run_are_preempted_and_cancelled() {
    let c = Clock::virtual_from(start_time());
    let mut s = settings();
    s.agents.majordome_period_s = 2.0;
    s.executor.preemption = Preemption::EndOfExposure;
    let obs = Observatory::build(&s, c, Scenario { iterations: 0, changes: vec![] }).unwrap();
    let archive_dir = tempfile::tempdir().unwrap();
    let archive = Archive::open(archive_dir.path()).unwrap();
    let h = observing(c, &s, &obs, &archive).await;
    let db = &h.db;
    program_and_observer(db, c.now()).await;
    h.until(150.0, "safe", safe).await;
    let used = async || db.program_by_name("AGN").await.unwrap().unwrap().used.get();

    // 1. A sequence runs: both cameras, every image archived and recorded, its time charged.
    let first = submit(db, &request("first", false, 3), c.now()).await;
    wait("first executed", 1200.0, async || status_of(db, first).await == SequenceStatus::Executed).await;
    let r = db.request(first).await.unwrap().unwrap();
    // The request is complete: its folder loses `_active`, then its images' rows follow.
    wait("the images moved", 300.0, async || {
        let images = db.images(Some(r.sequences[0].id), 100).await.unwrap();
        !images.is_empty() && images.iter().all(|i| !i.path.contains("_active"))
    })
    .await;
    let images = db.images(Some(r.sequences[0].id), 100).await.unwrap();
    assert_eq!(images.len(), 3 + 4, "{images:?}");
    for i in &images {
        let path = archive_dir.path().join(&i.path);
        let fits = ferros_fits::read(&std::fs::read(&path).unwrap()).unwrap();
        assert!(
            fits.keyword("SEQ_ID").is_some_and(|v| v.trim() == r.sequences[0].id.0.to_string()),
            "{:?}",
            fits.header
        );
        assert!(
            fits.keyword("AIRMASS").is_some() && fits.keyword("OBSERVER") == Some("ana"),
            "{:?}",
            fits.header
        );
        assert!(i.path.starts_with(&format!("produced/routine_{}", first.0)), "{}", i.path);
    }
    assert!(
        archive_dir.path().join(format!("produced/routine_{}", first.0)).is_dir(),
        "the request is complete"
    );
    let charged = used().await;
    assert!(charged > 60.0 && charged < 1200.0, "charged {charged} s");

    // 2. An alert pre-empts a long routine sequence once its exposures end.
    let long = submit(db, &request("long", false, 30), c.now()).await;
    wait_or_tell(db, "long executing", 900.0, async || {
        status_of(db, long).await == SequenceStatus::Executing
    })
    .await;
    let long_seq = db.request(long).await.unwrap().unwrap().sequences[0].id;
    wait("a first image", 600.0, async || !db.images(Some(long_seq), 1).await.unwrap().is_empty()).await;
    let alert = submit(db, &request("grb", true, 2), c.now()).await;
    wait("alert executed", 1800.0, async || status_of(db, alert).await == SequenceStatus::Executed).await;
    let logs = db.recent_logs(500).await.unwrap();
    let alert_seq = db.request(alert).await.unwrap().unwrap().sequences[0].id;
    assert!(
        logs.iter().any(|l| l.message
            == format!("sequence {long_seq}: given back: pre-empted by alert sequence {alert_seq}")),
        "{:?}",
        logs.iter().map(|l| &l.message).collect::<Vec<_>>()
    );
    // Its images went to the FSC too.
    let fsc = std::fs::read_dir(archive.exchange("FSC", "TO")).unwrap().count();
    assert_eq!(fsc, 2 + 4);

    // 3. The routine sequence runs again; cancelled, it stops and costs nothing.
    wait("long again", 1200.0, async || status_of(db, long).await == SequenceStatus::Executing).await;
    let before = used().await;
    db.cancel_request(long, c.now()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(45)).await;
    assert_eq!(status_of(db, long).await, SequenceStatus::Cancelled);
    let cam = obs.camera_vis.clone().unwrap();
    wait("exposures stopped", 300.0, async || {
        cam.state().await.unwrap().value.activity != ferros_devices::CameraActivity::Exposing
    })
    .await;
    assert_eq!(used().await, before, "a cancelled sequence is not charged");
    h.stop().await;
}

/// A sequence left EXECUTING while the executor runs nothing (a run that
/// could not record its end) goes back to the planner, and is planned again.
#[tokio::test(start_paused = true)]
async fn an_orphaned_execution_is_given_back() {
    let c = Clock::virtual_from(start_time());
    let s = settings();
    let obs = Observatory::build(&s, c, Scenario { iterations: 0, changes: vec![] }).unwrap();
    let archive_dir = tempfile::tempdir().unwrap();
    let archive = Archive::open(archive_dir.path()).unwrap();
    // No ENV nor majordome: nobody says observe, so the executor stays idle.
    let h = Harness::start_with(c, |ctx| {
        let (planner, executor) = planner_and_executor(&s, &obs, &archive, ctx);
        vec![planner, executor]
    })
    .await;
    let db = &h.db;
    program_and_observer(db, c.now()).await;
    let id = submit(db, &request("orphan", false, 3), c.now()).await;
    wait("planned", 600.0, async || status_of(db, id).await == SequenceStatus::Planned).await;
    // Marked EXECUTING behind the executor's back, as a run that died would leave it.
    let seq = db.request(id).await.unwrap().unwrap().sequences[0].id;
    let now = JulianDate::from_datetime(c.now()).unwrap();
    db.start_sequence(seq, now, JulianDate::new(now.days() + 0.01).unwrap(), c.now()).await.unwrap();
    wait("given back", 300.0, async || {
        db.recent_logs(100).await.unwrap().iter().any(|l| {
            l.message
                == format!(
                    "sequence {seq} was interrupted (its run ended without recording an outcome): given back"
                )
        })
    })
    .await;
    wait("planned again", 600.0, async || status_of(db, id).await == SequenceStatus::Planned).await;
    assert!(db.images(Some(seq), 10).await.unwrap().is_empty(), "nothing ran");
    h.stop().await;
}

/// A crash between a request folder's rename and the update of its image
/// rows: at start-up the executor puts the rows back on the folder's name.
#[tokio::test(start_paused = true)]
async fn image_rows_follow_their_folder_after_a_crash() {
    let c = Clock::virtual_from(start_time());
    let s = settings();
    let obs = Observatory::build(&s, c, Scenario { iterations: 0, changes: vec![] }).unwrap();
    let archive_dir = tempfile::tempdir().unwrap();
    let archive = Archive::open(archive_dir.path()).unwrap();
    // The folder was renamed (the request over), the row still says _active.
    let done = archive.finish_request("routine", 5).unwrap();
    std::fs::create_dir_all(done.join("sequence_3")).unwrap();
    let image = ferros_domain::Image {
        path: "produced/routine_5_active/sequence_3/r_001.fits".into(),
        kind: ferros_domain::ImageKind::Light,
        request_id: None,
        sequence_id: None,
        album_id: None,
        plan_id: None,
        detector: ferros_domain::Detector::Vis,
        date_obs: c.now(),
        exposure_s: 10.0,
        filter: "r".into(),
        headers: vec![],
        calibration: ferros_domain::CalibrationLevel::Raw,
        analysis: None,
    };
    let h = Harness::start_with(c, |ctx| {
        let (_, executor) = planner_and_executor(&s, &obs, &archive, ctx);
        vec![executor]
    })
    .await;
    let db = &h.db;
    db.insert_image(&image).await.unwrap();
    // The executor reconciles when it starts: as it does after a crash.
    c.sleep(Duration::from_secs(10)).await;
    h.handle.kill("executor").await;
    wait("rows reconciled", 60.0, async || {
        db.images(None, 10)
            .await
            .unwrap()
            .iter()
            .any(|i| i.path == "produced/routine_5/sequence_3/r_001.fits")
    })
    .await;
    h.stop().await;
}

/// A sequence that fails twice the same way (its filter wheel refuses every
/// move) is given up with the reason, not started again and again.
#[tokio::test(start_paused = true)]
async fn a_sequence_failing_twice_the_same_way_is_given_up() {
    let c = Clock::virtual_from(start_time());
    let mut s = settings();
    s.agents.majordome_period_s = 2.0;
    let obs = Observatory::build(&s, c, Scenario { iterations: 0, changes: vec![] }).unwrap();
    let broken = ferros_devices::DeviceError::comm("filter_vis", "the wheel is jammed");
    obs.sim.filter_vis.as_ref().unwrap().faults.set(ferros_devices_sim::Fault::Error(broken));
    let archive_dir = tempfile::tempdir().unwrap();
    let archive = Archive::open(archive_dir.path()).unwrap();
    let h = observing(c, &s, &obs, &archive).await;
    let db = &h.db;
    program_and_observer(db, c.now()).await;
    h.until(150.0, "safe", safe).await;
    let id = submit(db, &request("jammed", false, 3), c.now()).await;
    wait_or_tell(db, "given up", 1800.0, async || status_of(db, id).await == SequenceStatus::Unplannable)
        .await;
    let seq = &db.request(id).await.unwrap().unwrap().sequences[0];
    let logs = db.recent_logs(200).await.unwrap();
    let started = logs.iter().filter(|l| l.message.contains("\"jammed\" started")).count();
    assert_eq!(started, 2, "tried twice, no more");
    assert!(
        logs.iter().any(|l| l
            .message
            .contains(&format!("sequence {}: UNPLANNABLE: it failed twice the same way: filter", seq.id))),
        "{logs:?}"
    );
    h.stop().await;
}

/// A plan whose duration did not budget the camera's readouts (imported for
/// cameras that read out at once, run on one that takes 5 s) ends with its
/// block: the executor never runs past the time the planner gave.
#[tokio::test(start_paused = true)]
async fn a_plan_ends_with_its_block() {
    let mut s = settings();
    s.agents.majordome_period_s = 2.0;
    let Night { c, h, obs: _obs, archive_dir: _dir, archive: _archive } = safe_night(&s).await;
    let db = &h.db;
    let xml = r#"<request name="tight" scientific_program="AGN" target_type="galaxy">
  <sequence name="tight" ra="37" dec="31" jd1="2461367.5" jd2="2461368.0" overhead="120">
    <album name="vis" detector="VIS"><plan name="r" filter="r" exposure="10" nb_images="30"/></album>
  </sequence>
</request>"#;
    let jd = JulianDate::from_datetime(c.now()).unwrap();
    let instant =
        ReadOptions { readouts: ferros_domain::Readouts { vis: 0.0, nir: 0.0 }, ..ReadOptions::at(jd) };
    let r = read_request(xml, &instant).unwrap().request;
    assert_eq!(r.sequences[0].spec.block().get(), 120.0 + 300.0);
    let id = db.create_request(&r, "ana", true, c.now()).await.unwrap();
    wait_or_tell(db, "executed", 1800.0, async || status_of(db, id).await == SequenceStatus::Executed).await;
    let seq = &db.request(id).await.unwrap().unwrap().sequences[0];
    let (start, end) = (seq.tsp.unwrap(), seq.tep.unwrap());
    let ran = end.seconds_since(start);
    assert!(ran <= 420.0 + 1.0, "ran {ran} s in a block of 420 s");
    // 15 s an image: at most 420 / 15 = 28 of the 30 asked fit (fewer after the slew).
    let images = db.images(Some(seq.id), 100).await.unwrap().len();
    assert!(images > 0 && images * 15 <= 420, "{images} images");
    let logs = db.recent_logs(200).await.unwrap();
    let said = format!("sequence {}, plan \"r\": {images} of 30 images taken; its block ends at", seq.id);
    assert!(
        logs.iter().any(|l| l.message.starts_with(&said)),
        "{:?}",
        logs.iter().map(|l| &l.message).collect::<Vec<_>>()
    );
    h.stop().await;
}

/// The dome follows the mount slaved, looking at it every 2 s, as INDI's
/// domes do: a stopped dome is not an arrived one. No sky exposure is open
/// while the dome turns toward the target.
#[tokio::test(start_paused = true)]
async fn no_exposure_begins_before_the_dome_is_on_the_mount() {
    let mut s = settings();
    s.agents.majordome_period_s = 2.0;
    let Night { c, obs, h, archive_dir: _dir, archive: _archive } = safe_night(&s).await;
    let db = &h.db;
    // Recorded from now: the parked mount and the closed dome have not moved yet.
    let dome = obs.sim.dome.clone().unwrap();
    dome.motions.start_recording();
    let witness = obs.sim.camera_vis.as_ref().unwrap().witness();
    // Two targets far apart in azimuth, one after the other.
    let xml = |name: &str, ra: f64, dec: f64| {
        format!(
            r#"<request name="{name}" scientific_program="AGN" target_type="galaxy">
  <sequence name="{name}" ra="{ra}" dec="{dec}" jd1="2461367.5" jd2="2461368.0" overhead="240">
    <album name="vis" detector="VIS"><plan name="r" filter="r" exposure="10" nb_images="3"/></album>
  </sequence>
</request>"#
        )
    };
    let east = submit(db, &xml("east", 75.0, 20.0), c.now()).await;
    wait_or_tell(db, "east", 1800.0, async || status_of(db, east).await == SequenceStatus::Executed).await;
    let west = submit(db, &xml("west", 350.0, -10.0), c.now()).await;
    wait_or_tell(db, "west", 1800.0, async || status_of(db, west).await == SequenceStatus::Executed).await;
    let turns: Vec<_> = dome
        .motions
        .recorded()
        .into_iter()
        .filter(|m| m.what == "rotation" && (m.end - m.start).num_milliseconds() > 1_000)
        .collect();
    assert!(turns.len() >= 2, "the dome turned toward each target: {turns:?}");
    let lights: Vec<_> =
        witness.shots().into_iter().filter(|s| s.frame == ferros_devices::FrameType::Light).collect();
    assert_eq!(lights.len(), 6);
    for shot in &lights {
        for turn in &turns {
            assert!(
                turn.end <= shot.start || turn.start >= shot.end,
                "a light frame {}..{} while the dome turned {}..{}",
                shot.start,
                shot.end,
                turn.start,
                turn.end
            );
        }
    }
    h.stop().await;
}

/// A request's filter name reaches the wheel through the configured alias;
/// without it, the sequence is given up with the wheel's filters listed.
#[tokio::test(start_paused = true)]
async fn filter_aliases_are_followed() {
    let mut s = settings();
    s.agents.majordome_period_s = 2.0;
    s.devices.filter_vis.aliases.insert("Red".into(), "R".into());
    let Night { c, obs, h, archive_dir: _dir, archive: _archive } = safe_night(&s).await;
    let db = &h.db;
    let xml = |name: &str, filter: &str| {
        format!(
            r#"<request name="{name}" scientific_program="AGN" target_type="galaxy">
  <sequence name="{name}" ra="37" dec="31" jd1="2461367.5" jd2="2461368.0" overhead="240">
    <album name="vis" detector="VIS"><plan name="p" filter="{filter}" exposure="10" nb_images="2"/></album>
  </sequence>
</request>"#
        )
    };
    let red = submit(db, &xml("red", "Red"), c.now()).await;
    wait_or_tell(db, "red", 1800.0, async || status_of(db, red).await == SequenceStatus::Executed).await;
    let wheel = obs.filter_vis.clone().unwrap();
    assert_eq!(wheel.state().await.unwrap().value.filter(), Some("R"));
    let blue = submit(db, &xml("blue", "Blue"), c.now()).await;
    wait_or_tell(db, "blue", 1800.0, async || status_of(db, blue).await == SequenceStatus::Unplannable).await;
    let seq = db.request(blue).await.unwrap().unwrap().sequences[0].id;
    let why = db.sequence_reason(seq).await.unwrap().unwrap();
    assert_eq!(
        why,
        "album \"vis\" (VIS): no filter \"Blue\" on the wheel (it has g, r, i, z, y, B, V, R, I, Ha; aliases Red = R)"
    );
    h.stop().await;
}

/// A stuck camera (a light frame ends in Error, then "not idle" until reset,
/// as an offline alpaca-simulators camera does): reset, marked faulty with an
/// alarm, observing paused, tried again after a doubling wait, not a 1 Hz
/// loop; the sequence is given back, not given up; once the camera works
/// again, the sequence runs.
#[tokio::test(start_paused = true)]
async fn a_stuck_camera_is_reset_and_tried_again_later() {
    let mut s = settings();
    s.agents.majordome_period_s = 2.0;
    let Night { c, obs, h, archive_dir: _dir, archive: _archive } = safe_night(&s).await;
    let db = &h.db;
    let camera = obs.sim.camera_vis.clone().unwrap();
    camera.set_stuck(true);
    let id = submit(db, &request("stuck", false, 2), c.now()).await;
    let logs = async || db.recent_logs(500).await.unwrap();
    wait_or_tell(db, "faulty", 1200.0, async || {
        logs().await.iter().any(|l| l.message.starts_with("alarm: camera_vis is faulty"))
    })
    .await;
    let t0 = c.now();
    // Half an hour stuck: tries after 30, 60, 120, 240, 480 s, and no more.
    tokio::time::sleep(Duration::from_secs(1800)).await;
    let all = logs().await;
    let started = all.iter().filter(|l| l.message.contains("\"stuck\" started")).count();
    let alarms = all.iter().filter(|l| l.message.starts_with("alarm: camera_vis is faulty")).count();
    assert!((4..=7).contains(&started), "started {started} times in 30 min (after {t0})");
    assert_eq!(alarms, started, "one alarm per failure");
    assert!(all.iter().any(|l| l.message.contains("(in 480 s)")), "the wait doubles");
    assert!(all.iter().any(|l| l.message.contains("camera_vis answers again (Idle): back in service")));
    assert_ne!(
        status_of(db, id).await,
        SequenceStatus::Unplannable,
        "the camera's fault, not the sequence's"
    );
    camera.set_stuck(false);
    wait_or_tell(db, "executed", 1800.0, async || status_of(db, id).await == SequenceStatus::Executed).await;
    h.stop().await;
}

/// A request run end to end on the real peers: ENV (on the simulated PLC's
/// calm weather), the majordome, the planner and the executor driving the
/// INDI simulators (`FERROS_TEST_INDI_ADDR`) or `alpaca-simulators`
/// (`FERROS_TEST_ALPACA_URL`), set by CI. The Ferros clock is a night's,
/// running at real speed: the peers move in real time.
mod peers {
    use super::*;
    use ferros_config::Driver;

    async fn night_on(driver: Driver, address: &str) {
        let mut s = settings();
        s.devices.driver = driver;
        match driver {
            Driver::Indi => s.devices.indi = address.to_owned(),
            _ => s.devices.alpaca = address.to_owned(),
        }
        s.devices.timeout_s = 20.0;
        s.agents.heartbeat_timeout_s = 120.0;
        s.devices.plc.driver = Some(Driver::Sim);
        s.devices.camera_nir.driver = Some(Driver::None);
        s.devices.filter_nir.driver = Some(Driver::None);
        let c = Clock::simulated(start_time(), 1.0).unwrap();
        let obs = Observatory::build(&s, c, Scenario { iterations: 0, changes: vec![] }).unwrap();
        // The wheel's own second filter.
        let wheel = obs.filter_vis.clone().expect("a filter wheel");
        let names = wheel.state().await.unwrap().value.names;
        let filter = names.get(1).or(names.first()).expect("the wheel's filters").clone();
        let archive_dir = tempfile::tempdir().unwrap();
        let archive = Archive::open(archive_dir.path()).unwrap();
        let h = observing(c, &s, &obs, &archive).await;
        let db = &h.db;
        program_and_observer(db, c.now()).await;
        h.until(120.0, "safe", safe).await;
        let xml = format!(
            r#"<request name="peer" scientific_program="AGN" target_type="galaxy">
  <sequence name="peer" ra="37" dec="31" jd1="2461367.5" jd2="2461368.0" overhead="600">
    <album name="vis" detector="VIS"><plan name="p" filter="{filter}" exposure="2" nb_images="2" duration="600"/></album>
  </sequence>
</request>"#
        );
        let id = submit(db, &xml, c.now()).await;
        // Real peers in real time: a generous cap, never a margin on a duration.
        let logs = async || db.recent_logs(500).await.unwrap();
        let mut outcome = None;
        for _ in 0..900 {
            if status_of(db, id).await == SequenceStatus::Executed {
                outcome = Some(true);
                break;
            }
            if logs().await.iter().any(|l| l.message.starts_with("alarm: ")) {
                outcome = Some(false);
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let all: Vec<String> =
            logs().await.iter().rev().map(|l| format!("{} {}", l.source, l.message)).collect();
        match outcome {
            Some(true) => {
                let seq = db.request(id).await.unwrap().unwrap().sequences[0].id;
                let images = db.images(Some(seq), 10).await.unwrap();
                assert_eq!(images.len(), 2, "{all:#?}");
                for i in &images {
                    let fits =
                        ferros_fits::read(&std::fs::read(archive_dir.path().join(&i.path)).unwrap()).unwrap();
                    assert_eq!(
                        fits.keyword("FILTER").map(str::trim),
                        Some(filter.as_str()),
                        "{:?}",
                        fits.header
                    );
                    assert!(fits.width > 0 && fits.height > 0);
                }
                eprintln!("{driver}: the request executed, 2 images archived");
            }
            // alpaca-simulators' camera, offline, ends light frames in
            // Error: Ferros resets it, puts it out of service and pauses.
            Some(false) => {
                assert_eq!(driver, Driver::Alpaca, "an alarm on {driver}: {all:#?}");
                assert!(
                    all.iter().any(|l| l.contains("alarm: camera")
                        && l.contains("is faulty")
                        && l.contains("observing is paused")),
                    "{all:#?}"
                );
                assert_ne!(status_of(db, id).await, SequenceStatus::Unplannable, "{all:#?}");
                eprintln!(
                    "{driver}: the camera's light frame ended in Error: reset, out of service, observing paused"
                );
            }
            None => panic!("{driver}: neither executed nor an alarm in 15 min: {all:#?}"),
        }
        h.stop().await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_request_runs_on_the_indi_simulators() {
        let Ok(addr) = std::env::var("FERROS_TEST_INDI_ADDR") else { return };
        night_on(Driver::Indi, &addr).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_request_runs_on_alpaca_simulators() {
        let Ok(url) = std::env::var("FERROS_TEST_ALPACA_URL") else { return };
        night_on(Driver::Alpaca, &url).await;
    }
}

/// A full disk: the archive is out of service with an alarm, observing
/// pauses and a test write is tried after a doubling wait (it took the
/// sequence again every 26 s); once the disk has room, the sequence runs.
#[tokio::test(start_paused = true)]
async fn a_full_disk_pauses_observing_until_it_has_room() {
    let mut s = settings();
    s.agents.majordome_period_s = 2.0;
    let Night { c, archive, h, obs: _obs, archive_dir: _dir } = safe_night(&s).await;
    let db = &h.db;
    archive.set_fault(Some(ferros_archive::DiskFault::Full));
    let id = submit(db, &request("full", false, 2), c.now()).await;
    let logs = async || db.recent_logs(500).await.unwrap();
    wait_or_tell(db, "alarm", 1200.0, async || {
        logs().await.iter().any(|l| l.message.starts_with("alarm: the archive cannot write"))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(900)).await;
    let all = logs().await;
    let started = all.iter().filter(|l| l.message.contains("\"full\" started")).count();
    assert_eq!(started, 1, "taken once while the disk is full");
    let alarms = all.iter().filter(|l| l.message.starts_with("alarm: the archive cannot write")).count();
    // The image, then test writes after 30, 60, 120, 240 s (and 480 s, past 900 s).
    assert!((4..=6).contains(&alarms), "{alarms} alarms");
    assert_ne!(status_of(db, id).await, SequenceStatus::Unplannable);
    archive.set_fault(None);
    wait_or_tell(db, "executed", 1800.0, async || status_of(db, id).await == SequenceStatus::Executed).await;
    assert!(logs().await.iter().any(|l| l.message == "the archive writes again: back in service"));
    h.stop().await;
}
