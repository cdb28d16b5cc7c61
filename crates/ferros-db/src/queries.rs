//! The repository's queries, written once and compiled for each backend
//! (`super::Db` is `sqlx::Sqlite` in one and `sqlx::Postgres` in the other).
//! The SQL is the common subset: `$N` placeholders, `RETURNING`, BIGINT/REAL
//! numbers and UTC timestamps.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use ferros_domain::{
    Album, AlbumId, AlbumSpec, Constraints, Coordinates, Detector, DomainError, EntryStatus, GlobalStatus,
    JulianDate, LogEntry, LogLevel, NewRequest, NewSchedule, Plan, PlanId, PlanSpec, Priority,
    PriorityModulation, Profile, ProgramId, Request, RequestId, RequestKind, Schedule, ScheduleEntry,
    ScheduleId, Seconds, Sequence, SequenceId, SequenceSpec, SequenceStatus, Strategy, User, UserId, Window,
};
use sqlx::{FromRow, Pool, Transaction};

use super::Db;
use crate::{
    AgentRecord, ControlCommand, DbError, DbResult, EnvWrite, InstanceClock, NewUser, PlanningCandidate,
    PlanningMark, RequestSummary, ScheduleSummary, SeriesRow, StatusUpdate, StoredWatch, WatchChange,
};

pub(crate) type Tx<'c> = Transaction<'c, Db>;

/// One connection of the backend.
#[allow(dead_code, reason = "the blocking mode holds a connection on SQLite only")]
pub(crate) type Conn = <Db as sqlx::Database>::Connection;

/// Begins a write transaction (`BEGIN_WRITE`), safe to cancel.
///
/// sqlx's `begin_with` is not: a caller dropped while it waits (an agent
/// killed, a `select!`) can leave the transaction begun on a pooled
/// connection with nobody to end it, holding SQLite's write lock and
/// swallowing what that connection writes next. The begin runs in a task of
/// its own; if nobody awaits it any more, the transaction it returns is
/// dropped, and so rolled back.
pub(crate) async fn begin_write(pool: &Pool<Db>) -> DbResult<Tx<'static>> {
    // A call of the blocking mode runs to its end: nothing can drop it halfway.
    if crate::blocking::active() {
        return pool.begin_with(super::BEGIN_WRITE).await.map_err(DbError::from);
    }
    let pool = pool.clone();
    tokio::spawn(async move { pool.begin_with(super::BEGIN_WRITE).await })
        .await
        .map_err(|e| DbError::Query(sqlx::Error::Io(std::io::Error::other(format!("begin: {e}")))))?
        .map_err(DbError::from)
}

pub(crate) fn corrupt(table: &'static str, id: i64) -> impl Fn(DomainError) -> DbError {
    move |e| DbError::Corrupt { table, id, message: e.to_string() }
}

pub(crate) async fn ping(pool: &Pool<Db>) -> DbResult<()> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}

// ---------------------------------------------------------------- programs

async fn program_id(tx: &mut Tx<'_>, name: &str) -> DbResult<i64> {
    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM programs WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    id.ok_or_else(|| DbError::not_found("program", format!("\"{name}\"")))
}

// ------------------------------------------------------------------- users

#[derive(FromRow)]
pub(crate) struct UserRow {
    pub(crate) id: i64,
    pub(crate) username: String,
    pub(crate) email: String,
    pub(crate) active: bool,
    pub(crate) pending: bool,
    pub(crate) intentions: String,
}

/// A user row's columns, as `UserRow` reads them.
pub(crate) const USER_COLUMNS: &str = "id, username, email, active, pending, intentions";

pub(crate) async fn create_user(pool: &Pool<Db>, u: &NewUser, now: DateTime<Utc>) -> DbResult<User> {
    ferros_domain::validate_username(&u.username)?;
    let mut tx = begin_write(pool).await?;
    let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(&u.username)
        .fetch_optional(&mut *tx)
        .await?;
    if taken.is_some() {
        return Err(DbError::Conflict(format!("user \"{}\" already exists", u.username)));
    }
    if super::accounts::email_taken(&mut tx, &u.email, None).await? {
        return Err(DbError::Conflict(format!(
            "the e-mail address {} belongs to another account already",
            u.email
        )));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, email, password_hash, active, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(&u.username)
    .bind(&u.email)
    .bind(&u.password_hash)
    .bind(true)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| match DbError::from(e) {
        DbError::Conflict(_) => DbError::Conflict(format!("user \"{}\" already exists", u.username)),
        other => other,
    })?;
    for profile in &u.profiles {
        sqlx::query("INSERT INTO user_profiles (user_id, profile) VALUES ($1, $2)")
            .bind(id)
            .bind(profile.code())
            .execute(&mut *tx)
            .await?;
    }
    for name in &u.programs {
        let program = program_id(&mut tx, name).await?;
        sqlx::query("INSERT INTO program_members (program_id, user_id) VALUES ($1, $2)")
            .bind(program)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        // A PI added to a program without one becomes its PI.
        if u.profiles.contains(&Profile::Pi) {
            sqlx::query("UPDATE programs SET pi_user_id = $1 WHERE id = $2 AND pi_user_id IS NULL")
                .bind(id)
                .bind(program)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    user_by_name(pool, &u.username).await?.ok_or_else(|| DbError::not_found("user", &u.username))
}

/// Adds profiles and programs to user rows: of every user, or of `only` one.
pub(crate) async fn user_details(
    pool: &Pool<Db>,
    rows: Vec<UserRow>,
    only: Option<i64>,
) -> DbResult<Vec<User>> {
    let filter = if only.is_some() { " WHERE user_id = $1" } else { "" };
    let profiles_sql = format!("SELECT user_id, profile FROM user_profiles{filter}");
    let members_sql = format!("SELECT user_id, program_id FROM program_members{filter}");
    let mut profiles_query = sqlx::query_as::<_, (i64, String)>(&profiles_sql);
    let mut members_query = sqlx::query_as::<_, (i64, i64)>(&members_sql);
    if let Some(id) = only {
        profiles_query = profiles_query.bind(id);
        members_query = members_query.bind(id);
    }
    let profiles = profiles_query.fetch_all(pool).await?;
    let members = members_query.fetch_all(pool).await?;
    let mut by_user: HashMap<i64, BTreeSet<Profile>> = HashMap::new();
    for (uid, code) in profiles {
        let p = code.parse::<Profile>().map_err(corrupt("user_profiles", uid))?;
        by_user.entry(uid).or_default().insert(p);
    }
    let mut programs: HashMap<i64, BTreeSet<ProgramId>> = HashMap::new();
    for (uid, pid) in members {
        programs.entry(uid).or_default().insert(ProgramId(pid));
    }
    Ok(rows
        .into_iter()
        .map(|r| User {
            id: UserId(r.id),
            profiles: by_user.remove(&r.id).unwrap_or_default(),
            programs: programs.remove(&r.id).unwrap_or_default(),
            username: r.username,
            email: r.email,
            active: r.active,
            pending: r.pending,
            intentions: r.intentions,
        })
        .collect())
}

pub(crate) async fn list_users(pool: &Pool<Db>) -> DbResult<Vec<User>> {
    let rows: Vec<UserRow> = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY username"))
        .fetch_all(pool)
        .await?;
    user_details(pool, rows, None).await
}

pub(crate) async fn user_by_name(pool: &Pool<Db>, username: &str) -> DbResult<Option<User>> {
    let row: Option<UserRow> =
        sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"))
            .bind(username)
            .fetch_optional(pool)
            .await?;
    let Some(row) = row else { return Ok(None) };
    let id = row.id;
    Ok(user_details(pool, vec![row], Some(id)).await?.pop())
}

pub(crate) async fn password_hash(pool: &Pool<Db>, username: &str) -> DbResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT password_hash FROM users WHERE username = $1 AND active = $2")
        .bind(username)
        .bind(true)
        .fetch_optional(pool)
        .await?)
}

