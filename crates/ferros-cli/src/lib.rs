//! The `ferros` command line: parses arguments, loads the settings and clock,
//! and runs one command. Each command group lives in its own module.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod commands;
mod context;
mod error;
mod output;

pub use cli::Cli;
pub use error::CliError;

/// Entry point of the `ferros` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(matches!(
        cli.command,
        cli::Command::Start(_) | cli::Command::Sim(_) | cli::Command::Agent(_)
    ));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let ctx = context::Context::load(&cli.global)?;
    match cli.command {
        cli::Command::Start(args) => commands::start::run(&ctx, args).await,
        cli::Command::Request(cmd) => commands::request::run(&ctx, cmd).await,
        cli::Command::Alert(cmd) => commands::alert::run(&ctx, cmd).await,
        cli::Command::Program(cmd) => commands::program::run(&ctx, cmd).await,
        cli::Command::User(cmd) => commands::user::run(&ctx, cmd).await,
        cli::Command::Schedule(cmd) => commands::schedule::run(&ctx, cmd).await,
        cli::Command::Astro(cmd) => commands::astro::run(&ctx, cmd),
        cli::Command::Sim(args) => commands::sim::run(&ctx, args).await,
        cli::Command::Device(cmd) => commands::device::run(&ctx, cmd).await,
        cli::Command::Agent(args) => commands::agents::run_alone(&ctx, args).await,
        cli::Command::Env(cmd) => commands::env::run(&ctx, cmd).await,
        cli::Command::Control(args) => commands::control::run(&ctx, args).await,
        cli::Command::Pipeline(cmd) => commands::pipeline::run(&ctx, cmd),
        cli::Command::Backup { dir } => commands::backup::backup(&ctx, &dir).await,
        cli::Command::Restore { dir } => commands::backup::restore(&ctx, &dir).await,
        cli::Command::Bench(cmd) => commands::bench::run(&ctx, cmd).await,
        cli::Command::SimulateNight(args) => commands::simulate::run(&ctx, args).await,
        cli::Command::Campaign(args) => commands::simulate::campaign(&ctx, args).await,
    }
}

/// Logs go to standard error; `FERROS_LOG` sets the filter (e.g. `debug`).
fn init_tracing(server: bool) {
    let default = if server { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERROS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
