//! ferros-astro against astropy/astroplan: golden values written by
//! `tools/astro_golden.py` for 9 sites (latitude -70..+70), 14 dates and 200
//! targets. Each test prints its worst error.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::sync::OnceLock;

use chrono::NaiveDate;
use ferros_astro::{Frame, Limits, NightSky, Site};
use ferros_domain::{Coordinates, JulianDate};
use serde_json::Value;

fn golden() -> &'static Value {
    static G: OnceLock<Value> = OnceLock::new();
    G.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/astropy_golden.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    })
}

fn items(key: &str) -> &'static [Value] {
    golden()[key].as_array().unwrap()
}

fn site(v: &Value) -> Site {
    Site::new(v["lat"].as_f64().unwrap(), v["lon"].as_f64().unwrap(), v["elev"].as_f64().unwrap()).unwrap()
}

fn date(v: &Value) -> NaiveDate {
    NaiveDate::parse_from_str(v["date"].as_str().unwrap(), "%Y-%m-%d").unwrap()
}

fn jd(v: &Value) -> JulianDate {
    JulianDate::new(v.as_f64().unwrap()).unwrap()
}

/// Angle between two alt/az directions, arcseconds.
fn sky_distance(alt1: f64, az1: f64, alt2: f64, az2: f64) -> f64 {
    let (a1, a2) = (alt1.to_radians(), alt2.to_radians());
    let daz = (az1 - az2).to_radians();
    let c = a1.sin() * a2.sin() + a1.cos() * a2.cos() * daz.cos();
    let s = ((a2.cos() * daz.sin()).powi(2)
        + (a1.cos() * a2.sin() - a1.sin() * a2.cos() * daz.cos()).powi(2))
    .sqrt();
    s.atan2(c).to_degrees() * 3600.0
}

struct Worst {
    what: &'static str,
    unit: &'static str,
    value: f64,
    at: String,
}

impl Worst {
    fn new(what: &'static str, unit: &'static str) -> Self {
        Self { what, unit, value: 0.0, at: String::new() }
    }
    fn see(&mut self, err: f64, at: impl FnOnce() -> String) {
        if err > self.value {
            self.value = err;
            self.at = at();
        }
    }
    fn check(&self, limit: f64) {
        println!("worst {}: {:.3} {} ({})", self.what, self.value, self.unit, self.at);
        assert!(self.value <= limit, "{}: {} {} > {limit} at {}", self.what, self.value, self.unit, self.at);
    }
}

#[test]
fn sun_and_moon_positions_within_10_arcsec() {
    let mut sun = Worst::new("Sun alt/az", "arcsec");
    let mut moon = Worst::new("Moon alt/az", "arcsec");
    for v in items("positions") {
        let f = Frame::new(&site(v), jd(&v["jd"])).unwrap();
        let (p, w) = if v["body"] == "sun" { (f.sun(), &mut sun) } else { (f.moon(), &mut moon) };
        let err = sky_distance(
            p.horizontal.alt,
            p.horizontal.az,
            v["alt"].as_f64().unwrap(),
            v["az"].as_f64().unwrap(),
        );
        w.see(err, || format!("{} {} jd {}", v["site"], v["date"], v["jd"]));
    }
    assert!(items("positions").len() > 700);
    sun.check(10.0);
    moon.check(10.0);
}

#[test]
fn target_alt_az_within_5_arcsec_and_hour_angle() {
    let mut pos = Worst::new("target alt/az", "arcsec");
    let mut ha = Worst::new("target hour angle", "s");
    for v in items("targets") {
        let f = Frame::new(&site(v), jd(&v["jd"])).unwrap();
        let c = Coordinates::new(v["ra"].as_f64().unwrap(), v["dec"].as_f64().unwrap()).unwrap();
        let h = f.star(c);
        pos.see(sky_distance(h.alt, h.az, v["alt"].as_f64().unwrap(), v["az"].as_f64().unwrap()), || {
            format!("{} ra {} dec {} jd {}", v["site"], v["ra"], v["dec"], v["jd"])
        });
        let mut d = (h.ha - v["ha"].as_f64().unwrap()).abs();
        d = d.min(24.0 - d);
        ha.see(d * 3600.0, || format!("{} ra {} dec {}", v["site"], v["ra"], v["dec"]));
    }
    assert!(items("targets").len() > 3000);
    pos.check(5.0);
    ha.check(1.0);
}

