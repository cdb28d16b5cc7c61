//! Running the agents: all of them under `ferros start`, or one alone with
//! `ferros agent NAME`. Environment changes are printed as they happen.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use ferros_agents::{AgentContext, AgentKind, Bus, Event, Factory, Supervisor};
use ferros_db::Db;
use ferros_devices_sim::Scenario;
use ferros_domain::GlobalStatus;
use ferros_observatory::Observatory;

use super::common::{read_scenario, shutdown_signal};
use crate::cli::{AgentArgs, AgentName};
use crate::context::Context;
use crate::error::{CliError, CliResult};
use crate::output::say;

/// The observatory of the settings, its simulated PLC playing `scenario`.
pub fn observatory(ctx: &Context, scenario: Option<&Path>) -> CliResult<Observatory> {
    let scenario = match scenario {
        Some(p) => read_scenario(p)?,
        None => Scenario { iterations: 0, changes: Vec::new() },
    };
    Observatory::build(&ctx.settings, ctx.clock, scenario).map_err(CliError::input)
}

/// The agents to run: `only` one, or all.
pub(crate) fn factories(
    ctx: &Context,
    actx: &AgentContext,
    obs: &Observatory,
    only: Option<AgentName>,
) -> CliResult<Vec<Factory>> {
    let root = ctx.settings.data_dir.join("archive");
    let archive = ferros_archive::Archive::open(&root).map_err(|e| CliError::Failure(anyhow::anyhow!(e)))?;
    let only = only.map(|n| match n {
        AgentName::Env => AgentKind::Env,
        AgentName::Majordome => AgentKind::Majordome,
        AgentName::Gic => AgentKind::Gic,
        AgentName::Planner => AgentKind::Planner,
        AgentName::Executor => AgentKind::Executor,
        AgentName::Alerts => AgentKind::Alerts,
        AgentName::Pipeline => AgentKind::Pipeline,
    });
    ferros_agents::factories(&ctx.settings, actx, obs, &archive, only).map_err(CliError::input)
}

/// Runs the agents until `shutdown`, printing the environment's changes.
pub async fn run_agents(
    ctx: &Context,
    db: &Db,
    obs: &Observatory,
    only: Option<AgentName>,
    shutdown: impl Future<Output = ()>,
) -> CliResult {
    let bus = Bus::default();
    let actx = AgentContext::new(db.clone(), ctx.clock, bus.clone());
    let timeout = Duration::from_secs_f64(ctx.settings.agents.heartbeat_timeout_s);
    let mut supervisor = Supervisor::new(actx.clone(), timeout);
    for f in factories(ctx, &actx, obs, only)? {
        supervisor.add(f);
    }
    let mut events = bus.subscribe();
    let printer = tokio::spawn(async move {
        while let Ok(e) = events.recv().await {
            match e {
                Event::Environment { at, status, reasons } => {
                    let when = at.format("%Y-%m-%d %H:%M:%S");
                    match status {
                        GlobalStatus::Safe => say!("{when}  ENV  SAFE"),
                        GlobalStatus::Unsafe => say!("{when}  ENV  UNSAFE: {}", reasons.join("; ")),
                    }
                }
                Event::Restarted { agent, reason, restarts } => {
                    say!("agent {agent} restarted ({reason}; {restarts} restart(s) so far)");
                }
                Event::Mode { at, mode } => say!("{}  MODE {mode}", at.format("%Y-%m-%d %H:%M:%S")),
                Event::Sequence { at, id, state } => {
                    say!("{}  SEQUENCE {id} {state}", at.format("%Y-%m-%d %H:%M:%S"));
                }
                Event::Schedule { at, id, planned } => {
                    say!("{}  SCHEDULE {id}: {planned} sequence(s) planned", at.format("%Y-%m-%d %H:%M:%S"));
                }
                Event::Alert { at, id, outcome, request, summary } => {
                    let request = request.map(|r| format!(" -> request {r}")).unwrap_or_default();
                    say!(
                        "{}  ALERT {id} {}{request}: {summary}",
                        at.format("%Y-%m-%d %H:%M:%S"),
                        outcome.to_uppercase()
                    );
                }
                Event::Reduced { at, path, sources, candidates, error } => match error {
                    Some(e) => say!("{}  PIPELINE {path}: {e}", at.format("%Y-%m-%d %H:%M:%S")),
                    None => say!(
                        "{}  PIPELINE {path}: {sources} source(s), {candidates} candidate(s)",
                        at.format("%Y-%m-%d %H:%M:%S")
                    ),
                },
                Event::Exposure { .. } | Event::ExecutorFree { .. } | Event::Archived { .. } => {}
            }
        }
    });
    supervisor.run(shutdown).await;
    printer.abort();
    Ok(())
}

/// `ferros agent NAME`.
pub async fn run_alone(ctx: &Context, args: AgentArgs) -> CliResult {
    let obs = observatory(ctx, args.scenario.as_deref())?;
    let db = ctx.open_db().await?;
    say!("Agent {:?} on {}; Ctrl-C to stop.", args.name, ferros_db::redact_url(&ctx.settings.database_url()));
    run_agents(ctx, &db, &obs, Some(args.name), shutdown_signal()).await?;
    db.close().await;
    Ok(())
}