pub(crate) async fn count_users_with_profile(pool: &Pool<Db>, profile: Profile) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM user_profiles WHERE profile = $1")
        .bind(profile.code())
        .fetch_one(pool)
        .await?)
}

// ---------------------------------------------------------------- requests

pub(crate) async fn create_request(
    pool: &Pool<Db>,
    req: &NewRequest,
    owner: &str,
    submit: bool,
    now: DateTime<Utc>,
) -> DbResult<RequestId> {
    let mut tx = begin_write(pool).await?;
    let id = insert_request(&mut tx, req, owner, submit, now).await?;
    tx.commit().await?;
    Ok(id)
}

/// Inserts a request and its tree in a transaction of the caller's.
pub(crate) async fn insert_request(
    tx: &mut Tx<'_>,
    req: &NewRequest,
    owner: &str,
    submit: bool,
    now: DateTime<Utc>,
) -> DbResult<RequestId> {
    let program = program_id(tx, &req.program).await?;
    let user: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(owner)
        .fetch_optional(&mut **tx)
        .await?;
    let user = user.ok_or_else(|| DbError::not_found("user", format!("\"{owner}\"")))?;
    let request_id: i64 = sqlx::query_scalar(
        "INSERT INTO requests (name, user_id, program_id, target_type, kind, strategy, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
    )
    .bind(&req.name)
    .bind(user)
    .bind(program)
    .bind(&req.target_type)
    .bind(req.kind.code())
    .bind(req.strategy.code())
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    insert_sequences(tx, RequestId(request_id), &req.sequences, submit, now).await?;
    if submit && req.kind == RequestKind::Routine {
        let asked: f64 = req.sequences.iter().map(|s| s.spec.block().get()).sum();
        let what = format!("request \"{}\"", req.name);
        super::programs::check_quota(tx, program, &what, asked).await?;
    }
    Ok(RequestId(request_id))
}

