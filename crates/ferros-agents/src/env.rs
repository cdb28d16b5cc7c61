//! ENV: environment monitoring. Every period it reads the weather/site
//! source, makes the synthesis (`ferros-env`), shares it with the other
//! agents, stores the watches and their changes, stores the readings (once a
//! minute, and at once when the status changes), folds them into 1- and
//! 10-minute series, prunes them, and announces changes on the bus at once.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ferros_astro::Site;
use ferros_config::Settings;
use ferros_db::{EnvWrite, WatchWrite};
use ferros_devices::{Dome, DomeState, Stamped, WeatherSource, WeatherStatus, bounded};
use ferros_domain::{GlobalStatus, LogLevel};
use ferros_env::{Inputs, Synthesis, Synthesizer, Thresholds};

use crate::AgentError;
use crate::runtime::{Agent, AgentContext, Event};

pub const MINUTE_MS: i64 = 60_000;
pub const TEN_MINUTES_MS: i64 = 600_000;
const DAY_MS: f64 = 86_400_000.0;
use ferros_limits::MAX_READINGS;

/// A watch as last stored: when, its status and its reasons.
type Stored = (DateTime<Utc>, GlobalStatus, Vec<String>);

/// The ENV agent.
pub struct EnvAgent {
    source: Arc<dyn WeatherSource>,
    dome: Option<Arc<dyn Dome>>,
    site: Site,
    period: Duration,
    timeout: Duration,
    synth: Synthesizer,
    last: Option<Stamped<WeatherStatus>>,
    failure: Option<String>,
    status: Option<(GlobalStatus, Vec<String>)>,
    /// Start (ms) of the first minute not folded yet.
    folded_to: Option<i64>,
    pruned_at: Option<DateTime<Utc>>,
    retention_days: [f64; 3],
    /// Readings not stored yet: (quantity, Unix ms, value), and the minute
    /// (Unix ms) they began in.
    readings: (Vec<(String, i64, f64)>, i64),
    /// When each watch (of [`KINDS`]) was last stored, and its status and reasons then.
    stored: [Option<Stored>; 3],
    /// The longest time between two stores of the watches, seconds.
    store_every_s: f64,
    /// A raw reading is kept once in each slot of this length (ms)...
    raw_every_ms: i64,
    /// ...and this is the last slot that had one.
    raw_slot: Option<i64>,
}

impl std::fmt::Debug for EnvAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvAgent").field("source", &self.source.name()).finish_non_exhaustive()
    }
}

impl EnvAgent {
    pub fn new(
        settings: &Settings,
        site: Site,
        source: Arc<dyn WeatherSource>,
        dome: Option<Arc<dyn Dome>>,
    ) -> Self {
        let w = &settings.weather;
        let thresholds = Thresholds {
            max_rain_rate: w.max_rain_rate,
            max_wind_speed: w.max_wind_speed,
            max_humidity: w.max_humidity,
            max_sky_minus_ambient: w.max_sky_minus_ambient,
            max_cloud_cover: w.max_cloud_cover,
            max_sun_altitude: w.max_sun_altitude,
            stale_after: w.stale_after_s,
            safe_delay: w.safe_delay_s,
            required: w.required.clone(),
        };
        let h = &settings.history;
        Self {
            source,
            dome,
            site,
            period: Duration::from_secs_f64(settings.agents.env_period_s),
            timeout: Duration::from_secs_f64(settings.devices.timeout_s),
            synth: Synthesizer::new(thresholds, w.sensors.clone()),
            last: None,
            failure: None,
            status: None,
            folded_to: None,
            pruned_at: None,
            retention_days: [h.raw_days, h.minute_days, h.ten_minute_days],
            readings: (Vec::new(), 0),
            stored: [None, None, None],
            store_every_s: w.stale_after_s / 2.0,
            raw_every_ms: (h.raw_every_s * 1000.0).round() as i64,
            raw_slot: None,
        }
    }

    async fn fold_and_prune(&mut self, ctx: &AgentContext, now: DateTime<Utc>) -> Result<(), AgentError> {
        let now_ms = now.timestamp_millis();
        let minute = now_ms - now_ms.rem_euclid(MINUTE_MS);
        // After a restart, fold the last hour again: folding is idempotent.
        let from = self.folded_to.unwrap_or(minute - 60 * MINUTE_MS);
        if minute > from {
            let db = &ctx.db;
            db.aggregate_series(0, MINUTE_MS, from, minute).await?;
            let ten_from = from - from.rem_euclid(TEN_MINUTES_MS);
            let ten_to = minute - minute.rem_euclid(TEN_MINUTES_MS);
            if ten_to > ten_from {
                db.aggregate_series(MINUTE_MS, TEN_MINUTES_MS, ten_from, ten_to).await?;
            }
            self.folded_to = Some(minute);
        }
        if self.pruned_at.is_none_or(|t| (now - t).num_minutes() >= 60) {
            for (step, days) in [0, MINUTE_MS, TEN_MINUTES_MS].into_iter().zip(self.retention_days) {
                let before = now_ms - (days * DAY_MS) as i64;
                ctx.db.prune_series(step, before).await?;
            }
            self.pruned_at = Some(now);
        }
        Ok(())
    }
}

