//! `ferros bench astro`: how long the visibility windows of many targets take
//! for one night, on one core; `bench scheduler`; `bench history` (its own
//! module). Print figures; assert nothing.

use crate::output::say;
use std::time::Instant;

use ferros_astro::{Limits, NightSky};
use ferros_domain::Coordinates;
use ferros_scheduler::{Input, Status, Task};
use rand::{Rng, SeedableRng};

use super::astro::site_of;
use crate::cli::{BenchCmd, SiteArgs};
use crate::context::Context;
use crate::error::{CliError, CliResult};

pub async fn run(ctx: &Context, cmd: BenchCmd) -> CliResult {
    match cmd {
        BenchCmd::History { days, quantities, period } => {
            super::bench_history::run(ctx, days, quantities, period).await
        }
        BenchCmd::Alert { count } => super::bench_alert::run(ctx, count).await,
        BenchCmd::Astro { targets } => astro(ctx, targets),
        BenchCmd::Pipeline { size, runs } => super::bench_pipeline::run(ctx, size, runs),
        BenchCmd::Scheduler { sequences, seed, export } => scheduler(ctx, sequences, seed, export.as_deref()),
    }
}

/// A random night like an observatory's: targets spread over the sky with
/// their real visibility, blocks of 5 to 60 minutes, priorities 1 to 40 (a few
/// alerts at 0), windows from an hour to the whole night, some preferred times.
fn scheduler(ctx: &Context, n: usize, seed: u64, export: Option<&std::path::Path>) -> CliResult {
    let site = site_of(ctx, &SiteArgs { lat: None, lon: None, elev: None })?;
    let date = ctx.clock.now().date_naive();
    let sky = NightSky::new(site, date, ctx.settings.site.night_sun_altitude)
        .map_err(|e| CliError::input(e.to_string()))?;
    let dark = sky.dark();
    let (Some(first), Some(last)) = (dark.first(), dark.last()) else {
        return Err(CliError::input(format!("no night on {date} at this site")));
    };
    let (start, end) = (first.start.days(), last.end.days());
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    let mut targets = Vec::with_capacity(n);
    for id in 0..n as i64 {
        let ra = rng.gen_range(0.0..360.0);
        let dec = rng.gen_range(-0.5f64..1.0).asin().to_degrees();
        let c = Coordinates::new(ra, dec).map_err(|e| CliError::input(e.to_string()))?;
        let min_alt = rng.gen_range(20.0..40.0);
        let jd1 = rng.gen_range(start - 0.1..end - 0.05);
        let jd2 = (jd1 + rng.gen_range(1.0 / 24.0..1.0)).min(end + 0.5);
        let limits = Limits { min_altitude: Some(min_alt), between: Some((jd1, jd2)), ..Limits::default() };
        let visibility: Vec<(f64, f64)> =
            sky.windows(c, &limits).into_iter().map(|w| (w.start.days(), w.end.days())).collect();
        let block = rng.gen_range(5.0..60.0) / 1440.0;
        let alert = rng.gen_bool(0.002);
        let t_prefered = rng.gen_bool(0.2).then(|| rng.gen_range(jd1..jd2));
        targets.push((ra, dec, min_alt));
        tasks.push(Task {
            id,
            priority: if alert { 0 } else { rng.gen_range(1..=40) },
            jd1,
            jd2,
            block,
            t_prefered,
            visibility: Some(visibility),
            program: Some(rng.gen_range(0..8)),
            request: Some(id),
            all_or_nothing: false,
            mandatory: false,
            frozen: None,
        });
    }
    let windows_time = t0.elapsed();
    let input = Input {
        night_start: start,
        night_end: end,
        now: None,
        tasks,
        quotas: Default::default(),
        hours_per_unit: None,
    };
    let t1 = Instant::now();
    let plan = ferros_scheduler::plan(&input).map_err(|e| CliError::Failure(anyhow::anyhow!("{e}")))?;
    let plan_time = t1.elapsed();
    let planned: Vec<_> = plan.entries.iter().filter(|e| e.status == Status::Planned).collect();
    let by_id: std::collections::HashMap<i64, &Task> = input.tasks.iter().map(|t| (t.id, t)).collect();
    let hours: f64 = planned.iter().map(|e| by_id[&e.id].block * 24.0).sum();
    let weighted: f64 =
        planned.iter().map(|e| by_id[&e.id].block * 24.0 / f64::from(by_id[&e.id].priority.max(1))).sum();
    say!(
        "ferros bench scheduler: {n} sequences, night of {date} ({:.2} h dark), seed {seed}",
        (end - start) * 24.0
    );
    say!("  visibility windows (ephemerides)  {:>9.1} ms", windows_time.as_secs_f64() * 1e3);
    say!("  planning                          {:>9.1} ms", plan_time.as_secs_f64() * 1e3);
    say!(
        "  planned {} sequences, {hours:.2} h ({:.1} % of the night), priority-weighted {weighted:.3} h",
        planned.len(),
        100.0 * hours / ((end - start) * 24.0)
    );
    if let Some(path) = export {
        let doc = serde_json::json!({
            "site": {"lat": site.latitude(), "lon": site.longitude(), "elev": site.elevation()},
            "night_start": start, "night_end": end,
            "sequences": input.tasks.iter().zip(&targets).map(|(t, (ra, dec, min_alt))| serde_json::json!({
                "id": t.id, "ra": ra, "dec": dec, "min_alt": min_alt, "jd1": t.jd1, "jd2": t.jd2,
                "duration_s": t.block * 86_400.0, "priority": t.priority, "t_prefered": t.t_prefered,
            })).collect::<Vec<_>>(),
            "ferros": {"planning_s": plan_time.as_secs_f64(), "planned": planned.iter().map(|e| serde_json::json!({
                "id": e.id, "tsp": e.tsp, "tep": e.tep})).collect::<Vec<_>>()},
        });
        std::fs::write(path, doc.to_string())
            .map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
        say!("  night written to {}", path.display());
    }
    Ok(())
}