/// Inserts sequences (with their albums and plans) into a request, in a
/// transaction of the caller's; with `submit` they start TOBEPLANNED.
pub(crate) async fn insert_sequences(
    tx: &mut Tx<'_>,
    request: RequestId,
    sequences: &[ferros_domain::NewSequence],
    submit: bool,
    now: DateTime<Utc>,
) -> DbResult<()> {
    let request_id = request.0;
    for (i, seq) in sequences.iter().enumerate() {
        let mut status = seq.initial_status();
        if submit {
            status = status.transition(SequenceStatus::Tobeplanned).map_err(|_| {
                DbError::Conflict(format!(
                    "cannot submit: sequence {} \"{}\" is {status} (it needs albums with plans)",
                    i + 1,
                    seq.spec.name
                ))
            })?;
        }
        let s = &seq.spec;
        let c = &s.constraints;
        let seq_id: i64 = sqlx::query_scalar(
            "INSERT INTO sequences (request_id, name, target, ra, dec, target_coords, jd1, jd2, duration_s,
                 overhead_s, t_prefered, priority_mod, min_alt, max_airmass, min_moon_dist, max_sun_alt,
                 mandatory, reportable_nights, status, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
             RETURNING id",
        )
        .bind(request_id)
        .bind(&s.name)
        .bind(&s.target)
        .bind(s.coordinates.map(|c| c.ra.degrees()))
        .bind(s.coordinates.map(|c| c.dec.degrees()))
        .bind(&s.target_coords)
        .bind(s.jd1.days())
        .bind(s.jd2.days())
        .bind(s.duration.get())
        .bind(s.overhead.get())
        .bind(s.t_prefered.map(JulianDate::days))
        .bind(i64::from(s.priority.get()))
        .bind(c.min_altitude)
        .bind(c.max_airmass)
        .bind(c.min_moon_distance)
        .bind(c.max_sun_altitude)
        .bind(s.mandatory)
        .bind(i64::from(s.reportable_nights))
        .bind(status.code())
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
        for album in &seq.albums {
            let album_id: i64 = sqlx::query_scalar(
                "INSERT INTO albums (sequence_id, name, detector) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(seq_id)
            .bind(&album.spec.name)
            .bind(album.spec.detector.code())
            .fetch_one(&mut **tx)
            .await?;
            for p in &album.plans {
                sqlx::query(
                    "INSERT INTO plans (album_id, name, filter, exposure_s, nb_images, binning, win_x, win_y,
                         win_width, win_height, dithering, duration_s)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(album_id)
                .bind(&p.name)
                .bind(&p.filter)
                .bind(p.exposure.get())
                .bind(i64::from(p.nb_images))
                .bind(i64::from(p.binning))
                .bind(p.window.map(|w| i64::from(w.x)))
                .bind(p.window.map(|w| i64::from(w.y)))
                .bind(p.window.map(|w| i64::from(w.width)))
                .bind(p.window.map(|w| i64::from(w.height)))
                .bind(p.dithering)
                .bind(p.duration.get())
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    Ok(())
}

#[derive(FromRow)]
struct RequestRow {
    id: i64,
    name: String,
    owner: String,
    program: String,
    target_type: String,
    kind: String,
    strategy: String,
    created_at: DateTime<Utc>,
}

const REQUEST_SELECT: &str =
    "SELECT r.id, r.name, u.username AS owner, p.name AS program, r.target_type, r.kind,
        r.strategy, r.created_at
    FROM requests r JOIN users u ON u.id = r.user_id JOIN programs p ON p.id = r.program_id";

#[derive(FromRow)]
struct SequenceRow {
    id: i64,
    request_id: i64,
    name: String,
    target: Option<String>,
    ra: Option<f64>,
    dec: Option<f64>,
    target_coords: Option<String>,
    jd1: f64,
    jd2: f64,
    duration_s: f64,
    overhead_s: f64,
    t_prefered: Option<f64>,
    priority_mod: i64,
    min_alt: Option<f64>,
    max_airmass: Option<f64>,
    min_moon_dist: Option<f64>,
    max_sun_alt: Option<f64>,
    mandatory: bool,
    reportable_nights: i64,
    status: String,
    tsp: Option<f64>,
    tep: Option<f64>,
}

impl SequenceRow {
    fn into_domain(self, albums: Vec<Album>) -> DbResult<Sequence> {
        let c = corrupt("sequences", self.id);
        let coordinates = match (self.ra, self.dec) {
            (Some(ra), Some(dec)) => Some(Coordinates::new(ra, dec).map_err(&c)?),
            _ => None,
        };
        let jd = |v: f64| JulianDate::new(v).map_err(&c);
        Ok(Sequence {
            id: SequenceId(self.id),
            request_id: RequestId(self.request_id),
            status: self.status.parse().map_err(&c)?,
            tsp: self.tsp.map(jd).transpose()?,
            tep: self.tep.map(jd).transpose()?,
            spec: SequenceSpec {
                name: self.name,
                target: self.target,
                coordinates,
                target_coords: self.target_coords,
                jd1: jd(self.jd1)?,
                jd2: jd(self.jd2)?,
                duration: Seconds::new("duration", self.duration_s).map_err(&c)?,
                overhead: Seconds::new("overhead", self.overhead_s).map_err(&c)?,
                t_prefered: self.t_prefered.map(jd).transpose()?,
                priority: PriorityModulation::new(self.priority_mod as i32).map_err(&c)?,
                constraints: Constraints {
                    min_altitude: self.min_alt,
                    max_airmass: self.max_airmass,
                    min_moon_distance: self.min_moon_dist,
                    max_sun_altitude: self.max_sun_alt,
                },
                mandatory: self.mandatory,
                reportable_nights: u8::try_from(self.reportable_nights)
                    .map_err(|_| c(DomainError::invalid("reportable_nights", "out of range")))?,
            },
            albums,
        })
    }
}

#[derive(FromRow)]
struct AlbumRow {
    id: i64,
    sequence_id: i64,
    name: String,
    detector: String,
}

#[derive(FromRow)]
struct PlanRow {
    id: i64,
    album_id: i64,
    name: String,
    filter: String,
    exposure_s: f64,
    nb_images: i64,
    binning: i64,
    win_x: Option<i64>,
    win_y: Option<i64>,
    win_width: Option<i64>,
    win_height: Option<i64>,
    dithering: f64,
    duration_s: f64,
}

impl PlanRow {
    fn into_domain(self) -> DbResult<Plan> {
        let c = corrupt("plans", self.id);
        let small = |field: &'static str, v: i64| {
            u32::try_from(v).map_err(|_| c(DomainError::invalid(field, format!("{v} is out of range"))))
        };
        let window = match (self.win_x, self.win_y, self.win_width, self.win_height) {
            (Some(x), Some(y), Some(w), Some(h)) => Some(Window {
                x: small("win_x", x)?,
                y: small("win_y", y)?,
                width: small("win_width", w)?,
                height: small("win_height", h)?,
            }),
            _ => None,
        };
        Ok(Plan {
            id: PlanId(self.id),
            spec: PlanSpec {
                name: self.name,
                filter: self.filter,
                exposure: Seconds::new("exposure", self.exposure_s).map_err(&c)?,
                nb_images: small("nb_images", self.nb_images)?,
                binning: u8::try_from(self.binning)
                    .map_err(|_| c(DomainError::invalid("binning", "out of range")))?,
                window,
                dithering: self.dithering,
                duration: Seconds::new("duration", self.duration_s).map_err(&c)?,
            },
        })
    }
}

const SEQUENCE_COLUMNS: &str =
    "s.id, s.request_id, s.name, s.target, s.ra, s.dec, s.target_coords, s.jd1, s.jd2,
    s.duration_s, s.overhead_s, s.t_prefered, s.priority_mod, s.min_alt, s.max_airmass, s.min_moon_dist,
    s.max_sun_alt, s.mandatory, s.reportable_nights, s.status, s.tsp, s.tep";

pub(crate) async fn request(pool: &Pool<Db>, id: RequestId) -> DbResult<Option<Request>> {
    let row: Option<RequestRow> =
        sqlx::query_as(&format!("{REQUEST_SELECT} WHERE r.id = $1")).bind(id.0).fetch_optional(pool).await?;
    let Some(row) = row else { return Ok(None) };
    let seqs: Vec<SequenceRow> = sqlx::query_as(&format!(
        "SELECT {SEQUENCE_COLUMNS} FROM sequences s WHERE s.request_id = $1 ORDER BY s.id"
    ))
    .bind(id.0)
    .fetch_all(pool)
    .await?;
    let albums: Vec<AlbumRow> = sqlx::query_as(
        "SELECT a.id, a.sequence_id, a.name, a.detector FROM albums a
         JOIN sequences s ON s.id = a.sequence_id WHERE s.request_id = $1 ORDER BY a.id",
    )
    .bind(id.0)
    .fetch_all(pool)
    .await?;
    let plans: Vec<PlanRow> = sqlx::query_as(
        "SELECT p.id, p.album_id, p.name, p.filter, p.exposure_s, p.nb_images, p.binning, p.win_x, p.win_y,
                p.win_width, p.win_height, p.dithering, p.duration_s
         FROM plans p JOIN albums a ON a.id = p.album_id JOIN sequences s ON s.id = a.sequence_id
         WHERE s.request_id = $1 ORDER BY p.id",
    )
    .bind(id.0)
    .fetch_all(pool)
    .await?;

    let mut plans_by_album: HashMap<i64, Vec<Plan>> = HashMap::new();
    for p in plans {
        let album = p.album_id;
        plans_by_album.entry(album).or_default().push(p.into_domain()?);
    }
    let mut albums_by_seq: HashMap<i64, Vec<Album>> = HashMap::new();
    for a in albums {
        let detector = a.detector.parse::<Detector>().map_err(corrupt("albums", a.id))?;
        albums_by_seq.entry(a.sequence_id).or_default().push(Album {
            id: AlbumId(a.id),
            spec: AlbumSpec { name: a.name, detector },
            plans: plans_by_album.remove(&a.id).unwrap_or_default(),
        });
    }
    let sequences = seqs
        .into_iter()
        .map(|s| {
            let albums = albums_by_seq.remove(&s.id).unwrap_or_default();
            s.into_domain(albums)
        })
        .collect::<DbResult<Vec<_>>>()?;
    let c = corrupt("requests", row.id);
    Ok(Some(Request {
        id: RequestId(row.id),
        name: row.name,
        owner: row.owner,
        program: row.program,
        target_type: row.target_type,
        kind: row.kind.parse::<RequestKind>().map_err(&c)?,
        strategy: row.strategy.parse::<Strategy>().map_err(&c)?,
        created_at: row.created_at,
        sequences,
    }))
}

pub(crate) async fn list_requests(pool: &Pool<Db>) -> DbResult<Vec<RequestSummary>> {
    let rows: Vec<RequestRow> =
        sqlx::query_as(&format!("{REQUEST_SELECT} ORDER BY r.id")).fetch_all(pool).await?;
    let statuses: Vec<(i64, String)> =
        sqlx::query_as("SELECT request_id, status FROM sequences ORDER BY id").fetch_all(pool).await?;
    summaries(rows, statuses)
}

/// At most `limit` requests older than `before` (all, without it), newest first.
pub(crate) async fn requests_page(
    pool: &Pool<Db>,
    before: Option<RequestId>,
    limit: u32,
) -> DbResult<Vec<RequestSummary>> {
    let before = before.map_or(i64::MAX, |b| b.0);
    let rows: Vec<RequestRow> =
        sqlx::query_as(&format!("{REQUEST_SELECT} WHERE r.id < $1 ORDER BY r.id DESC LIMIT $2"))
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
    let (Some(newest), Some(oldest)) = (rows.first().map(|r| r.id), rows.last().map(|r| r.id)) else {
        return Ok(Vec::new());
    };
    let statuses: Vec<(i64, String)> = sqlx::query_as(
        "SELECT request_id, status FROM sequences WHERE request_id BETWEEN $1 AND $2 ORDER BY id",
    )
    .bind(oldest)
    .bind(newest)
    .fetch_all(pool)
    .await?;
    summaries(rows, statuses)
}

/// How many requests there are.
pub(crate) async fn count_requests(pool: &Pool<Db>) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM requests").fetch_one(pool).await?)
}

fn summaries(rows: Vec<RequestRow>, statuses: Vec<(i64, String)>) -> DbResult<Vec<RequestSummary>> {
    let mut by_request: HashMap<i64, Vec<SequenceStatus>> = HashMap::new();
    for (rid, st) in statuses {
        by_request.entry(rid).or_default().push(st.parse().map_err(corrupt("sequences", rid))?);
    }
    rows.into_iter()
        .map(|r| {
            let c = corrupt("requests", r.id);
            Ok(RequestSummary {
                id: RequestId(r.id),
                kind: r.kind.parse().map_err(&c)?,
                strategy: r.strategy.parse().map_err(&c)?,
                sequence_statuses: by_request.remove(&r.id).unwrap_or_default(),
                name: r.name,
                owner: r.owner,
                program: r.program,
                created_at: r.created_at,
            })
        })
        .collect()
}

/// Moves every sequence of a request that `pick` selects to `to`, in one
/// transaction; each change is guarded by the status it was read with.
pub(crate) async fn move_request_sequences(
    pool: &Pool<Db>,
    id: RequestId,
    to: SequenceStatus,
    now: DateTime<Utc>,
    pick: fn(SequenceStatus) -> bool,
) -> DbResult<Vec<(SequenceId, SequenceStatus)>> {
    let mut tx = begin_write(pool).await?;
    let found: Option<(i64, String)> = sqlx::query_as("SELECT program_id, kind FROM requests WHERE id = $1")
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await?;
    let Some((program, kind)) = found else {
        return Err(DbError::not_found("request", id));
    };
    let rows: Vec<(i64, String, String, f64)> = sqlx::query_as(
        "SELECT id, name, status, duration_s + overhead_s FROM sequences WHERE request_id = $1 ORDER BY id",
    )
    .bind(id.0)
    .fetch_all(&mut *tx)
    .await?;
    let mut moved = Vec::new();
    let mut asked = 0.0;
    for (sid, name, st, block) in rows {
        let from: SequenceStatus = st.parse().map_err(corrupt("sequences", sid))?;
        if !pick(from) {
            continue;
        }
        from.transition(to).map_err(|e| DbError::Conflict(format!("sequence {sid} \"{name}\": {e}")))?;
        guarded_status_update(&mut tx, SequenceId(sid), from, to, now).await?;
        moved.push((SequenceId(sid), from));
        asked += block;
    }
    // Submitting asks for time: within the program's quota (checked after
    // the moves, whose sequences were not counted as asked before them).
    if to == SequenceStatus::Tobeplanned && kind == RequestKind::Routine.code() && !moved.is_empty() {
        let what = format!("request {id}");
        super::programs::check_quota(&mut tx, program, &what, asked).await?;
    }
    tx.commit().await?;
    Ok(moved)
}

/// Replaces a request's sequences with those of `req` (its name and target
/// type too), in one transaction: refused, changing nothing, for an alert
/// request, another program, or a sequence submitted, running or done (unsubmit
/// first). The old sequences are kept CANCELLED, for the history of past plans.
pub(crate) async fn edit_request(
    pool: &Pool<Db>,
    id: RequestId,
    req: &NewRequest,
    now: DateTime<Utc>,
) -> DbResult<Vec<SequenceId>> {
    let mut tx = begin_write(pool).await?;
    let found: Option<(String, String)> = sqlx::query_as(
        "SELECT r.kind, p.name FROM requests r JOIN programs p ON p.id = r.program_id WHERE r.id = $1",
    )
    .bind(id.0)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((kind, program)) = found else { return Err(DbError::not_found("request", id)) };
    if kind == "alert" || req.kind == ferros_domain::RequestKind::Alert {
        return Err(DbError::Conflict(format!(
            "request {id}: alert requests change only through their notices"
        )));
    }
    if program != req.program {
        return Err(DbError::Conflict(format!(
            "request {id} belongs to program \"{program}\", not \"{}\": upload a new request instead",
            req.program
        )));
    }
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, name, status FROM sequences WHERE request_id = $1 ORDER BY id")
            .bind(id.0)
            .fetch_all(&mut *tx)
            .await?;
    let mut old = Vec::new();
    for (sid, name, st) in rows {
        let from: SequenceStatus = st.parse().map_err(corrupt("sequences", sid))?;
        match from {
            SequenceStatus::Incomplete | SequenceStatus::Complete => old.push((sid, from)),
            s if s.is_final() => {}
            s => {
                return Err(DbError::Conflict(format!(
                    "sequence {sid} \"{name}\" is {s}: unsubmit the request before editing it; nothing changed"
                )));
            }
        }
    }
    if old.is_empty() {
        return Err(DbError::Conflict(format!(
            "request {id} has no open sequence to edit (all are done or cancelled): upload a new request instead"
        )));
    }
    for (sid, from) in old {
        guarded_status_update(&mut tx, SequenceId(sid), from, SequenceStatus::Cancelled, now).await?;
    }
    let first_new: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM sequences").fetch_one(&mut *tx).await?;
    insert_sequences(&mut tx, id, &req.sequences, false, now).await?;
    sqlx::query(
        "UPDATE requests SET name = $1, target_type = $2, strategy = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(&req.name)
    .bind(&req.target_type)
    .bind(req.strategy.code())
    .bind(now)
    .bind(id.0)
    .execute(&mut *tx)
    .await?;
    let new: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM sequences WHERE request_id = $1 AND id > $2 ORDER BY id")
            .bind(id.0)
            .bind(first_new)
            .fetch_all(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(new.into_iter().map(SequenceId).collect())
}

async fn guarded_status_update(
    tx: &mut Tx<'_>,
    id: SequenceId,
    from: SequenceStatus,
    to: SequenceStatus,
    now: DateTime<Utc>,
) -> DbResult<()> {
    let done = sqlx::query("UPDATE sequences SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
        .bind(to.code())
        .bind(now)
        .bind(id.0)
        .bind(from.code())
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(DbError::Conflict(format!("sequence {id} changed status meanwhile; try again")))
    }
}

pub(crate) async fn set_sequence_status(
    pool: &Pool<Db>,
    id: SequenceId,
    to: SequenceStatus,
    now: DateTime<Utc>,
) -> DbResult<SequenceStatus> {
    let mut tx = begin_write(pool).await?;
    let st: Option<String> = sqlx::query_scalar("SELECT status FROM sequences WHERE id = $1")
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await?;
    let from: SequenceStatus =
        st.ok_or_else(|| DbError::not_found("sequence", id))?.parse().map_err(corrupt("sequences", id.0))?;
    from.transition(to)?;
    guarded_status_update(&mut tx, id, from, to, now).await?;
    tx.commit().await?;
    Ok(from)
}

// --------------------------------------------------------------- schedules

pub(crate) async fn store_schedule(
    pool: &Pool<Db>,
    s: &NewSchedule,
    now: DateTime<Utc>,
) -> DbResult<ScheduleId> {
    let mut tx = begin_write(pool).await?;
    let id = insert_schedule(&mut tx, s, now).await?;
    tx.commit().await?;
    Ok(id)
}

async fn insert_schedule(tx: &mut Tx<'_>, s: &NewSchedule, now: DateTime<Utc>) -> DbResult<ScheduleId> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO schedules (created_at, night_start, night_end, plan_start) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(now)
    .bind(s.night_start.days())
    .bind(s.night_end.days())
    .bind(s.plan_start.days())
    .fetch_one(&mut **tx)
    .await?;
    for e in &s.entries {
        sqlx::query(
            "INSERT INTO schedule_entries (schedule_id, sequence_id, status, tsp, tep, slack_left, slack_right, reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(e.sequence_id.0)
        .bind(e.status.code())
        .bind(e.tsp.map(JulianDate::days))
        .bind(e.tep.map(JulianDate::days))
        .bind(e.slack_left.get())
        .bind(e.slack_right.get())
        .bind(&e.reason)
        .execute(&mut **tx)
        .await
        .map_err(|err| match &err {
            sqlx::Error::Database(d) if d.is_foreign_key_violation() => DbError::not_found("sequence", e.sequence_id),
            _ => DbError::from(err),
        })?;
    }
    Ok(ScheduleId(id))
}

#[derive(FromRow)]
struct ScheduleRow {
    id: i64,
    created_at: DateTime<Utc>,
    night_start: f64,
    night_end: f64,
    plan_start: f64,
}

#[derive(FromRow)]
struct EntryRow {
    sequence_id: i64,
    status: String,
    tsp: Option<f64>,
    tep: Option<f64>,
    slack_left: f64,
    slack_right: f64,
    reason: String,
}

pub(crate) async fn latest_schedule(pool: &Pool<Db>) -> DbResult<Option<Schedule>> {
    schedule_at_most(pool, i64::MAX).await
}

/// The newest schedule whose id is at most `id` (past plans, PREV / NEXT).
pub(crate) async fn schedule_at_most(pool: &Pool<Db>, id: i64) -> DbResult<Option<Schedule>> {
    let row: Option<ScheduleRow> = sqlx::query_as(
        "SELECT id, created_at, night_start, night_end, plan_start FROM schedules WHERE id <= $1
         ORDER BY id DESC LIMIT 1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let entries: Vec<EntryRow> = sqlx::query_as(
        "SELECT sequence_id, status, tsp, tep, slack_left, slack_right, reason FROM schedule_entries
         WHERE schedule_id = $1 ORDER BY tsp IS NULL, tsp, sequence_id",
    )
    .bind(row.id)
    .fetch_all(pool)
    .await?;
    let c = corrupt("schedules", row.id);
    let jd = |v: f64| JulianDate::new(v).map_err(&c);
    let entries = entries
        .into_iter()
        .map(|e| {
            Ok(ScheduleEntry {
                sequence_id: SequenceId(e.sequence_id),
                status: e.status.parse::<EntryStatus>().map_err(&c)?,
                tsp: e.tsp.map(jd).transpose()?,
                tep: e.tep.map(jd).transpose()?,
                slack_left: Seconds::new("slack_left", e.slack_left).map_err(&c)?,
                slack_right: Seconds::new("slack_right", e.slack_right).map_err(&c)?,
                reason: e.reason,
            })
        })
        .collect::<DbResult<Vec<_>>>()?;
    Ok(Some(Schedule {
        id: ScheduleId(row.id),
        created_at: row.created_at,
        night_start: jd(row.night_start)?,
        night_end: jd(row.night_end)?,
        plan_start: jd(row.plan_start)?,
        entries,
    }))
}

pub(crate) async fn schedule_history(pool: &Pool<Db>, limit: i64) -> DbResult<Vec<ScheduleSummary>> {
    let rows: Vec<(i64, DateTime<Utc>, f64, f64, i64, i64)> = sqlx::query_as(
        "SELECT s.id, s.created_at, s.night_start, s.night_end,
                (SELECT COUNT(*) FROM schedule_entries e WHERE e.schedule_id = s.id AND e.status = 'PLANNED'),
                (SELECT COUNT(*) FROM schedule_entries e WHERE e.schedule_id = s.id)
         FROM schedules s ORDER BY s.id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(id, created_at, start, end, planned, total)| {
            let c = corrupt("schedules", id);
            Ok(ScheduleSummary {
                id: ScheduleId(id),
                created_at,
                night_start: JulianDate::new(start).map_err(&c)?,
                night_end: JulianDate::new(end).map_err(&c)?,
                planned,
                entries: total,
            })
        })
        .collect()
}

// ---------------------------------------------------------------- planning

#[derive(FromRow)]
struct CandidateRow {
    #[sqlx(flatten)]
    sequence: SequenceRow,
    kind: String,
    strategy: String,
    program_id: i64,
    program_priority: i64,
    first_night: Option<String>,
}

/// Sequences waiting for the planner, and the running or done ones of the night.
pub(crate) async fn planning_candidates(
    pool: &Pool<Db>,
    night_start: f64,
    night_end: f64,
) -> DbResult<Vec<PlanningCandidate>> {
    let rows: Vec<CandidateRow> = sqlx::query_as(&format!(
        "SELECT {SEQUENCE_COLUMNS}, r.kind, r.strategy, p.id AS program_id, p.priority AS program_priority,
                s.first_night
         FROM sequences s JOIN requests r ON r.id = s.request_id JOIN programs p ON p.id = r.program_id
         WHERE s.status IN ('TOBEPLANNED', 'PLANNED', 'REJECTED')
            OR (s.status IN ('EXECUTING', 'EXECUTED') AND s.tep > $1 AND s.tsp < $2)
         ORDER BY s.id"
    ))
    .bind(night_start)
    .bind(night_end)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            let id = r.sequence.id;
            let c = corrupt("sequences", id);
            let first_night = r
                .first_night
                .map(|d| {
                    chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                        .map_err(|e| c(DomainError::invalid("first_night", e.to_string())))
                })
                .transpose()?;
            Ok(PlanningCandidate {
                kind: r.kind.parse().map_err(&c)?,
                strategy: r.strategy.parse().map_err(&c)?,
                program_id: ProgramId(r.program_id),
                program_priority: Priority::new(r.program_priority as i32).map_err(&c)?,
                first_night,
                sequence: r.sequence.into_domain(Vec::new())?,
            })
        })
        .collect()
}

/// Stores a schedule and applies its outcome to the sequences, in one transaction.
pub(crate) async fn apply_schedule(
    pool: &Pool<Db>,
    s: &NewSchedule,
    updates: &[StatusUpdate],
    night: chrono::NaiveDate,
    now: DateTime<Utc>,
    based_on: PlanningMark,
) -> DbResult<(ScheduleId, Option<PlanningMark>)> {
    let mut tx = begin_write(pool).await?;
    let unchanged = super::execution::planning_mark(&mut *tx).await? == based_on;
    let id = insert_schedule(&mut tx, s, now).await?;
    for u in updates {
        let done = sqlx::query(
            "UPDATE sequences SET status = $1, tsp = $2, tep = $3, updated_at = $4,
                 first_night = COALESCE(first_night, $5)
             WHERE id = $6 AND status = $7",
        )
        .bind(u.to.code())
        .bind(u.tsp.map(JulianDate::days))
        .bind(u.tep.map(JulianDate::days))
        .bind(now)
        .bind(night.format("%Y-%m-%d").to_string())
        .bind(u.id.0)
        .bind(u.from.code())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(DbError::Conflict(format!("sequence {} changed status meanwhile; plan again", u.id)));
        }
    }
    super::alerts::stamp_alerts_planned(&mut *tx, now).await?;
    let after = if unchanged { Some(super::execution::planning_mark(&mut *tx).await?) } else { None };
    tx.commit().await?;
    Ok((id, after))
}

// -------------------------------------------------------------------- logs

pub(crate) async fn insert_log(pool: &Pool<Db>, e: &LogEntry) -> DbResult<()> {
    sqlx::query("INSERT INTO logs (at, source, level, message) VALUES ($1, $2, $3, $4)")
        .bind(e.at)
        .bind(&e.source)
        .bind(e.level.code())
        .bind(&e.message)
        .execute(pool)
        .await?;
    Ok(())
}

pub(crate) async fn recent_logs(pool: &Pool<Db>, limit: i64) -> DbResult<Vec<LogEntry>> {
    let rows: Vec<(i64, DateTime<Utc>, String, String, String)> =
        sqlx::query_as("SELECT id, at, source, level, message FROM logs ORDER BY id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(pool)
            .await?;
    rows.into_iter()
        .map(|(id, at, source, level, message)| {
            Ok(LogEntry {
                at,
                source,
                level: level.parse::<LogLevel>().map_err(corrupt("logs", id))?,
                message,
            })
        })
        .collect()
}

// ------------------------------------------------------------------ agents

pub(crate) async fn upsert_agent(pool: &Pool<Db>, a: &AgentRecord) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO agents (name, state, started_at, heartbeat_at, restarts, last_error) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (name) DO UPDATE SET state = excluded.state, started_at = excluded.started_at, \
         heartbeat_at = excluded.heartbeat_at, restarts = excluded.restarts, last_error = excluded.last_error",
    )
    .bind(&a.name)
    .bind(&a.state)
    .bind(a.started_at)
    .bind(a.heartbeat_at)
    .bind(a.restarts)
    .bind(&a.last_error)
    .execute(pool)
    .await?;
    Ok(())
}

/// The latest heartbeat of each agent named, in one statement (at most
/// 1000 agents: 2 values a row, and SQLite takes up to 32766 a statement).
pub(crate) async fn agent_heartbeats<'c>(
    pool: impl sqlx::Executor<'c, Database = Db>,
    beats: &[(String, DateTime<Utc>)],
) -> DbResult<()> {
    let mut b = sqlx::QueryBuilder::<Db>::new("UPDATE agents SET heartbeat_at = v.column2 FROM (");
    b.push_values(beats, |mut r, (name, at)| {
        r.push_bind(name).push_bind(*at);
    });
    b.push(") AS v WHERE agents.name = v.column1");
    b.build().execute(pool).await?;
    Ok(())
}

pub(crate) async fn list_agents(pool: &Pool<Db>) -> DbResult<Vec<AgentRecord>> {
    Ok(sqlx::query_as::<_, AgentRecord>(
        "SELECT name, state, started_at, heartbeat_at, restarts, last_error FROM agents ORDER BY name",
    )
    .fetch_all(pool)
    .await?)
}

// ------------------------------------------------------------- environment

fn status_code(s: GlobalStatus) -> &'static str {
    match s {
        GlobalStatus::Safe => "SAFE",
        GlobalStatus::Unsafe => "UNSAFE",
    }
}

