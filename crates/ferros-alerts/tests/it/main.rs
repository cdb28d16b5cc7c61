//! The alert manager's rules on real GCN notices (the test data of
//! `ferros-voevent`).
#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use ferros_alerts::{
    Action, BuildContext, Facts, Known, Outcome, Rules, Sky, Strategies, Strategy, decide, separation, tiles,
};
use ferros_astro::Site;
use ferros_domain::{Coordinates, Detector, Readouts, RequestId, RequestKind, Wheel, Wheels};
use ferros_voevent::VoEvent;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ferros-voevent/tests/data")
}

fn notice(rel: &str) -> VoEvent {
    let text = std::fs::read_to_string(data().join(rel)).unwrap();
    ferros_voevent::parse(&text).unwrap()
}

fn wheels() -> Wheels {
    let wheel = |names: &[&str]| Wheel {
        names: names.iter().map(|s| (*s).to_owned()).collect(),
        aliases: Default::default(),
    };
    Wheels { vis: wheel(&["g", "r", "i", "z"]), nir: wheel(&["Y", "J", "H", "Ks"]) }
}

fn sky() -> Sky {
    // San Pedro Martir, where COLIBRI is.
    Sky { site: Site::new(31.0439, -115.4637, 2830.0).unwrap(), night_altitude: -12.0 }
}

/// A dark hour at San Pedro Martir, when the burst of 2026-02-28 is high.
fn dark() -> DateTime<Utc> {
    "2026-03-01T11:30:00Z".parse().unwrap()
}

struct Setup {
    strategies: Strategies,
    sky: Sky,
}

impl Setup {
    fn new() -> Self {
        Setup { strategies: Strategies::builtin(&wheels()).unwrap(), sky: sky() }
    }

    fn rules(&self, now: DateTime<Utc>, accept_tests: bool) -> Rules<'_> {
        Rules {
            strategies: &self.strategies,
            sky: &self.sky,
            build: BuildContext { now, program: "GRB", readouts: Readouts::DEFAULT, field_of_view_deg: 0.43 },
            accept_tests,
            same_burst_s: 120.0,
        }
    }
}

fn known(id: i64, f: &Facts, request: Option<i64>, open: bool) -> Known {
    Known {
        id,
        ivorn: f.ivorn.clone(),
        mission: f.mission.clone(),
        burst: f.burst.clone(),
        same_as: None,
        trigger: f.trigger,
        position: f.position,
        error_deg: f.error_deg,
        request: request.map(RequestId),
        open,
    }
}

#[test]
fn every_notice_gets_a_decision_with_its_reason() {
    let s = Setup::new();
    let mut outcomes = std::collections::BTreeMap::new();
    let mut dirs: Vec<_> =
        std::fs::read_dir(data()).unwrap().flatten().filter(|e| e.path().is_dir()).collect();
    dirs.sort_by_key(|e| e.path());
    let mut n = 0;
    for dir in dirs {
        for file in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let text = std::fs::read_to_string(file.path()).unwrap();
            let event = ferros_voevent::parse(&text).unwrap();
            let facts = Facts::of(&event).unwrap();
            // Received a minute after its trigger, on a dark hour.
            let now = facts.trigger.map_or(dark(), |t| t + TimeDelta::minutes(1));
            let d = decide(&event, &facts, &[], &s.rules(now, false));
            assert!(!d.reason.is_empty(), "{}", file.path().display());
            *outcomes.entry(d.outcome.code()).or_insert(0) += 1;
            n += 1;
        }
    }
    assert_eq!(n, 135);
    // Test notices are ignored (accept_tests off), retractions of notices never
    // received too; GRM and GBM circles are skipped; the rest is followed
    // where the sky allows.
    assert!(outcomes.get("ignored").copied().unwrap_or(0) >= 30, "{outcomes:?}");
    assert!(outcomes.get("skipped").copied().unwrap_or(0) >= 20, "{outcomes:?}");
    assert!(outcomes.get("created").copied().unwrap_or(0) >= 3, "{outcomes:?}");
}

#[test]
fn facts_name_the_mission_the_instrument_and_the_burst() {
    let f = Facts::of(&notice("svom_eclairs/eclairs_301.xml")).unwrap();
    assert_eq!(f.mission, "SVOM");
    assert_eq!(f.instrument.as_deref(), Some("ECLAIRs"));
    assert_eq!(f.burst.as_deref(), Some("ivo://org.svom/fsc#sb26022802"));
    assert!((f.error_deg.unwrap() - 0.1251).abs() < 1e-9);
    let g = Facts::of(&notice("fermi_gbm_gnd_pos/fermi_gbm_gnd_pos_1699.xml")).unwrap();
    assert_eq!((g.mission.as_str(), g.instrument.as_deref()), ("Fermi", Some("GBM")));
    assert_eq!(g.burst.as_deref(), Some("ivo://nasa.gsfc.gcn/Fermi#791916611"));
    assert_eq!(g.title(), "Fermi GBM 791916611");
}

