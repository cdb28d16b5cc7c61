//! Programs and their quotas: each period's night time, programs made and
//! edited with the sum of a period's quotas kept within its night time,
//! each program's and member's use, and the quota checked whenever
//! sequences are submitted.

use chrono::{DateTime, Utc};
use ferros_domain::{
    NewProgram, Period, Priority, ProgramChanges, ProgramId, ProgramUsage, Quota, ScientificProgram, Seconds,
    TimeUse, UserId,
};
use sqlx::{FromRow, Pool};

use super::Db;
use super::queries::{Tx, begin_write, corrupt};
use crate::{DbError, DbResult};

/// The statuses whose time a program has asked for and not yet used.
pub(crate) const ASKED: &str = "('TOBEPLANNED','PLANNED','REJECTED','EXECUTING')";

/// One second of slack on sums of floating-point times.
const SLACK_S: f64 = 1.0;

#[derive(FromRow)]
struct ProgramRow {
    id: i64,
    name: String,
    description: String,
    pi_user_id: Option<i64>,
    period: String,
    priority: i64,
    quota_s: f64,
    used_s: f64,
    period_night_s: f64,
}

impl ProgramRow {
    fn into_domain(self) -> DbResult<ScientificProgram> {
        let c = corrupt("programs", self.id);
        Ok(ScientificProgram {
            id: ProgramId(self.id),
            name: self.name,
            description: self.description,
            pi: self.pi_user_id.map(UserId),
            period: self.period.parse::<Period>().map_err(&c)?,
            priority: Priority::new(self.priority as i32).map_err(&c)?,
            quota: Seconds::new("quota", self.quota_s).map_err(&c)?,
            used: Seconds::new("used", self.used_s).map_err(&c)?,
            period_night: Seconds::new("period night", self.period_night_s).map_err(&c)?,
        })
    }
}

const PROGRAM_SELECT: &str =
    "SELECT p.id, p.name, p.description, p.pi_user_id, p.period, p.priority, p.quota_s,
        p.used_s, COALESCE(pe.night_s, 0.0) AS period_night_s
    FROM programs p LEFT JOIN periods pe ON pe.code = p.period";

fn hours(s: f64) -> String {
    format!("{:.2} h", s / 3600.0)
}

fn percent(part: f64, whole: f64) -> String {
    if whole > 0.0 { format!("{:.1} %", 100.0 * part / whole) } else { "-".to_owned() }
}

pub(crate) async fn period_night(pool: &Pool<Db>, period: Period) -> DbResult<Option<Seconds>> {
    let night: Option<f64> = sqlx::query_scalar("SELECT night_s FROM periods WHERE code = $1")
        .bind(period.to_string())
        .fetch_optional(pool)
        .await?;
    night.map(|n| Seconds::new("period night", n).map_err(DbError::from)).transpose()
}

