//! Whole simulated nights: `ferros simulate-night` with the rain scenario, and
//! the fault campaign (random rain, PLC dropouts, device hangs, agents killed).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Ferros;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Runs one night; returns the report.
fn night(f: &Ferros, name: &str, scenario: &Path, faults: Option<u64>) -> Value {
    let report = f.dir.path().join(format!("{name}.json"));
    let dir = f.dir.path().join(name);
    let requests = examples().join("requests");
    let mut args = vec![
        "simulate-night".to_owned(),
        "--date".into(),
        "2026-11-22".into(),
        "--requests".into(),
        requests.display().to_string(),
        "--scenario".into(),
        scenario.display().to_string(),
        "--speed".into(),
        "1800".into(),
        "--report".into(),
        report.display().to_string(),
        "--dir".into(),
        dir.display().to_string(),
        "--quiet".into(),
    ];
    if let Some(seed) = faults {
        args.extend(["--faults".into(), seed.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    f.ok(&args);
    serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap()
}

/// The invariants of every night: nothing exposed while UNSAFE beyond the
/// reaction time, no sequence lost, observing again after a rain.
fn check(r: &Value, label: &str) {
    let s = &r["safety"];
    assert_eq!(s["exposure_while_unsafe_s"].as_f64(), Some(0.0), "{label}: {s}; faults {}", r["faults"]);
    // The dome closes: within the reaction time, its minute of motion, and
    // what the machine takes at this speed (half a real second).
    let speed = r["speed"].as_f64().unwrap();
    let dome_budget = s["reaction_budget_s"].as_f64().unwrap() + 120.0 + 0.5 * speed;
    assert!(s["max_dome_closed_s"].as_f64().unwrap() <= dome_budget, "{label}: the dome closed late: {s}");
    let q = &r["sequences"];
    let n = |k: &str| q[k].as_i64().unwrap();
    assert_eq!(
        n("submitted"),
        n("planned") + n("executed") + n("rejected") + n("unplannable") + n("cancelled"),
        "{label}: a sequence is unaccounted for: {q}; faults {}; restarts {}; states {}",
        r["faults"],
        r["restarts"],
        r["states"]
    );
    let night_end = r["night_end"].as_str().unwrap().to_owned();
    let states = r["states"].as_array().unwrap();
    for p in s["unsafe_periods"].as_array().unwrap() {
        let Some(end) = p["end"].as_str() else { continue };
        // Ended with more than two hours of night left: observing resumes after it.
        let hours_left = (chrono::DateTime::parse_from_rfc3339(&night_end).unwrap()
            - chrono::DateTime::parse_from_rfc3339(end).unwrap())
        .num_minutes() as f64
            / 60.0;
        if hours_left > 2.0 && p["start"].as_str().unwrap() > r["night_start"].as_str().unwrap() {
            assert!(
                states
                    .iter()
                    .any(|x| x["time"].as_str().unwrap() >= end && x["state"] == "SCHEDULER (observing)"),
                "{label}: no observing after the UNSAFE period ending {end}: {states:?}"
            );
        }
    }
}

#[test]
fn a_night_with_rain_closes_and_resumes() {
    let f = Ferros::new();
    let r = night(&f, "rain", &examples().join("scenarios/rain.json"), None);
    check(&r, "rain");
    assert!(r["sequences"]["executed"].as_i64().unwrap() >= 1, "{}", r["sequences"]);
    assert!(r["images_by_kind"]["light"].as_i64().unwrap() > 10, "{}", r["images_by_kind"]);
    // The evening's flats go on until each filter has its 3 (g r i on VIS, J H
    // on NIR: 15) or the twilight is over: more than one round, never more than 15.
    let flats = r["images_by_kind"]["flat"].as_i64().unwrap();
    assert!((6..=15).contains(&flats), "{}", r["images_by_kind"]);
    let periods = r["safety"]["unsafe_periods"].as_array().unwrap();
    assert!(
        periods.iter().any(|p| p["reasons"][0].as_str().unwrap().starts_with("rain")),
        "no rain: {periods:?}"
    );
    // Closed for the rain: the mode went to CLOSING after it began.
    let rain = periods.iter().find(|p| p["reasons"][0].as_str().unwrap().starts_with("rain")).unwrap();
    let states = r["states"].as_array().unwrap();
    assert!(
        states.iter().any(
            |x| x["time"].as_str().unwrap() >= rain["start"].as_str().unwrap() && x["state"] == "CLOSING"
        )
    );
    // The images are FITS files in the archive, each with its row.
    let produced = f.dir.path().join("rain/archive/produced");
    let fits = walk(&produced).into_iter().filter(|p| p.extension().is_some_and(|x| x == "fits")).count();
    assert_eq!(fits as i64, r["images"].as_i64().unwrap());
    assert!(walk(&produced).iter().all(|p| p.extension().is_none_or(|x| x != "tmp")));
    // Alert images are linked for the FSC, nothing else is.
    for link in walk(&f.dir.path().join("rain/archive/exchange/FSC/TO")) {
        let target = std::fs::read_link(&link).unwrap();
        assert!(target.is_file() && target.to_string_lossy().contains("/alert_"), "{target:?}");
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A random scenario: rain and PLC silences over the night's 100 iterations.
fn random_scenario(seed: u64) -> String {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = |n: u64| {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    let mut items = vec!["100".to_owned()];
    for _ in 0..1 + next(2) {
        let start = 5 + next(80);
        let end = start + 3 + next(15);
        for dev in ["WXT520", "VantagePro"] {
            items.push(format!(
                r#"{{"time": {start}, "plcSimulator": {{"device_name": "{dev}", "value_name": "RainRate", "value": 8.0}}}}"#
            ));
            items.push(format!(
                r#"{{"time": {end}, "plcSimulator": {{"device_name": "{dev}", "value_name": "RainRate", "value": 0.0}}}}"#
            ));
        }
    }
    if next(2) == 0 {
        let start = 10 + next(80);
        items.push(format!(r#"{{"time": {start}, "plcSimulator": {{"silent": true}}}}"#));
        items.push(format!(r#"{{"time": {}, "plcSimulator": {{"silent": false}}}}"#, start + 1 + next(4)));
    }
    format!("[{}]", items.join(",\n"))
}

/// The fault campaign: `FERROS_TEST_CAMPAIGN` nights (2 when unset).
#[test]
fn fault_campaign_keeps_the_invariants() {
    let nights: u64 = std::env::var("FERROS_TEST_CAMPAIGN").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let f = Ferros::new();
    let mut faults = 0;
    let mut unsafe_periods = 0;
    for seed in 0..nights {
        let scenario = f.dir.path().join(format!("scenario_{seed}.json"));
        std::fs::write(&scenario, random_scenario(seed)).unwrap();
        let r = night(&f, &format!("night_{seed}"), &scenario, Some(seed));
        check(&r, &format!("night {seed}"));
        let (q, s) = (&r["sequences"], &r["safety"]);
        println!(
            "night {seed}: {} executed, {} interrupted, {} image(s), {} UNSAFE period(s), max reaction {} s, exposure within it {} s, dome closed within {} s, faults {}",
            q["executed"],
            q["interrupted"],
            r["images"],
            s["unsafe_periods"].as_array().unwrap().len(),
            s["max_reaction_s"],
            s["exposure_within_reaction_s"],
            s["max_dome_closed_s"],
            r["faults"]
        );
        faults += r["faults"].as_array().unwrap().len();
        unsafe_periods += r["safety"]["unsafe_periods"].as_array().unwrap().len();
    }
    println!(
        "fault campaign: {nights} night(s), {faults} device/agent fault(s), {unsafe_periods} UNSAFE period(s)"
    );
}
