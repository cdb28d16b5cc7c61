//! `ferros device status`: every configured device, its driver and address,
//! read once now.

use ferros_devices_sim::Scenario;
use ferros_observatory::{Observatory, Report};
use serde_json::Value;

use super::print_json;
use crate::cli::DeviceCmd;
use crate::context::Context;
use crate::error::{CliError, CliResult};
use crate::output::say;

pub async fn run(ctx: &Context, cmd: DeviceCmd) -> CliResult {
    let DeviceCmd::Status { json } = cmd;
    let obs = Observatory::build(&ctx.settings, ctx.clock, Scenario { iterations: 0, changes: Vec::new() })
        .map_err(CliError::input)?;
    let reports = obs.status().await;
    if json {
        print_json(&serde_json::json!({ "devices": reports }))?;
    } else {
        for r in &reports {
            print_report(r);
        }
    }
    let failed: Vec<&str> = reports.iter().filter(|r| !r.ok).map(|r| r.slot.role).collect();
    if !failed.is_empty() {
        return Err(CliError::Failure(anyhow::anyhow!("no answer from: {}", failed.join(", "))));
    }
    Ok(())
}

fn print_report(r: &Report) {
    let s = &r.slot;
    let place = match (&s.address, &s.device) {
        (Some(a), Some(d)) => format!("{d} at {a}"),
        (Some(a), None) => a.clone(),
        _ if s.driver == "sim" => "in-process simulator".to_owned(),
        _ => "not fitted".to_owned(),
    };
    let head = format!("{:<11} {:<7} {place}", s.role, s.driver);
    match (&r.error, &r.state) {
        (Some(e), _) => say!("{head}\n            ERROR: {e}"),
        (None, Some(state)) => say!("{head}\n            {}", summary(s.role, state)),
        (None, None) => say!("{head}"),
    }
}

/// The few fields staff look at first; `--json` has them all.
fn summary(role: &str, v: &Value) -> String {
    let f = |k: &str| v.get(k).cloned().unwrap_or(Value::Null);
    let num = |k: &str| f(k).as_f64().map_or("-".to_owned(), |x| format!("{:.2}", x + 0.0));
    match role {
        "telescope" => format!(
            "connected {} slewing {} tracking {} parked {}  alt {} az {}  ra {} dec {}",
            f("connected"),
            f("slewing"),
            f("tracking"),
            f("parked"),
            num("alt"),
            num("az"),
            num("ra"),
            num("dec")
        ),
        "dome" => format!(
            "connected {} shutter {} azimuth {} slewing {} slaved {}",
            f("connected"),
            f("shutter").as_str().unwrap_or("-"),
            num("azimuth"),
            f("slewing"),
            f("slaved")
        ),
        "camera_vis" | "camera_nir" => format!(
            "connected {} {} ccd {} C cooler {}",
            f("connected"),
            f("activity").as_str().unwrap_or("-"),
            num("ccd_temperature"),
            f("cooler_on")
        ),
        "filter_vis" | "filter_nir" => {
            let names: Vec<String> = f("names")
                .as_array()
                .map(|a| a.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            let at = f("position").as_u64().and_then(|p| names.get(p as usize).cloned());
            format!("connected {} filter {} of {}", f("connected"), at.unwrap_or("-".into()), names.join(" "))
        }
        _ => {
            let sensors = f("sensors").as_array().map_or(0, Vec::len);
            let alarms = f("alarms").as_array().map_or(0, Vec::len);
            format!("mode {} sensors {sensors} alarms {alarms}", f("mode").as_str().unwrap_or("-"))
        }
    }
}