/// Records a period's night time if given (the first value stays) and
/// returns the period's recorded night time, if any.
pub(crate) async fn ensure_period(
    tx: &mut Tx<'_>,
    period: Period,
    night: Option<Seconds>,
    now: DateTime<Utc>,
) -> DbResult<Option<f64>> {
    if let Some(night) = night {
        sqlx::query(
            "INSERT INTO periods (code, night_s, created_at) VALUES ($1, $2, $3) ON CONFLICT (code) DO NOTHING",
        )
        .bind(period.to_string())
        .bind(night.get())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(sqlx::query_scalar("SELECT night_s FROM periods WHERE code = $1")
        .bind(period.to_string())
        .fetch_optional(&mut **tx)
        .await?)
}

/// The quota `quota` resolves to beside the period's other programs, or why
/// it does not fit in the period's night time. Without a known night time
/// only a quota in hours is taken, unchecked (the alert program's zero).
pub(crate) async fn fit_quota(
    tx: &mut Tx<'_>,
    name: &str,
    period: Period,
    night: Option<f64>,
    quota: Quota,
    except: Option<i64>,
) -> DbResult<f64> {
    let Some(night) = night else {
        return match quota {
            Quota::Time(t) => Ok(t.get()),
            _ => Err(DbError::Conflict(format!(
                "the night time of {period} is not known: give \"{name}\"'s quota in hours"
            ))),
        };
    };
    let others: f64 =
        sqlx::query_scalar("SELECT COALESCE(SUM(quota_s), 0.0) FROM programs WHERE period = $1 AND id <> $2")
            .bind(period.to_string())
            .bind(except.unwrap_or(-1))
            .fetch_one(&mut **tx)
            .await?;
    let night_t = Seconds::new("period night", night)?;
    let asked = quota.resolve(night_t, Seconds::new("quotas", others.max(0.0))?).get();
    let left = (night - others).max(0.0);
    if matches!(quota, Quota::Unallocated) && asked <= 0.0 {
        return Err(DbError::Conflict(format!(
            "no time is left in {period} for \"{name}\": its {} of night time are all granted; \
             give a quota (in percent or hours) and lower another program's",
            hours(night)
        )));
    }
    if others + asked > night + SLACK_S {
        return Err(DbError::Conflict(format!(
            "the quotas of {period} would total {} of its {} of night time ({} of others + {} for \"{name}\"): \
             at most {} ({}) is left; nothing changed",
            percent(others + asked, night),
            hours(night),
            hours(others),
            hours(asked),
            hours(left),
            percent(left, night),
        )));
    }
    Ok(asked)
}

pub(crate) async fn program_in(tx: &mut Tx<'_>, id: i64) -> DbResult<ScientificProgram> {
    let row: ProgramRow =
        sqlx::query_as(&format!("{PROGRAM_SELECT} WHERE p.id = $1")).bind(id).fetch_one(&mut **tx).await?;
    row.into_domain()
}

pub(crate) async fn create_program(
    pool: &Pool<Db>,
    p: &NewProgram,
    night: Option<Seconds>,
    now: DateTime<Utc>,
) -> DbResult<ScientificProgram> {
    let mut tx = begin_write(pool).await?;
    let id = insert_program(&mut tx, p, night, None, now).await?;
    let made = program_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(made)
}

/// Inserts a program (its PI, if given, a member) in the caller's
/// transaction, its quota resolved and checked against its period.
pub(crate) async fn insert_program(
    tx: &mut Tx<'_>,
    p: &NewProgram,
    night: Option<Seconds>,
    pi: Option<i64>,
    now: DateTime<Utc>,
) -> DbResult<i64> {
    NewProgram::validate_name(&p.name)?;
    let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM programs WHERE name = $1")
        .bind(&p.name)
        .fetch_optional(&mut **tx)
        .await?;
    if taken.is_some() {
        return Err(DbError::Conflict(format!("program \"{}\" already exists", p.name)));
    }
    let night = ensure_period(tx, p.period, night, now).await?;
    let quota = fit_quota(tx, &p.name, p.period, night, p.quota, None).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO programs (name, description, pi_user_id, period, priority, quota_s, used_s, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7) RETURNING id",
    )
    .bind(&p.name)
    .bind(&p.description)
    .bind(pi)
    .bind(p.period.to_string())
    .bind(i64::from(p.priority.get()))
    .bind(quota)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| match DbError::from(e) {
        DbError::Conflict(_) => DbError::Conflict(format!("program \"{}\" already exists", p.name)),
        other => other,
    })?;
    if let Some(pi) = pi {
        sqlx::query("INSERT INTO program_members (program_id, user_id) VALUES ($1, $2)")
            .bind(id)
            .bind(pi)
            .execute(&mut **tx)
            .await?;
    }
    Ok(id)
}