#[test]
fn an_eclairs_trigger_becomes_an_alert_request_with_its_ladder() {
    let s = Setup::new();
    let event = notice("svom_eclairs/eclairs_301.xml");
    let mut f = Facts::of(&event).unwrap();
    // A minute after the trigger: the whole ladder.
    f.trigger = Some(dark() - TimeDelta::minutes(1));
    let d = decide(&event, &f, &[], &s.rules(dark(), false));
    assert_eq!(d.outcome, Outcome::Created, "{}", d.reason);
    assert_eq!(d.strategy.as_deref(), Some("svom-eclairs"));
    let Action::Create(r) = &d.action else { panic!("{:?}", d.action) };
    assert_eq!(r.kind, RequestKind::Alert);
    assert_eq!(r.program, "GRB");
    assert_eq!(r.sequences.len(), 1);
    let seq = &r.sequences[0];
    assert_eq!(seq.spec.coordinates, f.position);
    assert_eq!(seq.spec.constraints.min_altitude, Some(25.0));
    assert_eq!(seq.albums.len(), 2);
    let vis = seq.albums.iter().find(|a| a.spec.detector == Detector::Vis).unwrap();
    let filters: Vec<_> =
        vis.plans.iter().map(|p| (p.filter.as_str(), p.exposure.get(), p.nb_images)).collect();
    assert_eq!(filters, [("r", 10.0, 12), ("r", 30.0, 20), ("i", 60.0, 20)]);
    // Each plan budgets its readouts (5 s on the VIS camera); the sequence
    // lasts its longest album.
    assert_eq!(vis.plans[0].duration.get(), 12.0 * 15.0);
    assert!(seq.spec.duration.get() >= vis.plans.iter().map(|p| p.duration.get()).sum::<f64>());
    // Half an hour after: the ladder starts at its second step.
    f.trigger = Some(dark() - TimeDelta::minutes(30));
    let Action::Create(r) = decide(&event, &f, &[], &s.rules(dark(), false)).action else { panic!() };
    let vis = &r.sequences[0].albums[0];
    assert_eq!(vis.plans.len(), 2);
    assert_eq!(vis.plans[0].exposure.get(), 30.0);
}

#[test]
fn a_better_position_of_the_same_burst_updates_its_request() {
    let s = Setup::new();
    let eclairs = Facts::of(&notice("svom_eclairs/eclairs_301.xml")).unwrap();
    let event = notice("svom_mxt/mxt_41.xml");
    let mxt = Facts::of(&event).unwrap();
    let before = [known(1, &eclairs, Some(7), true)];
    let d = decide(&event, &mxt, &before, &s.rules(dark(), false));
    assert_eq!(d.outcome, Outcome::Updated, "{}", d.reason);
    assert_eq!(d.same_as, Some(1));
    let Action::Update { request, tree } = &d.action else { panic!("{:?}", d.action) };
    assert_eq!(*request, RequestId(7));
    assert_eq!(tree.sequences[0].spec.coordinates, mxt.position);
    assert!(d.reason.contains("better position"), "{}", d.reason);
    // Once the request is over, nothing more.
    let over = [known(1, &eclairs, Some(7), false)];
    let d = decide(&event, &mxt, &over, &s.rules(dark(), false));
    assert_eq!(d.outcome, Outcome::Ignored);
    assert!(d.reason.contains("is over"), "{}", d.reason);
    // A worse position (the ECLAIRs one after the MXT one) changes nothing.
    let ev = notice("svom_eclairs/eclairs_301.xml");
    let d = decide(&ev, &eclairs, &[known(2, &mxt, Some(8), true)], &s.rules(dark(), false));
    assert_eq!(d.outcome, Outcome::Ignored);
    assert!(d.reason.contains("not better"), "{}", d.reason);
}

#[test]
fn the_same_burst_seen_by_two_missions_is_one_alert() {
    let s = Setup::new();
    let event = notice("svom_eclairs/eclairs_301.xml");
    let svom = Facts::of(&event).unwrap();
    // A Swift notice 20 s later, 2 arcmin away, with a 3 arcmin circle.
    let mut swift = svom.clone();
    swift.ivorn = "ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_2026-02-28T20:55:54.00_1234567-000".into();
    swift.authority = "ivo://nasa.gsfc.gcn/SWIFT".into();
    swift.mission = "Swift".into();
    swift.burst = Some("ivo://nasa.gsfc.gcn/SWIFT#1234567".into());
    swift.trigger = svom.trigger.map(|t| t + TimeDelta::seconds(20));
    swift.position = Some(Coordinates::new(237.8312, 26.3393).unwrap());
    swift.error_deg = Some(0.05);
    let d = decide(&event, &swift, &[known(3, &svom, Some(9), true)], &s.rules(dark(), false));
    assert_eq!(d.same_as, Some(3), "{}", d.reason);
    assert_eq!(d.outcome, Outcome::Updated, "{}", d.reason);
    // An hour apart, it is another burst.
    swift.trigger = svom.trigger.map(|t| t + TimeDelta::hours(1));
    let d = decide(&event, &swift, &[known(3, &svom, Some(9), true)], &s.rules(dark(), false));
    assert_eq!(d.same_as, None);
    assert_eq!(d.outcome, Outcome::Created, "{}", d.reason);
}

