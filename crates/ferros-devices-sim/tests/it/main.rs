//! The simulators on a paused clock: timing, states, limits and failures.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use ferros_astro::Site;
use ferros_clock::Clock;
use ferros_devices::{DeviceError, Dome, FilterWheel, Mount, Shutter, bounded, wait_for};
use ferros_devices_sim::{DomeConfig, Fault, MountConfig, SimDome, SimFilterWheel, SimMount, altaz, hadec};

fn clock() -> Clock {
    Clock::simulated(Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap(), 1.0).unwrap()
}

fn spm() -> Site {
    Site::new(31.0439, -115.4637, 2790.0).unwrap()
}

async fn advance(s: f64) {
    tokio::time::advance(Duration::from_secs_f64(s)).await;
}

#[test]
fn altaz_and_hadec_are_inverse() {
    for (ha, dec) in [(0.0, 31.0), (30.0, 10.0), (-75.0, -20.0), (150.0, 70.0)] {
        let (alt, az) = altaz(ha, dec, 31.0);
        let (h, d) = hadec(alt, az, 31.0);
        assert!((h - ha).abs() < 1e-9 && (d - dec).abs() < 1e-9, "{ha} {dec} -> {alt} {az} -> {h} {d}");
    }
    assert!((altaz(0.0, 31.0, 31.0).0 - 90.0).abs() < 1e-9, "the zenith");
}

#[tokio::test(start_paused = true)]
async fn the_mount_slews_with_acceleration_then_tracks() {
    let m = SimMount::new("mount", spm(), clock(), MountConfig::default());
    let s = m.state().await.unwrap().value;
    assert!(s.parked && !s.tracking && (s.alt - 90.0).abs() < 1e-6, "{s:?}");
    let e = m.slew_radec(10.0, 20.0).await.unwrap_err();
    assert!(matches!(e, DeviceError::Busy { .. }), "{e}");
    m.unpark().await.unwrap();
    // At 06:00 UTC the LST at SPM is about 2.3 h: RA 30, Dec 20 is up.
    m.slew_radec(30.0, 20.0).await.unwrap();
    advance(3.0).await;
    let mid = m.state().await.unwrap().value;
    assert!(mid.slewing && !mid.tracking, "{mid:?}");
    assert!(
        (mid.dec - 31.0439).abs() > 0.1 && (mid.dec - 31.0439).abs() < 11.0,
        "moving, not there: {mid:?}"
    );
    advance(60.0).await;
    let done = m.state().await.unwrap().value;
    assert!(!done.slewing && done.tracking, "{done:?}");
    assert_eq!((done.ra, done.dec), (30.0, 20.0));
    // Tracking: RA/Dec stay, alt/az change.
    advance(600.0).await;
    let later = m.state().await.unwrap().value;
    assert_eq!((later.ra, later.dec), (30.0, 20.0));
    assert!((later.az - done.az).abs() > 0.5, "{done:?} {later:?}");
}

#[tokio::test(start_paused = true)]
async fn the_mount_refuses_the_horizon_and_aborts() {
    let m = SimMount::new("mount", spm(), clock(), MountConfig { horizon: 20.0, ..MountConfig::default() });
    m.unpark().await.unwrap();
    let e = m.slew_altaz(10.0, 180.0).await.unwrap_err();
    assert!(e.to_string().contains("below the horizon limit 20"), "{e}");
    m.slew_altaz(30.0, 90.0).await.unwrap();
    advance(2.0).await;
    m.abort().await.unwrap();
    let s = m.state().await.unwrap().value;
    assert!(!s.slewing && !s.tracking && s.alt > 80.0, "stopped near where it was: {s:?}");
    advance(60.0).await;
    let t = m.state().await.unwrap().value;
    assert!((t.alt - s.alt).abs() < 1e-9, "it stays: {s:?} {t:?}");
    m.park().await.unwrap();
    advance(120.0).await;
    assert!(m.state().await.unwrap().value.parked);
}

