//! `ferros bench history`: a year of environment readings, as the ENV agent
//! and its retention leave them in SQLite (raw for `history.raw_days`, 1-minute
//! buckets for `history.minute_days`, 10-minute buckets beyond), then the
//! queries the plots make: the last hour, since the start of the night, a
//! month, a year; and the agent's own writes on that table.

use std::time::Instant;

use chrono::{TimeDelta, TimeZone, Utc};
use ferros_agents::{MINUTE_MS, TEN_MINUTES_MS, series_bin, series_step};
use ferros_db::{Db, EnvWrite, SeriesRow};

use crate::context::Context;
use crate::error::{CliError, CliResult};
use crate::output::say;

/// A reading of quantity `q` at `t` (ms): a daily cycle and some noise.
fn reading(q: u32, t: i64) -> f64 {
    let day = (t as f64 / 86_400_000.0) * std::f64::consts::TAU;
    let mut x = (t as u64 / 1000).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ u64::from(q).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 31;
    let noise = (x % 1000) as f64 / 1000.0 - 0.5;
    10.0 * f64::from(q + 1) + 5.0 * (day + f64::from(q)).sin() + noise
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub async fn run(ctx: &Context, days: u32, quantities: u32, period: f64) -> CliResult {
    if days == 0 || quantities == 0 || !(period.is_finite() && period >= 0.1) {
        return Err(CliError::input("--days and --quantities must be > 0, --period >= 0.1 s"));
    }
    let h = &ctx.settings.history;
    let retention = [h.raw_days, h.minute_days, h.ten_minute_days];
    let dir = tempfile::tempdir().map_err(anyhow::Error::from)?;
    let path = dir.path().join("history.db");
    let db = Db::connect(&format!("sqlite://{}", path.display())).await?;
    let end = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).single().unwrap_or_else(Utc::now);
    let end_ms = end.timestamp_millis();
    let start_ms = end_ms - i64::from(days) * 86_400_000;
    let keep = |days: f64| end_ms - (days * 86_400_000.0) as i64;
    let (raw_from, minute_from) = (keep(retention[0]), keep(retention[1]));
    let per_minute = (60.0 / period).round().max(1.0) as i64;
    let every = 60_000 / per_minute;
    say!(
        "Generating {days} days of {quantities} quantities read every {period} s ({} readings), keeping raw {} d, 1-minute {} d, 10-minute {} d...",
        i64::from(days) * 1440 * per_minute * i64::from(quantities),
        retention[0],
        retention[1],
        retention[2]
    );
    let t0 = Instant::now();
    let (mut raw, mut minutes, mut tens) = (Vec::new(), Vec::new(), Vec::new());
    let mut rows = [0usize; 3];
    for q in 0..quantities {
        let name = format!("quantity_{q:02}");
        let mut ten: Option<SeriesRow> = None;
        let mut minute = start_ms;
        while minute < end_ms {
            let (mut sum, mut lo, mut hi) = (0.0, f64::INFINITY, f64::NEG_INFINITY);
            for i in 0..per_minute {
                let t = minute + i * every;
                let v = reading(q, t);
                sum += v;
                lo = lo.min(v);
                hi = hi.max(v);
                if t >= raw_from {
                    raw.push(SeriesRow { quantity: name.clone(), t, mean: v, min: v, max: v, n: 1 });
                }
            }
            let m = SeriesRow {
                quantity: name.clone(),
                t: minute,
                mean: sum / per_minute as f64,
                min: lo,
                max: hi,
                n: per_minute,
            };
            let bucket = minute - minute.rem_euclid(TEN_MINUTES_MS);
            match &mut ten {
                Some(b) if b.t == bucket => {
                    b.mean = (b.mean * b.n as f64 + m.mean * m.n as f64) / (b.n + m.n) as f64;
                    b.min = b.min.min(m.min);
                    b.max = b.max.max(m.max);
                    b.n += m.n;
                }
                _ => {
                    if let Some(done) = ten.take() {
                        tens.push(done);
                    }
                    ten = Some(SeriesRow { t: bucket, ..m.clone() });
                }
            }
            if minute >= minute_from {
                minutes.push(m);
            }
            minute += MINUTE_MS;
            if raw.len() >= 100_000 {
                rows[0] += raw.len();
                db.insert_series(0, &std::mem::take(&mut raw)).await?;
            }
            if minutes.len() >= 100_000 {
                rows[1] += minutes.len();
                db.insert_series(MINUTE_MS, &std::mem::take(&mut minutes)).await?;
            }
        }
        tens.extend(ten);
    }
    rows[0] += raw.len();
    rows[1] += minutes.len();
    rows[2] += tens.len();
    db.insert_series(0, &raw).await?;
    db.insert_series(MINUTE_MS, &minutes).await?;
    db.insert_series(TEN_MINUTES_MS, &tens).await?;
    let fill = t0.elapsed().as_secs_f64();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(dir.path().join("history.db-wal")).map(|m| m.len()).unwrap_or(0);
    say!(
        "  stored {} raw, {} 1-minute, {} 10-minute rows in {fill:.1} s; database {:.0} MB",
        rows[0],
        rows[1],
        rows[2],
        size as f64 / 1e6
    );

    say!("Queries of one quantity (median and worst of 20 runs; the resolution is chosen by the span):");
    let night_start = end - TimeDelta::hours(12);
    let cases = [
        ("the last hour", end - TimeDelta::hours(1)),
        ("since the start of the night (12 h)", night_start),
        ("the last week", end - TimeDelta::days(7)),
        ("a month", end - TimeDelta::days(30)),
        ("a year", end - TimeDelta::days(i64::from(days.min(365)))),
    ];
    for (what, since) in cases {
        let s = since.timestamp_millis();
        let step = series_step(s, end_ms, end_ms, period, retention, 5000.0);
        let mut times = Vec::new();
        let mut points = 0;
        let bin = series_bin(s, end_ms, step, period, 5000.0);
        for _ in 0..20 {
            let t = Instant::now();
            points = match bin {
                Some(b) => db.series_binned("quantity_03", step, s, end_ms, b).await?.len(),
                None => db.series("quantity_03", step, s, end_ms).await?.len(),
            };
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let worst = times.iter().copied().fold(0.0, f64::max);
        let resolution = match (bin, step) {
            (Some(3_600_000), _) => "hourly",
            (Some(_), _) => "binned",
            (None, 0) => "raw",
            (None, 60_000) => "1-minute",
            _ => "10-minute",
        };
        say!(
            "  {what:<38} {points:>6} {resolution:<9} points  {:>7.2} ms  (worst {worst:.2} ms)",
            median(times)
        );
    }

    say!("The ENV agent's writes on this database:");
    let mut writes = Vec::new();
    for i in 0..200 {
        let t = end_ms + i64::from(i) * (period * 1000.0) as i64;
        let samples = (0..quantities).map(|q| (format!("quantity_{q:02}"), t, reading(q, t))).collect();
        let w = EnvWrite { watches: Vec::new(), samples };
        let t0 = Instant::now();
        db.store_env(&w).await?;
        writes.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    say!("  one reading of {quantities} quantities         {:>7.2} ms (median of 200)", median(writes));
    let t0 = Instant::now();
    db.aggregate_series(0, MINUTE_MS, end_ms, end_ms + 10 * MINUTE_MS).await?;
    db.aggregate_series(MINUTE_MS, TEN_MINUTES_MS, end_ms, end_ms + 10 * MINUTE_MS).await?;
    say!("  folding 10 minutes into the coarser series {:>7.2} ms", t0.elapsed().as_secs_f64() * 1000.0);
    let t0 = Instant::now();
    let pruned = db.prune_series(0, raw_from + 3_600_000).await?;
    say!("  hourly pruning ({pruned} raw rows)            {:>7.2} ms", t0.elapsed().as_secs_f64() * 1000.0);
    db.close().await;
    Ok(())
}
