//! `ferros sim plc`: the PLC simulator server, playing a scenario on the
//! Ferros clock until Ctrl-C.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use ferros_devices_sim::{Scenario, SimPlc};

use super::start::shutdown_signal;
use crate::cli::SimCmd;
use crate::context::Context;
use crate::error::{CliError, CliResult};
use crate::output::say;

pub async fn run(ctx: &Context, cmd: SimCmd) -> CliResult {
    match cmd {
        SimCmd::Plc { scenario, bind, period } => {
            if !(period.is_finite() && period > 0.0) {
                return Err(CliError::input(format!("--period: {period} must be > 0 seconds")));
            }
            let scenario = match &scenario {
                Some(path) => read_scenario(path)?,
                None => Scenario { iterations: 0, changes: Vec::new() },
            };
            let summary =
                format!("{} iteration(s), {} change(s)", scenario.iterations, scenario.changes.len());
            let plc = SimPlc::new("PLC simulator", ctx.clock, Duration::from_secs_f64(period), scenario)
                .map_err(|e| CliError::input(format!("--scenario: {e}")))?;
            let addr = match bind {
                Some(a) => a,
                None => plc_address(ctx)?,
            };
            let listener = tokio::net::TcpListener::bind(&addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            let local = listener.local_addr().map_err(anyhow::Error::from)?;
            say!(
                "PLC simulator on {local}: scenario of {summary}, one iteration every {period} s. Ctrl-C to stop."
            );
            ferros_devices_socket::serve_plc(listener, Arc::new(plc), ctx.clock, shutdown_signal()).await;
            Ok(())
        }
    }
}

/// The PLC's address: `devices.socket_config`'s [PLC] section, else `devices.plc`.
fn plc_address(ctx: &Context) -> CliResult<String> {
    let Some(path) = &ctx.settings.devices.socket_config else {
        return Ok(ctx.settings.devices.plc.clone());
    };
    let shown = path.display();
    let text =
        std::fs::read_to_string(path).map_err(|e| CliError::input(format!("{shown}: cannot read: {e}")))?;
    let ports = ferros_devices_socket::SocketConfig::parse(&text)
        .map_err(|e| CliError::input(format!("{shown}: {e}")))?;
    Ok(ports.address("PLC").unwrap_or(&ctx.settings.devices.plc).to_owned())
}

fn read_scenario(path: &Path) -> CliResult<Scenario> {
    let shown = path.display();
    let text =
        std::fs::read_to_string(path).map_err(|e| CliError::input(format!("{shown}: cannot read: {e}")))?;
    Scenario::parse(&text).map_err(|e| CliError::input(format!("{shown}: {e}")))
}
