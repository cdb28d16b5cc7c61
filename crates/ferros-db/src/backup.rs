//! Backup and restore (GFT-REQ-299) while Ferros runs. A backup is a
//! folder: `manifest.json` (format, backend, schema version, rows per
//! table) and the data, read in one consistent snapshot: on SQLite a copy
//! of the database file (`VACUUM INTO`, which other connections keep
//! writing through), on PostgreSQL each table in PostgreSQL's COPY text
//! format (`postgres/TABLE.copy`, one REPEATABLE READ transaction). A
//! restore goes into an empty database of the same backend and schema,
//! in one transaction, and checks every table's rows against the manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sqlx::{Connection, Executor};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Backend, Db, DbError, DbResult, Pool};

/// The manifest's format.
pub const BACKUP_FORMAT: u32 = 1;
/// The SQLite copy in a backup.
pub const SQLITE_FILE: &str = "ferros.db";
/// The manifest in a backup.
pub const MANIFEST: &str = "manifest.json";
/// Bytes read at once from a table's file into COPY.
const CHUNK: usize = 1 << 20;

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    pub backend: String,
    /// The last migration applied.
    pub schema: i64,
    pub made_at: DateTime<Utc>,
    /// Rows per table.
    pub tables: BTreeMap<String, i64>,
}

fn io(what: &str, path: &Path) -> impl Fn(std::io::Error) -> DbError {
    let what = format!("{what} {}", path.display());
    move |e| DbError::Conflict(format!("{what}: {e}"))
}

fn backend_code(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// A table name as read from the catalogue: letters, digits and `_` only,
/// so it may be written into a statement.
fn checked_name(name: String) -> DbResult<String> {
    if !name.is_empty() && name.len() <= 63 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(name)
    } else {
        Err(DbError::Conflict(format!("table \"{name}\" has a name Ferros does not copy")))
    }
}

/// Parents before children (foreign keys), each table once; `edges` are
/// (child, parent) pairs; a table's references to itself are ignored.
fn ordered(tables: &BTreeSet<String>, edges: &[(String, String)]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(tables.len());
    let mut left: BTreeSet<&String> = tables.iter().collect();
    while !left.is_empty() {
        let ready: Vec<&String> = left
            .iter()
            .copied()
            .filter(|t| !edges.iter().any(|(c, p)| c == *t && p != *t && left.contains(p)))
            .collect();
        // A cycle (none in Ferros's schema): the rest in name order.
        let ready = if ready.is_empty() { left.iter().copied().collect() } else { ready };
        for t in ready {
            left.remove(t);
            out.push(t.clone());
        }
    }
    out
}

impl Db {
    /// The last migration applied.
    pub async fn schema_version(&self) -> DbResult<i64> {
        let q = "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations";
        Ok(match &self.pool {
            Pool::Sqlite(p) => sqlx::query_scalar(q).fetch_one(p).await?,
            Pool::Postgres(p) => sqlx::query_scalar(q).fetch_one(p).await?,
        })
    }

