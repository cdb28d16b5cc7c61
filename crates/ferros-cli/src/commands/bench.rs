//! `ferros bench astro`: how long the visibility windows of many targets take
//! for one night, on one core. Prints figures; asserts nothing.

use crate::output::say;
use std::time::Instant;

use ferros_astro::{Limits, NightSky};
use ferros_domain::Coordinates;
use rand::{Rng, SeedableRng};

use super::astro::site_of;
use crate::cli::{BenchCmd, SiteArgs};
use crate::context::Context;
use crate::error::{CliError, CliResult};

pub fn run(ctx: &Context, cmd: BenchCmd) -> CliResult {
    match cmd {
        BenchCmd::Astro { targets } => astro(ctx, targets),
    }
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