fn compare_time(w: &mut Worst, got: Option<JulianDate>, want: &Value, at: impl Fn() -> String) {
    match (got, want.as_f64()) {
        (Some(g), Some(e)) => w.see((g.days() - e).abs() * 86_400.0, at),
        (None, None) => {}
        (g, e) => panic!("{}: ferros {:?}, astropy {:?} at {}", w.what, g.map(JulianDate::days), e, at()),
    }
}

#[test]
fn night_events_within_10_seconds() {
    let mut events = Worst::new("night event", "s");
    let mut illum = Worst::new("moon illumination", "");
    let mut count = 0;
    for v in items("nights") {
        let sky = NightSky::new(site(v), date(v), -12.0).unwrap();
        let e = sky.events();
        for (name, got) in [
            ("sunset", e.sunset),
            ("sunrise", e.sunrise),
            ("civil_dusk", e.civil_dusk),
            ("civil_dawn", e.civil_dawn),
            ("nautical_dusk", e.nautical_dusk),
            ("nautical_dawn", e.nautical_dawn),
            ("astronomical_dusk", e.astronomical_dusk),
            ("astronomical_dawn", e.astronomical_dawn),
            ("moonrise", e.moonrise),
            ("moonset", e.moonset),
        ] {
            count += usize::from(got.is_some());
            compare_time(&mut events, got, &v[name], || format!("{name} {} {}", v["site"], v["date"]));
        }
        // night_start/end use the night altitude, -12 here: the nautical twilights.
        assert_eq!(e.night_start, e.nautical_dusk);
        illum.see((e.moon_illumination - v["moon_illumination"].as_f64().unwrap()).abs(), || {
            format!("{} {}", v["site"], v["date"])
        });
    }
    assert!(count > 900, "{count} events compared");
    events.check(10.0);
    illum.check(0.001);
}

#[test]
fn target_events_within_10_seconds() {
    let mut times = Worst::new("target rise/set/transit", "s");
    let mut alt = Worst::new("transit altitude", "arcsec");
    let skies = nights();
    for v in items("target_events") {
        let sky = &skies[&key(v)];
        let c = Coordinates::new(v["ra"].as_f64().unwrap(), v["dec"].as_f64().unwrap()).unwrap();
        let t = sky.target(c, 0.0);
        let at = || format!("{} {} ra {} dec {}", v["site"], v["date"], v["ra"], v["dec"]);
        compare_time(&mut times, t.rise, &v["rise"], at);
        compare_time(&mut times, t.set, &v["set"], at);
        compare_time(&mut times, t.transit, &v["transit"], at);
        if let (Some(a), Some(e)) = (t.transit_altitude, v["transit_altitude"].as_f64()) {
            alt.see((a - e).abs() * 3600.0, at);
        }
    }
    times.check(10.0);
    alt.check(5.0);
}

#[test]
fn visibility_windows_within_10_seconds() {
    let mut edges = Worst::new("window edge", "s");
    let skies = nights();
    let mut several = 0;
    for v in items("windows") {
        let sky = &skies[&key(v)];
        let c = Coordinates::new(v["ra"].as_f64().unwrap(), v["dec"].as_f64().unwrap()).unwrap();
        let limits = Limits {
            min_altitude: v["min_alt"].as_f64(),
            min_moon_distance: v["min_moon_sep"].as_f64(),
            ..Limits::default()
        };
        let got = sky.windows(c, &limits);
        let want = v["windows"].as_array().unwrap();
        let at = || {
            format!(
                "{} {} ra {} dec {}: ferros {got:?} astropy {want:?}",
                v["site"], v["date"], v["ra"], v["dec"]
            )
        };
        assert_eq!(got.len(), want.len(), "{}", at());
        several += usize::from(got.len() > 1);
        for (g, w) in got.iter().zip(want) {
            edges.see((g.start.days() - w[0].as_f64().unwrap()).abs() * 86_400.0, at);
            edges.see((g.end.days() - w[1].as_f64().unwrap()).abs() * 86_400.0, at);
        }
    }
    println!("{several} targets with several windows in one night");
    edges.check(10.0);
}