    /// Ferros's tables, parents before children.
    pub async fn tables(&self) -> DbResult<Vec<String>> {
        let (names, edges): (Vec<String>, Vec<(String, String)>) = match &self.pool {
            Pool::Sqlite(p) => {
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'table'
                     AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
                )
                .fetch_all(p)
                .await?;
                let edges = sqlx::query_as(
                    "SELECT m.name, f.\"table\" FROM sqlite_master m, pragma_foreign_key_list(m.name) f
                     WHERE m.type = 'table'",
                )
                .fetch_all(p)
                .await?;
                (names, edges)
            }
            Pool::Postgres(p) => {
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
                     AND table_name <> '_sqlx_migrations' ORDER BY 1",
                )
                .fetch_all(p)
                .await?;
                let edges = sqlx::query_as(
                    "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c
                     JOIN pg_namespace n ON n.oid = c.connamespace
                     WHERE c.contype = 'f' AND n.nspname = current_schema()",
                )
                .fetch_all(p)
                .await?;
                (names, edges)
            }
        };
        let names: BTreeSet<String> = names.into_iter().map(checked_name).collect::<DbResult<_>>()?;
        Ok(ordered(&names, &edges))
    }

    /// Rows in each table.
    pub async fn row_counts(&self) -> DbResult<BTreeMap<String, i64>> {
        let mut out = BTreeMap::new();
        for t in self.tables().await? {
            let q = format!("SELECT COUNT(*) FROM {t}");
            let n: i64 = match &self.pool {
                Pool::Sqlite(p) => sqlx::query_scalar(&q).fetch_one(p).await?,
                Pool::Postgres(p) => sqlx::query_scalar(&q).fetch_one(p).await?,
            };
            out.insert(t, n);
        }
        Ok(out)
    }

    /// Copies the database into `dir` (an empty or new folder) while it is
    /// in use; the folder is complete when this returns (written beside it
    /// as `DIR.partial` meanwhile, nothing left on a failure).
    pub async fn backup(&self, dir: &Path, now: DateTime<Utc>) -> DbResult<Manifest> {
        if dir.exists() {
            let mut entries = std::fs::read_dir(dir).map_err(io("cannot read", dir))?;
            if entries.next().is_some() {
                return Err(DbError::Conflict(format!(
                    "{} is not empty: back up into a new or empty folder",
                    dir.display()
                )));
            }
        }
        let mut partial = dir.as_os_str().to_owned();
        partial.push(".partial");
        let partial = std::path::PathBuf::from(partial);
        if partial.exists() {
            std::fs::remove_dir_all(&partial).map_err(io("cannot remove the unfinished", &partial))?;
        }
        std::fs::create_dir_all(&partial).map_err(io("cannot create", &partial))?;
        let made = self.backup_into(&partial, now).await;
        let finish = || -> DbResult<()> {
            if dir.exists() {
                std::fs::remove_dir(dir).map_err(io("cannot replace the empty folder", dir))?;
            }
            std::fs::rename(&partial, dir).map_err(io("cannot rename the backup to", dir))
        };
        match made.and_then(|m| finish().map(|()| m)) {
            Ok(m) => Ok(m),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&partial);
                Err(e)
            }
        }
    }

    async fn backup_into(&self, dir: &Path, now: DateTime<Utc>) -> DbResult<Manifest> {
        let schema = self.schema_version().await?;
        let tables = match &self.pool {
            Pool::Sqlite(p) => {
                let file = dir.join(SQLITE_FILE);
                let path = file
                    .to_str()
                    .ok_or_else(|| DbError::Conflict(format!("{} is not a UTF-8 path", file.display())))?;
                sqlx::query("VACUUM INTO $1").bind(path).execute(p).await?;
                // The copy counted as it is, read-only: opened as a database
                // it would be migrated and get a lock file beside it.
                let tables = self.tables().await?;
                let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&file).read_only(true);
                let mut copy = sqlx::SqliteConnection::connect_with(&options).await?;
                let mut counts = BTreeMap::new();
                for t in tables {
                    let n: i64 =
                        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t}")).fetch_one(&mut copy).await?;
                    counts.insert(t, n);
                }
                copy.close().await?;
                counts
            }
            Pool::Postgres(p) => {
                let folder = dir.join("postgres");
                std::fs::create_dir_all(&folder).map_err(io("cannot create", &folder))?;
                let tables = self.tables().await?;
                let mut conn = p.acquire().await?;
                let mut tx = conn.begin().await?;
                tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
                let mut counts = BTreeMap::new();
                for t in tables {
                    let n: i64 =
                        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t}")).fetch_one(&mut *tx).await?;
                    let path = folder.join(format!("{t}.copy"));
                    let file = tokio::fs::File::create(&path).await.map_err(io("cannot create", &path))?;
                    // COPY sends a row or so per chunk: gathered into large writes.
                    let mut out = tokio::io::BufWriter::with_capacity(CHUNK, file);
                    let mut rows = tx.copy_out_raw(&format!("COPY {t} TO STDOUT")).await?;
                    while let Some(chunk) = rows.next().await {
                        out.write_all(&chunk?).await.map_err(io("cannot write", &path))?;
                    }
                    drop(rows);
                    out.flush().await.map_err(io("cannot write", &path))?;
                    out.get_ref().sync_all().await.map_err(io("cannot sync", &path))?;
                    counts.insert(t, n);
                }
                tx.commit().await?;
                counts
            }
        };
        let manifest = Manifest {
            format: BACKUP_FORMAT,
            backend: backend_code(self.backend()).to_owned(),
            schema,
            made_at: now,
            tables,
        };
        let text = serde_json::to_string_pretty(&manifest)
            .map_err(|e| DbError::Conflict(format!("cannot write the manifest: {e}")))?;
        let path = dir.join(MANIFEST);
        std::fs::write(&path, text).map_err(io("cannot write", &path))?;
        Ok(manifest)
    }

    /// Reads a backup's manifest, checked.
    pub fn read_manifest(dir: &Path) -> DbResult<Manifest> {
        let path = dir.join(MANIFEST);
        let meta = std::fs::metadata(&path).map_err(io("cannot read", &path))?;
        if meta.len() > 1 << 20 {
            return Err(DbError::Conflict(format!("{}: larger than 1 MiB, not a manifest", path.display())));
        }
        let text = std::fs::read_to_string(&path).map_err(io("cannot read", &path))?;
        let m: Manifest = serde_json::from_str(&text).map_err(|e| {
            DbError::Conflict(format!("{}: not a Ferros backup manifest ({e})", path.display()))
        })?;
        if m.format != BACKUP_FORMAT {
            return Err(DbError::Conflict(format!(
                "{}: backup format {} (this Ferros reads format {BACKUP_FORMAT})",
                path.display(),
                m.format
            )));
        }
        for t in m.tables.keys() {
            checked_name(t.clone())?;
        }
        Ok(m)
    }

    /// Loads the backup in `dir` into this database, which must be empty,
    /// of the backup's backend and schema; in one transaction, with every
    /// table's rows checked against the manifest (nothing kept otherwise).
    pub async fn restore(&self, dir: &Path) -> DbResult<Manifest> {
        let m = Self::read_manifest(dir)?;
        let here = backend_code(self.backend());
        if m.backend != here {
            return Err(DbError::Conflict(format!(
                "this backup is of a {} database; the database configured is {here}: restore it into {}",
                m.backend, m.backend
            )));
        }
        let schema = self.schema_version().await?;
        if m.schema != schema {
            return Err(DbError::Conflict(format!(
                "this backup has schema {} and this Ferros schema {schema}: restore it with the Ferros that made it",
                m.schema
            )));
        }
        let counts = self.row_counts().await?;
        let full: Vec<String> =
            counts.iter().filter(|(_, n)| **n > 0).map(|(t, n)| format!("{t}: {n}")).collect();
        if !full.is_empty() {
            return Err(DbError::Conflict(format!(
                "the database already holds data ({}): restore into an empty database",
                full.join(", ")
            )));
        }
        let tables = self.tables().await?;
        let missing: Vec<&String> = m.tables.keys().filter(|t| !tables.contains(t)).collect();
        if !missing.is_empty() || tables.len() != m.tables.len() {
            return Err(DbError::Conflict(format!(
                "the backup's tables differ from the database's (unknown: {missing:?})"
            )));
        }
        match &self.pool {
            Pool::Sqlite(p) => {
                let file = dir.join(SQLITE_FILE);
                let path = file
                    .to_str()
                    .ok_or_else(|| DbError::Conflict(format!("{} is not a UTF-8 path", file.display())))?;
                if !file.is_file() {
                    return Err(DbError::Conflict(format!("{} is missing from the backup", file.display())));
                }
                let mut conn = p.acquire().await?;
                sqlx::query("ATTACH DATABASE $1 AS backup").bind(path).execute(&mut *conn).await?;
                let loaded = async {
                    let mut tx = conn.begin().await?;
                    for t in &tables {
                        tx.execute(format!("INSERT INTO main.{t} SELECT * FROM backup.{t}").as_str()).await?;
                    }
                    check_counts(&m, &mut tx).await?;
                    tx.commit().await?;
                    Ok::<_, DbError>(())
                }
                .await;
                let detached = sqlx::query("DETACH DATABASE backup").execute(&mut *conn).await;
                loaded?;
                detached?;
            }
            Pool::Postgres(p) => {
                let mut conn = p.acquire().await?;
                let mut tx = conn.begin().await?;
                for t in &tables {
                    let path = dir.join("postgres").join(format!("{t}.copy"));
                    let mut file = tokio::fs::File::open(&path).await.map_err(io("cannot read", &path))?;
                    let mut copy = tx.copy_in_raw(&format!("COPY {t} FROM STDIN")).await?;
                    let mut buf = vec![0u8; CHUNK];
                    loop {
                        let n = file.read(&mut buf).await.map_err(io("cannot read", &path))?;
                        if n == 0 {
                            break;
                        }
                        copy.send(&buf[..n]).await?;
                    }
                    copy.finish().await?;
                }
                // The ids go on from the restored ones.
                let serials: Vec<(String, String)> = sqlx::query_as(
                    "SELECT table_name::text, column_name::text FROM information_schema.columns
                     WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%'",
                )
                .fetch_all(&mut *tx)
                .await?;
                for (t, c) in serials {
                    let (t, c) = (checked_name(t)?, checked_name(c)?);
                    tx.execute(
                        format!(
                            "SELECT setval(pg_get_serial_sequence('{t}', '{c}'), COALESCE((SELECT MAX({c}) FROM {t}), 0) + 1, false)"
                        )
                        .as_str(),
                    )
                    .await?;
                }
                check_counts(&m, &mut tx).await?;
                tx.commit().await?;
            }
        }
        Ok(m)
    }
}

async fn check_counts<DB>(m: &Manifest, tx: &mut sqlx::Transaction<'_, DB>) -> DbResult<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    i64: sqlx::Type<DB> + for<'r> sqlx::Decode<'r, DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    for (t, expected) in &m.tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t}")).fetch_one(&mut **tx).await?;
        if n != *expected {
            return Err(DbError::Conflict(format!(
                "table {t}: {n} rows restored, the manifest says {expected}: the backup is damaged; nothing restored"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_come_before_children() {
        let tables: BTreeSet<String> =
            ["images", "masters", "requests", "sequences", "users"].map(String::from).into();
        let e = |c: &str, p: &str| (c.to_owned(), p.to_owned());
        let edges = [
            e("sequences", "requests"),
            e("requests", "users"),
            e("images", "masters"),
            e("images", "images"),
        ];
        let order = ordered(&tables, &edges);
        let at = |t: &str| order.iter().position(|x| x == t).unwrap();
        assert!(
            at("users") < at("requests") && at("requests") < at("sequences") && at("masters") < at("images")
        );
        assert_eq!(order.len(), 5);
        assert!(checked_name("x; DROP TABLE users".into()).is_err());
    }
}
