//! Live updates by Server-Sent Events (`GET /events`, public): every
//! `EVERY` the clock's time, the majordome's mode, LOCKED and the environment, from
//! the shared status (so a crowd of open pages costs the database one read
//! a second). The pages mark what changes with `data-live="KEY"`; the
//! script puts each new value in place. A stream ends after `MAX_STREAM`
//! (the browser opens another); at most `MAX_STREAMS` are open at once.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::AppState;
use crate::problem::Problem;

/// How often an open page is told the news.
const EVERY: Duration = Duration::from_secs(2);
/// How long one stream lasts.
const MAX_STREAM: Duration = Duration::from_secs(3600);
/// Streams open at once at most.
pub const MAX_STREAMS: usize = 256;

/// The streams' permits.
#[derive(Debug)]
pub struct Streams(Arc<tokio::sync::Semaphore>);

impl Default for Streams {
    fn default() -> Self {
        Self(Arc::new(tokio::sync::Semaphore::new(MAX_STREAMS)))
    }
}

/// What the pages update, from the status (up to a second old) and the
/// clock's time now (a page must never go back in time).
pub fn summary(status: &Value, now: chrono::DateTime<chrono::Utc>) -> Value {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let time = now.format("%Y-%m-%d %H:%M:%S").to_string();
    json!({
        "time": time,
        "mode": text(&status["majordome"]["mode"]),
        "locked": status["majordome"]["locked"].as_bool().map(|b| b.to_string()),
        "env": text(&status["majordome"]["env"]),
        "weather": text(&status["weather"]["global_status"]),
        "site": text(&status["site_watch"]["global_status"]),
    })
}

pub async fn events(State(state): State<AppState>) -> Response {
    let Ok(permit) = state.inner.streams.0.clone().try_acquire_owned() else {
        return Problem::new(StatusCode::SERVICE_UNAVAILABLE, "too many live pages open: try again later")
            .respond(false, None);
    };
    let start = tokio::time::Instant::now();
    let stream =
        futures_util::stream::unfold((state, permit, true), move |(state, permit, first)| async move {
            if !first {
                tokio::time::sleep(EVERY).await;
            }
            if start.elapsed() > MAX_STREAM {
                return None;
            }
            let event = match crate::status::get(&state).await {
                Ok(s) => Event::default().event("status").data(summary(&s, state.clock().now()).to_string()),
                Err(p) => Event::default().event("problem").data(p.message),
            };
            Some((Ok::<_, Infallible>(event), (state, permit, false)))
        });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}