#[test]
fn a_retraction_cancels_what_its_notices_created() {
    let s = Setup::new();
    let retraction = notice("svom_grm/grm_287.xml");
    assert!(retraction.is_retraction());
    let f = Facts::of(&retraction).unwrap();
    let cited = f.cited[0].clone();
    let mut earlier = f.clone();
    earlier.ivorn = cited;
    earlier.retraction = false;
    let d = decide(&retraction, &f, &[known(4, &earlier, Some(11), true)], &s.rules(dark(), false));
    assert_eq!(d.outcome, Outcome::Retracted, "{}", d.reason);
    assert_eq!(d.action, Action::Cancel { alerts: vec![4], requests: vec![RequestId(11)] });
    // Nothing received before: recorded, nothing done.
    let d = decide(&retraction, &f, &[], &s.rules(dark(), false));
    assert_eq!(d.outcome, Outcome::Ignored);
    assert!(d.reason.contains("not received"), "{}", d.reason);
}

#[test]
fn test_notices_are_followed_only_when_configured() {
    let s = Setup::new();
    let dir = data().join("swift_bat_grb_pos_test");
    let file = std::fs::read_dir(&dir).unwrap().flatten().next().unwrap().path();
    let event = ferros_voevent::parse(&std::fs::read_to_string(file).unwrap()).unwrap();
    let f = Facts::of(&event).unwrap();
    let d = decide(&event, &f, &[], &s.rules(dark(), false));
    assert_eq!(d.outcome, Outcome::Ignored);
    assert!(d.reason.contains("accept_tests"), "{}", d.reason);
    let d = decide(&event, &f, &[], &s.rules(dark(), true));
    assert_eq!(d.strategy.as_deref(), Some("test"), "{}", d.reason);
    assert!(matches!(d.outcome, Outcome::Created | Outcome::Skipped), "{}", d.reason);
}

#[test]
fn large_circles_are_tiled_or_skipped_as_the_strategy_says() {
    let s = Setup::new();
    let event = notice("fermi_gbm_gnd_pos/fermi_gbm_gnd_pos_1699.xml");
    let mut f = Facts::of(&event).unwrap();
    f.trigger = Some(dark());
    f.position = Some(Coordinates::new(237.8, 26.3).unwrap());
    let d = decide(&event, &f, &[], &s.rules(dark(), false));
    assert_eq!(d.outcome, Outcome::Skipped);
    assert!(d.reason.contains("pointings") && d.reason.contains("allows 25"), "{}", d.reason);
    // A 0.8 degree circle: tiled, one step each.
    f.error_deg = Some(0.8);
    let d = decide(&event, &f, &[], &s.rules(dark(), false));
    let Action::Create(r) = &d.action else { panic!("{}", d.reason) };
    assert!(r.sequences.len() > 1 && r.sequences.len() <= 25, "{}", r.sequences.len());
    assert!(r.sequences.iter().all(|q| q.albums.iter().all(|a| a.plans.len() == 1)));
    // GRM's circles are skipped outright.
    let grm = notice("svom_grm/grm_354.xml");
    let mut g = Facts::of(&grm).unwrap();
    g.trigger = Some(dark());
    g.position = Some(Coordinates::new(237.8, 26.3).unwrap());
    g.error_deg = Some(5.0);
    let d = decide(&grm, &g, &[], &s.rules(dark(), false));
    assert_eq!(d.outcome, Outcome::Skipped);
    assert!(d.reason.contains("skips"), "{}", d.reason);
}

#[test]
fn tiles_cover_the_circle() {
    let centre = Coordinates::new(10.0, 60.0).unwrap();
    let t = tiles(centre, 1.0, 0.43, 49).unwrap();
    assert!(t.len() > 9);
    assert_eq!(t[0], centre);
    // Every point of the circle is within a tile's half diagonal of a centre.
    for k in 0..72 {
        let a = f64::from(k) * 5f64.to_radians();
        let p = offset_on_sky(centre, 0.99 * a.cos(), 0.99 * a.sin());
        let nearest = t.iter().map(|c| separation(*c, p)).fold(f64::INFINITY, f64::min);
        assert!(nearest <= 0.43 * 0.9 / 2.0 * 2f64.sqrt() + 1e-3, "{k}: {nearest}");
    }
    assert_eq!(tiles(centre, 3.0, 0.43, 49), Err(tiles(centre, 3.0, 0.43, 10_000).unwrap().len()));
}

