//! `ferros env status` and `ferros env history`: what the ENV agent stored
//! (they read the database, so they work while `ferros start` runs).

use chrono::{DateTime, TimeZone, Utc};
use ferros_agents::{series_bin, series_step};
use ferros_domain::{GlobalStatus, QuantitySynthesis};
use ferros_env::Synthesis;
use serde_json::{Value, json};

use super::print_json;
use crate::cli::EnvCmd;
use crate::context::{Context, parse_time};
use crate::error::{CliError, CliResult};
use crate::output::say;

pub async fn run(ctx: &Context, cmd: EnvCmd) -> CliResult {
    match cmd {
        EnvCmd::Status { json } => status(ctx, json).await,
        EnvCmd::History { quantity, since, until, json } => {
            history(ctx, &quantity, &since, until.as_deref(), json).await
        }
    }
}

fn secs_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_milliseconds() as f64 / 1000.0
}

async fn status(ctx: &Context, as_json: bool) -> CliResult {
    let db = ctx.open_db().await?;
    let Some(w) = db.latest_watch("env").await? else {
        return Err(CliError::Failure(anyhow::anyhow!(
            "no environment synthesis yet: the ENV agent has not run (ferros start, or ferros agent env)"
        )));
    };
    let synthesis: Synthesis =
        serde_json::from_str(&w.body).map_err(|e| anyhow::anyhow!("stored synthesis: {e}"))?;
    let now = ctx.instance_clock(&db).await?.now();
    let quantities: Vec<_> = synthesis.quantities().collect();
    let age_of = |q: &QuantitySynthesis| q.measured_at.map(|t| (secs_between(t, now) * 10.0).round() / 10.0);
    let age = secs_between(w.updated, now);
    let status = match w.global_status {
        GlobalStatus::Safe => "SAFE",
        GlobalStatus::Unsafe => "UNSAFE",
    };
    if as_json {
        let out = json!({
            "global_status": status, "reasons": w.reasons,
            "updated": w.updated.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "age_s": (age * 10.0).round() / 10.0,
            "quantities": quantities.iter().map(|q| json!({
                "name": q.name, "value": q.value, "unit": q.unit,
                "interpretation": q.interpretation, "decision": q.decision,
                "sensor": q.sensor, "suspects": q.suspects, "age_s": age_of(q),
            })).collect::<Vec<Value>>(),
        });
        print_json(&out)?;
    } else {
        say!("{status}  (updated {}, {age:.0} s ago)", w.updated.format("%Y-%m-%d %H:%M:%S UTC"));
        if age > ctx.settings.weather.stale_after_s * 3.0 {
            say!("warning: this synthesis is old: is the ENV agent running?");
        }
        for r in &w.reasons {
            say!("  - {r}");
        }
        for q in &quantities {
            let value = match q.value {
                Some(v) => format!("{v:.2} {}", q.unit),
                None => "-".to_owned(),
            };
            say!(
                "{:<16} {:<8} {:<14} {:<14} {}",
                q.name,
                q.decision.as_str(),
                value,
                q.sensor.as_deref().unwrap_or("-"),
                q.interpretation
            );
        }
    }
    Ok(())
}

async fn history(
    ctx: &Context,
    quantity: &str,
    since: &str,
    until: Option<&str>,
    as_json: bool,
) -> CliResult {
    let start = parse_time(since).map_err(|e| CliError::input(format!("--since: {e}")))?;
    let end = match until {
        Some(u) => parse_time(u).map_err(|e| CliError::input(format!("--until: {e}")))?,
        None => ctx.clock.now(),
    };
    if end <= start {
        return Err(CliError::input("--until must be after --since"));
    }
    let db = ctx.open_db().await?;
    let known = db.series_quantities().await?;
    if !known.iter().any(|q| q == quantity) {
        return Err(CliError::input(format!(
            "no history of \"{quantity}\" (there is: {})",
            if known.is_empty() { "nothing yet".to_owned() } else { known.join(", ") }
        )));
    }
    let h = &ctx.settings.history;
    let (s, e) = (start.timestamp_millis(), end.timestamp_millis());
    let step = series_step(
        s,
        e,
        ctx.clock.now().timestamp_millis(),
        ctx.settings.agents.env_period_s,
        [h.raw_days, h.minute_days, h.ten_minute_days],
        5000.0,
    );
    let period = ctx.settings.agents.env_period_s;
    let (rows, resolution) = match series_bin(s, e, step, period, 5000.0) {
        Some(bin) => (db.series_binned(quantity, step, s, e, bin).await?, bucket_name(bin)),
        None => (
            db.series(quantity, step, s, e).await?,
            match step {
                0 => "raw".to_owned(),
                60_000 => "1 minute".to_owned(),
                _ => "10 minutes".to_owned(),
            },
        ),
    };
    let time = |t: i64| {
        Utc.timestamp_millis_opt(t).single().map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    };
    if as_json {
        let points: Vec<Value> = rows
            .iter()
            .map(|r| json!({"t": time(r.t), "mean": r.mean, "min": r.min, "max": r.max, "n": r.n}))
            .collect();
        print_json(&json!({"quantity": quantity, "resolution": resolution, "points": points}))?;
    } else {
        say!("{quantity}: {} point(s), {resolution} resolution", rows.len());
        for r in &rows {
            let t = time(r.t).unwrap_or_default();
            if r.n == 1 {
                say!("{t}  {:.3}", r.mean);
            } else {
                say!("{t}  mean {:.3}  min {:.3}  max {:.3}  ({} readings)", r.mean, r.min, r.max, r.n);
            }
        }
    }
    Ok(())
}

fn bucket_name(ms: i64) -> String {
    match ms {
        3_600_000 => "1 hour".into(),
        86_400_000 => "1 day".into(),
        _ if ms % 86_400_000 == 0 => format!("{} days", ms / 86_400_000),
        _ => format!("{} hours", ms / 3_600_000),
    }
}
