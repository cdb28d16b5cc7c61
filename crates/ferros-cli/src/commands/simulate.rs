//! `ferros simulate-night` and `ferros campaign`: the command-line side of
//! `ferros-simulation` (arguments checked, files read, the report written).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use ferros_devices_sim::Scenario;
use ferros_simulation::{AlertText, Campaign, CampaignNight, Night, RequestText, SimError};

use super::common::{MAX_REQUEST_BYTES, read_scenario, read_text};
use crate::cli::{CampaignArgs, SimulateArgs};
use crate::context::Context;
use crate::error::{CliError, CliResult};
use crate::output::say;

use ferros_limits::{MAX_NIGHTS, MAX_REQUEST_FILES};
/// Pacing: from real time to a night in under a second.
const SPEEDS: std::ops::RangeInclusive<f64> = 1.0..=1_000_000.0;

fn date(text: &str, arg: &str) -> CliResult<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|e| CliError::input(format!("{arg}: \"{text}\" is not a date like 2026-11-22 ({e})")))
}

fn sim_error(e: SimError) -> CliError {
    match e {
        SimError::Input(m) => CliError::input(m),
        SimError::Observatory(e) => CliError::input(e),
        e @ (SimError::Failure(_) | SimError::Weather(_)) => {
            CliError::Failure(anyhow::anyhow!(e.to_string()))
        }
    }
}

/// The request files of a folder (`*.xml`), in name order.
fn read_requests(dir: &Path) -> CliResult<Vec<RequestText>> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| CliError::input(format!("--requests: {}: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "xml")).collect();
    files.sort();
    if files.is_empty() {
        return Err(CliError::input(format!("--requests: no *.xml request in {}", dir.display())));
    }
    if files.len() > MAX_REQUEST_FILES {
        return Err(CliError::input(format!(
            "--requests: {} holds {} request files, more than {MAX_REQUEST_FILES}",
            dir.display(),
            files.len()
        )));
    }
    files
        .into_iter()
        .map(|p| {
            let text = read_text(&p, MAX_REQUEST_BYTES, "request")?;
            Ok(RequestText { name: p.display().to_string(), text })
        })
        .collect()
}

/// The notices of `--alerts DIR` (`*.xml`), with the times `schedule.json`
/// gives some of them (`{"FILE.xml": minutes after the night's start}`).
fn read_alerts(dir: &Path) -> CliResult<Vec<AlertText>> {
    let shown = dir.display();
    let entries = std::fs::read_dir(dir).map_err(|e| CliError::input(format!("--alerts: {shown}: {e}")))?;
    let mut files: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "xml")).collect();
    files.sort();
    if files.is_empty() {
        return Err(CliError::input(format!("--alerts: no *.xml notice in {shown}")));
    }
    if files.len() > ferros_limits::MAX_ALERT_FILES {
        return Err(CliError::input(format!(
            "--alerts: {shown} holds {} notices, more than {}",
            files.len(),
            ferros_limits::MAX_ALERT_FILES
        )));
    }
    let schedule_path = dir.join("schedule.json");
    let schedule: std::collections::BTreeMap<String, f64> = if schedule_path.is_file() {
        let text = read_text(&schedule_path, 1 << 20, "schedule")?;
        serde_json::from_str(&text).map_err(|e| {
            CliError::input(format!(
                "--alerts: {}: {e} (expected {{\"FILE.xml\": minutes after the night's start, ...}})",
                schedule_path.display()
            ))
        })?
    } else {
        Default::default()
    };
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
        .collect();
    if let Some(unknown) = schedule.keys().find(|k| !names.contains(k)) {
        return Err(CliError::input(format!(
            "--alerts: schedule.json names {unknown}, which is not in {shown}"
        )));
    }
    files
        .into_iter()
        .zip(names)
        .map(|(p, name)| {
            let bytes = super::common::read_head(&p, ferros_limits::MAX_VOEVENT_BYTES as u64)?;
            Ok(AlertText {
                after_dark_min: schedule.get(&name).copied(),
                name,
                text: String::from_utf8_lossy(&bytes).into_owned(),
            })
        })
        .collect()
}

/// A folder for a run: the one given, or a new temporary one.
fn work_dir(given: Option<PathBuf>, what: &str) -> CliResult<PathBuf> {
    match given {
        Some(d) => Ok(d),
        None => tempfile::Builder::new()
            .prefix(&format!("ferros-{what}-"))
            .tempdir()
            .map(tempfile::TempDir::keep)
            .map_err(|e| CliError::Failure(anyhow::anyhow!("cannot make a temporary folder: {e}"))),
    }
}

