//! The executor's queries: taking a planned sequence, its progress, its end
//! (with the quota charged in the same transaction), the images, and what
//! the planner and the reports count. Compiled for each backend like
//! `queries.rs`.

use chrono::{DateTime, Utc};
use ferros_domain::{
    AlbumId, CalibrationLevel, Detector, Image, ImageKind, JulianDate, PlanId, RequestId, SequenceId,
    SequenceStatus,
};
use sqlx::Pool;

use super::Db;
use crate::{AlertWaiting, DbError, DbResult, PlanningMark, SequenceEnd};

/// The planned sequence due first, if it starts before `until` (JD).
pub(crate) async fn next_planned<'c>(
    pool: impl sqlx::Executor<'c, Database = Db>,
    until: f64,
) -> DbResult<Option<(SequenceId, RequestId)>> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT id, request_id FROM sequences WHERE status = 'PLANNED' AND tsp <= $1 ORDER BY tsp, id LIMIT 1",
    )
    .bind(until)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(s, r)| (SequenceId(s), RequestId(r))))
}

pub(crate) async fn sequence_status<'c>(
    pool: impl sqlx::Executor<'c, Database = Db>,
    id: SequenceId,
) -> DbResult<Option<SequenceStatus>> {
    let st: Option<String> = sqlx::query_scalar("SELECT status FROM sequences WHERE id = $1")
        .bind(id.0)
        .fetch_optional(pool)
        .await?;
    st.map(|s| {
        s.parse().map_err(|e: ferros_domain::DomainError| DbError::Corrupt {
            table: "sequences",
            id: id.0,
            message: e.to_string(),
        })
    })
    .transpose()
}

/// PLANNED -> EXECUTING, with the block it takes; its plans start from zero.
pub(crate) async fn start_sequence(
    pool: &Pool<Db>,
    id: SequenceId,
    tsp: JulianDate,
    tep: JulianDate,
    now: DateTime<Utc>,
) -> DbResult<()> {
    let mut tx = super::queries::begin_write(pool).await?;
    let done = sqlx::query(
        "UPDATE sequences SET status = 'EXECUTING', tsp = $1, tep = $2, progress = 0, reason = '', updated_at = $3
         WHERE id = $4 AND status = 'PLANNED'",
    )
    .bind(tsp.days())
    .bind(tep.days())
    .bind(now)
    .bind(id.0)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(DbError::Conflict(format!("sequence {id} is no longer PLANNED")));
    }
    sqlx::query("UPDATE plans SET done = 0 WHERE album_id IN (SELECT id FROM albums WHERE sequence_id = $1)")
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Images done in a plan and the sequence's progress (0..1).
pub(crate) async fn record_progress(
    pool: &Pool<Db>,
    sequence: SequenceId,
    plan: PlanId,
    done: i64,
    progress: f64,
) -> DbResult<()> {
    let mut tx = super::queries::begin_write(pool).await?;
    sqlx::query("UPDATE plans SET done = $1 WHERE id = $2").bind(done).bind(plan.0).execute(&mut *tx).await?;
    sqlx::query("UPDATE sequences SET progress = $1 WHERE id = $2 AND status = 'EXECUTING'")
        .bind(progress.clamp(0.0, 1.0))
        .bind(sequence.0)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Ends an execution; false if the sequence was no longer EXECUTING (cancelled meanwhile).
pub(crate) async fn finish_sequence(
    pool: &Pool<Db>,
    id: SequenceId,
    end: &SequenceEnd,
    now: DateTime<Utc>,
) -> DbResult<bool> {
    let mut tx = super::queries::begin_write(pool).await?;
    let changed = match end {
        SequenceEnd::Executed { tep, charge_s } => {
            let done = sqlx::query(
                "UPDATE sequences SET status = 'EXECUTED', tep = $1, progress = 1, reason = '', updated_at = $2,
                     charged_s = $4
                 WHERE id = $3 AND status = 'EXECUTING'",
            )
            .bind(tep.days())
            .bind(now)
            .bind(id.0)
            .bind(charge_s.max(0.0))
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                sqlx::query(
                    "UPDATE programs SET used_s = used_s + $1 WHERE id =
                        (SELECT r.program_id FROM requests r JOIN sequences s ON s.request_id = r.id WHERE s.id = $2)",
                )
                .bind(charge_s.max(0.0))
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            }
            done.rows_affected() == 1
        }
        SequenceEnd::GivenBack { reason } | SequenceEnd::GivenUp { reason } => {
            let to = if matches!(end, SequenceEnd::GivenUp { .. }) { "UNPLANNABLE" } else { "TOBEPLANNED" };
            let done = sqlx::query(
                "UPDATE sequences SET status = $4, tsp = NULL, tep = NULL, progress = 0, reason = $1,
                     updated_at = $2
                 WHERE id = $3 AND status = 'EXECUTING'",
            )
            .bind(reason)
            .bind(now)
            .bind(id.0)
            .bind(to)
            .execute(&mut *tx)
            .await?;
            done.rows_affected() == 1
        }
    };
    tx.commit().await?;
    Ok(changed)
}

