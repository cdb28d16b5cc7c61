//! The Ferros repository: one API over two backends, SQLite (bundled, the
//! default) and PostgreSQL (production), chosen by the URL. Each backend has its
//! own migrations, applied when the database is opened. Writes that belong
//! together (a request and its sequences, albums and plans; a schedule and its
//! entries; a batch of status changes) are one transaction.
//!
//! The queries are written once, in `queries.rs` (and the executor's in
//! `execution.rs`), and compiled for each backend.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ferros_domain::{
    GlobalStatus, JulianDate, LogEntry, NewRequest, NewSchedule, Profile, Request, RequestId, RequestKind,
    Schedule, ScheduleId, SequenceId, SequenceStatus, Strategy, User,
};
use serde::Serialize;

mod blocking;
mod error;
mod postgres;
mod sqlite;

pub use error::{DbError, DbResult};

/// A database URL with its password replaced by `***`, for printing.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((userinfo, host)) = rest.rsplit_once('@') else { return url.to_owned() };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// Which database a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// The repository. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Db {
    pool: Pool,
    /// Calls run to their end on the calling thread (virtual clocks).
    blocking: Option<blocking::Blocking>,
    /// The blocking mode's own SQLite connection, out of the pool, for the
    /// calls the agents make every few seconds: a pooled connection is
    /// tested with a round trip of its own each time it goes back.
    held: Option<Arc<tokio::sync::Mutex<sqlx::SqliteConnection>>>,
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq)]
pub enum SequenceEnd {
    /// Done: the block really ended at `tep`; `charge_s` goes to the program's quota.
    Executed { tep: JulianDate, charge_s: f64 },
    /// Interrupted (weather, pre-emption, a device): back to the planner, nothing charged.
    GivenBack { reason: String },
    /// Failed in a way retrying will not mend (the same failure twice):
    /// UNPLANNABLE with the reason, nothing charged.
    GivenUp { reason: String },
}

/// An alert sequence whose window is open and which is not executed yet.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertWaiting {
    pub id: SequenceId,
    /// J2000 RA and Dec (degrees) when the alert has a position.
    pub radec: Option<(f64, f64)>,
    pub min_alt: Option<f64>,
}

/// A notice to store, with its decision (`outcome` and `reason`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    /// `None` for a document that could not be read.
    pub ivorn: Option<String>,
    /// Where it came from: `kafka:TOPIC`, `vtp:HOST:PORT`, `dir:FILE`, `cli:FILE`.
    pub source: String,
    pub role: Option<String>,
    pub mission: String,
    pub instrument: Option<String>,
    pub burst: Option<String>,
    pub same_as: Option<i64>,
    pub trigger_at: Option<DateTime<Utc>>,
    pub issued_at: Option<DateTime<Utc>>,
    /// J2000 RA and Dec, degrees.
    pub position: Option<(f64, f64)>,
    pub error_deg: Option<f64>,
    pub strategy: Option<String>,
    /// `created`, `updated`, `retracted`, `skipped`, `ignored` or `refused`.
    pub outcome: String,
    pub reason: String,
    /// The notice (for a refused document, its beginning).
    pub xml: String,
    pub received_at: DateTime<Utc>,
    pub parsed_at: Option<DateTime<Utc>>,
}

/// What storing a notice does to requests.
#[derive(Debug, Clone, Copy)]
pub enum AlertEffect<'a> {
    Nothing,
    /// A new alert request, submitted, owned by `owner`.
    Create {
        tree: &'a NewRequest,
        owner: &'a str,
    },
    /// An alert request rebuilt in place: its sequences not over cancelled,
    /// the tree's added, submitted.
    Update {
        request: RequestId,
        tree: &'a NewRequest,
    },
    /// Alert requests cancelled (what is not over yet).
    Cancel {
        requests: &'a [RequestId],
    },
}

/// Where an intake has read to: the next offset of a Kafka partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntakePosition {
    pub source: String,
    pub topic: String,
    pub partition: i32,
    pub next_offset: i64,
}

/// What became of a notice handed to [`Db::store_alert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertStored {
    New {
        id: i64,
        request: Option<RequestId>,
    },
    /// The same ivorn was stored already: counted, nothing else done.
    Duplicate {
        id: i64,
    },
}

