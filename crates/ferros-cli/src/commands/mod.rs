//! One module per command group.

pub mod agents;
pub mod alert;
pub mod astro;
pub mod backup;
pub mod bench;
pub mod bench_alert;
pub mod bench_history;
pub mod bench_pipeline;
pub mod common;
pub mod control;
pub mod device;
pub mod env;
pub mod pipeline;
pub mod program;
pub mod request;
pub mod schedule;
pub mod sim;
pub mod simulate;
pub mod start;
pub mod user;

/// Prints a value as pretty JSON on standard output.
pub fn print_json<T: serde::Serialize>(value: &T) -> crate::error::CliResult {
    let text = serde_json::to_string_pretty(value).map_err(anyhow::Error::from)?;
    crate::output::say!("{text}");
    Ok(())
}
