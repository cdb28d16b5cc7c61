//! The fault campaign: many random nights on all cores, the invariants
//! checked on each; a broken one comes with the seed that replays it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use ferros_config::Settings;
use ferros_devices_sim::Scenario;
use serde::Serialize;

use crate::night::{Night, RequestText, SimError, run};
use crate::report::check;
use crate::scenario::random_scenario;

/// What to run.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub settings: Settings,
    pub date: NaiveDate,
    pub requests: Vec<RequestText>,
    pub nights: u64,
    /// Night `i` has seed `seed + i`: `ferros simulate-night --seed` with it replays the night.
    pub seed: u64,
    /// Nights run at once (the machine's cores by default).
    pub workers: usize,
    /// A folder for the nights' data; each night's is removed once checked,
    /// unless it broke an invariant.
    pub dir: PathBuf,
}

/// One night of a campaign.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignNight {
    pub seed: u64,
    pub executed: i64,
    pub interrupted: i64,
    pub images: i64,
    pub unsafe_periods: usize,
    pub max_reaction_s: f64,
    pub max_dome_closed_s: f64,
    pub faults: Vec<String>,
    pub restarts: usize,
    /// The invariants it broke (empty: none), or why it could not run.
    pub broken: Vec<String>,
    /// Where its data were kept (a night that broke an invariant).
    pub kept: Option<PathBuf>,
    pub wall_s: f64,
}

/// The campaign's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignReport {
    pub nights: u64,
    pub seed: u64,
    pub workers: usize,
    pub faults: usize,
    pub unsafe_periods: usize,
    pub broken: usize,
    pub wall_s: f64,
    pub nights_per_minute: f64,
    pub each: Vec<CampaignNight>,
}

/// Runs the campaign; `progress` hears of each night as it ends.
pub fn campaign(
    c: &Campaign,
    progress: &(dyn Fn(&CampaignNight) + Sync),
) -> Result<CampaignReport, SimError> {
    let started = std::time::Instant::now();
    std::fs::create_dir_all(&c.dir).map_err(|e| SimError::Input(format!("{}: {e}", c.dir.display())))?;
    let next = AtomicU64::new(0);
    let out = Arc::new(Mutex::new(Vec::new()));
    let workers = c.workers.max(1);
    std::thread::scope(|scope| {
        for worker in 0..workers {
            let (next, out) = (&next, &out);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= c.nights {
                        return;
                    }
                    let night = one(c, c.seed.wrapping_add(i), worker);
                    progress(&night);
                    out.lock().unwrap_or_else(|e| e.into_inner()).push(night);
                }
            });
        }
    });
    let mut each = std::mem::take(&mut *out.lock().unwrap_or_else(|e| e.into_inner()));
    each.sort_by_key(|n| n.seed);
    let wall = started.elapsed().as_secs_f64();
    Ok(CampaignReport {
        nights: c.nights,
        seed: c.seed,
        workers,
        faults: each.iter().map(|n| n.faults.len()).sum(),
        unsafe_periods: each.iter().map(|n| n.unsafe_periods).sum(),
        broken: each.iter().filter(|n| !n.broken.is_empty()).count(),
        wall_s: (wall * 100.0).round() / 100.0,
        nights_per_minute: if wall > 0.0 {
            (c.nights as f64 * 60.0 / wall * 10.0).round() / 10.0
        } else {
            0.0
        },
        each,
    })
}

/// The random weather of a campaign's night of `seed`.
pub fn random_weather(seed: u64) -> Result<Scenario, SimError> {
    Ok(Scenario::parse(&random_scenario(seed))?)
}

/// The night of `seed`: its random weather and faults.
pub fn campaign_night(c: &Campaign, seed: u64) -> Result<Night, SimError> {
    let scenario = random_weather(seed)?;
    // The campaign checks safety over many nights: the pipeline (CPU work
    // on every image, no part of safety) is left out.
    let mut settings = c.settings.clone();
    settings.pipeline.enabled = false;
    Ok(Night {
        settings,
        date: c.date,
        requests: c.requests.clone(),
        alerts: Vec::new(),
        scenario,
        seed,
        faults: true,
        pace: None,
        dir: c.dir.join(format!("night_{seed}")),
        printer: None,
        quiet: true,
        cpu: crate::Cpu::Idlest,
    })
}

/// Night `seed`, on the worker's own CPU.
fn one(c: &Campaign, seed: u64, worker: usize) -> CampaignNight {
    let failed = |why: String| CampaignNight {
        seed,
        executed: 0,
        interrupted: 0,
        images: 0,
        unsafe_periods: 0,
        max_reaction_s: 0.0,
        max_dome_closed_s: 0.0,
        faults: Vec::new(),
        restarts: 0,
        broken: vec![why],
        kept: None,
        wall_s: 0.0,
    };
    let night = match campaign_night(c, seed) {
        Ok(n) => Night { cpu: crate::Cpu::Nth(worker), ..n },
        Err(e) => return failed(e.to_string()),
    };
    let dir = night.dir.clone();
    let r = match run(night) {
        Ok(r) => r,
        Err(e) => return CampaignNight { kept: Some(dir), ..failed(format!("the night did not run: {e}")) },
    };
    let broken = check(&r);
    let kept = if broken.is_empty() {
        let _ = std::fs::remove_dir_all(&dir);
        None
    } else {
        Some(dir)
    };
    CampaignNight {
        seed,
        executed: r.sequences.executed,
        interrupted: r.sequences.interrupted,
        images: r.images,
        unsafe_periods: r.safety.unsafe_periods.len(),
        max_reaction_s: r.safety.max_reaction_s,
        max_dome_closed_s: r.safety.max_dome_closed_s,
        faults: r.faults.clone(),
        restarts: r.restarts.len(),
        broken,
        kept,
        wall_s: r.wall.map_or(0.0, |w| w.seconds),
    }
}
