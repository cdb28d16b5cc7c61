//! The alert manager's queries: a notice stored with its decision and what
//! it does to requests (create, rebuild in place, cancel) and the intake's
//! read position, all in one transaction; the alerts a decision looks at;
//! the steps' times; the lists. Compiled for each backend like `queries.rs`.

use chrono::{DateTime, Utc};
use ferros_domain::{RequestId, SequenceId, SequenceStatus};
use sqlx::{FromRow, Pool};

use super::Db;
use super::queries::{begin_write, insert_request, insert_sequences};
use crate::{
    AlertEffect, AlertRecord, AlertRelated, AlertStep, AlertStored, DbError, DbResult, IntakePosition,
    NewAlert,
};

type Tx<'c> = sqlx::Transaction<'c, Db>;

/// Cited notices looked up for one decision (GCN's cite a handful).
const MAX_CITED: usize = 64;

pub(crate) async fn store_alert(
    pool: &Pool<Db>,
    a: &NewAlert,
    effect: &AlertEffect<'_>,
    position: Option<&IntakePosition>,
    now: DateTime<Utc>,
) -> DbResult<AlertStored> {
    let mut tx = begin_write(pool).await?;
    if let Some(ivorn) = &a.ivorn {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM alerts WHERE ivorn = $1")
            .bind(ivorn)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(id) = id {
            sqlx::query("UPDATE alerts SET duplicates = duplicates + 1 WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if let Some(p) = position {
                set_position(&mut tx, p).await?;
            }
            tx.commit().await?;
            return Ok(AlertStored::Duplicate { id });
        }
    }
    let request = apply(&mut tx, effect, now).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO alerts (ivorn, source, role, mission, instrument, burst, same_as, trigger_at, issued_at,
             ra, dec, error_deg, strategy, request_id, outcome, reason, xml, received_at, parsed_at, stored_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
         RETURNING id",
    )
    .bind(&a.ivorn)
    .bind(&a.source)
    .bind(&a.role)
    .bind(&a.mission)
    .bind(&a.instrument)
    .bind(&a.burst)
    .bind(a.same_as)
    .bind(a.trigger_at)
    .bind(a.issued_at)
    .bind(a.position.map(|p| p.0))
    .bind(a.position.map(|p| p.1))
    .bind(a.error_deg)
    .bind(&a.strategy)
    .bind(request.map(|r| r.0))
    .bind(&a.outcome)
    .bind(&a.reason)
    .bind(&a.xml)
    .bind(a.received_at)
    .bind(a.parsed_at)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    if let Some(p) = position {
        set_position(&mut tx, p).await?;
    }
    tx.commit().await?;
    Ok(AlertStored::New { id, request })
}

/// What a decision does to requests, in the caller's transaction: the
/// request created or rebuilt, if any.
async fn apply(tx: &mut Tx<'_>, effect: &AlertEffect<'_>, now: DateTime<Utc>) -> DbResult<Option<RequestId>> {
    Ok(match effect {
        AlertEffect::Nothing => None,
        AlertEffect::Create { tree, owner } => Some(insert_request(tx, tree, owner, true, now).await?),
        AlertEffect::Update { request, tree } => {
            cancel_open(tx, *request, now).await?;
            insert_sequences(tx, *request, &tree.sequences, true, now).await?;
            sqlx::query("UPDATE requests SET name = $1, updated_at = $2 WHERE id = $3")
                .bind(&tree.name)
                .bind(now)
                .bind(request.0)
                .execute(&mut **tx)
                .await?;
            Some(*request)
        }
        AlertEffect::Cancel { requests } => {
            for r in *requests {
                cancel_open(tx, *r, now).await?;
            }
            None
        }
    })
}

/// Cancels the sequences of an alert request that are not over (an
/// EXECUTING one too: the executor stops it).
async fn cancel_open(tx: &mut Tx<'_>, request: RequestId, now: DateTime<Utc>) -> DbResult<()> {
    let kind: Option<String> = sqlx::query_scalar("SELECT kind FROM requests WHERE id = $1")
        .bind(request.0)
        .fetch_optional(&mut **tx)
        .await?;
    match kind.as_deref() {
        None => return Err(DbError::not_found("request", request)),
        Some("alert") => {}
        Some(_) => return Err(DbError::Conflict(format!("request {request} is not an alert request"))),
    }
    let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, status FROM sequences WHERE request_id = $1")
        .bind(request.0)
        .fetch_all(&mut **tx)
        .await?;
    for (id, st) in rows {
        let from: SequenceStatus = st.parse().map_err(|e: ferros_domain::DomainError| DbError::Corrupt {
            table: "sequences",
            id,
            message: e.to_string(),
        })?;
        if from.can_become(SequenceStatus::Cancelled) {
            let done = sqlx::query(
                "UPDATE sequences SET status = 'CANCELLED', updated_at = $1 WHERE id = $2 AND status = $3",
            )
            .bind(now)
            .bind(id)
            .bind(from.code())
            .execute(&mut **tx)
            .await?;
            if done.rows_affected() != 1 {
                return Err(DbError::Conflict(format!(
                    "sequence {} changed status meanwhile; try again",
                    SequenceId(id)
                )));
            }
        }
    }
    Ok(())
}

