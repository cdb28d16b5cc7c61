//! `ferros astro night|target|altaz`: the ephemerides for a site, in UTC
//! (ISO 8601 and Julian date), as text or JSON.

use crate::output::say;
use chrono::{NaiveDate, SecondsFormat};
use ferros_astro::{Frame, Limits, NightSky, Site};
use ferros_domain::{Coordinates, JulianDate};
use serde_json::{Map, Value, json};

use super::print_json;
use crate::cli::{AstroCmd, SiteArgs};
use crate::context::Context;
use crate::error::{CliError, CliResult};

pub fn run(ctx: &Context, cmd: AstroCmd) -> CliResult {
    match cmd {
        AstroCmd::Night { date, site, json } => {
            let site = site_of(ctx, &site)?;
            let sky = night(ctx, &site, date.as_deref())?;
            let e = sky.events();
            let mut out = Map::new();
            for (name, t) in [
                ("sunset", e.sunset),
                ("sunrise", e.sunrise),
                ("civil_dusk", e.civil_dusk),
                ("civil_dawn", e.civil_dawn),
                ("nautical_dusk", e.nautical_dusk),
                ("nautical_dawn", e.nautical_dawn),
                ("astronomical_dusk", e.astronomical_dusk),
                ("astronomical_dawn", e.astronomical_dawn),
                ("night_start", e.night_start),
                ("night_end", e.night_end),
                ("moonrise", e.moonrise),
                ("moonset", e.moonset),
            ] {
                put_time(&mut out, name, t);
            }
            out.insert("moon_illumination".into(), json!(round(e.moon_illumination, 4)));
            put_time(&mut out, "noon_start", Some(e.noon_start));
            put_time(&mut out, "noon_end", Some(e.noon_end));
            out.insert("night_sun_altitude".into(), json!(ctx.settings.site.night_sun_altitude));
            if json {
                return print_json(&out);
            }
            print_fields(&out);
            Ok(())
        }
        AstroCmd::Target { ra, dec, date, site, min_alt, max_airmass, min_moon_sep, horizon, json } => {
            let c = coordinates(ra, dec)?;
            if let Some(x) = max_airmass.filter(|x| !(x.is_finite() && *x >= 1.0)) {
                return Err(CliError::input(format!("--max-airmass: {x} must be >= 1")));
            }
            if let Some(s) = min_moon_sep.filter(|s| !(0.0..=180.0).contains(s)) {
                return Err(CliError::input(format!("--min-moon-sep: {s} must be within 0..180 degrees")));
            }
            for (flag, v) in [("--min-alt", min_alt), ("--horizon", Some(horizon))] {
                if let Some(v) = v.filter(|v| !(-90.0..=90.0).contains(v)) {
                    return Err(CliError::input(format!("{flag}: {v} must be within -90..90 degrees")));
                }
            }
            let site = site_of(ctx, &site)?;
            let sky = night(ctx, &site, date.as_deref())?;
            let events = sky.target(c, horizon);
            let limits = Limits {
                min_altitude: min_alt,
                max_airmass,
                min_moon_distance: min_moon_sep,
                ..Limits::default()
            };
            let windows = sky.windows(c, &limits);
            let mut out = Map::new();
            put_time(&mut out, "rise", events.rise);
            put_time(&mut out, "set", events.set);
            put_time(&mut out, "transit", events.transit);
            out.insert("transit_altitude".into(), json!(events.transit_altitude.map(|a| round(a, 4))));
            let list: Vec<Value> = windows
                .iter()
                .map(|w| {
                    let mut m = Map::new();
                    put_time(&mut m, "start", Some(w.start));
                    put_time(&mut m, "end", Some(w.end));
                    Value::Object(m)
                })
                .collect();
            if json {
                out.insert("windows".into(), Value::Array(list));
                return print_json(&out);
            }
            print_fields(&out);
            if windows.is_empty() {
                say!("{:<18} none", "windows");
            }
            for w in windows {
                say!("{:<18} {} .. {}", "window", iso(w.start), iso(w.end));
            }
            Ok(())
        }
        AstroCmd::Altaz { ra, dec, site, json } => {
            let c = coordinates(ra, dec)?;
            let site = site_of(ctx, &site)?;
            let when = ctx.time.unwrap_or_else(|| ctx.clock.now());
            let jd = JulianDate::from_datetime(when).map_err(|e| CliError::input(format!("--time: {e}")))?;
            let frame = Frame::new(&site, jd).map_err(|e| CliError::input(format!("--time: {e}")))?;
            let h = frame.star(c);
            let mut out = Map::new();
            put_time(&mut out, "time", Some(jd));
            out.insert("alt".into(), json!(round(h.alt, 6)));
            out.insert("az".into(), json!(round(h.az, 6)));
            out.insert("airmass".into(), json!(h.airmass().map(|x| round(x, 5))));
            out.insert("ha".into(), json!(round(h.ha, 7)));
            if json {
                return print_json(&out);
            }
            print_fields(&out);
            Ok(())
        }
    }
}

/// The configured site, with the flags given instead.
pub fn site_of(ctx: &Context, args: &SiteArgs) -> CliResult<Site> {
    let s = &ctx.settings.site;
    Site::new(
        args.lat.unwrap_or(s.latitude),
        args.lon.unwrap_or(s.longitude),
        args.elev.unwrap_or(s.elevation),
    )
    .map_err(|e| CliError::input(format!("site: {e}")))
}

fn coordinates(ra: f64, dec: f64) -> CliResult<Coordinates> {
    Coordinates::new(ra, dec).map_err(|e| CliError::input(format!("--{e}")))
}

fn night(ctx: &Context, site: &Site, date: Option<&str>) -> CliResult<NightSky> {
    let date = match date {
        Some(d) => NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
            .map_err(|e| CliError::input(format!("--date: \"{d}\" is not a date like 2026-11-22 ({e})")))?,
        None => ctx.clock.now().date_naive(),
    };
    NightSky::new(*site, date, ctx.settings.site.night_sun_altitude)
        .map_err(|e| CliError::input(format!("--date: {e}")))
}

fn iso(t: JulianDate) -> String {
    t.to_datetime().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn round(v: f64, digits: i32) -> f64 {
    let k = 10f64.powi(digits);
    (v * k).round() / k
}

/// `name` as an ISO 8601 UTC time and `name_jd` as a Julian date, or nulls.
fn put_time(out: &mut Map<String, Value>, name: &str, t: Option<JulianDate>) {
    out.insert(name.to_owned(), json!(t.map(iso)));
    out.insert(format!("{name}_jd"), json!(t.map(|t| round(t.days(), 7))));
}

fn print_fields(out: &Map<String, Value>) {
    for (k, v) in out.iter().filter(|(k, _)| !k.ends_with("_jd")) {
        let shown = match v {
            Value::Null => "-".to_owned(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        say!("{k:<18} {shown}");
    }
}
