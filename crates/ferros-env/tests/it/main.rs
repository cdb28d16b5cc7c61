//! The synthesis on the PLC's own sensors: ranking, fallback, suspects,
//! staleness, alarms and the hysteresis.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use ferros_devices::{PlcMode, Reading, Stamped, WeatherStatus};
use ferros_devices_sim::PlcModel;
use ferros_domain::{Decision, GlobalStatus};
use ferros_env::{Inputs, Synthesis, Synthesizer, Thresholds, cardinal};

fn thresholds() -> Thresholds {
    Thresholds {
        max_rain_rate: 0.0,
        max_wind_speed: 15.0,
        max_humidity: 90.0,
        max_sky_minus_ambient: -20.0,
        max_cloud_cover: 50.0,
        max_sun_altitude: 0.0,
        stale_after: 30.0,
        safe_delay: 60.0,
        required: ["rain", "wind", "humidity", "clouds"].map(String::from).to_vec(),
    }
}

fn synth() -> Synthesizer {
    Synthesizer::new(thresholds(), ["WXT520", "VantagePro", "DRD11", "MLX90614-1"].map(String::from).to_vec())
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap()
}

fn good() -> WeatherStatus {
    let m = PlcModel::default();
    WeatherStatus {
        mode: m.mode,
        measured_at: None,
        sensors: m.sensors,
        alarms: m.alarms,
        bypass: false,
        night_ack: false,
    }
}

fn set(s: &mut WeatherStatus, sensor: &str, value: &str, v: f64) {
    let x = s.sensors.iter_mut().find(|x| x.name == sensor).unwrap();
    x.values.iter_mut().find(|x| x.name == value).unwrap().value = Reading::Number(v);
}

fn step(sy: &mut Synthesizer, s: &WeatherStatus, now: DateTime<Utc>, read_at: DateTime<Utc>) -> Synthesis {
    let stamped = Stamped { at: read_at, value: s.clone() };
    sy.step(&Inputs { now, status: Some(&stamped), failure: None, sun_altitude: Some(-30.0), dome: None })
}

#[test]
fn good_weather_is_safe_after_the_delay() {
    let mut sy = synth();
    let s = step(&mut sy, &good(), t0(), t0());
    assert_eq!(s.global_status, GlobalStatus::Unsafe, "not before the safe delay");
    assert!(s.reasons[0].contains("conditions good for 0 s of the 60 s"), "{:?}", s.reasons);
    assert!(s.quantities().filter(|q| q.decision != Decision::Safe).count() == 0, "{s:#?}");
    let later = t0() + TimeDelta::seconds(61);
    let s = step(&mut sy, &good(), later, later);
    assert_eq!(s.global_status, GlobalStatus::Safe);
    let rain = s.quantity("rain").unwrap();
    assert_eq!((rain.value, rain.sensor.as_deref()), (Some(0.0), Some("WXT520")));
    assert_eq!(rain.interpretation, "it does not rain");
    let clouds = s.quantity("clouds").unwrap();
    assert!(
        clouds.interpretation.starts_with("clear") && (clouds.value.unwrap() + 27.79).abs() < 1e-9,
        "{clouds:?}"
    );
    assert_eq!(s.quantity("wind_direction").unwrap().interpretation, "from the S");
    assert_eq!(s.quantity("plc_mode").unwrap().decision, Decision::Safe);
}

#[test]
fn the_seeds_rain_is_unsafe_at_once_and_the_dry_detector_is_suspect() {
    let mut sy = synth();
    step(&mut sy, &good(), t0(), t0());
    let t = t0() + TimeDelta::seconds(100);
    assert_eq!(step(&mut sy, &good(), t, t).global_status, GlobalStatus::Safe);
    let mut wet = good();
    set(&mut wet, "WXT520", "RainRate", 12.0);
    set(&mut wet, "VantagePro", "RainRate", 12.0);
    let s = step(&mut sy, &wet, t, t);
    assert_eq!(s.global_status, GlobalStatus::Unsafe);
    let rain = s.quantity("rain").unwrap();
    assert_eq!(rain.decision, Decision::Unsafe);
    assert!(rain.interpretation.starts_with("it rains hard (12.0 mm/h)"), "{}", rain.interpretation);
    assert_eq!(rain.suspects, ["DRD11"]);
    assert!(s.reasons.iter().any(|r| r.starts_with("rain: it rains hard")), "{:?}", s.reasons);
    // Dry again: UNSAFE until the delay has passed.
    let t2 = t + TimeDelta::seconds(10);
    let s = step(&mut sy, &good(), t2, t2);
    assert_eq!(s.global_status, GlobalStatus::Unsafe);
    let t3 = t2 + TimeDelta::seconds(60);
    assert_eq!(step(&mut sy, &good(), t3, t3).global_status, GlobalStatus::Safe);
}