async fn set_position(tx: &mut Tx<'_>, p: &IntakePosition) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO intake_positions (source, topic, part, next_offset) VALUES ($1, $2, $3, $4)
         ON CONFLICT (source, topic, part) DO UPDATE SET next_offset = excluded.next_offset",
    )
    .bind(&p.source)
    .bind(&p.topic)
    .bind(i64::from(p.partition))
    .bind(p.next_offset)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) async fn set_intake_position(pool: &Pool<Db>, p: &IntakePosition) -> DbResult<()> {
    let mut tx = begin_write(pool).await?;
    set_position(&mut tx, p).await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn intake_positions(pool: &Pool<Db>, source: &str) -> DbResult<Vec<IntakePosition>> {
    let rows: Vec<(String, String, i64, i64)> =
        sqlx::query_as("SELECT source, topic, part, next_offset FROM intake_positions WHERE source = $1 ORDER BY topic, part")
            .bind(source)
            .fetch_all(pool)
            .await?;
    rows.into_iter()
        .map(|(source, topic, part, next_offset)| {
            let partition = i32::try_from(part).map_err(|_| DbError::Corrupt {
                table: "intake_positions",
                id: part,
                message: format!("partition {part} is out of range"),
            })?;
            Ok(IntakePosition { source, topic, partition, next_offset })
        })
        .collect()
}

/// Whether a notice is stored already.
pub(crate) async fn alert_id_by_ivorn(pool: &Pool<Db>, ivorn: &str) -> DbResult<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT id FROM alerts WHERE ivorn = $1").bind(ivorn).fetch_optional(pool).await?)
}

/// Counts one more copy of a stored notice.
pub(crate) async fn count_duplicate(pool: &Pool<Db>, id: i64) -> DbResult<()> {
    sqlx::query("UPDATE alerts SET duplicates = duplicates + 1 WHERE id = $1").bind(id).execute(pool).await?;
    Ok(())
}

#[derive(FromRow)]
struct RelatedRow {
    id: i64,
    ivorn: Option<String>,
    mission: String,
    burst: Option<String>,
    same_as: Option<i64>,
    trigger_at: Option<DateTime<Utc>>,
    ra: Option<f64>,
    dec: Option<f64>,
    error_deg: Option<f64>,
    request_id: Option<i64>,
    open: i64,
}

/// The alerts of a burst, those whose notices are cited, and those
/// triggered in `from..=to`: what a decision on a new notice looks at.
pub(crate) async fn alerts_related(
    pool: &Pool<Db>,
    burst: Option<&str>,
    cited: &[String],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> DbResult<Vec<AlertRelated>> {
    const SELECT: &str =
        "SELECT a.id, a.ivorn, a.mission, a.burst, a.same_as, a.trigger_at, a.ra, a.dec, a.error_deg,
            a.request_id,
            (SELECT COUNT(*) FROM sequences s WHERE s.request_id = a.request_id
               AND s.status NOT IN ('EXECUTED', 'CANCELLED', 'INVALID', 'UNPLANNABLE')) AS open
        FROM alerts a";
    let mut rows: Vec<RelatedRow> = sqlx::query_as(&format!(
        "{SELECT} WHERE a.outcome <> 'refused' AND (a.burst = $1 OR (a.trigger_at >= $2 AND a.trigger_at <= $3)) ORDER BY a.id LIMIT 200"
    ))
    .bind(burst)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    for ivorn in cited.iter().take(MAX_CITED) {
        if rows.iter().any(|r| r.ivorn.as_deref() == Some(ivorn.as_str())) {
            continue;
        }
        let found: Option<RelatedRow> =
            sqlx::query_as(&format!("{SELECT} WHERE a.ivorn = $1")).bind(ivorn).fetch_optional(pool).await?;
        rows.extend(found);
    }
    Ok(rows
        .into_iter()
        .map(|r| AlertRelated {
            id: r.id,
            ivorn: r.ivorn.unwrap_or_default(),
            mission: r.mission,
            burst: r.burst,
            same_as: r.same_as,
            trigger_at: r.trigger_at,
            position: r.ra.zip(r.dec),
            error_deg: r.error_deg,
            request: r.request_id.map(RequestId),
            open: r.open > 0,
        })
        .collect())
}

fn step_column(step: AlertStep) -> &'static str {
    match step {
        AlertStep::Stored => "stored_at",
        AlertStep::Planned => "planned_at",
        AlertStep::SlewCommanded => "slew_at",
        AlertStep::FirstExposure => "exposure_at",
    }
}