pub(crate) async fn executing_sequences<'c>(
    pool: impl sqlx::Executor<'c, Database = Db>,
) -> DbResult<Vec<SequenceId>> {
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM sequences WHERE status = 'EXECUTING' ORDER BY id")
        .fetch_all(pool)
        .await?;
    Ok(ids.into_iter().map(SequenceId).collect())
}

/// Alert sequences not executed yet whose window is open at `now` (JD).
pub(crate) async fn alerts_waiting<'c>(
    pool: impl sqlx::Executor<'c, Database = Db>,
    now: f64,
) -> DbResult<Vec<AlertWaiting>> {
    type Row = (i64, Option<f64>, Option<f64>, Option<f64>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT s.id, s.ra, s.dec, s.min_alt FROM sequences s JOIN requests r ON r.id = s.request_id
         WHERE r.kind = 'alert' AND s.status IN ('TOBEPLANNED', 'PLANNED', 'REJECTED')
           AND s.jd1 <= $1 AND s.jd2 > $1
         ORDER BY s.id",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, ra, dec, min_alt)| AlertWaiting { id: SequenceId(id), radec: ra.zip(dec), min_alt })
        .collect())
}

/// Whether the night has work now: a sequence planned to start by `until`
/// (JD), one executing, or an alert sequence whose window is open at `now`
/// (JD). One statement for what the majordome asks every tick.
pub(crate) async fn work_due<'c>(
    pool: impl sqlx::Executor<'c, Database = Db>,
    now: f64,
    until: f64,
) -> DbResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sequences s JOIN requests r ON r.id = s.request_id
         WHERE (s.status = 'PLANNED' AND s.tsp <= $1) OR s.status = 'EXECUTING'
            OR (r.kind = 'alert' AND s.status IN ('TOBEPLANNED', 'PLANNED', 'REJECTED')
                AND s.jd1 <= $2 AND s.jd2 > $2)",
    )
    .bind(until)
    .bind(now)
    .fetch_one(pool)
    .await?;
    Ok(n > 0)
}

/// Whether the request of `sequence` is an alert.
pub(crate) async fn is_alert<'c>(
    pool: impl sqlx::Executor<'c, Database = Db>,
    sequence: SequenceId,
) -> DbResult<bool> {
    let kind: Option<String> = sqlx::query_scalar(
        "SELECT r.kind FROM requests r JOIN sequences s ON s.request_id = r.id WHERE s.id = $1",
    )
    .bind(sequence.0)
    .fetch_optional(pool)
    .await?;
    Ok(kind.as_deref() == Some("alert"))
}

/// Changes the planner must hear of: how many sequences, and the latest change.
pub(crate) async fn planning_mark<'c>(ex: impl sqlx::Executor<'c, Database = Db>) -> DbResult<PlanningMark> {
    let (sequences, changed) =
        sqlx::query_as("SELECT COUNT(*), MAX(updated_at) FROM sequences").fetch_one(ex).await?;
    Ok(PlanningMark { sequences, changed })
}

pub(crate) async fn sequence_counts(pool: &Pool<Db>) -> DbResult<Vec<(String, i64)>> {
    Ok(sqlx::query_as("SELECT status, COUNT(*) FROM sequences GROUP BY status ORDER BY status")
        .fetch_all(pool)
        .await?)
}

pub(crate) async fn insert_image<'c>(
    pool: impl sqlx::Executor<'c, Database = Db>,
    img: &Image,
) -> DbResult<i64> {
    let headers = serde_json::to_string(&img.headers).map_err(|e| DbError::Conflict(e.to_string()))?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO images (path, kind, request_id, sequence_id, album_id, plan_id, detector, date_obs,
             exposure_s, filter, headers, calibration, analysis)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(&img.path)
    .bind(img.kind.code())
    .bind(img.request_id.map(|x| x.0))
    .bind(img.sequence_id.map(|x| x.0))
    .bind(img.album_id.map(|x| x.0))
    .bind(img.plan_id.map(|x| x.0))
    .bind(img.detector.code())
    .bind(img.date_obs)
    .bind(img.exposure_s)
    .bind(&img.filter)
    .bind(headers)
    .bind(img.calibration.code())
    .bind(&img.analysis)
    .fetch_one(pool)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            DbError::Conflict(format!("an image {} is recorded already", img.path))
        }
        other => other.into(),
    })?;
    Ok(id)
}

pub(crate) type ImageRow = (
    i64,
    String,
    String,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    String,
    DateTime<Utc>,
    f64,
    String,
    String,
    String,
    Option<String>,
);