/// A point `x`, `y` degrees east and north of `c` (small offsets).
fn offset_on_sky(c: Coordinates, x: f64, y: f64) -> Coordinates {
    let dec = c.dec.degrees() + y;
    let ra = (c.ra.degrees() + x / dec.to_radians().cos()).rem_euclid(360.0);
    Coordinates::new(ra, dec).unwrap()
}

#[test]
fn a_target_below_the_horizon_is_skipped_with_the_time_it_rises() {
    let s = Setup::new();
    let event = notice("svom_eclairs/eclairs_301.xml");
    let mut f = Facts::of(&event).unwrap();
    // Noon at the site: nothing is observable for hours.
    let noon: DateTime<Utc> = "2026-03-01T19:30:00Z".parse().unwrap();
    f.trigger = Some(noon);
    let d = decide(&event, &f, &[], &s.rules(noon, false));
    assert_eq!(d.outcome, Outcome::Skipped, "{}", d.reason);
    assert!(d.reason.contains("rises above 25 deg at night at 2026-03-02"), "{}", d.reason);
}

#[test]
fn notices_too_old_or_without_position_are_ignored() {
    let s = Setup::new();
    let event = notice("svom_eclairs/eclairs_301.xml");
    let mut f = Facts::of(&event).unwrap();
    f.trigger = Some(dark() - TimeDelta::days(3));
    let d = decide(&event, &f, &[], &s.rules(dark(), false));
    assert_eq!(d.outcome, Outcome::Ignored);
    assert!(d.reason.contains("max_age_h"), "{}", d.reason);
    f.position = None;
    let d = decide(&event, &f, &[], &s.rules(dark(), false));
    assert!(d.reason.contains("no position"), "{}", d.reason);
}

#[test]
fn strategy_files_are_checked_with_where_and_what() {
    let bad = [
        ("name = \"x\"\nladder = []\n", "ladder: 0 steps"),
        (
            "name = \"x\"\ncolour = 1\n[[ladder]]\nafter_min = 0\nvis = { filter = \"r\", exposure_s = 1, images = 1 }\n",
            "colour",
        ),
        (
            "name = \"x\"\n[[ladder]]\nafter_min = 5\nvis = { filter = \"r\", exposure_s = 1, images = 1 }\n[[ladder]]\nafter_min = 5\nvis = { filter = \"r\", exposure_s = 1, images = 1 }\n",
            "ladder[2].after_min = 5",
        ),
        (
            "name = \"x\"\n[[ladder]]\nafter_min = 0\nvis = { filter = \"r\", exposure_s = -1, images = 1 }\n",
            "ladder[1].vis.exposure_s",
        ),
        (
            "name = \"x\"\n[target]\nmax_tiles = 1000\n[[ladder]]\nafter_min = 0\nnir = { filter = \"J\", exposure_s = 1, images = 1 }\n",
            "max_tiles",
        ),
        ("name = \"x\"\n[[ladder]]\nafter_min = 0\n", "neither vis nor nir"),
        (
            "name = \"../x\"\n[[ladder]]\nafter_min = 0\nvis = { filter = \"r\", exposure_s = 1, images = 1 }\n",
            "name",
        ),
    ];
    for (text, expected) in bad {
        let e = Strategy::parse("bad.toml", text).unwrap_err().to_string();
        assert!(e.starts_with("strategy bad.toml: ") && e.contains(expected), "{e}");
    }
    let unknown_filter =
        "name = \"x\"\n[[ladder]]\nafter_min = 0\nvis = { filter = \"U\", exposure_s = 1, images = 1 }\n";
    let e = Strategies::load([("mine.toml", unknown_filter)], &wheels()).unwrap_err().to_string();
    assert!(e.contains("mine.toml") && e.contains("ladder[1].vis") && e.contains("\"U\""), "{e}");
    // A file named like a built-in strategy replaces it.
    let mine = "name = \"default\"\norder = 1000\n[match]\nroles = []\n[[ladder]]\nafter_min = 0\nvis = { filter = \"g\", exposure_s = 1, images = 1 }\n";
    let all = Strategies::load(ferros_alerts::BUILTIN.into_iter().chain([("default.toml", mine)]), &wheels())
        .unwrap();
    assert_eq!(all.get("default").unwrap().ladder[0].vis.as_ref().unwrap().filter, "g");
    assert_eq!(all.all().len(), ferros_alerts::BUILTIN.len());
}