/// A stored alert, as a decision about a new notice needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRelated {
    pub id: i64,
    pub ivorn: String,
    pub mission: String,
    pub burst: Option<String>,
    pub same_as: Option<i64>,
    pub trigger_at: Option<DateTime<Utc>>,
    pub position: Option<(f64, f64)>,
    pub error_deg: Option<f64>,
    pub request: Option<RequestId>,
    /// Whether its request has sequences not over.
    pub open: bool,
}

/// The steps of an alert's way to the telescope, each time-stamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertStep {
    Stored,
    Planned,
    SlewCommanded,
    FirstExposure,
}

/// An alert as `ferros alert list|show` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AlertRecord {
    pub id: i64,
    pub ivorn: Option<String>,
    pub source: String,
    pub role: Option<String>,
    pub mission: String,
    pub instrument: Option<String>,
    pub burst: Option<String>,
    pub same_as: Option<i64>,
    pub trigger_at: Option<DateTime<Utc>>,
    pub issued_at: Option<DateTime<Utc>>,
    pub ra: Option<f64>,
    pub dec: Option<f64>,
    pub error_deg: Option<f64>,
    pub strategy: Option<String>,
    pub request_id: Option<i64>,
    pub outcome: String,
    pub reason: String,
    /// Copies of the same notice received after it.
    pub duplicates: i64,
    pub received_at: DateTime<Utc>,
    pub parsed_at: Option<DateTime<Utc>>,
    pub stored_at: DateTime<Utc>,
    pub planned_at: Option<DateTime<Utc>>,
    pub slew_at: Option<DateTime<Utc>>,
    pub exposure_at: Option<DateTime<Utc>>,
    /// Images archived for its request.
    pub images: i64,
}

/// A user to create; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub profiles: BTreeSet<Profile>,
    /// Names of the programs the user belongs to.
    pub programs: Vec<String>,
}

/// One line of `ferros request list`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestSummary {
    pub id: RequestId,
    pub name: String,
    pub owner: String,
    pub program: String,
    pub kind: RequestKind,
    pub strategy: Strategy,
    pub created_at: DateTime<Utc>,
    pub sequence_statuses: Vec<SequenceStatus>,
}

/// An agent as the supervisor last recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AgentRecord {
    pub name: String,
    /// `running`, `restarting`, `stopped`, `failed`.
    pub state: String,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    pub restarts: i64,
    pub last_error: String,
}

/// One watch to store: its status, reasons and the whole synthesis as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchWrite {
    /// `env`, `weather` or `site`.
    pub kind: String,
    pub global_status: GlobalStatus,
    pub reasons: Vec<String>,
    pub updated: DateTime<Utc>,
    pub body: String,
}

/// What the ENV agent stores after a reading.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnvWrite {
    pub watches: Vec<WatchWrite>,
    /// (quantity, Unix milliseconds, value)
    pub samples: Vec<(String, i64, f64)>,
}

/// A stored watch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredWatch {
    pub kind: String,
    pub global_status: GlobalStatus,
    pub reasons: Vec<String>,
    pub updated: DateTime<Utc>,
    /// The synthesis, JSON.
    pub body: String,
}

/// A change of a watch's status or reasons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatchChange {
    pub at: DateTime<Utc>,
    pub global_status: GlobalStatus,
    pub reasons: Vec<String>,
}

/// A point of an environment series: a reading (n = 1) or a bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesRow {
    pub quantity: String,
    /// Unix milliseconds: the reading, or the start of the bucket.
    pub t: i64,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    pub n: i64,
}

/// A control command and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlCommand {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The user who gave it.
    pub actor: String,
    pub command: String,
    /// `pending`, `accepted` or `refused`.
    pub state: String,
    pub reason: String,
    pub done_at: Option<DateTime<Utc>>,
}

/// One line of `ferros schedule history`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduleSummary {
    pub id: ScheduleId,
    pub created_at: DateTime<Utc>,
    pub night_start: JulianDate,
    pub night_end: JulianDate,
    pub planned: i64,
    pub entries: i64,
}

/// A sequence the planner may consider, with what it needs of its request and program.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanningCandidate {
    pub sequence: ferros_domain::Sequence,
    pub kind: RequestKind,
    pub strategy: Strategy,
    pub program_id: ferros_domain::ProgramId,
    pub program_priority: ferros_domain::Priority,
    /// The first night the planner considered it (for its reportable nights).
    pub first_night: Option<chrono::NaiveDate>,
}

