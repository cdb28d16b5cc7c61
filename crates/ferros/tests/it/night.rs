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
        "--report".into(),
        report.display().to_string(),
        "--dir".into(),
        dir.display().to_string(),
        "--quiet".into(),
        // Safety is what these nights check: the pipeline is the alert night's.
        "--pipeline".into(),
        "off".into(),
    ];
    if let Some(seed) = faults {
        args.extend(["--seed".into(), seed.to_string(), "--faults".into()]);
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
    // The dome closes: within the reaction time and its minute of motion.
    let dome_budget = s["reaction_budget_s"].as_f64().unwrap() + 120.0;
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
    // Alert images are linked for the FSC (hard links: they outlive the
    // request folder's rename at its end), nothing else is.
    let alert_images: Vec<PathBuf> =
        walk(&produced).into_iter().filter(|p| p.to_string_lossy().contains("/alert_")).collect();
    let links = walk(&f.dir.path().join("rain/archive/exchange/FSC/TO"));
    assert!(!alert_images.is_empty());
    assert_eq!(links.len(), alert_images.len(), "every alert image reaches the FSC");
    // Every file handed to a partner opens, whole: none dangles.
    for p in walk(&f.dir.path().join("rain/archive/exchange")) {
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
        assert!(!bytes.is_empty(), "{p:?} is empty");
    }
    let status = f.dir.path().join("rain/archive/exchange/GIC/TO/device_status.json");
    let status: Value = serde_json::from_str(&std::fs::read_to_string(status).unwrap()).unwrap();
    assert_eq!(status["devices"].as_array().unwrap().len(), 7);
    for link in links {
        let name = link.file_name().unwrap();
        let image = alert_images.iter().find(|p| p.file_name() == Some(name));
        assert!(
            image.is_some_and(|p| std::fs::read(p).unwrap() == std::fs::read(&link).unwrap()),
            "{link:?}"
        );
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

/// The fault campaign: `FERROS_TEST_CAMPAIGN` random nights (1 when unset),
/// through `ferros campaign`; every night keeps the invariants.
#[test]
fn fault_campaign_keeps_the_invariants() {
    let nights: u64 = std::env::var("FERROS_TEST_CAMPAIGN").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let f = Ferros::new();
    let dir = f.dir.path().join("campaign");
    let out = f.ok(&[
        "campaign",
        "--nights",
        &nights.to_string(),
        "--seed",
        "1",
        "--json",
        "--dir",
        &dir.display().to_string(),
    ]);
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["nights"].as_u64(), Some(nights), "{r}");
    assert_eq!(r["broken"].as_u64(), Some(0), "{r}");
    for n in r["each"].as_array().unwrap() {
        assert!(n["broken"].as_array().unwrap().is_empty(), "{n}");
        assert!(!n["faults"].as_array().unwrap().is_empty(), "every campaign night has faults: {n}");
    }
    println!(
        "fault campaign: {nights} night(s), {} fault(s), {} UNSAFE period(s)",
        r["faults"], r["unsafe_periods"]
    );
}

/// Requests the importer accepts, at the edges of what it accepts, beside the
/// example requests: the night keeps its invariants, the other requests are
/// executed, and nothing runs past its block.
#[test]
fn requests_at_the_edges_do_not_stop_the_night() {
    let f = Ferros::new();
    let requests = f.dir.path().join("requests");
    std::fs::create_dir_all(&requests).unwrap();
    for e in std::fs::read_dir(examples().join("requests")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, requests.join(p.file_name().unwrap())).unwrap();
    }
    let long_name = "Ω".repeat(256);
    let edges = format!(
        r#"<request name="{long_name}" scientific_program="GRB" target_type="edge">
  <sequence name="the most images" target="{long_name}" ra="37" dec="31" jd1="2461366.5" jd2="2461397.5">
    <album name="a" detector="VIS"><plan name="p" filter="r" exposure="0" nb_images="10000"/></album>
  </sequence>
  <sequence name="a dither of a thousand degrees" target="Ω Centauri" ra="201.7" dec="-47.5" jd1="2461366.5" jd2="2461397.5">
    <album name="a" detector="VIS"><plan name="p" filter="r" exposure="1" nb_images="3" dithering="3600000"/></album>
  </sequence>
  <sequence name="binned beyond the camera" ra="120" dec="20" jd1="2461366.5" jd2="2461397.5">
    <album name="a" detector="VIS"><plan name="p" filter="r" exposure="1" nb_images="2" binning="8" window="1023,1023,1,1"/></album>
  </sequence>
</request>"#
    );
    std::fs::write(requests.join("edges.xml"), edges).unwrap();
    let report = f.dir.path().join("edges.json");
    let dir = f.dir.path().join("edges");
    let scenario = examples().join("scenarios/rain.json");
    f.ok(&[
        "simulate-night",
        "--date",
        "2026-11-22",
        "--requests",
        requests.to_str().unwrap(),
        "--scenario",
        scenario.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--dir",
        dir.to_str().unwrap(),
        "--quiet",
        "--pipeline",
        "alerts",
    ]);
    let r: Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    check(&r, "edges");
    let q = &r["sequences"];
    assert_eq!(q["overran"], 0, "{q}");
    assert_eq!(q["executing"], 0, "{q}");
    assert_eq!(q["submitted"], 15 + 3, "{q}");
    // The example requests' eleven executed sequences, as without the edges.
    assert!(q["executed"].as_i64().unwrap() >= 11, "{q}");
}

