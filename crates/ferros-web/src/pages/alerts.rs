//! The alerts: every notice received, its decision and its timeline
//! (received, stored, planned, slew, first exposure).

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{Nav, render, shown, when};
use crate::AppState;
use crate::access::Viewer;

pub struct AlertRow {
    id: i64,
    received: String,
    mission: String,
    burst: String,
    position: String,
    outcome: String,
    reason: String,
    request: String,
    timeline: String,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    nav: Nav,
    rows: Vec<AlertRow>,
}

pub async fn list(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    let alerts = match state.db().list_alerts(None, ferros_limits::PAGE_ROWS).await {
        Ok(a) => a,
        Err(e) => return super::error_page(&e.into(), viewer),
    };
    let after = |a: chrono::DateTime<chrono::Utc>, b: Option<chrono::DateTime<chrono::Utc>>, what: &str| {
        b.map(|b| format!("{what} +{:.1} s", (b - a).num_milliseconds() as f64 / 1000.0))
    };
    let rows = alerts
        .into_iter()
        .map(|a| AlertRow {
            id: a.id,
            received: when(a.received_at),
            mission: shown(&a.mission),
            burst: shown(a.burst.as_deref().unwrap_or("-")),
            position: match (a.ra, a.dec) {
                (Some(r), Some(d)) => format!("{r:.3} {d:+.3} ± {:.3} deg", a.error_deg.unwrap_or(0.0)),
                _ => "-".into(),
            },
            outcome: a.outcome.clone(),
            reason: shown(&a.reason),
            request: a.request_id.map_or_else(|| "-".into(), |r| r.to_string()),
            timeline: [
                after(a.received_at, Some(a.stored_at), "stored"),
                after(a.received_at, a.planned_at, "planned"),
                after(a.received_at, a.slew_at, "slew"),
                after(a.received_at, a.exposure_at, "exposure"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", "),
        })
        .collect();
    render(StatusCode::OK, &AlertsPage { nav: Nav::new(&state, &viewer, "/alerts"), rows })
}