/// Images, newest first; of one sequence if given.
pub(crate) async fn images(
    pool: &Pool<Db>,
    (sequence, request, path): (Option<SequenceId>, Option<RequestId>, Option<&str>),
    limit: i64,
) -> DbResult<Vec<Image>> {
    let rows: Vec<ImageRow> = sqlx::query_as(
        "SELECT id, path, kind, request_id, sequence_id, album_id, plan_id, detector, date_obs, exposure_s, filter,
                headers, calibration, analysis
         FROM images WHERE ($1 IS NULL OR sequence_id = $1) AND ($2 IS NULL OR request_id = $2)
           AND ($3 IS NULL OR path = $3)
         ORDER BY date_obs DESC, id DESC LIMIT $4",
    )
    .bind(sequence.map(|s| s.0))
    .bind(request.map(|r| r.0))
    .bind(path)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(|r| image_of(r).map(|(_, i)| i)).collect()
}

/// An image row (the columns of `IMAGE_COLUMNS`) as its id and `Image`.
pub(crate) fn image_of(r: ImageRow) -> DbResult<(i64, Image)> {
    let (id, path, kind, req, seq, alb, plan, det, date_obs, exposure_s, filter, headers, cal, analysis) = r;
    let c = |e: String| DbError::Corrupt { table: "images", id, message: e };
    Ok((
        id,
        Image {
            path,
            kind: kind.parse::<ImageKind>().map_err(|e| c(e.to_string()))?,
            request_id: req.map(RequestId),
            sequence_id: seq.map(SequenceId),
            album_id: alb.map(AlbumId),
            plan_id: plan.map(PlanId),
            detector: det.parse::<Detector>().map_err(|e| c(e.to_string()))?,
            date_obs,
            exposure_s,
            filter,
            headers: serde_json::from_str(&headers).map_err(|e| c(e.to_string()))?,
            calibration: cal.parse::<CalibrationLevel>().map_err(|e| c(e.to_string()))?,
            analysis,
        },
    ))
}

/// The columns `image_of` reads, in order.
pub(crate) const IMAGE_COLUMNS: &str =
    "id, path, kind, request_id, sequence_id, album_id, plan_id, detector, date_obs,
    exposure_s, filter, headers, calibration, analysis";

pub(crate) async fn image_counts(pool: &Pool<Db>) -> DbResult<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT kind, COUNT(*) FROM images WHERE calibration = 'raw' GROUP BY kind ORDER BY kind",
    )
    .fetch_all(pool)
    .await?)
}

pub(crate) async fn sequence_request(
    pool: &Pool<Db>,
    id: SequenceId,
) -> DbResult<Option<(SequenceId, RequestId)>> {
    let r: Option<i64> = sqlx::query_scalar("SELECT request_id FROM sequences WHERE id = $1")
        .bind(id.0)
        .fetch_optional(pool)
        .await?;
    Ok(r.map(|r| (id, RequestId(r))))
}

pub(crate) async fn images_since<'c>(
    pool: impl sqlx::Executor<'c, Database = Db>,
    kind: ImageKind,
    since: DateTime<Utc>,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM images WHERE kind = $1 AND date_obs >= $2")
        .bind(kind.code())
        .bind(since)
        .fetch_one(pool)
        .await?)
}

pub(crate) async fn images_by_filter_since<'c>(
    pool: impl sqlx::Executor<'c, Database = Db>,
    kind: ImageKind,
    since: DateTime<Utc>,
) -> DbResult<Vec<(String, String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT detector, filter, COUNT(*) FROM images WHERE kind = $1 AND date_obs >= $2
         GROUP BY detector, filter ORDER BY detector, filter",
    )
    .bind(kind.code())
    .bind(since)
    .fetch_all(pool)
    .await?)
}

/// PLANNED -> `to` (UNPLANNABLE: the observatory cannot do it at all;
/// TOBEPLANNED: its planned time is gone), with the reason; false if it was no
/// longer PLANNED.
pub(crate) async fn unplan_sequence(
    pool: &Pool<Db>,
    id: SequenceId,
    to: SequenceStatus,
    reason: &str,
    now: DateTime<Utc>,
) -> DbResult<bool> {
    if !SequenceStatus::Planned.can_become(to) {
        return Err(DbError::Conflict(format!("a planned sequence cannot become {to}")));
    }
    let done = sqlx::query(
        "UPDATE sequences SET status = $1, tsp = NULL, tep = NULL, reason = $2, updated_at = $3
         WHERE id = $4 AND status = 'PLANNED'",
    )
    .bind(to.code())
    .bind(reason)
    .bind(now)
    .bind(id.0)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Why a sequence was given back or given up, if it was.
pub(crate) async fn sequence_reason(pool: &Pool<Db>, id: SequenceId) -> DbResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT reason FROM sequences WHERE id = $1")
        .bind(id.0)
        .fetch_optional(pool)
        .await?)
}

/// Images whose path starts with `from` now start with `to` (a folder renamed).
pub(crate) async fn move_image_paths(pool: &Pool<Db>, from: &str, to: &str) -> DbResult<u64> {
    let done = sqlx::query(
        "UPDATE images SET path = $2 || substr(path, length($1) + 1) WHERE substr(path, 1, length($1)) = $1",
    )
    .bind(from)
    .bind(to)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
