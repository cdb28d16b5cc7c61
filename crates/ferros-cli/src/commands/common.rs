//! Helpers the commands share: the end of a long-running command, and a
//! scenario file read with its errors said.

use std::path::Path;

use ferros_devices_sim::Scenario;

use crate::error::{CliError, CliResult};
use crate::output::say;

/// Completes on Ctrl-C or SIGTERM. The handlers are installed when this is
/// called, not when first awaited: a signal in between is not lost.
pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    };
    async move {
        #[cfg(unix)]
        match signals {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {},
                    _ = term.recv() => {},
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!("cannot listen for Ctrl-C and SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
        say!("Stopping...");
    }
}

/// Reads a PLC scenario file (the seeds' format); a bad one is bad input.
pub(crate) fn read_scenario(path: &Path) -> CliResult<Scenario> {
    let shown = path.display();
    let text =
        std::fs::read_to_string(path).map_err(|e| CliError::input(format!("{shown}: cannot read: {e}")))?;
    Scenario::parse(&text).map_err(|e| CliError::input(format!("{shown}: {e}")))
}
