//! Control commands from the web: checked against the majordome's stored
//! state (the same rules it applies), stored as pending for the majordome,
//! and answered with its decision.

use std::time::Duration;

use axum::http::StatusCode;
use ferros_majordome::{Command, State};

use crate::AppState;
use crate::access::Viewer;
use crate::problem::Problem;

/// The majordome's latest stored state, if it has run.
pub async fn majordome(state: &AppState) -> Result<Option<State>, Problem> {
    let Some((_, body)) =
        state.db().majordome_state().await.map_err(|e| Problem::internal("the majordome's state", e))?
    else {
        return Ok(None);
    };
    Ok(serde_json::from_str(&body).ok())
}

/// Gives `name` (`lock`, `go-remote`...) as the viewer; the majordome's
/// answer, or a problem saying why not.
pub async fn give(state: &AppState, viewer: &Viewer, name: &str) -> Result<String, Problem> {
    let cmd = Command::parse(name).filter(|_| name.len() <= 32).ok_or_else(|| {
        let names: Vec<String> = Command::ALL.iter().map(|c| c.name().replace('_', "-")).collect();
        Problem::new(
            StatusCode::NOT_FOUND,
            format!("unknown control command (expected {})", names.join(", ")),
        )
    })?;
    let user = viewer.user().ok_or_else(Problem::unauthorized)?;
    let profiles = viewer.profiles();
    if let Some(s) = majordome(state).await? {
        s.check(cmd, &profiles).map_err(|r| {
            let status = if matches!(r, ferros_majordome::Refusal::NotAllowed(_)) {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::CONFLICT
            };
            Problem::new(status, format!("{}: {r}", cmd.name().replace('_', " ")))
        })?;
    }
    submit_and_wait(state, &user.username, cmd.name()).await
}

/// Gives a device command by hand (`telescope slew 10.68 41.27`, `dome
/// open`...): its form checked here, the rest (REMOTE, unlocked, SAFE to
/// open) by the majordome, whose answer is returned.
pub async fn give_device(state: &AppState, viewer: &Viewer, words: &str) -> Result<String, Problem> {
    let user = viewer.user().ok_or_else(Problem::unauthorized)?;
    if words.len() > 200 {
        return Err(Problem::bad_request("a device command has at most 200 characters"));
    }
    let text = format!("device {}", words.split_whitespace().collect::<Vec<_>>().join(" "));
    ferros_majordome::DeviceCommand::parse(&text).map_err(|e| Problem::bad_request(e.to_string()))?;
    submit_and_wait(state, &user.username, &text).await
}

/// Stores a command for the majordome and waits (at most `CONTROL_WAIT_S`)
/// for its answer.
async fn submit_and_wait(state: &AppState, username: &str, name: &str) -> Result<String, Problem> {
    let db = state.db();
    let fail = |e| Problem::internal("the control command", e);
    let id = db.submit_command(username, name, state.clock().now()).await.map_err(fail)?;
    let shown = name.replace('_', " ");
    // The majordome answers at its next tick (every few seconds).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(ferros_limits::CONTROL_WAIT_S);
    loop {
        let c = db
            .control_command(id)
            .await
            .map_err(fail)?
            .ok_or_else(|| Problem::internal("the control command", "vanished"))?;
        match c.state.as_str() {
            "accepted" => {
                crate::status::forget(state);
                return Ok(format!("{shown} accepted"));
            }
            "refused" => {
                return Err(Problem::new(StatusCode::CONFLICT, format!("{shown} refused: {}", c.reason)));
            }
            _ => {}
        }
        if tokio::time::Instant::now() >= deadline {
            db.finish_command(id, false, "no majordome answered", state.clock().now()).await.map_err(fail)?;
            return Err(Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "{shown}: no answer from the majordome within {} s (is it running?)",
                    ferros_limits::CONTROL_WAIT_S
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