fn astro(ctx: &Context, n: usize) -> CliResult {
    let site = site_of(ctx, &SiteArgs { lat: None, lon: None, elev: None })?;
    let date = ctx.clock.now().date_naive();
    let mut rng = rand::rngs::StdRng::seed_from_u64(20_261_122);
    let targets: Vec<Coordinates> = (0..n)
        .filter_map(|_| {
            let ra = rng.gen_range(0.0..360.0);
            let dec = rng.gen_range(-1.0f64..1.0).asin().to_degrees();
            Coordinates::new(ra, dec).ok()
        })
        .collect();
    let limits = Limits { min_altitude: Some(30.0), min_moon_distance: Some(20.0), ..Limits::default() };

    let t0 = Instant::now();
    let sky = NightSky::new(site, date, ctx.settings.site.night_sun_altitude)
        .map_err(|e| CliError::input(e.to_string()))?;
    let night = t0.elapsed();
    let t1 = Instant::now();
    let mut windows = 0usize;
    let mut visible = 0usize;
    for c in &targets {
        let w = sky.windows(*c, &limits);
        visible += usize::from(!w.is_empty());
        windows += w.len();
    }
    let all = t1.elapsed();
    say!("ferros bench astro: night of {date} at lat {:.4}, lon {:.4}", site.latitude(), site.longitude());
    say!(
        "  night (Sun, Moon, events, {} frames)  {:>9.1} ms",
        24 * 60 / ferros_astro::STEP_MINUTES + 1,
        night.as_secs_f64() * 1e3
    );
    say!(
        "  windows of {} targets (alt >= 30, Moon >= 20 deg)  {:>9.1} ms",
        targets.len(),
        all.as_secs_f64() * 1e3
    );
    say!("  per target  {:>9.1} us", all.as_secs_f64() * 1e6 / targets.len().max(1) as f64);
    say!("  {visible} targets visible, {windows} windows");
    Ok(())
}