/// The clock of a running `ferros start` on simulated time: it showed
/// `clock_at` at the real instant `real_at`, and runs `speed` times faster.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstanceClock {
    pub clock_at: DateTime<Utc>,
    pub real_at: DateTime<Utc>,
    pub speed: f64,
}

/// What the sequences looked like to a plan: how many there are and their
/// latest change. A plan made from one mark is stale once the mark moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanningMark {
    pub sequences: i64,
    pub changed: Option<DateTime<Utc>>,
}

/// A sequence's new status after planning, guarded by the one it had.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatusUpdate {
    pub id: SequenceId,
    pub from: SequenceStatus,
    pub to: SequenceStatus,
    pub tsp: Option<JulianDate>,
    pub tep: Option<JulianDate>,
}

/// Runs the same query function on whichever backend is open.
macro_rules! on_backend {
    ($self:ident, $f:ident ( $($arg:expr),* )) => {
        $self.run(async {
            match &$self.pool {
                Pool::Sqlite(p) => sqlite::queries::$f(p $(, $arg)*).await,
                Pool::Postgres(p) => postgres::queries::$f(p $(, $arg)*).await,
            }
        })
        .await
    };
    ($self:ident, $m:ident :: $f:ident ( $($arg:expr),* )) => {
        $self.run(async {
            match &$self.pool {
                Pool::Sqlite(p) => sqlite::$m::$f(p $(, $arg)*).await,
                Pool::Postgres(p) => postgres::$m::$f(p $(, $arg)*).await,
            }
        })
        .await
    };
}

/// Runs a query function that takes any executor: in the blocking mode on
/// SQLite with the held connection, else on the pool.
macro_rules! on_conn {
    ($self:ident, $f:ident ( $($arg:expr),* )) => {
        on_conn!(@ $self, queries, $f ( $($arg),* ))
    };
    ($self:ident, $m:ident :: $f:ident ( $($arg:expr),* )) => {
        on_conn!(@ $self, $m, $f ( $($arg),* ))
    };
    (@ $self:ident, $m:ident, $f:ident ( $($arg:expr),* )) => {
        $self.run(async {
            match (&$self.pool, &$self.held) {
                (Pool::Sqlite(_), Some(held)) => sqlite::$m::$f(&mut *held.lock().await $(, $arg)*).await,
                (Pool::Sqlite(p), None) => sqlite::$m::$f(p $(, $arg)*).await,
                (Pool::Postgres(p), _) => postgres::$m::$f(p $(, $arg)*).await,
            }
        })
        .await
    };
}

mod accounts_api;
mod alerts_api;
mod backup;
mod execution_api;
mod pipeline_api;
mod programs_api;

pub use accounts_api::{NewSession, Registration, SessionKind, SessionRecord, TokenPurpose};
pub use backup::Manifest;

impl Db {
    /// Opens (creating if needed) and migrates the database at `url`:
    /// `sqlite://PATH`, `sqlite::memory:` or `postgres://...`.
    pub async fn connect(url: &str) -> DbResult<Db> {
        Ok(Db { pool: Self::open_pool(url, true).await?, blocking: None, held: None })
    }

    /// Like [`Db::connect`], for a discrete-event simulation on a virtual
    /// clock: every call runs to its end before it returns, so no simulated
    /// time passes and no other task runs while the database works. A
    /// simulation's SQLite database is thrown away after it: it is never
    /// synced to the disk.
    pub async fn connect_virtual(url: &str) -> DbResult<Db> {
        let blocking = blocking::Blocking::start()
            .map_err(|e| DbError::Connect { url: redact_url(url), source: sqlx::Error::Io(e) })?;
        let pool = blocking.run(Self::open_pool(url, false))?;
        let held = match &pool {
            Pool::Sqlite(p) => {
                let c = blocking
                    .run(p.acquire())
                    .map_err(|e| DbError::Connect { url: redact_url(url), source: e })?;
                Some(Arc::new(tokio::sync::Mutex::new(c.detach())))
            }
            Pool::Postgres(_) => None,
        };
        Ok(Db { pool, blocking: Some(blocking), held })
    }