fn reasons_of(table: &'static str, json: &str) -> DbResult<Vec<String>> {
    serde_json::from_str(json).map_err(|e| DbError::Corrupt {
        table,
        id: 0,
        message: format!("reasons: {e}"),
    })
}

fn parse_status(table: &'static str, s: &str) -> DbResult<GlobalStatus> {
    match s {
        "SAFE" => Ok(GlobalStatus::Safe),
        "UNSAFE" => Ok(GlobalStatus::Unsafe),
        other => Err(DbError::Corrupt { table, id: 0, message: format!("status {other}") }),
    }
}

/// Stores the latest watches, a history row for each whose status or reasons
/// changed, and the raw samples: one transaction. Returns the kinds that changed.
pub(crate) async fn store_env(pool: &Pool<Db>, w: &EnvWrite) -> DbResult<Vec<String>> {
    let mut tx = begin_write(pool).await?;
    let changed = store_env_in(&mut tx, w).await?;
    tx.commit().await?;
    Ok(changed)
}

/// [`store_env`] on one connection (the blocking mode's, which nothing cancels halfway).
#[allow(dead_code, reason = "the blocking mode holds a connection on SQLite only")]
pub(crate) async fn store_env_on(c: &mut Conn, w: &EnvWrite) -> DbResult<Vec<String>> {
    let mut tx = sqlx::Connection::begin_with(c, super::BEGIN_WRITE).await?;
    let changed = store_env_in(&mut tx, w).await?;
    tx.commit().await?;
    Ok(changed)
}