/// The kinds of watch ENV stores: `env` (the whole synthesis, which holds
/// the other two), `weather` and `site`.
const KINDS: [&str; 3] = ["env", "weather", "site"];

/// A watch of the synthesis: its status, reasons and body.
fn watch(s: &Synthesis, kind: usize) -> Result<WatchWrite, AgentError> {
    let (global_status, reasons, body) = match kind {
        0 => (s.global_status, &s.reasons, json(s)?),
        1 => (s.weather.global_status, &s.weather.reasons, json(&s.weather)?),
        _ => (s.site.global_status, &s.site.reasons, json(&s.site)?),
    };
    Ok(WatchWrite {
        kind: KINDS[kind.min(2)].to_owned(),
        global_status,
        reasons: reasons.clone(),
        updated: s.updated,
        body,
    })
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, AgentError> {
    Ok(serde_json::to_string(v)?)
}

#[async_trait]
impl Agent for EnvAgent {
    fn name(&self) -> &str {
        "env"
    }

    fn period(&self) -> Duration {
        self.period
    }

    async fn step(&mut self, ctx: &AgentContext) -> Result<(), AgentError> {
        let read = bounded(self.source.name(), "status", self.timeout, self.source.status()).await;
        let fresh = match read {
            Ok(s) => {
                if let Some(f) = self.failure.take() {
                    ctx.log("env", LogLevel::Info, format!("the weather source answers again (after: {f})"))
                        .await;
                }
                self.last = Some(s);
                true
            }
            Err(e) => {
                if self.failure.is_none() {
                    ctx.log("env", LogLevel::Warn, format!("cannot read the weather source: {e}")).await;
                }
                self.failure = Some(e.to_string());
                false
            }
        };
        let now = ctx.clock.now();
        let dome: Option<Stamped<DomeState>> = match &self.dome {
            Some(d) => bounded(d.name(), "state", self.timeout, d.state()).await.ok(),
            None => None,
        };
        let sun = crate::sun_altitude(&self.site, now);
        let synthesis = self.synth.step(&Inputs {
            now,
            status: self.last.as_ref(),
            failure: self.failure.as_deref(),
            sun_altitude: sun,
            dome: dome.as_ref(),
        });
        let mut samples = Vec::new();
        // A raw reading every `history.raw_every_s`, and the one that
        // changes the status or its reasons (a countdown aside).
        let slot = now.timestamp_millis() / self.raw_every_ms.max(1);
        let changed = self.status.as_ref().is_none_or(|(s, _)| *s != synthesis.global_status);
        let news = self.status.as_ref().is_none_or(|(_, r)| strip(r) != strip(&synthesis.reasons));
        let keep = changed || news || self.raw_slot != Some(slot);
        if keep {
            self.raw_slot = Some(slot);
        }
        if keep
            && fresh
            && let Some(last) = &self.last
        {
            let t = last.at.timestamp_millis();
            for q in synthesis.quantities() {
                if let Some(v) = q.value
                    && v.is_finite()
                    && q.name != "plc_link"
                    && q.name != "daylight"
                {
                    samples.push((q.name.clone(), t, v));
                }
            }
        }
        if keep && let Some(alt) = sun {
            samples.push(("daylight".to_owned(), now.timestamp_millis(), alt));
        }
        // The readings go in once a minute (before that minute is folded),
        // and at once with a change of status.
        let minute = now.timestamp_millis() - now.timestamp_millis().rem_euclid(MINUTE_MS);
        if self.readings.0.is_empty() {
            self.readings.1 = minute;
        }
        self.readings.0.extend(samples);
        let samples = if changed || minute > self.readings.1 || self.readings.0.len() >= MAX_READINGS {
            std::mem::take(&mut self.readings.0)
        } else {
            Vec::new()
        };
        // The other agents hear it first: a database that fails delays no safety.
        ctx.shared.set_env(synthesis.clone());
        // Stored when a status or its reasons change (not their figures nor
        // the countdown to SAFE), with readings, and at least every half of
        // the staleness delay: a reader elsewhere (a command, an agent run
        // alone) never finds it stale while ENV runs, and sees figures at
        // most that old. The `weather` and `site` watches (which `env` holds
        // too) at least once a minute.
        let keys = [
            (synthesis.global_status, &synthesis.reasons),
            (synthesis.weather.global_status, &synthesis.weather.reasons),
            (synthesis.site.global_status, &synthesis.site.reasons),
        ];
        let mut due = Vec::new();
        for (kind, (status, reasons)) in keys.iter().enumerate() {
            let every_s = if kind == 0 { self.store_every_s } else { self.store_every_s.max(60.0) };
            if self.stored[kind].as_ref().is_none_or(|(at, s, r)| {
                s != status
                    || strip(r) != strip(reasons)
                    || (now - *at).num_milliseconds() as f64 >= every_s * 1000.0
            }) {
                due.push(kind);
            }
        }
        if !due.is_empty() || !samples.is_empty() {
            let watches =
                due.iter().map(|k| watch(&synthesis, *k)).collect::<Result<Vec<_>, AgentError>>()?;
            let write = EnvWrite { watches, samples };
            ctx.db.store_env(&write).await?;
            for k in due {
                self.stored[k] = Some((now, keys[k].0, keys[k].1.clone()));
            }
        }
        let current = (synthesis.global_status, synthesis.reasons.clone());
        // The countdown to SAFE changes the reasons every step: announce the
        // status, and the reasons when conditions change.
        let announce = match &self.status {
            None => true,
            Some((status, reasons)) => {
                *status != current.0
                    || (current.0 == GlobalStatus::Unsafe && strip(reasons) != strip(&current.1))
            }
        };
        if announce {
            let level = if current.0 == GlobalStatus::Safe { LogLevel::Info } else { LogLevel::Warn };
            let text = match current.0 {
                GlobalStatus::Safe => "SAFE".to_owned(),
                GlobalStatus::Unsafe => format!("UNSAFE ({})", current.1.join("; ")),
            };
            ctx.record("env", level, text).await;
            ctx.bus.publish(Event::Environment { at: now, status: current.0, reasons: current.1.clone() });
        }
        self.status = Some(current);
        self.fold_and_prune(ctx, now).await
    }
}

/// Reasons without the countdown to SAFE and without their figures: a reading
/// that grows older or a rain rate that changes is not news, a new reason is.
fn strip(reasons: &[String]) -> Vec<String> {
    reasons
        .iter()
        .filter(|r| !r.starts_with("conditions good for"))
        .map(|r| r.chars().filter(|c| !c.is_ascii_digit() && *c != '.').collect())
        .collect()
}

/// The bucket (ms) that brings `start..end` at `step` down to `max_points`,
/// if it needs one: whole hours or days.
pub fn series_bin(start: i64, end: i64, step: i64, period_s: f64, max_points: f64) -> Option<i64> {
    let every = if step == 0 { period_s * 1000.0 } else { step as f64 };
    let points = (end - start).max(0) as f64 / every;
    if points <= max_points {
        return None;
    }
    let want = (end - start) as f64 / max_points;
    [3_600_000_i64, 6 * 3_600_000, 86_400_000, 7 * 86_400_000]
        .into_iter()
        .find(|b| *b as f64 >= want)
        .or(Some(30 * 86_400_000))
}

/// The series that draws `start..end` (ms) best: the finest kept that far
/// back (`retention_days`: raw, minute, ten minutes) with at most `max_points`.
pub fn series_step(
    start: i64,
    end: i64,
    now: i64,
    period_s: f64,
    retention_days: [f64; 3],
    max_points: f64,
) -> i64 {
    let span = (end - start).max(0) as f64;
    let steps =
        [(0, period_s * 1000.0), (MINUTE_MS, MINUTE_MS as f64), (TEN_MINUTES_MS, TEN_MINUTES_MS as f64)];
    for ((step, every), days) in steps.into_iter().zip(retention_days) {
        let kept_from = now - (days * DAY_MS) as i64;
        if start >= kept_from && span / every <= max_points {
            return step;
        }
    }
    TEN_MINUTES_MS
}

#[cfg(test)]
mod tests {
    use super::strip;

    #[test]
    fn ageing_readings_are_not_news_but_new_reasons_are() {
        let r = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let stale =
            |age: u32| r(&[&format!("rain: data {age} s old (stale after 30 s): plc: not answering")]);
        assert_eq!(strip(&stale(32)), strip(&stale(1040)));
        assert_eq!(strip(&r(&["rain: it rains (8.0 mm/h)"])), strip(&r(&["rain: it rains (2.5 mm/h)"])));
        assert_ne!(
            strip(&r(&["rain: it rains (8.0 mm/h)"])),
            strip(&r(&["rain: it rains hard (12.0 mm/h)"]))
        );
        assert_ne!(strip(&stale(32)), strip(&r(&["rain: it rains (8.0 mm/h)"])));
        assert_eq!(
            strip(&r(&["conditions good for 10 s of the 300 s needed before SAFE"])),
            Vec::<String>::new()
        );
    }
}
