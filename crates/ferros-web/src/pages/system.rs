//! The System page: the agents with their heartbeats and restarts, and the log.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{Nav, render, when};
use crate::AppState;
use crate::access::Viewer;

#[derive(Template)]
#[template(path = "system.html")]
struct SystemPage {
    nav: Nav,
    agents: Vec<(String, String, String, String, i64, String)>,
    logs: Vec<(String, String, String, String)>,
}

pub async fn page(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    let db = state.db();
    let (agents, logs) =
        match (db.list_agents().await, db.recent_logs(i64::from(ferros_limits::PAGE_ROWS) * 2).await) {
            (Ok(a), Ok(l)) => (a, l),
            (Err(e), _) | (_, Err(e)) => return super::error_page(&e.into(), viewer),
        };
    let agents = agents
        .into_iter()
        .map(|a| (a.name, a.state, when(a.started_at), when(a.heartbeat_at), a.restarts, a.last_error))
        .collect();
    let logs =
        logs.into_iter().map(|l| (when(l.at), l.source, format!("{:?}", l.level), l.message)).collect();
    render(StatusCode::OK, &SystemPage { nav: Nav::new(&state, &viewer, "/system"), agents, logs })
}
