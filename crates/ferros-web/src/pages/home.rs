//! The home page: the site, the time, and how the night goes.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{Nav, render};
use crate::AppState;
use crate::access::Viewer;
use crate::problem::Problem;

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    nav: Nav,
    clock: String,
    env: String,
    mode: String,
    schedule: String,
    requests: i64,
    alerts: String,
}

pub async fn page(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    let nav = Nav::new(&state, &viewer, "/");
    let clock = if state.clock().is_simulated() {
        format!("simulated clock, x{}", state.clock().speed())
    } else {
        String::new()
    };
    match summary(&state).await {
        Ok((env, mode, schedule, requests, alerts)) => {
            render(StatusCode::OK, &Home { nav, clock, env, mode, schedule, requests, alerts })
        }
        Err(p) => super::error_page(&p, viewer),
    }
}

async fn summary(state: &AppState) -> Result<(String, String, String, i64, String), Problem> {
    let db = state.db();
    let fail = |e| Problem::internal("the home page", e);
    let env = match db.latest_watch("weather").await.map_err(fail)? {
        Some(w) => w.global_status.to_string(),
        None => "unknown (ENV has not run yet)".to_owned(),
    };
    let mode = match db.majordome_state().await.map_err(fail)? {
        Some((_, body)) => serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["mode"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "unreadable".into()),
        None => "not running yet".to_owned(),
    };
    let schedule = match db.latest_schedule().await.map_err(fail)? {
        Some(s) => format!(
            "made {} UTC, {} sequence(s) considered",
            s.created_at.format("%Y-%m-%d %H:%M"),
            s.entries.len()
        ),
        None => "no schedule yet".to_owned(),
    };
    let requests = db.count_requests().await.map_err(fail)?;
    let alerts = match db.list_alerts(None, 1).await.map_err(fail)?.first() {
        Some(a) => format!("latest: {} {} ({})", a.mission, a.burst.as_deref().unwrap_or(""), a.outcome),
        None => "none received yet".to_owned(),
    };
    Ok((env, mode, schedule, requests, alerts))
}
