//! `ferros device status`: every configured device, its driver and address,
//! read once now.

use ferros_config::Driver;
use ferros_devices_sim::Scenario;
use ferros_observatory::{DeviceState, Observatory, Report};

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
    let failed: Vec<&str> = reports.iter().filter(|r| !r.ok).map(|r| r.slot.role.as_str()).collect();
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
        _ if s.driver == Driver::Sim => "in-process simulator".to_owned(),
        _ => "not fitted".to_owned(),
    };
    let head = format!("{:<11} {:<7} {place}", s.role.as_str(), s.driver.as_str());
    match (&r.error, &r.state) {
        (Some(e), _) => say!("{head}\n            ERROR: {e}"),
        (None, Some(state)) => say!("{head}\n            {}", summary(state)),
        (None, None) => say!("{head}"),
    }
}

/// The few fields staff look at first; `--json` has them all.
fn summary(state: &DeviceState) -> String {
    let num = |x: f64| format!("{:.2}", x + 0.0);
    match state {
        DeviceState::Mount(m) => format!(
            "connected {} slewing {} tracking {} parked {}  alt {} az {}  ra {} dec {}",
            m.connected,
            m.slewing,
            m.tracking,
            m.parked,
            num(m.alt),
            num(m.az),
            num(m.ra),
            num(m.dec)
        ),
        DeviceState::Dome(d) => format!(
            "connected {} shutter {} azimuth {} slewing {} slaved {}",
            d.connected,
            d.shutter.as_str(),
            num(d.azimuth),
            d.slewing,
            d.slaved
        ),
        DeviceState::Camera(c) => format!(
            "connected {} {} ccd {} C cooler {}",
            c.connected,
            c.activity.as_str(),
            num(c.ccd_temperature),
            c.cooler_on
        ),
        DeviceState::FilterWheel(w) => {
            format!("connected {} filter {} of {}", w.connected, w.filter().unwrap_or("-"), w.names.join(" "))
        }
        DeviceState::Weather(w) => {
            format!("mode {} sensors {} alarms {}", w.mode.as_str(), w.sensors.len(), w.alarms.len())
        }
    }
}
