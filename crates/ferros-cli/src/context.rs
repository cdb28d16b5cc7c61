//! What every command starts from: the settings (file, environment, flags),
//! the clock, and the database.

use std::path::PathBuf;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use ferros_clock::Clock;
use ferros_config::Settings;
use ferros_db::Db;

use crate::cli::GlobalOpts;
use crate::error::{CliError, CliResult};

#[derive(Debug)]
pub struct Context {
    pub settings: Settings,
    pub clock: Clock,
    /// The settings file that was read, if any.
    pub config_file: Option<PathBuf>,
    /// The instant given with `--time`, if any.
    pub time: Option<DateTime<Utc>>,
}

impl Context {
    pub fn load(g: &GlobalOpts) -> CliResult<Self> {
        let mut settings = Settings::load(g.config.as_deref()).map_err(|e| CliError::input(e.to_string()))?;
        if let Some(dir) = &g.data_dir {
            settings.data_dir = dir.clone();
        }
        if let Some(url) = g.database_url.as_ref().filter(|u| !u.trim().is_empty()) {
            settings.database_url = url.clone();
        }
        let config_file = g.config.clone().or_else(|| {
            let default = PathBuf::from(ferros_config::DEFAULT_CONFIG_FILE);
            default.is_file().then_some(default)
        });
        let time = match &g.time {
            Some(t) => Some(parse_time(t).map_err(|e| CliError::input(format!("--time: {e}")))?),
            None => None,
        };
        Ok(Self { settings, clock: clock(time, g.speed)?, config_file, time })
    }

    pub async fn open_db(&self) -> CliResult<Db> {
        let url = self.settings.database_url();
        Db::connect(&url).await.map_err(CliError::from)
    }

    /// The clock to read what a running `ferros start` stored against: its
    /// own simulated clock when this command was given no `--time` nor
    /// `--speed`, with a line saying so; else this command's.
    pub async fn instance_clock(&self, db: &Db) -> CliResult<Clock> {
        if self.clock.is_simulated() {
            return Ok(self.clock);
        }
        let Some(c) = db.instance_clock().await? else { return Ok(self.clock) };
        let elapsed = (Clock::real().now() - c.real_at).num_milliseconds() as f64 / 1000.0 * c.speed;
        let now = chrono::Duration::try_milliseconds((elapsed * 1000.0).round() as i64)
            .and_then(|d| c.clock_at.checked_add_signed(d))
            .ok_or_else(|| {
                CliError::Failure(anyhow::anyhow!("the instance's stored clock is out of range"))
            })?;
        let clock = Clock::simulated(now, c.speed)
            .map_err(|e| CliError::Failure(anyhow::anyhow!("the instance's stored clock: {e}")))?;
        eprintln!(
            "note: on the running instance's clock: simulated, {} UTC at x{}",
            now.format("%Y-%m-%d %H:%M:%S"),
            c.speed
        );
        Ok(clock)
    }
}

fn clock(time: Option<DateTime<Utc>>, speed: Option<f64>) -> CliResult<Clock> {
    let speed = speed.unwrap_or(1.0);
    let start = match time {
        Some(t) => t,
        None if speed == 1.0 => return Ok(Clock::real()),
        None => Utc::now(),
    };
    ferros_domain::JulianDate::from_datetime(start).map_err(|e| CliError::input(format!("--time: {e}")))?;
    Clock::simulated(start, speed).map_err(|e| CliError::input(format!("--speed: {e}")))
}

/// An ISO 8601 UTC instant: `2026-11-22T18:00:00Z`, `2026-11-22T18:00:00`
/// (taken as UTC), `2026-11-22 18:00` or a date alone (midnight UTC).
pub fn parse_time(s: &str) -> anyhow::Result<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(t.and_utc());
        }
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("\"{s}\" is not an ISO 8601 time like 2026-11-22T18:00:00Z"))?;
    Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_the_usual_forms() {
        let expect = "2026-11-22T18:00:00+00:00";
        for s in
            ["2026-11-22T18:00:00Z", "2026-11-22T18:00:00", "2026-11-22 18:00", "2026-11-22T19:00:00+01:00"]
        {
            assert_eq!(parse_time(s).unwrap().to_rfc3339(), expect, "{s}");
        }
        assert_eq!(parse_time("2026-11-22").unwrap().to_rfc3339(), "2026-11-22T00:00:00+00:00");
        let e = parse_time("yesterday").unwrap_err().to_string();
        assert!(e.contains("yesterday"), "{e}");
    }
}
