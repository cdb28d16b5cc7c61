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
    let db = state.db();
    let fail = |e| Problem::internal("the control command", e);
    let id = db.submit_command(&user.username, cmd.name(), state.clock().now()).await.map_err(fail)?;
    let shown = cmd.name().replace('_', " ");
    // The majordome answers at its next tick (every few seconds).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(ferros_limits::CONTROL_WAIT_S);
    loop {
        let c = db
            .control_command(id)
            .await
            .map_err(fail)?
            .ok_or_else(|| Problem::internal("the control command", "vanished"))?;
        match c.state.as_str() {
            "accepted" => return Ok(format!("{shown} accepted")),
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
