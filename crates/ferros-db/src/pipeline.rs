//! The pipeline's queue (images `pending` until looked at), its outcomes,
//! calibrated images with their raw image and masters, and master frames.

use chrono::{DateTime, Utc};
use ferros_domain::{Detector, Image, ImageKind, Master, PipelineState};

use super::Db;
use super::execution::{IMAGE_COLUMNS, ImageRow, image_of};
use sqlx::Pool;

use crate::{DbError, DbResult};

/// The oldest pending images, at most `limit`.
pub(crate) async fn pipeline_pending(pool: &Pool<Db>, limit: i64) -> DbResult<Vec<(i64, Image)>> {
    let rows: Vec<ImageRow> = sqlx::query_as(&format!(
        "SELECT {IMAGE_COLUMNS} FROM images WHERE pipeline = 'pending' ORDER BY id LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(image_of).collect()
}

/// An image looked at: done, failed (with why), skipped.
pub(crate) async fn pipeline_outcome(
    pool: &Pool<Db>,
    id: i64,
    state: PipelineState,
    error: Option<&str>,
) -> DbResult<()> {
    sqlx::query("UPDATE images SET pipeline = $1, pipeline_error = $2 WHERE id = $3")
        .bind(state.code())
        .bind(error)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// A calibrated image from raw image `raw`, with the masters it used: its
/// row (pipeline done), and the raw image done too, in one transaction.
pub(crate) async fn record_calibrated(
    pool: &Pool<Db>,
    raw: i64,
    image: &Image,
    masters: [Option<i64>; 3],
) -> DbResult<i64> {
    let mut tx = pool.begin().await?;
    let id = super::execution::insert_image(&mut *tx, image).await?;
    sqlx::query(
        "UPDATE images SET pipeline = 'done', raw_id = $1, bias_id = $2, dark_id = $3, flat_id = $4 WHERE id = $5",
    )
    .bind(raw)
    .bind(masters[0])
    .bind(masters[1])
    .bind(masters[2])
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE images SET pipeline = 'done', pipeline_error = NULL WHERE id = $1")
        .bind(raw)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// The analysis (JSON) of an image, and its level.
pub(crate) async fn record_analysis(pool: &Pool<Db>, id: i64, level: &str, analysis: &str) -> DbResult<()> {
    sqlx::query("UPDATE images SET analysis = $1, calibration = $2 WHERE id = $3")
        .bind(analysis)
        .bind(level)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

type MasterRow = (i64, String, String, String, f64, Option<f64>, i64, i64, i64, i64, String, DateTime<Utc>);

fn master_of(r: MasterRow) -> DbResult<Master> {
    let (id, kind, det, filter, exposure_s, temperature, binning, width, height, frames, path, created_at) =
        r;
    let c = |e: String| DbError::Corrupt { table: "masters", id, message: e };
    let small = |v: i64| u32::try_from(v).map_err(|e| c(e.to_string()));
    Ok(Master {
        id,
        kind: kind.parse::<ImageKind>().map_err(|e| c(e.to_string()))?,
        detector: det.parse::<Detector>().map_err(|e| c(e.to_string()))?,
        filter,
        exposure_s,
        temperature,
        binning: small(binning)?,
        width: small(width)?,
        height: small(height)?,
        frames: small(frames)?,
        path,
        created_at,
    })
}

/// Records a master and marks the frames it was made of, in one transaction.
pub(crate) async fn insert_master(pool: &Pool<Db>, m: &Master, frames: &[i64]) -> DbResult<i64> {
    let mut tx = pool.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO masters (kind, detector, filter, exposure_s, temperature, binning, width, height, frames, path,
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(m.kind.code())
    .bind(m.detector.code())
    .bind(&m.filter)
    .bind(m.exposure_s)
    .bind(m.temperature)
    .bind(i64::from(m.binning))
    .bind(i64::from(m.width))
    .bind(i64::from(m.height))
    .bind(i64::from(m.frames))
    .bind(&m.path)
    .bind(m.created_at)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            DbError::Conflict(format!("a master {} is recorded already", m.path))
        }
        other => other.into(),
    })?;
    for f in frames {
        sqlx::query("UPDATE images SET master_id = $1 WHERE id = $2")
            .bind(id)
            .bind(f)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// The masters of a kind and detector, newest first.
pub(crate) async fn masters(pool: &Pool<Db>, kind: ImageKind, detector: Detector) -> DbResult<Vec<Master>> {
    let rows: Vec<MasterRow> = sqlx::query_as(
        "SELECT id, kind, detector, filter, exposure_s, temperature, binning, width, height, frames, path, created_at
         FROM masters WHERE kind = $1 AND detector = $2 ORDER BY created_at DESC, id DESC LIMIT 200",
    )
    .bind(kind.code())
    .bind(detector.code())
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(master_of).collect()
}

/// Calibration frames looked at by the pipeline and not yet in a master.
pub(crate) async fn calibration_frames(pool: &Pool<Db>) -> DbResult<Vec<(i64, Image)>> {
    let rows: Vec<ImageRow> = sqlx::query_as(&format!(
        "SELECT {IMAGE_COLUMNS} FROM images WHERE kind IN ('bias','dark','flat') AND pipeline = 'done'
           AND master_id IS NULL AND calibration = 'raw' ORDER BY id LIMIT 2000"
    ))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(image_of).collect()
}

/// The calibrated images of a request with their analysis, newest first.
pub(crate) async fn analysed_images(
    pool: &Pool<Db>,
    request: i64,
    limit: i64,
) -> DbResult<Vec<(i64, Image)>> {
    let rows: Vec<ImageRow> = sqlx::query_as(&format!(
        "SELECT {IMAGE_COLUMNS} FROM images WHERE request_id = $1 AND analysis IS NOT NULL
         ORDER BY date_obs DESC, id DESC LIMIT $2"
    ))
    .bind(request)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(image_of).collect()
}

/// How many images are in each pipeline state.
pub(crate) async fn pipeline_counts(pool: &Pool<Db>) -> DbResult<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT pipeline, COUNT(*) FROM images WHERE calibration = 'raw' GROUP BY pipeline ORDER BY pipeline",
    )
    .fetch_all(pool)
    .await?)
}

/// The failures recorded, newest first: (path, why).
pub(crate) async fn pipeline_failures(pool: &Pool<Db>, limit: i64) -> DbResult<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT path, COALESCE(pipeline_error, '') FROM images WHERE pipeline = 'failed' ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// The error circle (ra, dec, radius, degrees) of the newest notice with a
/// position that made or updated a request.
pub(crate) async fn alert_circle(pool: &Pool<Db>, request: i64) -> DbResult<Option<(i64, f64, f64, f64)>> {
    Ok(sqlx::query_as(
        "SELECT id, ra, dec, error_deg FROM alerts WHERE request_id = $1 AND ra IS NOT NULL AND dec IS NOT NULL
           AND error_deg IS NOT NULL ORDER BY id DESC LIMIT 1",
    )
    .bind(request)
    .fetch_optional(pool)
    .await?)
}

/// All images, raw and calibrated.
pub(crate) async fn image_total(pool: &Pool<Db>) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM images").fetch_one(pool).await?)
}