/// Notes the time of a step on one alert (stored: always; the others once).
pub(crate) async fn stamp_alert(
    pool: &Pool<Db>,
    id: i64,
    step: AlertStep,
    at: DateTime<Utc>,
) -> DbResult<()> {
    let col = step_column(step);
    let sql = if step == AlertStep::Stored {
        format!("UPDATE alerts SET {col} = $1 WHERE id = $2")
    } else {
        format!("UPDATE alerts SET {col} = $1 WHERE id = $2 AND {col} IS NULL")
    };
    sqlx::query(&sql).bind(at).bind(id).execute(pool).await?;
    Ok(())
}

/// Notes the time of a step on the alerts whose request holds `sequence`.
pub(crate) async fn stamp_alert_sequence<'c>(
    pool: impl sqlx::Executor<'c, Database = Db>,
    sequence: SequenceId,
    step: AlertStep,
    at: DateTime<Utc>,
) -> DbResult<()> {
    let col = step_column(step);
    let sql = format!(
        "UPDATE alerts SET {col} = $1 WHERE {col} IS NULL AND outcome IN ('created', 'updated')
           AND request_id = (SELECT request_id FROM sequences WHERE id = $2)"
    );
    sqlx::query(&sql).bind(at).bind(sequence.0).execute(pool).await?;
    Ok(())
}

/// Notes the planning time of the alerts whose sequences a schedule planned.
pub(crate) async fn stamp_alerts_planned<'c>(
    pool: impl sqlx::Executor<'c, Database = Db>,
    at: DateTime<Utc>,
) -> DbResult<u64> {
    let done = sqlx::query(
        "UPDATE alerts SET planned_at = $1 WHERE planned_at IS NULL AND outcome IN ('created', 'updated')
           AND request_id IN (SELECT request_id FROM sequences WHERE status = 'PLANNED')",
    )
    .bind(at)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

const RECORD_SELECT: &str = "SELECT id, ivorn, source, role, mission, instrument, burst, same_as, trigger_at,
        issued_at, ra, dec, error_deg, strategy, request_id, outcome, reason, duplicates, received_at, parsed_at,
        stored_at, planned_at, slew_at, exposure_at,
        (SELECT COUNT(*) FROM images i WHERE i.request_id = alerts.request_id AND alerts.request_id IS NOT NULL) AS images
    FROM alerts";

/// At most `limit` alerts older than `before`, newest first.
pub(crate) async fn list_alerts(
    pool: &Pool<Db>,
    before: Option<i64>,
    limit: u32,
) -> DbResult<Vec<AlertRecord>> {
    Ok(sqlx::query_as(&format!("{RECORD_SELECT} WHERE id < $1 ORDER BY id DESC LIMIT $2"))
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?)
}

pub(crate) async fn alert(pool: &Pool<Db>, id: i64) -> DbResult<Option<AlertRecord>> {
    Ok(sqlx::query_as(&format!("{RECORD_SELECT} WHERE id = $1")).bind(id).fetch_optional(pool).await?)
}

/// The notice as received.
pub(crate) async fn alert_xml(pool: &Pool<Db>, id: i64) -> DbResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT xml FROM alerts WHERE id = $1").bind(id).fetch_optional(pool).await?)
}

/// Another strategy for an alert: its request rebuilt in place (or created
/// when it had none), the strategy and reason recorded.
pub(crate) async fn restrategize_alert(
    pool: &Pool<Db>,
    id: i64,
    effect: &AlertEffect<'_>,
    strategy: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> DbResult<Option<RequestId>> {
    let mut tx = begin_write(pool).await?;
    let request = apply(&mut tx, effect, now).await?;
    let outcome = match (effect, request) {
        (AlertEffect::Create { .. }, _) => "created",
        (AlertEffect::Update { .. }, _) => "updated",
        _ => "skipped",
    };
    let done = sqlx::query(
        "UPDATE alerts SET strategy = $1, reason = $2, outcome = $3, request_id = COALESCE($4, request_id),
             planned_at = NULL, slew_at = NULL, exposure_at = NULL
         WHERE id = $5",
    )
    .bind(strategy)
    .bind(reason)
    .bind(outcome)
    .bind(request.map(|r| r.0))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(DbError::not_found("alert", id));
    }
    tx.commit().await?;
    Ok(request)
}