pub(crate) async fn update_program(
    pool: &Pool<Db>,
    name: &str,
    changes: &ProgramChanges,
    night: Option<Seconds>,
    now: DateTime<Utc>,
) -> DbResult<ScientificProgram> {
    let mut tx = begin_write(pool).await?;
    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM programs WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
    let id = id.ok_or_else(|| DbError::not_found("program", format!("\"{name}\"")))?;
    let old = program_in(&mut tx, id).await?;
    if let Some(description) = &changes.description {
        if description.chars().count() > ferros_limits::MAX_PROGRAM_TEXT {
            return Err(DbError::Conflict(format!(
                "a description is at most {} characters",
                ferros_limits::MAX_PROGRAM_TEXT
            )));
        }
        sqlx::query("UPDATE programs SET description = $1 WHERE id = $2")
            .bind(description)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(priority) = changes.priority {
        sqlx::query("UPDATE programs SET priority = $1 WHERE id = $2")
            .bind(i64::from(priority.get()))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(quota) = changes.quota {
        let night = ensure_period(&mut tx, old.period, night, now).await?;
        let q = fit_quota(&mut tx, name, old.period, night, quota, Some(id)).await?;
        sqlx::query("UPDATE programs SET quota_s = $1 WHERE id = $2")
            .bind(q)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(pi) = changes.pi {
        let known: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
            .bind(pi.0)
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Err(DbError::not_found("user", pi));
        }
        sqlx::query("UPDATE programs SET pi_user_id = $1 WHERE id = $2")
            .bind(pi.0)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO program_members (program_id, user_id) VALUES ($1, $2)
             ON CONFLICT (program_id, user_id) DO NOTHING",
        )
        .bind(id)
        .bind(pi.0)
        .execute(&mut *tx)
        .await?;
    }
    let made = program_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(made)
}

pub(crate) async fn list_programs(pool: &Pool<Db>) -> DbResult<Vec<ScientificProgram>> {
    let rows: Vec<ProgramRow> =
        sqlx::query_as(&format!("{PROGRAM_SELECT} ORDER BY p.name")).fetch_all(pool).await?;
    rows.into_iter().map(ProgramRow::into_domain).collect()
}

pub(crate) async fn program_by_name(pool: &Pool<Db>, name: &str) -> DbResult<Option<ScientificProgram>> {
    let row: Option<ProgramRow> = sqlx::query_as(&format!("{PROGRAM_SELECT} WHERE p.name = $1"))
        .bind(name)
        .fetch_optional(pool)
        .await?;
    row.map(ProgramRow::into_domain).transpose()
}

pub(crate) async fn program_usage(pool: &Pool<Db>, name: &str) -> DbResult<Option<ProgramUsage>> {
    let Some(program) = program_by_name(pool, name).await? else { return Ok(None) };
    let rows: Vec<(String, f64, f64)> = sqlx::query_as(&format!(
        "SELECT u.username,
                COALESCE(SUM(CASE WHEN s.status = 'EXECUTED' THEN s.charged_s ELSE 0.0 END), 0.0),
                COALESCE(SUM(CASE WHEN s.status IN {ASKED} AND r.kind = 'routine'
                    THEN s.duration_s + s.overhead_s ELSE 0.0 END), 0.0)
         FROM requests r JOIN users u ON u.id = r.user_id JOIN sequences s ON s.request_id = r.id
         WHERE r.program_id = $1 GROUP BY u.username
         UNION ALL
         SELECT u.username, 0.0, 0.0 FROM program_members m JOIN users u ON u.id = m.user_id
         WHERE m.program_id = $1 AND NOT EXISTS
             (SELECT 1 FROM requests r WHERE r.program_id = $1 AND r.user_id = u.id)
         ORDER BY 1"
    ))
    .bind(program.id.0)
    .fetch_all(pool)
    .await?;
    let c = corrupt("programs", program.id.0);
    let mut members = Vec::with_capacity(rows.len());
    let mut asked = Seconds::ZERO;
    for (user, used, asked_s) in rows {
        let u = TimeUse {
            used: Seconds::new("used", used.max(0.0)).map_err(&c)?,
            asked: Seconds::new("asked", asked_s.max(0.0)).map_err(&c)?,
        };
        asked = asked + u.asked;
        members.push((user, u));
    }
    let total = TimeUse { used: program.used, asked };
    Ok(Some(ProgramUsage { program, total, members }))
}

/// Refuses sequences asking `asked_s` seconds of `program`'s quota when,
/// counted with them, its used and asked time would exceed it. The
/// sequences are already in the caller's transaction, submitted: they count
/// among the asked ones. Alert requests are never checked.
pub(crate) async fn check_quota(tx: &mut Tx<'_>, program: i64, what: &str, asked_s: f64) -> DbResult<()> {
    let (name, quota, used): (String, f64, f64) =
        sqlx::query_as("SELECT name, quota_s, used_s FROM programs WHERE id = $1")
            .bind(program)
            .fetch_one(&mut **tx)
            .await?;
    let pending: f64 = sqlx::query_scalar(&format!(
        "SELECT COALESCE(SUM(s.duration_s + s.overhead_s), 0.0) FROM sequences s
         JOIN requests r ON r.id = s.request_id
         WHERE r.program_id = $1 AND r.kind = 'routine' AND s.status IN {ASKED}"
    ))
    .bind(program)
    .fetch_one(&mut **tx)
    .await?;
    let before = (pending - asked_s).max(0.0);
    let free = (quota - used - before).max(0.0);
    if asked_s > free + SLACK_S {
        return Err(DbError::Conflict(format!(
            "{what} asks {} of program \"{name}\", which has {} of its {} quota free \
             ({} used, {} asked by sequences already submitted); nothing submitted",
            hours(asked_s),
            hours(free),
            hours(quota),
            hours(used),
            hours(before),
        )));
    }
    Ok(())
}