    async fn open_pool(url: &str, durable: bool) -> DbResult<Pool> {
        if url.starts_with("sqlite:") {
            Ok(Pool::Sqlite(sqlite::connect(url, durable).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Pool::Postgres(postgres::connect(url).await?))
        } else {
            Err(DbError::UnsupportedUrl(url.to_owned()))
        }
    }

    /// Awaits a query, or runs it to its end here in the blocking mode.
    async fn run<F: std::future::Future>(&self, f: F) -> F::Output {
        match &self.blocking {
            Some(b) => b.run(f),
            None => f.await,
        }
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Waits for the pool's connections to close.
    pub async fn close(&self) {
        self.run(async {
            match &self.pool {
                Pool::Sqlite(p) => p.close().await,
                Pool::Postgres(p) => p.close().await,
            }
        })
        .await;
    }

    pub async fn ping(&self) -> DbResult<()> {
        on_backend!(self, ping())
    }

    pub async fn create_user(&self, u: &NewUser, now: DateTime<Utc>) -> DbResult<User> {
        on_backend!(self, create_user(u, now))
    }

    pub async fn list_users(&self) -> DbResult<Vec<User>> {
        on_backend!(self, list_users())
    }

    pub async fn user_by_name(&self, username: &str) -> DbResult<Option<User>> {
        on_backend!(self, user_by_name(username))
    }

    /// The password hash of an active user.
    pub async fn password_hash(&self, username: &str) -> DbResult<Option<String>> {
        on_backend!(self, password_hash(username))
    }

    pub async fn count_users_with_profile(&self, profile: Profile) -> DbResult<i64> {
        on_backend!(self, count_users_with_profile(profile))
    }

    /// Stores a request with all its sequences, albums and plans, in one
    /// transaction. With `submit`, its sequences start TOBEPLANNED.
    pub async fn create_request(
        &self,
        req: &NewRequest,
        owner: &str,
        submit: bool,
        now: DateTime<Utc>,
    ) -> DbResult<RequestId> {
        on_backend!(self, create_request(req, owner, submit, now))
    }

    pub async fn request(&self, id: RequestId) -> DbResult<Option<Request>> {
        on_backend!(self, request(id))
    }

    pub async fn list_requests(&self) -> DbResult<Vec<RequestSummary>> {
        on_backend!(self, list_requests())
    }

    /// At most `limit` requests older than `before` (from the newest, without
    /// it), newest first: one page of a list.
    pub async fn requests_page(
        &self,
        before: Option<RequestId>,
        limit: u32,
    ) -> DbResult<Vec<RequestSummary>> {
        on_backend!(self, requests_page(before, limit))
    }

    pub async fn count_requests(&self) -> DbResult<i64> {
        on_backend!(self, count_requests())
    }

    /// Submits a request: its COMPLETE sequences become TOBEPLANNED. Fails,
    /// changing nothing, if a sequence is INCOMPLETE or nothing is left to submit.
    pub async fn submit_request(&self, id: RequestId, now: DateTime<Utc>) -> DbResult<Vec<SequenceId>> {
        let found = self
            .request(id)
            .await?
            .ok_or_else(|| DbError::NotFound { what: "request", key: id.to_string() })?;
        if let Some(s) = found.sequences.iter().find(|s| s.status == SequenceStatus::Incomplete) {
            return Err(DbError::Conflict(format!(
                "sequence {} \"{}\" is INCOMPLETE (it needs albums with plans); nothing submitted",
                s.id, s.spec.name
            )));
        }
        let moved: Vec<SequenceId> = on_backend!(
            self,
            move_request_sequences(id, SequenceStatus::Tobeplanned, now, |s| s == SequenceStatus::Complete)
        )?
        .into_iter()
        .map(|(sid, _)| sid)
        .collect();
        if moved.is_empty() {
            return Err(DbError::Conflict(format!("request {id} has no sequence left to submit")));
        }
        Ok(moved)
    }

    /// Replaces a request's sequences with those of `req` (an edit): refused
    /// while a sequence is submitted, running or done, for an alert request
    /// or another program. Returns the new sequences' ids.
    pub async fn edit_request(
        &self,
        id: RequestId,
        req: &NewRequest,
        now: DateTime<Utc>,
    ) -> DbResult<Vec<SequenceId>> {
        on_backend!(self, edit_request(id, req, now))
    }

    /// Withdraws a submitted request before it runs: its sequences waiting
    /// for the planner or planned (TOBEPLANNED, PLANNED, REJECTED) become
    /// COMPLETE again, to be edited or submitted later.
    pub async fn unsubmit_request(&self, id: RequestId, now: DateTime<Utc>) -> DbResult<Vec<SequenceId>> {
        let moved: Vec<SequenceId> = on_backend!(
            self,
            move_request_sequences(id, SequenceStatus::Complete, now, |s| matches!(
                s,
                SequenceStatus::Tobeplanned | SequenceStatus::Planned | SequenceStatus::Rejected
            ))
        )?
        .into_iter()
        .map(|(sid, _)| sid)
        .collect();
        if moved.is_empty() {
            return Err(DbError::Conflict(format!("request {id} has no submitted sequence waiting to run")));
        }
        Ok(moved)
    }

    /// Cancels every sequence of a request that is not finished yet.
    pub async fn cancel_request(&self, id: RequestId, now: DateTime<Utc>) -> DbResult<Vec<SequenceId>> {
        let moved: Vec<SequenceId> =
            on_backend!(self, move_request_sequences(id, SequenceStatus::Cancelled, now, |s| !s.is_final()))?
                .into_iter()
                .map(|(sid, _)| sid)
                .collect();
        if moved.is_empty() {
            return Err(DbError::Conflict(format!("request {id} has nothing left to cancel")));
        }
        Ok(moved)
    }

    /// Changes one sequence's status if the life cycle allows it; returns the old one.
    pub async fn set_sequence_status(
        &self,
        id: SequenceId,
        to: SequenceStatus,
        now: DateTime<Utc>,
    ) -> DbResult<SequenceStatus> {
        on_backend!(self, set_sequence_status(id, to, now))
    }

    pub async fn store_schedule(&self, s: &NewSchedule, now: DateTime<Utc>) -> DbResult<ScheduleId> {
        on_backend!(self, store_schedule(s, now))
    }

    /// Sequences waiting for planning (TOBEPLANNED, PLANNED, REJECTED) and those
    /// running or done inside `night_start..night_end`.
    pub async fn planning_candidates(
        &self,
        night_start: f64,
        night_end: f64,
    ) -> DbResult<Vec<PlanningCandidate>> {
        on_backend!(self, planning_candidates(night_start, night_end))
    }

    /// Stores a schedule and moves its sequences to their new statuses (and
    /// notes the night they were first considered), all in one transaction.
    /// The plan was made from the sequences as they were at `based_on`; the
    /// mark returned is the one after these writes, or `None` when something
    /// else changed the sequences since `based_on` (a request submitted while
    /// planning): the plan is stored, and it must be made again.
    pub async fn apply_schedule(
        &self,
        s: &NewSchedule,
        updates: &[StatusUpdate],
        (night, now): (chrono::NaiveDate, DateTime<Utc>),
        based_on: PlanningMark,
    ) -> DbResult<(ScheduleId, Option<PlanningMark>)> {
        on_backend!(self, apply_schedule(s, updates, night, now, based_on))
    }

    /// Records the clock of the running instance (`None`: real time, or stopped).
    pub async fn set_instance_clock(&self, clock: Option<InstanceClock>) -> DbResult<()> {
        on_backend!(self, set_instance_clock(clock))
    }

    /// The clock of the running instance, if it runs on simulated time.
    pub async fn instance_clock(&self) -> DbResult<Option<InstanceClock>> {
        on_backend!(self, instance_clock())
    }

    /// The current schedule: always the latest one stored.
    pub async fn latest_schedule(&self) -> DbResult<Option<Schedule>> {
        on_backend!(self, latest_schedule())
    }

    /// The newest schedule made at or before schedule `id` (the plans of the past).
    pub async fn schedule_at_most(&self, id: ScheduleId) -> DbResult<Option<Schedule>> {
        on_backend!(self, schedule_at_most(id.0))
    }

    pub async fn schedule_history(&self, limit: i64) -> DbResult<Vec<ScheduleSummary>> {
        on_backend!(self, schedule_history(limit))
    }

    pub async fn log(&self, entry: &LogEntry) -> DbResult<()> {
        on_backend!(self, insert_log(entry))
    }

    /// The latest log entries, newest first.
    pub async fn recent_logs(&self, limit: i64) -> DbResult<Vec<LogEntry>> {
        on_backend!(self, recent_logs(limit))
    }

    /// Records an agent's state (the supervisor's view).
    pub async fn upsert_agent(&self, a: &AgentRecord) -> DbResult<()> {
        on_backend!(self, upsert_agent(a))
    }

    pub async fn agent_heartbeat(&self, name: &str, at: DateTime<Utc>) -> DbResult<()> {
        self.agent_heartbeats(&[(name.to_owned(), at)]).await
    }

    /// The latest heartbeats of several agents, in one statement.
    pub async fn agent_heartbeats(&self, beats: &[(String, DateTime<Utc>)]) -> DbResult<()> {
        if beats.is_empty() {
            return Ok(());
        }
        for chunk in beats.chunks(1000) {
            on_conn!(self, agent_heartbeats(chunk))?;
        }
        Ok(())
    }

    pub async fn list_agents(&self) -> DbResult<Vec<AgentRecord>> {
        on_backend!(self, list_agents())
    }

    /// Stores watches and samples in one transaction; returns the kinds whose
    /// status or reasons changed (each got a history row).
    pub async fn store_env(&self, w: &EnvWrite) -> DbResult<Vec<String>> {
        if let Some(held) = &self.held {
            return self.run(async { sqlite::queries::store_env_on(&mut *held.lock().await, w).await }).await;
        }
        on_backend!(self, store_env(w))
    }

    /// Writes series points of one step (0 raw, or a bucket length in ms).
    pub async fn insert_series(&self, step: i64, rows: &[SeriesRow]) -> DbResult<()> {
        on_backend!(self, insert_series(step, rows))
    }

    /// Folds the points of step `from` in `start..end` (ms) into buckets of `to` ms.
    pub async fn aggregate_series(&self, from: i64, to: i64, start: i64, end: i64) -> DbResult<u64> {
        on_conn!(self, aggregate_series(from, to, start, end))
    }

    /// Deletes the points of step `step` older than `before` (ms).
    pub async fn prune_series(&self, step: i64, before: i64) -> DbResult<u64> {
        on_conn!(self, prune_series(step, before))
    }

    /// One quantity's points of step `step` in `start..end` (ms), in time order.
    pub async fn series(&self, quantity: &str, step: i64, start: i64, end: i64) -> DbResult<Vec<SeriesRow>> {
        on_backend!(self, series(quantity, step, start, end))
    }

    /// Like [`Db::series`], folded into buckets of `bin` ms (for long spans).
    pub async fn series_binned(
        &self,
        quantity: &str,
        step: i64,
        start: i64,
        end: i64,
        bin: i64,
    ) -> DbResult<Vec<SeriesRow>> {
        on_backend!(self, series_binned(quantity, step, start, end, bin))
    }

    /// The quantities that have series.
    pub async fn series_quantities(&self) -> DbResult<Vec<String>> {
        on_backend!(self, series_quantities())
    }

    pub async fn latest_watch(&self, kind: &str) -> DbResult<Option<StoredWatch>> {
        on_backend!(self, latest_watch(kind))
    }

    /// Adds a pending control command; returns its id.
    pub async fn submit_command(&self, actor: &str, command: &str, at: DateTime<Utc>) -> DbResult<i64> {
        on_backend!(self, submit_command(actor, command, at))
    }

    /// The commands waiting for the majordome, oldest first.
    pub async fn pending_commands(&self) -> DbResult<Vec<ControlCommand>> {
        on_conn!(self, pending_commands())
    }

    pub async fn control_command(&self, id: i64) -> DbResult<Option<ControlCommand>> {
        on_backend!(self, control_command_by_id(id))
    }

    /// Accepts or refuses a pending command, with the reason.
    pub async fn finish_command(
        &self,
        id: i64,
        accepted: bool,
        reason: &str,
        at: DateTime<Utc>,
    ) -> DbResult<()> {
        on_backend!(self, finish_command(id, accepted, reason, at))
    }

    /// The majordome's state (JSON), replaced.
    pub async fn store_majordome(&self, updated: DateTime<Utc>, body: &str) -> DbResult<()> {
        on_conn!(self, store_majordome(updated, body))
    }

    pub async fn majordome_state(&self) -> DbResult<Option<(DateTime<Utc>, String)>> {
        on_backend!(self, majordome_state())
    }

    /// Changes of a watch since an instant, oldest first.
    pub async fn watch_history(
        &self,
        kind: &str,
        since: DateTime<Utc>,
        limit: i64,
    ) -> DbResult<Vec<WatchChange>> {
        on_backend!(self, watch_history(kind, since, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://./var/ferros.db"), "sqlite://./var/ferros.db");
    }
}