async fn store_env_in(tx: &mut Tx<'_>, w: &EnvWrite) -> DbResult<Vec<String>> {
    let rows = w
        .watches
        .iter()
        .map(|watch| {
            let reasons = serde_json::to_string(&watch.reasons).map_err(|e| DbError::Corrupt {
                table: "watches",
                id: 0,
                message: e.to_string(),
            })?;
            Ok((watch, status_code(watch.global_status), reasons))
        })
        .collect::<DbResult<Vec<_>>>()?;
    let mut changed = Vec::new();
    if !rows.is_empty() {
        // One statement for every kind, each written from the start: with
        // SQLite a read then a write in one transaction may fail when another
        // connection wrote between. A kind whose status or reasons differ
        // from the stored ones gets a history row.
        let mut b = sqlx::QueryBuilder::<Db>::new(
            "INSERT INTO watch_history (kind, at, global_status, reasons)              SELECT v.column1, v.column2, v.column3, v.column4 FROM (",
        );
        b.push_values(&rows, |mut r, (watch, status, reasons)| {
            r.push_bind(&watch.kind).push_bind(watch.updated).push_bind(*status).push_bind(reasons);
        });
        b.push(
            ") AS v WHERE NOT EXISTS (SELECT 1 FROM watches w WHERE w.kind = v.column1              AND w.global_status = v.column3 AND w.reasons = v.column4) RETURNING kind",
        );
        changed = b.build_query_scalar::<String>().fetch_all(&mut **tx).await?;
        let mut b = sqlx::QueryBuilder::<Db>::new(
            "INSERT INTO watches (kind, global_status, reasons, updated, body) ",
        );
        b.push_values(&rows, |mut r, (watch, status, reasons)| {
            r.push_bind(&watch.kind)
                .push_bind(*status)
                .push_bind(reasons)
                .push_bind(watch.updated)
                .push_bind(&watch.body);
        });
        b.push(
            " ON CONFLICT (kind) DO UPDATE SET global_status = excluded.global_status, \
             reasons = excluded.reasons, updated = excluded.updated, body = excluded.body",
        );
        b.build().execute(&mut **tx).await?;
    }
    let points: Vec<SeriesRow> = w
        .samples
        .iter()
        .map(|(q, t, v)| SeriesRow { quantity: q.clone(), t: *t, mean: *v, min: *v, max: *v, n: 1 })
        .collect();
    insert_series_in(tx, 0, &points).await?;
    Ok(changed)
}

