//! The Ferros web server. For now: `GET /healthz` for supervisors and load
//! balancers, and a home page saying what this Ferros is and how it is doing.
//! The dashboard, the API and authentication attach here later.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use ferros_clock::Clock;
use ferros_db::Db;
use tokio::net::TcpListener;

mod health;
mod home;

/// What every handler may use.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    clock: Clock,
    site_name: String,
}

impl AppState {
    pub fn new(db: Db, clock: Clock, site_name: impl Into<String>) -> Self {
        Self { inner: Arc::new(Inner { db, clock, site_name: site_name.into() }) }
    }

    fn db(&self) -> &Db {
        &self.inner.db
    }

    fn clock(&self) -> &Clock {
        &self.inner.clock
    }
}

/// All routes, ready to be served or called directly in tests.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(home::page))
        .route("/healthz", get(health::check))
        .fallback(home::not_found)
        .with_state(state)
}

/// Serves until `shutdown` completes, then lets running requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
