//! `ferros control`: the majordome's state, and the control commands of the
//! observatory control page. A command is stored as pending; the majordome
//! (running in `ferros start`) accepts or refuses it with the reason.

use std::time::Duration;

use ferros_majordome::Command;

use super::print_json;
use crate::cli::ControlArgs;
use crate::context::Context;
use crate::error::{CliError, CliResult};
use crate::output::say;

pub async fn run(ctx: &Context, a: ControlArgs) -> CliResult {
    if a.what == "status" {
        return status(ctx, a.json).await;
    }
    // A device command by hand: checked here for its form, by the majordome for the rest.
    let text = if a.what == "device" {
        let text = format!("device {}", a.args.join(" "));
        ferros_majordome::DeviceCommand::parse(&text).map_err(CliError::input)?;
        Some(text)
    } else {
        if !a.args.is_empty() {
            return Err(CliError::input(format!("{} takes no argument ({})", a.what, a.args.join(" "))));
        }
        None
    };
    let cmd = match &text {
        Some(_) => None,
        None => Some(Command::parse(&a.what).ok_or_else(|| {
            let names: Vec<String> = Command::ALL.iter().map(|c| c.name().replace('_', "-")).collect();
            CliError::input(format!(
                "unknown control command \"{}\" (status, device, {})",
                a.what,
                names.join(", ")
            ))
        })?),
    };
    let name = text.clone().unwrap_or_else(|| cmd.map(|c| c.name()).unwrap_or_default().to_owned());
    let shown = name.replace('_', " ");
    let Some(actor) = a.actor else {
        return Err(CliError::input("give the user commanding with --as USER"));
    };
    // Checked before anything is stored; the majordome refuses a command
    // older than its time to live anyway.
    let most = ferros_agents::COMMAND_TTL_S as f64;
    if !(a.wait.is_finite() && a.wait > 0.0 && a.wait <= most) {
        let wait = ferros_config::shown(a.wait);
        return Err(CliError::input(format!("--wait: {wait} must be > 0 and at most {most} seconds")));
    }
    let db = ctx.open_db().await?;
    if db.user_by_name(&actor).await?.is_none() {
        return Err(CliError::input(format!("no user named {actor}")));
    }
    // Stamped on the running instance's clock, which the majordome reads.
    let id = db.submit_command(&actor, &name, ctx.instance_clock(&db).await?.now()).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(a.wait);
    loop {
        let c = db.control_command(id).await?.ok_or_else(|| anyhow::anyhow!("command {id} vanished"))?;
        match c.state.as_str() {
            "accepted" => {
                say!("{shown} accepted");
                return Ok(());
            }
            "refused" => {
                return Err(CliError::input(format!("{shown} refused: {}", c.reason)));
            }
            _ => {}
        }
        if tokio::time::Instant::now() >= deadline {
            db.finish_command(id, false, "no majordome answered", ctx.clock.now()).await?;
            return Err(CliError::Failure(anyhow::anyhow!(
                "no answer from the majordome within {} s: is ferros start (or ferros agent majordome) running?",
                a.wait
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn status(ctx: &Context, json: bool) -> CliResult {
    let db = ctx.open_db().await?;
    let Some((updated, body)) = db.majordome_state().await? else {
        return Err(CliError::Failure(anyhow::anyhow!(
            "no majordome state yet: the majordome has not run (ferros start)"
        )));
    };
    let state: ferros_majordome::State =
        serde_json::from_str(&body).map_err(|e| anyhow::anyhow!("the majordome's stored state: {e}"))?;
    if json {
        #[derive(serde::Serialize)]
        struct Out {
            #[serde(flatten)]
            state: ferros_majordome::State,
            updated: chrono::DateTime<chrono::Utc>,
        }
        return print_json(&Out { state, updated });
    }
    let age = (ctx.instance_clock(&db).await?.now() - updated).num_seconds();
    say!("{}  (updated {}, {age} s ago)", state.mode, updated.format("%Y-%m-%d %H:%M:%S UTC"));
    let bypass = match state.bypass {
        ferros_majordome::Bypass::Off => "off".to_owned(),
        ferros_majordome::Bypass::On => "on".to_owned(),
        ferros_majordome::Bypass::Pending(at) => format!("asked at {}", at.format("%H:%M:%S")),
    };
    let plc = match state.plc {
        ferros_majordome::PlcLink::NoAnswer => "no answer",
        ferros_majordome::PlcLink::Auto => "AUTO",
        ferros_majordome::PlcLink::Manual => "MANUAL",
    };
    say!(
        "  environment {}  locked {}  bypass {bypass}  night {}  PLC {plc}  secured {}",
        state.env,
        state.locked,
        state.night,
        state.secured
    );
    Ok(())
}