async fn insert_series_in(tx: &mut Tx<'_>, step: i64, rows: &[SeriesRow]) -> DbResult<()> {
    // 7 values a row; SQLite takes up to 32766 bound values a statement.
    for chunk in rows.chunks(1000) {
        let mut b =
            sqlx::QueryBuilder::<Db>::new("INSERT INTO env_series (quantity, step, t, mean, min, max, n) ");
        b.push_values(chunk, |mut r, p| {
            r.push_bind(&p.quantity)
                .push_bind(step)
                .push_bind(p.t)
                .push_bind(p.mean)
                .push_bind(p.min)
                .push_bind(p.max)
                .push_bind(p.n);
        });
        b.push(
            " ON CONFLICT (quantity, step, t) DO UPDATE SET mean = excluded.mean, min = excluded.min, \
             max = excluded.max, n = excluded.n",
        );
        b.build().execute(&mut **tx).await?;
    }
    Ok(())
}

pub(crate) async fn insert_series(pool: &Pool<Db>, step: i64, rows: &[SeriesRow]) -> DbResult<()> {
    let mut tx = begin_write(pool).await?;
    insert_series_in(&mut tx, step, rows).await?;
    tx.commit().await?;
    Ok(())
}

/// Folds the `from` series of `start..end` (ms) into buckets of `to` ms.
pub(crate) async fn aggregate_series<'c>(
    pool: impl sqlx::Executor<'c, Database = Db>,
    from: i64,
    to: i64,
    start: i64,
    end: i64,
) -> DbResult<u64> {
    let done = sqlx::query(
        "INSERT INTO env_series (quantity, step, t, mean, min, max, n) \
         SELECT quantity, $1, (t / $1) * $1, SUM(mean * n) / SUM(n), MIN(min), MAX(max), SUM(n) \
         FROM env_series WHERE step = $2 AND t >= $3 AND t < $4 GROUP BY 1, 3 \
         ON CONFLICT (quantity, step, t) DO UPDATE SET mean = excluded.mean, min = excluded.min, \
         max = excluded.max, n = excluded.n",
    )
    .bind(to)
    .bind(from)
    .bind(start)
    .bind(end)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

pub(crate) async fn prune_series<'c>(
    pool: impl sqlx::Executor<'c, Database = Db>,
    step: i64,
    before: i64,
) -> DbResult<u64> {
    let done = sqlx::query("DELETE FROM env_series WHERE step = $1 AND t < $2")
        .bind(step)
        .bind(before)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

pub(crate) async fn series(
    pool: &Pool<Db>,
    quantity: &str,
    step: i64,
    start: i64,
    end: i64,
) -> DbResult<Vec<SeriesRow>> {
    let rows: Vec<(String, i64, f64, f64, f64, i64)> = sqlx::query_as(
        "SELECT quantity, t, mean, min, max, n FROM env_series \
         WHERE quantity = $1 AND step = $2 AND t >= $3 AND t < $4 ORDER BY t",
    )
    .bind(quantity)
    .bind(step)
    .bind(start)
    .bind(end)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(quantity, t, mean, min, max, n)| SeriesRow { quantity, t, mean, min, max, n })
        .collect())
}

