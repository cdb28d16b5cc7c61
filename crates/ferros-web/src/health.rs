//! `GET /healthz`: 200 when Ferros and its database answer, 503 otherwise.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::AppState;

#[derive(Debug, Serialize)]
pub(crate) struct Health {
    status: &'static str,
    database: String,
    time: String,
    simulated_clock: bool,
    version: &'static str,
}

pub(crate) async fn check(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let (code, status, database) = match state.db().ping().await {
        Ok(()) => (StatusCode::OK, "ok", "ok".to_owned()),
        Err(e) => {
            tracing::warn!("health check: database does not answer: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "unreachable".to_owned())
        }
    };
    let clock = state.clock();
    let health = Health {
        status,
        database,
        time: clock.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        simulated_clock: clock.is_simulated(),
        version: env!("CARGO_PKG_VERSION"),
    };
    (code, Json(health))
}
