//! The PostgreSQL backend, for production: selected by a `postgres://` URL.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::{DbError, DbResult, redact_url};

pub(crate) type Db = sqlx::Postgres;

/// How write transactions begin (SQLite needs more, see `sqlite.rs`).
pub(crate) const BEGIN_WRITE: &str = "BEGIN";

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[allow(clippy::duplicate_mod, reason = "the same queries are compiled once per backend")]
#[path = "queries.rs"]
pub(crate) mod queries;

#[allow(clippy::duplicate_mod, reason = "the same queries are compiled once per backend")]
#[path = "execution.rs"]
pub(crate) mod execution;

#[allow(clippy::duplicate_mod, reason = "the same queries are compiled once per backend")]
#[path = "alerts.rs"]
pub(crate) mod alerts;

#[allow(clippy::duplicate_mod, reason = "the same queries are compiled once per backend")]
#[path = "accounts.rs"]
pub(crate) mod accounts;

#[allow(clippy::duplicate_mod, reason = "the same queries are compiled once per backend")]
#[path = "pipeline.rs"]
pub(crate) mod pipeline;

#[allow(clippy::duplicate_mod, reason = "the same queries are compiled once per backend")]
#[path = "programs.rs"]
pub(crate) mod programs;

#[allow(clippy::duplicate_mod, reason = "the same queries are compiled once per backend")]
#[path = "proposals.rs"]
pub(crate) mod proposals;

pub(crate) async fn connect(url: &str) -> DbResult<sqlx::PgPool> {
    let connect_err = |source| DbError::Connect { url: redact_url(url), source };
    let options = PgConnectOptions::from_str(url).map_err(connect_err)?;
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(connect_err)?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}