#[tokio::test(start_paused = true)]
async fn wait_for_polls_until_done_or_times_out() {
    let c = clock();
    let m = SimMount::new("mount", spm(), c, MountConfig::default());
    m.unpark().await.unwrap();
    m.slew_altaz(45.0, 270.0).await.unwrap();
    let s = wait_for(
        &c,
        "mount",
        "slew",
        Duration::from_secs(1),
        Duration::from_secs(120),
        async || m.state().await,
        |s| !s.value.slewing,
    )
    .await
    .unwrap();
    assert!((s.value.alt - 45.0).abs() < 1e-6, "{s:?}");
    m.slew_altaz(30.0, 90.0).await.unwrap();
    let e = wait_for(
        &c,
        "mount",
        "slew",
        Duration::from_secs(1),
        Duration::from_secs(3),
        async || m.state().await,
        |s| !s.value.slewing,
    )
    .await
    .unwrap_err();
    assert_eq!(e.to_string(), "mount did not answer within 3 s (slew)");
}

#[tokio::test(start_paused = true)]
async fn faults_make_calls_fail_or_hang() {
    let m = SimMount::new("mount", spm(), clock(), MountConfig::default());
    m.faults.set(Fault::Unreachable);
    assert_eq!(m.state().await.unwrap_err().to_string(), "mount: communication failed: not answering");
    m.faults.set(Fault::Error(DeviceError::limit("mount", "axis fault")));
    assert_eq!(m.unpark().await.unwrap_err().to_string(), "mount: axis fault");
    m.faults.set(Fault::Hang);
    let e = bounded("mount", "state", Duration::from_secs(5), m.state()).await.unwrap_err();
    assert!(matches!(e, DeviceError::Timeout { .. }), "{e}");
    m.faults.clear();
    assert!(m.state().await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn the_dome_shutter_takes_a_minute_and_the_slit_turns() {
    let d = SimDome::new("dome", clock(), DomeConfig::default(), None);
    assert_eq!(d.state().await.unwrap().value.shutter, Shutter::Closed);
    d.open().await.unwrap();
    advance(30.0).await;
    assert_eq!(d.state().await.unwrap().value.shutter, Shutter::Intermediate);
    advance(31.0).await;
    assert_eq!(d.state().await.unwrap().value.shutter, Shutter::Opened);
    d.close().await.unwrap();
    advance(10.0).await;
    d.abort().await.unwrap();
    advance(100.0).await;
    assert_eq!(d.state().await.unwrap().value.shutter, Shutter::Intermediate, "stopped half way");
    // 350 degrees is 10 degrees away the short way: 2 s at 5 deg/s.
    d.slew_azimuth(350.0).await.unwrap();
    advance(1.0).await;
    let s = d.state().await.unwrap().value;
    assert!(s.slewing && (s.azimuth - 355.0).abs() < 1e-6, "{s:?}");
    advance(1.5).await;
    let s = d.state().await.unwrap().value;
    assert!(!s.slewing && (s.azimuth - 350.0).abs() < 1e-6, "{s:?}");
    assert!(d.set_slaved(true).await.unwrap_err().to_string().contains("none attached"));
}

#[tokio::test(start_paused = true)]
async fn asking_the_shutter_again_keeps_its_progress_and_turning_back_takes_what_it_came() {
    let d = SimDome::new("dome", clock(), DomeConfig::default(), None);
    d.open().await.unwrap();
    for _ in 0..5 {
        advance(10.0).await;
        d.open().await.unwrap();
    }
    advance(10.5).await;
    assert_eq!(d.state().await.unwrap().value.shutter, Shutter::Opened, "60 s whatever the repeats");
    d.close().await.unwrap();
    advance(20.0).await;
    d.open().await.unwrap();
    advance(19.0).await;
    assert_eq!(d.state().await.unwrap().value.shutter, Shutter::Intermediate);
    advance(1.5).await;
    assert_eq!(d.state().await.unwrap().value.shutter, Shutter::Opened, "back in the 20 s it had closed");
}

#[tokio::test(start_paused = true)]
async fn a_slaved_dome_follows_the_mount() {
    let c = clock();
    let m: Arc<SimMount> = Arc::new(SimMount::new("mount", spm(), c, MountConfig::default()));
    let d = SimDome::new("dome", c, DomeConfig::default(), Some(m.clone()));
    m.unpark().await.unwrap();
    m.slew_altaz(40.0, 123.0).await.unwrap();
    advance(60.0).await;
    d.set_slaved(true).await.unwrap();
    // It turns toward the mount at its own rate (5 deg/s: 123 deg in 24.6 s).
    let s = d.state().await.unwrap().value;
    assert!(s.slaved && s.slewing && s.azimuth.abs() < 1e-6, "{s:?}");
    advance(25.0).await;
    let s = d.state().await.unwrap().value;
    assert!(!s.slewing && (s.azimuth - 123.0).abs() < 1e-6, "{s:?}");
    assert!(d.slew_azimuth(10.0).await.unwrap_err().to_string().contains("slaved"));
    // Like INDI's slaved domes, it looks at the mount every 2 s: right after
    // the mount moves it has not started yet, and is not slewing.
    m.slew_altaz(40.0, 150.0).await.unwrap();
    advance(60.0).await;
    let s = d.state().await.unwrap().value;
    assert!(s.slewing, "{s:?}");
    advance(6.0).await;
    let s = d.state().await.unwrap().value;
    assert!(!s.slewing && (s.azimuth - 150.0).abs() < 1e-6, "{s:?}");
    m.slew_altaz(40.0, 170.0).await.unwrap();
    advance(1.0).await;
    let s = d.state().await.unwrap().value;
    assert!(!s.slewing && (s.azimuth - 150.0).abs() < 1e-6, "{s:?}");
}

#[tokio::test(start_paused = true)]
async fn the_filter_wheel_moves_slot_by_slot() {
    let names = ["g", "r", "i", "z", "J", "H"].map(String::from).to_vec();
    let w = SimFilterWheel::new("wheel", clock(), names, 2.0);
    assert_eq!(w.state().await.unwrap().value.filter(), Some("g"));
    w.select_filter("z").await.unwrap();
    advance(3.0).await;
    let s = w.state().await.unwrap().value;
    assert!(s.moving && s.position.is_none());
    assert!(w.select(1).await.unwrap_err().to_string().contains("busy"));
    advance(3.5).await;
    assert_eq!(w.state().await.unwrap().value.filter(), Some("z"));
    // From z (slot 3) to g (slot 0): 3 slots either way round a 6-slot wheel.
    w.select(0).await.unwrap();
    advance(5.9).await;
    assert!(w.state().await.unwrap().value.moving);
    advance(0.2).await;
    assert_eq!(w.state().await.unwrap().value.filter(), Some("g"));
    // From g to H: one slot, backwards.
    w.select(5).await.unwrap();
    advance(2.1).await;
    assert_eq!(w.state().await.unwrap().value.filter(), Some("H"));
    assert!(w.select(9).await.unwrap_err().to_string().contains("slot 9 does not exist"));
    assert!(w.select_filter("Ha").await.unwrap_err().to_string().contains("no filter \"Ha\""));
}

fn scenario(name: &str) -> ferros_devices_sim::Scenario {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/scenarios/");
    ferros_devices_sim::Scenario::parse(&std::fs::read_to_string(format!("{path}{name}")).unwrap()).unwrap()
}

fn rain(s: &ferros_devices::WeatherStatus, sensor: &str) -> f64 {
    s.sensors.iter().find(|x| x.name == sensor).unwrap().value("RainRate").unwrap().as_f64().unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_plc_plays_the_seeds_rain_scenario() {
    use ferros_devices::WeatherSource;
    let plc = ferros_devices_sim::SimPlc::new("plc", clock(), Duration::from_secs(2), scenario("rain.json"))
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..12 {
        let s = plc.status().await.unwrap().value;
        seen.push((rain(&s, "WXT520"), rain(&s, "VantagePro")));
        advance(2.0).await;
    }
    // Iterations 1-2 dry, 3-6 raining, 7 on dry; after the 10 iterations it stays.
    let wet: Vec<bool> = seen.iter().map(|(a, b)| *a > 0.0 && *b > 0.0).collect();
    assert_eq!(wet, [false, false, true, true, true, true, false, false, false, false, false, false]);
    assert_eq!(seen[2], (12.0, 12.0));
}

#[tokio::test(start_paused = true)]
async fn the_plc_scenario_extensions_change_mode_validity_alarms_and_answers() {
    use ferros_devices::{PlcMode, WeatherSource};
    let plc =
        ferros_devices_sim::SimPlc::new("plc", clock(), Duration::from_secs(1), scenario("faulty_plc.json"))
            .unwrap();
    advance(2.5).await; // iteration 3
    let s = plc.status().await.unwrap().value;
    assert!(!s.sensors.iter().find(|x| x.name == "VantagePro").unwrap().valid);
    assert_eq!(s.mode, PlcMode::Auto);
    advance(5.0).await; // iteration 8
    assert_eq!(plc.status().await.unwrap_err().to_string(), "plc: communication failed: not answering");
    advance(7.0).await; // iteration 15
    assert!(plc.status().await.unwrap_err().to_string().contains("unreadable"));
    advance(5.0).await; // iteration 20
    assert_eq!(plc.status().await.unwrap().value.alarms, ["intrusion"]);
    let windy = ferros_devices_sim::SimPlc::new(
        "plc",
        clock(),
        Duration::from_secs(1),
        scenario("windy_then_manual.json"),
    )
    .unwrap();
    advance(10.0).await;
    assert_eq!(windy.status().await.unwrap().value.mode, PlcMode::Manual);
}

#[test]
fn bad_scenarios_say_where() {
    use ferros_devices_sim::Scenario;
    let bad = |t: &str| Scenario::parse(t).unwrap_err().to_string();
    assert!(bad("{").starts_with("not JSON"));
    assert!(bad("{}").contains("JSON list"));
    assert!(bad(r#"["ten"]"#).starts_with("[0]:"));
    assert_eq!(bad("[4294967296]"), "[0]: 4294967296 iterations: at most 1000000");
    let many = format!("[5{}]", r#", {"time": 1, "plcSimulator": {"silent": true}}"#.repeat(10_001));
    assert_eq!(bad(&many), "[10001]: 10001 changes: at most 10000");
    assert!(bad(r#"[5, {"plcSimulator": {}}]"#).starts_with("[1]: \"time\""));
    assert!(bad(r#"[5, {"time": 1, "plcSimulator": {"mode": "SLEEP"}}]"#).contains("mode \"SLEEP\""));
    assert!(
        bad(r#"[5, {"time": 1, "plcSimulator": {"device_name": "WXT520", "value_name": "RainRate"}}]"#)
            .contains("\"value\"")
    );
    assert!(
        bad(r#"[5, {"time": 1, "plcSimulator": {"silent": "yes"}}]"#)
            .contains("\"silent\" must be true or false")
    );
    // The seeds' files mix simulators: other events are skipped.
    let s = Scenario::parse(r#"[200, {"time": 1, "userSimulator": "routine_request_01.xml"}]"#).unwrap();
    assert_eq!((s.iterations, s.changes.len()), (200, 0));
    let unknown = Scenario::parse(
        r#"[5, {"time": 1, "plcSimulator": {"device_name": "Nope", "value_name": "x", "value": 1}}]"#,
    )
    .unwrap();
    let e = ferros_devices_sim::SimPlc::new("plc", clock(), Duration::from_secs(1), unknown).unwrap_err();
    let nope = ferros_devices_sim::ModelError::NoSensor("Nope".into());
    assert_eq!(e, ferros_devices_sim::ScenarioError::Change { n: 1, what: nope });
    assert_eq!(e.to_string(), "change 1: no sensor Nope");
}

mod camera {
    use super::*;
    use ferros_devices::{Camera, CameraActivity, Exposure, Frame, FrameType};
    use ferros_devices_sim::{CameraConfig, SimCamera, Transient};

    fn small() -> CameraConfig {
        CameraConfig { width: 256, height: 256, ..CameraConfig::default() }
    }

    fn light(duration: f64) -> Exposure {
        Exposure { duration, frame: FrameType::Light, binning: 1, window: None }
    }

    async fn pointed_camera(c: Clock, config: CameraConfig) -> (Arc<SimMount>, SimCamera) {
        let m = Arc::new(SimMount::new("mount", spm(), c, MountConfig::default()));
        m.unpark().await.unwrap();
        m.slew_radec(30.0, 20.0).await.unwrap();
        advance(60.0).await;
        let cam = SimCamera::new("vis", c, config, Some(m.clone()));
        (m, cam)
    }

    async fn shoot(cam: &SimCamera, e: &Exposure) -> Frame {
        cam.expose(e).await.unwrap();
        advance(e.duration + 10.0).await;
        cam.image().await.unwrap()
    }

    fn mean(f: &Frame) -> f64 {
        f.pixels.iter().map(|&p| f64::from(p)).sum::<f64>() / f.pixels.len() as f64
    }

    #[tokio::test(start_paused = true)]
    async fn an_exposure_runs_reads_out_and_gives_a_frame() {
        let (_m, cam) = pointed_camera(clock(), CameraConfig::default()).await;
        cam.expose(&light(10.0)).await.unwrap();
        advance(5.0).await;
        let s = cam.state().await.unwrap().value;
        assert_eq!(s.activity, CameraActivity::Exposing);
        assert!((s.progress - 0.5).abs() < 1e-6);
        assert!(cam.expose(&light(1.0)).await.unwrap_err().to_string().contains("in progress"));
        assert!(cam.image().await.unwrap_err().to_string().contains("not read out yet"));
        advance(7.0).await;
        assert_eq!(cam.state().await.unwrap().value.activity, CameraActivity::Reading);
        advance(4.0).await;
        assert_eq!(cam.state().await.unwrap().value.activity, CameraActivity::Ready);
        let f = cam.image().await.unwrap();
        assert_eq!((f.width, f.height, f.pixels.len()), (1024, 1024, 1024 * 1024));
        assert_eq!(cam.state().await.unwrap().value.activity, CameraActivity::Idle);
    }

    #[tokio::test(start_paused = true)]
    async fn the_witness_records_what_the_detector_took() {
        let c = clock();
        let (_m, cam) = pointed_camera(c, small()).await;
        let w = cam.witness();
        let t0 = c.now();
        // A shot that runs to its end, one aborted after 4 s.
        shoot(&cam, &light(10.0)).await;
        let t1 = c.now();
        cam.expose(&light(30.0)).await.unwrap();
        advance(4.0).await;
        cam.abort().await.unwrap();
        // A hung camera receives no abort: its shot runs to its end.
        let t2 = c.now();
        cam.expose(&light(20.0)).await.unwrap();
        cam.faults.set(Fault::Hang);
        assert!(bounded("vis", "abort", Duration::from_secs(1), cam.abort()).await.is_err());
        cam.faults.clear();
        let shots: Vec<(i64, i64)> = w
            .shots()
            .iter()
            .map(|s| ((s.start - t0).num_seconds(), (s.end - s.start).num_seconds()))
            .collect();
        let (o1, o2) = ((t1 - t0).num_seconds(), (t2 - t0).num_seconds());
        assert_eq!(shots, vec![(0, 10), (o1, 4), (o2, 20)]);
        assert!(w.shots().iter().all(|s| s.frame == FrameType::Light));
        // A shot longer than the calendar is recorded, not a panic.
        advance(30.0).await;
        cam.expose(&light(1e300)).await.unwrap();
        assert_eq!(w.shots().last().unwrap().end, chrono::DateTime::<Utc>::MAX_UTC);
    }

    #[tokio::test(start_paused = true)]
    async fn the_same_pointing_shows_the_same_stars() {
        let (_m, cam) = pointed_camera(clock(), small()).await;
        let a = shoot(&cam, &light(30.0)).await;
        let b = shoot(&cam, &light(30.0)).await;
        assert_ne!(a.pixels, b.pixels, "the noise differs");
        // The stars do not: the same pixels are bright in both (but for a
        // few at the edge of a star, where the noise decides).
        let bright = |f: &Frame| (0..f.pixels.len()).filter(|&i| f.pixels[i] > 3000).collect::<Vec<_>>();
        let (x, y) = (bright(&a), bright(&b));
        let common = x.iter().filter(|i| y.binary_search(i).is_ok()).count();
        assert!(common * 10 >= x.len().max(y.len()) * 9, "{common} of {} and {}", x.len(), y.len());
        assert!(x.len() > 10, "a star field, not a blank frame: {} bright pixels", x.len());
    }

    #[tokio::test(start_paused = true)]
    async fn calibration_frames_carry_bias_dark_and_vignetting() {
        let cam = SimCamera::new("nir", clock(), small(), None);
        let bias =
            shoot(&cam, &Exposure { duration: 0.0, frame: FrameType::Bias, binning: 1, window: None }).await;
        assert!((mean(&bias) - 1000.0).abs() < 5.0, "{}", mean(&bias));
        let dark =
            shoot(&cam, &Exposure { duration: 100.0, frame: FrameType::Dark, binning: 1, window: None })
                .await;
        // 0.5 ADU/s at 0 C doubles every 6 C: at 15 C, about 2.83 ADU/s.
        assert!(mean(&dark) - mean(&bias) > 250.0, "{}", mean(&dark));
        let flat =
            shoot(&cam, &Exposure { duration: 1.0, frame: FrameType::Flat, binning: 1, window: None }).await;
        let centre = f64::from(flat.pixels[128 * 256 + 128]);
        let corner = f64::from(flat.pixels[5 * 256 + 5]);
        assert!(centre > corner * 1.1, "vignetting: centre {centre}, corner {corner}");
        let binned =
            shoot(&cam, &Exposure { duration: 0.0, frame: FrameType::Bias, binning: 2, window: None }).await;
        assert_eq!((binned.width, binned.height), (128, 128));
        let win = shoot(
            &cam,
            &Exposure { duration: 0.0, frame: FrameType::Bias, binning: 1, window: Some((10, 20, 100, 50)) },
        )
        .await;
        assert_eq!((win.width, win.height), (100, 50));
        let e = cam
            .expose(&Exposure {
                duration: 1.0,
                frame: FrameType::Bias,
                binning: 1,
                window: Some((200, 0, 100, 10)),
            })
            .await;
        assert!(e.unwrap_err().to_string().contains("outside 256x256"));
        // Windows near u32::MAX, as a peer may send them: refused, no overflow.
        for window in [(1, 1, u32::MAX, u32::MAX), (1, 0, u32::MAX, 1), (u32::MAX, 0, 1, 1)] {
            let e = cam.expose(&Exposure { window: Some(window), ..light(1.0) }).await.unwrap_err();
            assert!(e.to_string().contains("outside 256x256"), "{window:?}: {e}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_injected_transient_appears_and_fades() {
        let c = clock();
        // Perfect pointing: the transient at the pointing falls on the centre.
        let (_m, cam) = pointed_camera(c, CameraConfig { pointing_error: 0.0, ..small() }).await;
        let before = shoot(&cam, &light(30.0)).await;
        let centre = 127 * 256 + 127;
        cam.inject_transient(Transient { ra: 30.0, dec: 20.0, mag: 10.0, fade: 2.0, start: c.now() });
        let bright = shoot(&cam, &light(30.0)).await;
        let centre =
            (centre..centre + 2).chain(centre + 256..centre + 258).max_by_key(|&i| bright.pixels[i]).unwrap();
        assert!(
            f64::from(bright.pixels[centre]) > f64::from(before.pixels[centre]) + 5000.0,
            "{} {}",
            bright.pixels[centre],
            before.pixels[centre]
        );
        advance(3.0 * 3600.0).await;
        let faded = shoot(&cam, &light(30.0)).await;
        assert!(faded.pixels[centre] < bright.pixels[centre], "fainter three hours later");
    }

    #[tokio::test(start_paused = true)]
    async fn the_cooler_ramps_to_its_setpoint() {
        let cam = SimCamera::new("nir", clock(), small(), None);
        let dark = Exposure { duration: 300.0, frame: FrameType::Dark, binning: 1, window: None };
        let warm = mean(&shoot(&cam, &dark).await);
        cam.set_cooler(Some(-20.0)).await.unwrap();
        advance(20.0).await;
        assert!((cam.state().await.unwrap().value.ccd_temperature - 5.0).abs() < 1e-6);
        advance(300.0).await;
        let s = cam.state().await.unwrap().value;
        assert_eq!((s.ccd_temperature, s.cooler_setpoint, s.cooler_on), (-20.0, Some(-20.0), true));
        assert!(cam.set_cooler(Some(-500.0)).await.is_err());
        // Dark current halves every 6 degrees: 35 degrees colder, a 50th of it
        // (and the same hot pixels).
        let cold = mean(&shoot(&cam, &dark).await);
        assert!(
            warm - 1000.0 > 300.0 && (cold - 1000.0) < (warm - 1000.0) / 20.0,
            "warm {warm}, cold {cold}"
        );
    }
}

/// The conformance suite on the simulators.
mod conformance {
    use super::*;
    use async_trait::async_trait;
    use ferros_devices::conformance::{self, Link};
    use ferros_devices::{Camera, Mount, WeatherSource};
    use ferros_devices_sim::{CameraConfig, Faults, SimCamera, SimPlc};

    struct SimLink(Faults);

    #[async_trait]
    impl Link for SimLink {
        async fn cut(&self) {
            self.0.set(Fault::Hang);
        }
        async fn restore(&self) {
            self.0.clear();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn mount() {
        let c = clock();
        let m = SimMount::new("mount", spm(), c, MountConfig::default());
        conformance::mount_story(&m, &c).await.unwrap();
        let link = SimLink(m.faults.clone());
        conformance::link_story(&link, Duration::from_secs(5), || async { m.state().await.map(|_| ()) })
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn dome() {
        let c = clock();
        let d = SimDome::new("dome", c, DomeConfig::default(), None);
        conformance::dome_story(&d, &c).await.unwrap();
        let link = SimLink(d.faults.clone());
        conformance::link_story(&link, Duration::from_secs(5), || async { d.state().await.map(|_| ()) })
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn filter_wheel() {
        let c = clock();
        let w = SimFilterWheel::new("wheel", c, ["g", "r", "i"].map(String::from).to_vec(), 2.0);
        conformance::filter_wheel_story(&w, &c).await.unwrap();
        let link = SimLink(w.faults.clone());
        conformance::link_story(&link, Duration::from_secs(5), || async { w.state().await.map(|_| ()) })
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn camera() {
        let c = clock();
        let cam = SimCamera::new(
            "vis",
            c,
            CameraConfig { width: 128, height: 96, ..CameraConfig::default() },
            None,
        );
        conformance::camera_story(&cam, &c).await.unwrap();
        let link = SimLink(cam.faults.clone());
        conformance::link_story(&link, Duration::from_secs(5), || async { cam.state().await.map(|_| ()) })
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn weather() {
        let c = clock();
        let plc = SimPlc::new(
            "plc",
            c,
            Duration::from_secs(1),
            ferros_devices_sim::Scenario { iterations: 0, changes: vec![] },
        )
        .unwrap();
        conformance::weather_story(&plc).await.unwrap();
        let link = SimLink(plc.faults.clone());
        conformance::link_story(&link, Duration::from_secs(5), || async { plc.status().await.map(|_| ()) })
            .await
            .unwrap();
    }
}

/// Whatever the text, a scenario parses or says what is wrong, never panics.
mod fuzz {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]
        #[test]
        fn any_scenario_text_parses_without_panic(text in r#"\[[0-9]{0,12}(, \{"time": [0-9]{0,12}, "plcSimulator": \{.{0,60}\}\}){0,3}\]|.{0,200}"#) {
            let _ = ferros_devices_sim::Scenario::parse(&text);
        }
    }
}
