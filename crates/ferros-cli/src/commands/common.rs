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

pub(crate) use ferros_limits::{MAX_PLAN_FILE_BYTES, MAX_REQUEST_BYTES, MAX_SCENARIO_BYTES};

/// Reads a text file given from outside: one larger than `max` bytes (a
/// `what` may not be) or not UTF-8 is bad input, said with the path; no more
/// than `max` bytes are ever read.
pub(crate) fn read_text(path: &Path, max: u64, what: &str) -> CliResult<String> {
    let shown = path.display();
    let bytes = read_head(path, max)?;
    if bytes.len() as u64 > max {
        return Err(CliError::input(format!("{shown}: more than the {max} bytes a {what} may have")));
    }
    String::from_utf8(bytes).map_err(|e| CliError::input(format!("{shown}: not UTF-8 text: {e}")))
}

/// Reads at most `max + 1` bytes of a file (one more than allowed: the
/// reader of the bytes says what is too large and why).
pub(crate) fn read_head(path: &Path, max: u64) -> CliResult<Vec<u8>> {
    use std::io::Read;
    let cannot = |e: std::io::Error| CliError::input(format!("{}: cannot read: {e}", path.display()));
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(cannot)?
        .take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    Ok(bytes)
}

/// Reads a PLC scenario file (the seeds' format); a bad one is bad input.
pub(crate) fn read_scenario(path: &Path) -> CliResult<Scenario> {
    let text = read_text(path, MAX_SCENARIO_BYTES, "scenario")?;
    Scenario::parse(&text).map_err(|e| CliError::input(format!("{}: {e}", path.display())))
}