#[test]
fn the_primary_sensor_invalid_means_the_fallback_and_any_unsafe_source_counts() {
    let mut sy = synth();
    let mut s = good();
    s.sensors.iter_mut().find(|x| x.name == "WXT520").unwrap().valid = false;
    set(&mut s, "VantagePro", "WindSpeed", 7.5);
    let out = step(&mut sy, &s, t0(), t0());
    let wind = out.quantity("wind").unwrap();
    assert_eq!((wind.sensor.as_deref(), wind.value), (Some("VantagePro"), Some(7.5)));
    // The primary says calm, the fallback a gale: unsafe, and the two disagree.
    let mut s = good();
    set(&mut s, "VantagePro", "WindSpeed", 25.0);
    let out = step(&mut sy, &s, t0(), t0());
    let wind = out.quantity("wind").unwrap();
    assert_eq!(wind.decision, Decision::Unsafe);
    assert!(wind.interpretation.contains("but VantagePro reads 25.0 m/s"), "{}", wind.interpretation);
    assert_eq!(wind.suspects.len(), 2, "with two sensors, which one is wrong is not known");
    // No rain rate at all: the detector decides.
    let mut s = good();
    for name in ["WXT520", "VantagePro"] {
        s.sensors.iter_mut().find(|x| x.name == name).unwrap().valid = false;
    }
    set(&mut s, "DRD11", "digital", 0.0);
    let rain = step(&mut sy, &s, t0(), t0()).quantity("rain").unwrap().clone();
    assert_eq!((rain.decision, rain.interpretation.as_str()), (Decision::Unsafe, "rain detected by DRD11"));
}

#[test]
fn stale_or_missing_data_is_unsafe() {
    let mut sy = synth();
    let none = sy.step(&Inputs {
        now: t0(),
        status: None,
        failure: Some("cannot connect to 127.0.0.1:5003"),
        sun_altitude: Some(-30.0),
        dome: None,
    });
    assert_eq!(none.global_status, GlobalStatus::Unsafe);
    assert_eq!(none.quantity("rain").unwrap().decision, Decision::Unknown);
    assert!(none.quantity("plc_link").unwrap().interpretation.contains("cannot connect"), "{none:#?}");
    let t = t0() + TimeDelta::seconds(100);
    step(&mut sy, &good(), t0(), t0());
    assert_eq!(step(&mut sy, &good(), t, t).global_status, GlobalStatus::Safe);
    // The last good reading ages past the stale delay.
    let s = step(&mut sy, &good(), t + TimeDelta::seconds(31), t);
    assert_eq!(s.global_status, GlobalStatus::Unsafe);
    let link = s.quantity("plc_link").unwrap();
    assert!(link.interpretation.starts_with("data 31 s old (stale after 30 s)"), "{}", link.interpretation);
    assert_eq!(s.quantity("wind").unwrap().decision, Decision::Unknown);
    assert_eq!(s.quantity("temperature").unwrap().decision, Decision::Safe, "information only");
}

#[test]
fn mode_alarms_daylight_and_clouds() {
    let mut sy = synth();
    let mut s = good();
    s.mode = PlcMode::Manual;
    s.alarms = vec!["intrusion".into(), "ups_on_battery".into(), "smoke".into()];
    set(&mut s, "MLX90614-1", "SkyTemperature", 2.5);
    let out = step(&mut sy, &s, t0(), t0());
    let unsafe_names: Vec<&str> =
        out.quantities().filter(|q| q.decision == Decision::Unsafe).map(|q| q.name.as_str()).collect();
    assert_eq!(unsafe_names, ["clouds", "plc_mode", "intrusion", "alarms"]);
    assert_eq!(out.quantity("ups").unwrap().interpretation, "UPS on battery (mains lost)");
    assert_eq!(out.quantity("alarms").unwrap().interpretation, "active: smoke");
    assert!(out.quantity("clouds").unwrap().interpretation.starts_with("cloudy"));
    let stamped = Stamped { at: t0(), value: good() };
    let day = sy.step(&Inputs {
        now: t0(),
        status: Some(&stamped),
        failure: None,
        sun_altitude: Some(12.0),
        dome: None,
    });
    assert_eq!(day.quantity("daylight").unwrap().interpretation, "the Sun is above 0 deg");
    assert_eq!(day.weather.global_status, GlobalStatus::Unsafe);
    assert_eq!(day.site.global_status, GlobalStatus::Safe);
    assert_eq!(cardinal(359.0), "N");
}

#[test]
fn a_quantity_no_sensor_gives_is_unsafe_only_when_required() {
    let mut s = good();
    s.sensors.retain(|x| x.name != "MLX90614-1");
    for x in &mut s.sensors {
        x.values.retain(|v| v.name != "OutsideHumidity");
    }
    let mut sy = synth();
    let out = step(&mut sy, &s, t0(), t0());
    assert_eq!(out.quantity("clouds").unwrap().decision, Decision::Unknown);
    assert_eq!(out.quantity("humidity").unwrap().decision, Decision::Unknown);
    let mut th = thresholds();
    th.required = vec!["rain".into(), "wind".into()];
    let mut sy = Synthesizer::new(th, vec![]);
    let out = step(&mut sy, &s, t0(), t0());
    let clouds = out.quantity("clouds").unwrap();
    assert_eq!((clouds.decision, clouds.interpretation.as_str()), (Decision::Safe, "not measured here"));
    assert_eq!(out.quantity("humidity").unwrap().decision, Decision::Safe);
    // A sensor that gives it but says it is broken still counts.
    let mut broken = good();
    broken.sensors.retain(|x| x.name != "VantagePro");
    broken.sensors.iter_mut().find(|x| x.name == "WXT520").unwrap().valid = false;
    let out = step(&mut sy, &broken, t0(), t0());
    assert_eq!(out.quantity("humidity").unwrap().decision, Decision::Unknown);
}