fn key(v: &Value) -> String {
    format!("{}/{}", v["site"], v["date"])
}

fn nights() -> std::collections::HashMap<String, NightSky> {
    items("nights").iter().map(|v| (key(v), NightSky::new(site(v), date(v), -12.0).unwrap())).collect()
}

#[test]
fn polar_day_and_circumpolar_targets_give_nulls() {
    // Lapland at midsummer: the Sun never sets.
    let lapland = Site::new(70.0, 20.0, 50.0).unwrap();
    let sky = NightSky::new(lapland, NaiveDate::from_ymd_opt(2026, 6, 21).unwrap(), -12.0).unwrap();
    let e = sky.events();
    assert_eq!((e.sunset, e.sunrise, e.night_start, e.night_end), (None, None, None, None));
    assert!(sky.dark().is_empty());
    // Polaris never sets there, and has no window in the polar day.
    let polaris = Coordinates::new(37.95, 89.26).unwrap();
    let t = sky.target(polaris, 0.0);
    assert_eq!((t.rise, t.set), (None, None));
    assert!(t.transit.is_some());
    assert!(sky.windows(polaris, &Limits::default()).is_empty());
    // Midwinter: the Sun never rises; the whole day is dark.
    let sky = NightSky::new(lapland, NaiveDate::from_ymd_opt(2026, 12, 21).unwrap(), -12.0).unwrap();
    assert_eq!((sky.events().sunrise, sky.events().sunset), (None, None));
}

#[test]
fn windows_honour_airmass_sun_and_time_limits() {
    let spm = Site::new(31.0439, -115.4637, 2790.0).unwrap();
    let sky = NightSky::new(spm, NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(), -12.0).unwrap();
    let m31 = Coordinates::new(10.6847, 41.2690).unwrap();
    let all = sky.windows(m31, &Limits::default());
    let airmass = sky.windows(m31, &Limits { max_airmass: Some(1.5), ..Limits::default() });
    assert_eq!(all.len(), 1);
    assert!(airmass[0].end < all[0].end, "airmass 1.5 = altitude 41.8: M31 leaves it before setting");
    let p = sky.apparent(m31);
    let end = airmass[0].end.days();
    assert!((sky.horizontal(p, end).alt - (1.0f64 / 1.5).asin().to_degrees()).abs() < 1e-3);
    assert_eq!(sky.dusk_dawn(-18.0), (sky.events().astronomical_dusk, sky.events().astronomical_dawn));
    let (dusk, dawn) = sky.dusk_dawn(-15.0);
    assert!(sky.events().nautical_dusk < dusk && dusk < sky.events().astronomical_dusk);
    assert!(sky.events().astronomical_dawn < dawn && dawn < sky.events().nautical_dawn);
    let dark = sky.windows(m31, &Limits { max_sun_altitude: Some(-18.0), ..Limits::default() });
    assert_eq!(dark[0].start, sky.events().astronomical_dusk.unwrap());
    let (a, b) = (all[0].start.days() + 0.1, all[0].start.days() + 0.2);
    let slot = sky.windows(m31, &Limits { between: Some((a, b)), ..Limits::default() });
    assert_eq!((slot[0].start.days(), slot[0].end.days()), (a, b));
}

#[test]
fn bad_input_is_refused() {
    assert!(Site::new(91.0, 0.0, 0.0).unwrap_err().to_string().contains("latitude = 91"));
    assert!(Site::new(0.0, 200.0, 0.0).unwrap_err().to_string().contains("longitude"));
    assert!(Site::new(0.0, 0.0, f64::NAN).is_err());
    let spm = Site::new(31.0, -115.0, 2800.0).unwrap();
    let e = NightSky::new(spm, NaiveDate::from_ymd_opt(2150, 1, 1).unwrap(), -12.0).unwrap_err();
    assert!(e.to_string().contains("outside the dates"), "{e}");
    assert!(NightSky::new(spm, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(), -95.0).is_err());
}