pub(crate) async fn series_binned(
    pool: &Pool<Db>,
    quantity: &str,
    step: i64,
    start: i64,
    end: i64,
    bin: i64,
) -> DbResult<Vec<SeriesRow>> {
    let rows: Vec<(i64, f64, f64, f64, i64)> = sqlx::query_as(
        "SELECT (t / $5) * $5, SUM(mean * n) / SUM(n), MIN(min), MAX(max), CAST(SUM(n) AS BIGINT) FROM env_series \
         WHERE quantity = $1 AND step = $2 AND t >= $3 AND t < $4 GROUP BY 1 ORDER BY 1",
    )
    .bind(quantity)
    .bind(step)
    .bind(start)
    .bind(end)
    .bind(bin)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(t, mean, min, max, n)| SeriesRow { quantity: quantity.to_owned(), t, mean, min, max, n })
        .collect())
}

pub(crate) async fn series_quantities(pool: &Pool<Db>) -> DbResult<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT quantity FROM env_series WHERE step = 600 OR step = 0 ORDER BY quantity",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(q,)| q).collect())
}

pub(crate) async fn latest_watch(pool: &Pool<Db>, kind: &str) -> DbResult<Option<StoredWatch>> {
    let row: Option<(String, String, DateTime<Utc>, String)> =
        sqlx::query_as("SELECT global_status, reasons, updated, body FROM watches WHERE kind = $1")
            .bind(kind)
            .fetch_optional(pool)
            .await?;
    row.map(|(status, reasons, updated, body)| {
        Ok(StoredWatch {
            kind: kind.to_owned(),
            global_status: parse_status("watches", &status)?,
            reasons: reasons_of("watches", &reasons)?,
            updated,
            body,
        })
    })
    .transpose()
}