#[test]
fn notices_arrive_over_vtp_in_a_simulated_night() {
    let f = Ferros::new();
    let run = |name: &str| -> Value {
        let report = f.dir.path().join(format!("{name}.json"));
        let dir = f.dir.path().join(name);
        let (alerts, reqs) = (examples().join("alerts"), examples().join("requests"));
        f.ok(&[
            "simulate-night",
            "--date",
            "2026-11-22",
            "--requests",
            reqs.to_str().unwrap(),
            "--alerts",
            alerts.to_str().unwrap(),
            "--seed",
            "7",
            "--report",
            report.to_str().unwrap(),
            "--dir",
            dir.to_str().unwrap(),
            "--quiet",
            "--pipeline",
            "alerts",
        ]);
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap()
    };
    let r = run("a");
    check(&r, "alerts");
    let alerts = r["alerts"].as_array().unwrap();
    let decisions: Vec<&str> = alerts.iter().map(|a| a["decision"].as_str().unwrap()).collect();
    assert_eq!(decisions, ["created", "ignored", "skipped", "ignored"], "{alerts:#?}");
    // The ECLAIRs burst rises a few hours into the night: planned then, observed.
    let eclairs = &alerts[0];
    assert!(eclairs["ivorn"].as_str().unwrap().contains("sb26021102"));
    // At the time schedule.json gives: an hour after the night's start.
    let t = |v: &Value| v.as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    assert_eq!(t(&eclairs["received"]) - t(&r["night_start"]), chrono::TimeDelta::minutes(60), "{eclairs}");
    let slew = eclairs["slew_commanded"].as_str().unwrap();
    assert!(slew > eclairs["received"].as_str().unwrap(), "{eclairs}");
    assert!(eclairs["first_exposure"].as_str().unwrap() >= slew, "{eclairs}");
    assert!(eclairs["images"].as_i64().unwrap() > 0, "{eclairs}");
    // The pipeline reduced its images and found the afterglow the cameras
    // showed (magnitude 10 at the notice, fading 0.3 a hour) on the VIS
    // ones (the NIR camera's 10 arcminutes hold a Tycho-2 star or two: not
    // solved), always at the same place.
    let analysed = eclairs["analysed"].as_i64().unwrap();
    let candidates = eclairs["candidates"].as_array().unwrap();
    assert!(analysed > 0 && candidates.len() as i64 * 3 >= analysed, "{eclairs}");
    let place = |c: &Value| -> (f64, f64, f64) {
        let t: Vec<&str> = c.as_str().unwrap().split_whitespace().collect();
        (
            t[2].trim_end_matches(':').parse().unwrap_or(t[2].parse().unwrap()),
            t[3].parse().unwrap(),
            t[5].parse().unwrap(),
        )
    };
    let first = place(&candidates[0]);
    for c in candidates {
        let (ra, dec, mag) = place(c);
        assert!(
            (ra - first.0).abs() * 3600.0 < 3.0 && (dec - first.1).abs() * 3600.0 < 3.0,
            "{c} vs {first:?}"
        );
        assert!((10.0..12.5).contains(&mag), "{c}");
    }
    let fsc = f.dir.path().join("a/archive/exchange/FSC/TO");
    let published =
        std::fs::read_dir(&fsc).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned());
    let published: Vec<String> = published.collect();
    assert!(
        published.iter().any(|n| n.ends_with("_L1.json"))
            && published.iter().any(|n| n.ends_with("_L1.fits")),
        "{published:?}"
    );
    assert!(alerts[3]["reason"].as_str().unwrap().contains("accept_tests"));
    // The same night again: the same report.
    let mut again = run("b");
    let mut first = r.clone();
    for v in [&mut first, &mut again] {
        v.as_object_mut().unwrap().remove("wall");
    }
    assert_eq!(first, again);
}

#[test]
fn a_bad_alerts_folder_is_refused_with_where_and_what() {
    let f = Ferros::new();
    let dir = f.dir.path().join("notices");
    std::fs::create_dir_all(&dir).unwrap();
    let args = |d: &Path| {
        vec![
            "simulate-night".to_owned(),
            "--date".into(),
            "2026-11-22".into(),
            "--alerts".into(),
            d.display().to_string(),
        ]
    };
    let run = |d: &Path| {
        let a = args(d);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        f.fails(&a, 2)
    };
    assert!(run(&dir).contains("no *.xml notice in"));
    std::fs::write(dir.join("a.xml"), "<VOEvent/>").unwrap();
    std::fs::write(dir.join("schedule.json"), "{\"b.xml\": 10}").unwrap();
    assert!(run(&dir).contains("schedule.json names b.xml"));
    std::fs::write(dir.join("schedule.json"), "[1, 2]").unwrap();
    assert!(run(&dir).contains("schedule.json"));
    std::fs::write(dir.join("schedule.json"), "{\"a.xml\": 99999}").unwrap();
    assert!(run(&dir).contains("not within the night"));
}