pub async fn run(ctx: &Context, args: SimulateArgs) -> CliResult {
    let date = date(&args.date, "--date")?;
    if let Some(s) = args.speed
        && !SPEEDS.contains(&s)
    {
        return Err(CliError::input(format!(
            "--speed: {s} must be a number from {} to {}",
            SPEEDS.start(),
            SPEEDS.end()
        )));
    }
    let scenario = match &args.scenario {
        Some(p) => read_scenario(p)?,
        None if args.random_weather => ferros_simulation::random_weather(args.seed).map_err(sim_error)?,
        None => Scenario { iterations: 0, changes: Vec::new() },
    };
    let requests = match &args.requests {
        Some(dir) => read_requests(dir)?,
        None => Vec::new(),
    };
    let alerts = match &args.alerts {
        Some(dir) => read_alerts(dir)?,
        None => Vec::new(),
    };
    let dir = work_dir(args.dir, "night")?;
    let night = Night {
        settings: {
            let mut s = ctx.settings.clone();
            match args.pipeline.as_str() {
                "off" => s.pipeline.enabled = false,
                which => s.pipeline.images = which.to_owned(),
            }
            s
        },
        date,
        requests,
        alerts,
        scenario,
        seed: args.seed,
        faults: args.faults,
        pace: args.speed,
        dir,
        printer: Some(Arc::new(|line: &str| say!("{line}"))),
        quiet: args.quiet,
        cpu: ferros_simulation::Cpu::Idlest,
    };
    let report = tokio::task::spawn_blocking(move || ferros_simulation::run(night))
        .await
        .map_err(|e| CliError::Failure(anyhow::anyhow!("the night stopped: {e}")))?
        .map_err(sim_error)?;
    let text = serde_json::to_string_pretty(&report).map_err(|e| CliError::Failure(e.into()))?;
    match &args.report {
        Some(p) => {
            std::fs::write(p, format!("{text}\n"))
                .map_err(|e| CliError::input(format!("--report: {}: {e}", p.display())))?;
            say!("report written to {}", p.display());
        }
        None => say!("{text}"),
    }
    let sq = &report.sequences;
    say!(
        "night over: {} executed, {} interrupted, {} image(s); {} UNSAFE period(s), max reaction {:.1} s, exposure while UNSAFE {:.1} s; {:.2} s real",
        sq.executed,
        sq.interrupted,
        report.images,
        report.safety.unsafe_periods.len(),
        report.safety.max_reaction_s,
        report.safety.exposure_while_unsafe_s,
        report.wall.as_ref().map_or(0.0, |w| w.seconds)
    );
    Ok(())
}

pub async fn campaign(ctx: &Context, args: CampaignArgs) -> CliResult {
    let date = date(&args.date, "--date")?;
    if args.nights == 0 || args.nights > MAX_NIGHTS {
        return Err(CliError::input(format!("--nights: {} must be from 1 to {MAX_NIGHTS}", args.nights)));
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let workers = args.workers.unwrap_or(cores);
    if workers == 0 || workers > 4 * cores.max(1) {
        return Err(CliError::input(format!("--workers: {workers} must be from 1 to {}", 4 * cores.max(1))));
    }
    let requests = match &args.requests {
        Some(dir) => read_requests(dir)?,
        None => ferros_simulation::example_requests(),
    };
    let dir = work_dir(args.dir, "campaign")?;
    let c = Campaign {
        settings: ctx.settings.clone(),
        date,
        requests,
        nights: args.nights,
        seed: args.seed,
        workers,
        dir: dir.clone(),
    };
    if !args.json {
        say!(
            "Fault campaign: {} night(s) of {date} from seed {}, {workers} at once, in {}",
            c.nights,
            c.seed,
            dir.display()
        );
    }
    let json = args.json;
    let progress = move |n: &CampaignNight| {
        if json {
            return;
        }
        let verdict =
            if n.broken.is_empty() { "ok".to_owned() } else { format!("BROKEN: {}", n.broken.join("; ")) };
        say!(
            "night seed {}: {} executed, {} interrupted, {} image(s), {} UNSAFE period(s), max reaction {} s, dome closed within {} s, {} fault(s), {} restart(s); {verdict} ({:.2} s)",
            n.seed,
            n.executed,
            n.interrupted,
            n.images,
            n.unsafe_periods,
            n.max_reaction_s,
            n.max_dome_closed_s,
            n.faults.len(),
            n.restarts,
            n.wall_s
        );
    };
    let report = tokio::task::spawn_blocking(move || ferros_simulation::campaign(&c, &progress))
        .await
        .map_err(|e| CliError::Failure(anyhow::anyhow!("the campaign stopped: {e}")))?
        .map_err(sim_error)?;
    if report.broken == 0 {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| CliError::Failure(e.into()))?;
        say!("{text}");
    } else {
        say!(
            "campaign: {} night(s), {} fault(s), {} UNSAFE period(s), {} night(s) broke an invariant; {:.1} s, {} nights per minute on {} worker(s)",
            report.nights,
            report.faults,
            report.unsafe_periods,
            report.broken,
            report.wall_s,
            report.nights_per_minute,
            report.workers
        );
        for n in report.each.iter().filter(|n| !n.broken.is_empty()) {
            say!(
                "  seed {} broke: {} (replay: ferros simulate-night --date {date} --seed {} --faults, scenario of seed {}; data in {})",
                n.seed,
                n.broken.join("; "),
                n.seed,
                n.seed,
                n.kept.as_ref().map_or("-".into(), |p| p.display().to_string())
            );
        }
    }
    if report.broken > 0 {
        return Err(CliError::Failure(anyhow::anyhow!("{} night(s) broke an invariant", report.broken)));
    }
    Ok(())
}
