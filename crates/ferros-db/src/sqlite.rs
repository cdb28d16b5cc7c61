//! The SQLite backend (bundled; the default): a file in the data directory,
//! WAL journal, foreign keys on.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::{DbError, DbResult};

pub(crate) type Db = sqlx::Sqlite;

/// Write transactions take the write lock at their start: one that read first
/// and then wrote could otherwise fail at once with "database is locked" when
/// another writer came in between (SQLite does not wait in that case).
pub(crate) const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

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

/// Opens the pool; a database that need not be `durable` (a simulation's,
/// thrown away after it) is never synced to the disk.
pub(crate) async fn connect(url: &str, durable: bool) -> DbResult<sqlx::SqlitePool> {
    let connect_err = |source| DbError::Connect { url: url.to_owned(), source };
    let options = SqliteConnectOptions::from_str(url)
        .map_err(connect_err)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // With WAL, NORMAL syncs at checkpoints: a power cut may lose the
        // last transactions, never the database's consistency.
        .synchronous(if durable { SqliteSynchronous::Normal } else { SqliteSynchronous::Off })
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    let file = options.get_filename().to_path_buf();
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty())
        && file != Path::new(":memory:")
        && !dir.exists()
    {
        std::fs::create_dir_all(dir).map_err(|e| connect_err(sqlx::Error::Io(e)))?;
    }
    // sqlx takes no lock to migrate SQLite: two processes opening a new
    // database at once would both create its tables. A lock file beside the
    // database makes them take turns (creating the file and its WAL too);
    // the second finds the work done.
    let _lock = if file == Path::new(":memory:") || file.as_os_str().is_empty() {
        None
    } else {
        let mut path = file.as_os_str().to_owned();
        path.push(".migrate-lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .and_then(|f| f.lock().map(|()| f))
            .map_err(|e| connect_err(sqlx::Error::Io(e)))?;
        Some(lock)
    };
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(connect_err)?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}