pub(crate) async fn watch_history(
    pool: &Pool<Db>,
    kind: &str,
    since: DateTime<Utc>,
    limit: i64,
) -> DbResult<Vec<WatchChange>> {
    let rows: Vec<(DateTime<Utc>, String, String)> = sqlx::query_as(
        "SELECT at, global_status, reasons FROM watch_history WHERE kind = $1 AND at >= $2 ORDER BY id LIMIT $3",
    )
    .bind(kind)
    .bind(since)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(at, status, reasons)| {
            Ok(WatchChange {
                at,
                global_status: parse_status("watch_history", &status)?,
                reasons: reasons_of("watch_history", &reasons)?,
            })
        })
        .collect()
}

// ----------------------------------------------------------------- control

pub(crate) async fn submit_command(
    pool: &Pool<Db>,
    actor: &str,
    command: &str,
    at: DateTime<Utc>,
) -> DbResult<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO control_commands (at, actor, command, state) VALUES ($1, $2, $3, 'pending') RETURNING id",
    )
    .bind(at)
    .bind(actor)
    .bind(command)
    .fetch_one(pool)
    .await?;
    Ok(id)
}

type CommandRow = (i64, DateTime<Utc>, String, String, String, String, Option<DateTime<Utc>>);

fn control_command(r: CommandRow) -> ControlCommand {
    let (id, at, actor, command, state, reason, done_at) = r;
    ControlCommand { id, at, actor, command, state, reason, done_at }
}

pub(crate) async fn pending_commands<'c>(
    pool: impl sqlx::Executor<'c, Database = Db>,
) -> DbResult<Vec<ControlCommand>> {
    let rows: Vec<CommandRow> = sqlx::query_as(
        "SELECT id, at, actor, command, state, reason, done_at FROM control_commands \
         WHERE state = 'pending' ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(control_command).collect())
}

pub(crate) async fn control_command_by_id(pool: &Pool<Db>, id: i64) -> DbResult<Option<ControlCommand>> {
    let row: Option<CommandRow> = sqlx::query_as(
        "SELECT id, at, actor, command, state, reason, done_at FROM control_commands WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(control_command))
}

/// Answers a pending command; a command answered already is left as it is.
pub(crate) async fn finish_command(
    pool: &Pool<Db>,
    id: i64,
    accepted: bool,
    reason: &str,
    at: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE control_commands SET state = $2, reason = $3, done_at = $4 WHERE id = $1 AND state = 'pending'",
    )
    .bind(id)
    .bind(if accepted { "accepted" } else { "refused" })
    .bind(reason)
    .bind(at)
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn store_majordome<'c>(
    pool: impl sqlx::Executor<'c, Database = Db>,
    updated: DateTime<Utc>,
    body: &str,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO majordome_state (id, updated, body) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET updated = excluded.updated, body = excluded.body",
    )
    .bind(updated)
    .bind(body)
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn majordome_state(pool: &Pool<Db>) -> DbResult<Option<(DateTime<Utc>, String)>> {
    Ok(sqlx::query_as("SELECT updated, body FROM majordome_state WHERE id = 1").fetch_optional(pool).await?)
}

// ------------------------------------------------------------ instance clock

pub(crate) async fn set_instance_clock(pool: &Pool<Db>, c: Option<InstanceClock>) -> DbResult<()> {
    match c {
        Some(c) => {
            sqlx::query(
                "INSERT INTO instance_clock (id, clock_at, real_at, speed) VALUES (1, $1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET clock_at = excluded.clock_at, real_at = excluded.real_at, \
                 speed = excluded.speed",
            )
            .bind(c.clock_at)
            .bind(c.real_at)
            .bind(c.speed)
            .execute(pool)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM instance_clock").execute(pool).await?;
        }
    }
    Ok(())
}

pub(crate) async fn instance_clock(pool: &Pool<Db>) -> DbResult<Option<InstanceClock>> {
    let row: Option<(DateTime<Utc>, DateTime<Utc>, f64)> =
        sqlx::query_as("SELECT clock_at, real_at, speed FROM instance_clock WHERE id = 1")
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(clock_at, real_at, speed)| InstanceClock { clock_at, real_at, speed }))
}
