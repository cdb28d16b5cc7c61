//! `ferros sim plc|telescope|dome|camera-vis|camera-nir|all`: the simulator
//! servers of the PyROS socket protocol, on the Ferros clock, until Ctrl-C.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use ferros_devices::{Camera, Dome, FilterWheel, Mount};
use ferros_devices_sim::Scenario;
use ferros_devices_socket::{CameraHandler, DomeHandler, Handler, MountHandler, PlcHandler};

use super::common::{read_scenario, shutdown_signal};
use crate::cli::{SimArgs, SimDevice};
use crate::context::Context;
use crate::error::{CliError, CliResult};
use crate::output::say;

pub async fn run(ctx: &Context, a: SimArgs) -> CliResult {
    if !(a.period.is_finite() && a.period > 0.0) {
        return Err(CliError::input(format!("--period: {} must be > 0 seconds", a.period)));
    }
    if a.device == SimDevice::All && a.bind.is_some() {
        return Err(CliError::input(
            "--bind gives one device's address; `sim all` listens on the ports of devices.socket_config",
        ));
    }
    let scenario = match &a.scenario {
        Some(path) => read_scenario(path)?,
        None => Scenario { iterations: 0, changes: Vec::new() },
    };
    let summary =
        format!("scenario of {} iteration(s), {} change(s)", scenario.iterations, scenario.changes.len());
    let sims =
        ferros_observatory::simulators(&ctx.settings, ctx.clock, scenario, Duration::from_secs_f64(a.period))
            .map_err(|e| CliError::input(format!("--scenario: {e}")))?;
    let ports = ferros_observatory::socket_ports(&ctx.settings).map_err(CliError::input)?;
    let (Some(mount), Some(dome), Some(vis), Some(nir), Some(fvis), Some(fnir), Some(plc)) =
        (sims.mount, sims.dome, sims.camera_vis, sims.camera_nir, sims.filter_vis, sims.filter_nir, sims.plc)
    else {
        return Err(CliError::Failure(anyhow::anyhow!("the simulators were not all built")));
    };
    let mount: Arc<dyn Mount> = mount;
    let dome: Arc<dyn Dome> = dome;
    let (vis, nir): (Arc<dyn Camera>, Arc<dyn Camera>) = (vis, nir);
    let (fvis, fnir): (Arc<dyn FilterWheel>, Arc<dyn FilterWheel>) = (fvis, fnir);
    let every = |d: SimDevice| a.device == d || a.device == SimDevice::All;
    // (label, socket_config section, what it serves)
    let mut servers: Vec<(String, &str, Arc<dyn Handler>)> = Vec::new();
    if every(SimDevice::Plc) {
        let label = format!("PLC simulator on {{}}: {summary}, one iteration every {} s.", a.period);
        servers.push((label, "PLC", Arc::new(PlcHandler { source: plc, clock: ctx.clock })));
    }
    if every(SimDevice::Telescope) {
        servers.push(("Telescope simulator on {}.".into(), "Telescope", Arc::new(MountHandler(mount))));
    }
    if every(SimDevice::Dome) {
        servers.push(("Dome simulator on {}.".into(), "Dome", Arc::new(DomeHandler(dome))));
    }
    if every(SimDevice::CameraVis) {
        let h = CameraHandler { camera: vis, wheel: Some(fvis) };
        servers.push(("CameraVIS simulator (with its filter wheel) on {}.".into(), "CameraVIS", Arc::new(h)));
    }
    if every(SimDevice::CameraNir) {
        let h = CameraHandler { camera: nir, wheel: Some(fnir) };
        servers.push(("CameraNIR simulator (with its filter wheel) on {}.".into(), "CameraNIR", Arc::new(h)));
    }
    let signal = shutdown_signal();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for (label, section, handler) in servers {
        let addr = match &a.bind {
            Some(b) => b.clone(),
            None => ports.address(section).unwrap_or_default().to_owned(),
        };
        let listener =
            tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr().map_err(anyhow::Error::from)?;
        say!("{}", label.replace("{}", &local.to_string()));
        let mut stopped = stopped.clone();
        tasks.spawn(ferros_devices_socket::serve(listener, handler, async move {
            let _ = stopped.wait_for(|s| *s).await;
        }));
    }
    say!("Ctrl-C to stop.");
    signal.await;
    let _ = stop.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}
