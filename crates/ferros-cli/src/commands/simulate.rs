//! `ferros simulate-night`: a whole night of the whole system in one process
//! on the simulated clock: every agent, the simulated observatory (its PLC
//! playing a scenario spread over the night), a fresh database holding the
//! requests of a folder (and the programs and the observer they name), then
//! a report of what happened and how safely.
//!
//! With `--faults SEED` the night also gets random faults (device hangs,
//! agents killed); the fault campaign test runs many such nights.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeDelta, Utc};
use ferros_agents::{AgentContext, Bus, Event, Supervisor};
use ferros_astro::NightSky;
use ferros_clock::Clock;
use ferros_db::{Db, NewUser};
use ferros_devices::{FrameType, Shutter};
use ferros_devices_sim::{Fault, Scenario, Witness};
use ferros_domain::{
    GlobalStatus, JulianDate, NewProgram, NewRequest, Period, Priority, Profile, RequestKind, Seconds,
};
use ferros_observatory::Observatory;
use ferros_request_xml::{ReadOptions, read_request};
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::astro::site_of;
use super::sim::read_scenario;
use crate::cli::{SimulateArgs, SiteArgs};
use crate::context::Context;
use crate::error::{CliError, CliResult};
use crate::output::say;

/// The observer the simulated requests belong to.
const OBSERVER: &str = "observer";

#[derive(Debug, Serialize)]
pub struct Report {
    pub date: String,
    pub speed: f64,
    /// Dark time (the Sun below the night altitude), UTC.
    pub night_start: String,
    pub night_end: String,
    /// What the simulation covered (sunset to after sunrise).
    pub simulated_from: String,
    pub simulated_to: String,
    pub sequences: Sequences,
    /// Archived images (FITS files with a database row).
    pub images: i64,
    pub images_by_kind: BTreeMap<String, i64>,
    pub safety: Safety,
    pub states: Vec<State>,
    pub faults: Vec<String>,
    /// Agents the supervisor restarted, when and why.
    pub restarts: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Sequences {
    pub submitted: i64,
    /// Still waiting at the end of the night (PLANNED or TOBEPLANNED): carried over.
    pub planned: i64,
    pub executed: i64,
    /// Not planned tonight (no room, quota): may be planned another night.
    pub rejected: i64,
    pub unplannable: i64,
    pub cancelled: i64,
    /// Still EXECUTING when the simulation stopped (after sunrise: none expected).
    pub executing: i64,
    /// Executions stopped and given back to the planner (UNSAFE, alert, device).
    pub interrupted: i64,
}

#[derive(Debug, Serialize)]
pub struct Safety {
    pub unsafe_periods: Vec<Period_>,
    /// The reaction time: `agents.reaction_s` plus a tenth of a real second of clock.
    pub reaction_budget_s: f64,
    /// The longest time from UNSAFE to no sky exposure running and the dome closing, seconds.
    pub max_reaction_s: f64,
    /// The longest time from UNSAFE to the dome closed, seconds.
    pub max_dome_closed_s: f64,
    /// Sky exposure (light, flat) while UNSAFE beyond the reaction time, seconds.
    pub exposure_while_unsafe_s: f64,
    /// Sky exposure while UNSAFE within the reaction time, seconds.
    pub exposure_within_reaction_s: f64,
}

#[derive(Debug, Serialize)]
pub struct Period_ {
    pub start: String,
    pub end: Option<String>,
    pub reasons: Vec<String>,
    /// Seconds until the dome began closing and the last sky exposure ended.
    pub reaction_s: Option<f64>,
    /// Seconds until the dome was closed.
    pub dome_closed_s: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct State {
    pub time: String,
    pub state: String,
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A stretch of time: start, end.
type Span = (DateTime<Utc>, DateTime<Utc>);

/// An UNSAFE period: start, end (if over), reasons.
type Unsafe = (DateTime<Utc>, Option<DateTime<Utc>>, Vec<String>);

/// What the observers saw during the night.
#[derive(Debug, Default)]
struct Log {
    states: Vec<(DateTime<Utc>, String)>,
    /// (start, end, reasons) of each UNSAFE period.
    unsafe_periods: Vec<Unsafe>,
    /// Dome samples: (time, shutter).
    dome: Vec<(DateTime<Utc>, Shutter)>,
    interrupted: i64,
    faults: Vec<String>,
    restarts: Vec<String>,
}

pub async fn run(ctx: &Context, args: SimulateArgs) -> CliResult {
    let date = NaiveDate::parse_from_str(args.date.trim(), "%Y-%m-%d").map_err(|e| {
        CliError::input(format!("--date: \"{}\" is not a date like 2026-11-22 ({e})", args.date))
    })?;
    if !(args.speed.is_finite() && args.speed >= 1.0) {
        return Err(CliError::input(format!("--speed: {} must be a number >= 1", args.speed)));
    }
    let site = site_of(ctx, &SiteArgs { lat: None, lon: None, elev: None })?;
    let s = &ctx.settings.site;
    let sky = NightSky::new(site, date, s.night_sun_altitude)
        .map_err(|e| CliError::input(format!("--date: {e}")))?;
    let (dusk, dawn) = sky.dusk_dawn(-0.833);
    let dark = sky.dark();
    let (Some(dusk), Some(dawn), Some(first), Some(last)) = (dusk, dawn, dark.first(), dark.last()) else {
        return Err(CliError::input(format!("no night on {date} at {}", s.name)));
    };
    let from = dusk.to_datetime() - TimeDelta::minutes(20);
    let to = dawn.to_datetime() + TimeDelta::minutes(50);
    let scenario = match &args.scenario {
        Some(p) => read_scenario(p)?,
        None => Scenario { iterations: 0, changes: Vec::new() },
    };
    // The scenario's iterations are spread over the simulated span.
    let span = (to - from).to_std().unwrap_or_default();
    let plc_period =
        if scenario.iterations > 0 { span / scenario.iterations as u32 } else { Duration::from_secs(2) };
    let requests = match &args.requests {
        Some(dir) => {
            read_requests(dir, JulianDate::from_datetime(from).map_err(|e| CliError::input(e.to_string()))?)?
        }
        None => Vec::new(),
    };

    // A fresh place: its own database and archive.
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("ferros-night-{date}-{}", std::process::id())),
    };
    if dir.exists() && std::fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(false) {
        return Err(CliError::input(format!(
            "--dir: {} is not empty: a simulation starts afresh",
            dir.display()
        )));
    }
    std::fs::create_dir_all(&dir).map_err(|e| CliError::input(format!("--dir: {}: {e}", dir.display())))?;
    let clock = Clock::simulated(from, args.speed).map_err(|e| CliError::input(format!("--speed: {e}")))?;
    let mut settings = ctx.settings.clone();
    settings.data_dir = dir.clone();
    settings.database_url = String::new();
    // The simulated observatory; device calls are bounded in real time: keep
    // the limit near 30 s of simulated time.
    settings.devices = ferros_config::Devices {
        timeout_s: settings.devices.timeout_s.min((30.0 / args.speed).max(0.2)),
        ..ferros_config::Devices::default()
    };
    // Time limits on the clock widen to what the machine can follow at this speed
    // (a step of an agent takes milliseconds of real time).
    let slack = 0.25 * args.speed;
    settings.weather.stale_after_s = settings.weather.stale_after_s.max(slack);
    settings.agents.heartbeat_timeout_s = settings.agents.heartbeat_timeout_s.max(12.0 * slack);
    // A reaction is a few wake-ups of the agents: what a loaded machine takes
    // for them (a tenth of a real second) counts in the reaction budget too.
    settings.agents.reaction_s += 0.1 * args.speed;
    let sim_ctx = Context { settings, clock, config_file: ctx.config_file.clone(), time: Some(from) };

    say!(
        "Simulating the night of {date} at {} from {} to {} UTC at x{}",
        s.name,
        iso(from),
        iso(to),
        args.speed
    );
    say!("  data       {}", dir.display());
    say!(
        "  limits     reaction {:.0} s, weather stale after {:.0} s, agents silent for {:.0} s restarted, device calls {:.2} s real",
        sim_ctx.settings.agents.reaction_s,
        sim_ctx.settings.weather.stale_after_s,
        sim_ctx.settings.agents.heartbeat_timeout_s,
        sim_ctx.settings.devices.timeout_s
    );
    let db = sim_ctx.open_db().await?;
    // Routine requests are there at the start; alerts arrive an hour into the night.
    let (alerts, routine): (Vec<_>, Vec<_>) =
        requests.into_iter().partition(|(_, r)| r.kind == RequestKind::Alert);
    create_accounts(&sim_ctx, &db, routine.iter().chain(&alerts).map(|(_, r)| r)).await?;
    let mut submitted = load_requests(&sim_ctx, &db, &routine).await?;
    say!("  requests   {} routine submitted ({} sequence(s))", routine.len(), submitted);
    let alert_time = first.start.to_datetime() + TimeDelta::hours(1);
    if !alerts.is_empty() {
        say!("  alerts     {} arriving at {}", alerts.len(), iso(alert_time));
    }

    let obs =
        Observatory::build_with(&sim_ctx.settings, clock, scenario, plc_period).map_err(CliError::input)?;
    // The cameras' own record of their shots: the safety figures rest on what
    // the detectors took, not on what the agents say they did.
    let witnesses: Vec<Witness> =
        [&obs.sim.camera_vis, &obs.sim.camera_nir].into_iter().flatten().map(|c| c.witness()).collect();
    let bus = Bus::default();
    let actx = AgentContext { db: db.clone(), clock, bus: bus.clone() };
    let timeout = Duration::from_secs_f64(sim_ctx.settings.agents.heartbeat_timeout_s);
    let mut supervisor = Supervisor::new(actx.clone(), timeout);
    for f in super::agents::factories(&sim_ctx, &actx, &obs, None)? {
        supervisor.add(f);
    }
    let handle = supervisor.handle();
    let log = Arc::new(Mutex::new(Log::default()));
    let listener = tokio::spawn(listen(bus.subscribe(), clock, log.clone(), args.quiet));
    let dome_watch = tokio::spawn(watch_dome(obs.clone(), clock, log.clone()));
    let alert_count: i64 = alerts.iter().map(|(_, r)| r.sequences.len() as i64).sum();
    let arrivals = {
        let (db, sim_ctx_settings) = (db.clone(), sim_ctx.settings.clone());
        tokio::spawn(async move {
            let left = (alert_time - clock.now()).to_std().unwrap_or_default();
            clock.sleep(left).await;
            let c = Context { settings: sim_ctx_settings, clock, config_file: None, time: None };
            if let Err(e) = load_requests(&c, &db, &alerts).await {
                tracing::error!("alerts: {e}");
            }
        })
    };
    submitted += alert_count;
    let faults = args
        .faults
        .map(|seed| tokio::spawn(inject_faults(seed, obs.clone(), handle, clock, from, to, log.clone())));
    // The simulation ends after sunrise, once the agents have finished what
    // they were doing (a slow machine may still be winding the night down).
    let settling = {
        let db = db.clone();
        async move {
            let left = (to - clock.now()).to_std().unwrap_or_default();
            clock.sleep(left).await;
            let limit = tokio::time::Instant::now() + SETTLE;
            while !settled(&db).await {
                if tokio::time::Instant::now() >= limit {
                    say!("the agents had not settled {} s (real) after the night: stopped", SETTLE.as_secs());
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    supervisor.run(settling).await;
    listener.abort();
    dome_watch.abort();
    arrivals.abort();
    if let Some(f) = faults {
        f.abort();
    }
    let exposures: Vec<Span> = witnesses
        .iter()
        .flat_map(Witness::shots)
        .filter(|s| matches!(s.frame, FrameType::Light | FrameType::Flat))
        .map(|s| (s.start, s.end))
        .collect();
    let report = report(
        &sim_ctx,
        &db,
        date,
        args.speed,
        (first.start, last.end),
        (from, to),
        (&log, &exposures),
        submitted,
    )
    .await?;
    db.close().await;
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
        "night over: {} executed, {} interrupted, {} image(s); {} UNSAFE period(s), max reaction {:.1} s, exposure while UNSAFE {:.1} s",
        sq.executed,
        sq.interrupted,
        report.images,
        report.safety.unsafe_periods.len(),
        report.safety.max_reaction_s,
        report.safety.exposure_while_unsafe_s
    );
    Ok(())
}

/// How long (real time) the agents may take to wind the night down.
const SETTLE: Duration = Duration::from_secs(30);

/// Whether the agents are done with the night: no sequence EXECUTING, and the
/// planner's latest schedule made after the sequences' latest change.
async fn settled(db: &Db) -> bool {
    if !db.executing_sequences().await.is_ok_and(|e| e.is_empty()) {
        return false;
    }
    match (db.planning_mark().await, db.latest_schedule().await) {
        (Ok((_, None)), _) => true,
        (Ok((_, Some(changed))), Ok(Some(s))) => s.created_at >= changed,
        _ => false,
    }
}

/// The request files of a folder (`*.xml`), in name order, read and checked
/// (relative windows count from `now`: alerts are read again when they arrive).
fn read_requests(dir: &Path, now: JulianDate) -> CliResult<Vec<(String, NewRequest)>> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| CliError::input(format!("--requests: {}: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "xml")).collect();
    files.sort();
    if files.is_empty() {
        return Err(CliError::input(format!("--requests: no *.xml request in {}", dir.display())));
    }
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p)
                .map_err(|e| CliError::input(format!("{}: cannot read: {e}", p.display())))?;
            let imported = read_request(&text, &ReadOptions { now }).map_err(|problems| {
                for q in &problems {
                    eprintln!("{}:{q}", p.display());
                }
                CliError::Reported(format!(
                    "{}: {} problem(s); nothing simulated",
                    p.display(),
                    problems.len()
                ))
            })?;
            Ok((text, imported.request))
        })
        .collect()
}

/// The observer and the programs the requests name.
async fn create_accounts<'a>(
    ctx: &Context,
    db: &Db,
    requests: impl Iterator<Item = &'a NewRequest>,
) -> CliResult {
    let now = ctx.clock.now();
    let programs: BTreeSet<String> = requests.map(|r| r.program.clone()).collect();
    for name in &programs {
        let p = NewProgram {
            name: name.clone(),
            description: "created by ferros simulate-night".into(),
            period: Period::containing(now.date_naive()),
            priority: Priority::new(50).map_err(|e| CliError::input(e.to_string()))?,
            quota: Seconds::new("quota", 100.0 * 3600.0).map_err(|e| CliError::input(e.to_string()))?,
        };
        db.create_program(&p, now).await?;
    }
    let user = NewUser {
        username: OBSERVER.into(),
        email: String::new(),
        password_hash: crate::password::hash(&crate::password::generate())?,
        profiles: BTreeSet::from([Profile::Observer, Profile::Pi]),
        programs: programs.into_iter().collect(),
    };
    db.create_user(&user, now).await?;
    Ok(())
}

/// Imports and submits requests now (relative windows from now); returns the sequences stored.
async fn load_requests(ctx: &Context, db: &Db, requests: &[(String, NewRequest)]) -> CliResult<i64> {
    let now = ctx.clock.now();
    let jd = JulianDate::from_datetime(now).map_err(|e| CliError::input(e.to_string()))?;
    let mut sequences = 0;
    for (text, _) in requests {
        // Read again: relative windows start when the request arrives.
        let r = read_request(text, &ReadOptions { now: jd })
            .map_err(|p| CliError::input(p.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))?
            .request;
        let id = db.create_request(&r, OBSERVER, true, now).await?;
        sequences += db.request(id).await?.map(|r| r.sequences.len()).unwrap_or(0) as i64;
        if r.kind == RequestKind::Alert {
            say!("{}  ALERT request {id} \"{}\" submitted", now.format("%H:%M:%S"), r.name);
        }
    }
    Ok(sequences)
}

async fn listen(
    mut events: tokio::sync::broadcast::Receiver<Event>,
    clock: Clock,
    log: Arc<Mutex<Log>>,
    quiet: bool,
) {
    loop {
        let e = match events.recv().await {
            Ok(e) => e,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(_) => return,
        };
        let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
        match e {
            Event::Mode { at, mode } => {
                if !quiet {
                    say!("{}  {mode}", at.format("%H:%M:%S"));
                }
                l.states.push((at, mode));
            }
            Event::Environment { at, status, reasons } => {
                let open = l.unsafe_periods.last().is_some_and(|p| p.1.is_none());
                match status {
                    GlobalStatus::Unsafe if !open => {
                        if !quiet {
                            say!("{}  UNSAFE: {}", at.format("%H:%M:%S"), reasons.join("; "));
                        }
                        l.unsafe_periods.push((at, None, reasons));
                    }
                    GlobalStatus::Safe if open => {
                        if !quiet {
                            say!("{}  SAFE", at.format("%H:%M:%S"));
                        }
                        if let Some(p) = l.unsafe_periods.last_mut() {
                            p.1 = Some(at);
                        }
                    }
                    _ => {}
                }
            }
            Event::Exposure { .. } => {}
            Event::Sequence { at, id, state } => {
                if state.starts_with("given back") {
                    l.interrupted += 1;
                }
                if !quiet {
                    say!("{}  sequence {id} {state}", at.format("%H:%M:%S"));
                }
            }
            Event::Restarted { agent, reason, .. } => {
                l.restarts.push(format!("{}  {agent} ({reason})", iso(clock.now())));
                if !quiet {
                    say!("agent {agent} restarted ({reason})");
                }
            }
        }
    }
}

/// Samples the dome's shutter every 5 s of clock time.
async fn watch_dome(obs: Observatory, clock: Clock, log: Arc<Mutex<Log>>) {
    let Some(dome) = obs.sim.dome.clone() else { return };
    loop {
        if let Ok(s) = ferros_devices::Dome::state(dome.as_ref()).await {
            log.lock().unwrap_or_else(|e| e.into_inner()).dome.push((s.at, s.value.shutter));
        }
        clock.sleep(Duration::from_secs(5)).await;
    }
}

/// Random faults over the night: devices that hang for a while, agents killed.
async fn inject_faults(
    seed: u64,
    obs: Observatory,
    handle: ferros_agents::SupervisorHandle,
    clock: Clock,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    log: Arc<Mutex<Log>>,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let span = (to - from).num_seconds().max(1);
    let mut plan: Vec<(DateTime<Utc>, usize, i64)> = (0..rng.gen_range(2..=5))
        .map(|_| {
            (from + TimeDelta::seconds(rng.gen_range(0..span)), rng.gen_range(0..6), rng.gen_range(60..900))
        })
        .collect();
    plan.sort_by_key(|p| p.0);
    let sim = &obs.sim;
    for (at, kind, secs) in plan {
        let left = (at - clock.now()).to_std().unwrap_or_default();
        clock.sleep(left).await;
        let (what, faults) = match kind {
            0 => ("the NIR camera hangs", sim.camera_nir.as_ref().map(|c| c.faults.clone())),
            1 => ("the VIS filter wheel hangs", sim.filter_vis.as_ref().map(|c| c.faults.clone())),
            2 => ("the mount does not answer", sim.mount.as_ref().map(|c| c.faults.clone())),
            3 => ("agent executor killed", None),
            4 => ("agent majordome killed", None),
            _ => ("agent env killed", None),
        };
        let note = format!(
            "{}  {what}{}",
            iso(clock.now()),
            if faults.is_some() { format!(" for {secs} s") } else { String::new() }
        );
        log.lock().unwrap_or_else(|e| e.into_inner()).faults.push(note);
        match (kind, faults) {
            (3, _) => handle.kill("executor").await,
            (4, _) => handle.kill("majordome").await,
            (5, _) => handle.kill("env").await,
            (2, Some(f)) => {
                f.set(Fault::Unreachable);
                clock.sleep(Duration::from_secs(secs as u64)).await;
                f.clear();
            }
            (_, Some(f)) => {
                f.set(Fault::Hang);
                clock.sleep(Duration::from_secs(secs as u64)).await;
                f.clear();
            }
            _ => {}
        }
    }
}

#[allow(clippy::too_many_arguments, reason = "the night's facts, each named")]
async fn report(
    ctx: &Context,
    db: &Db,
    date: NaiveDate,
    speed: f64,
    (dark_start, dark_end): (JulianDate, JulianDate),
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    (log, exposures): (&Mutex<Log>, &[Span]),
    submitted: i64,
) -> CliResult<Report> {
    let counts: BTreeMap<String, i64> = db.sequence_counts().await?.into_iter().collect();
    let n = |k: &str| counts.get(k).copied().unwrap_or(0);
    let images_by_kind: BTreeMap<String, i64> = db.image_counts().await?.into_iter().collect();
    let l = log.lock().unwrap_or_else(|e| e.into_inner());
    let budget = ctx.settings.agents.reaction_s;
    let mut max_reaction: f64 = 0.0;
    let mut max_closed: f64 = 0.0;
    let (mut beyond, mut within) = (0.0, 0.0);
    let secs = |d: TimeDelta| d.num_milliseconds() as f64 / 1000.0;
    let mut periods = Vec::new();
    for (start, end_, reasons) in &l.unsafe_periods {
        let end = end_.unwrap_or(to);
        let limit = *start + TimeDelta::milliseconds((budget * 1000.0) as i64);
        // Sky exposures overlapping the period.
        let mut last_exposure = *start;
        for (a, b) in exposures {
            let (a, b) = ((*a).max(*start), (*b).min(end));
            if b > a {
                last_exposure = last_exposure.max(b);
                within += secs(b.min(limit) - a.min(limit)).max(0.0);
                beyond += secs(b - a.max(limit)).max(0.0);
            }
        }
        let closing = l.dome.iter().find(|(t, sh)| *t >= *start && *sh != Shutter::Opened).map(|(t, _)| *t);
        let closed = l.dome.iter().find(|(t, sh)| *t >= *start && *sh == Shutter::Closed).map(|(t, _)| *t);
        let reaction = closing.map(|c| secs(c.max(last_exposure) - *start));
        let closed = closed.filter(|c| *c <= end).map(|c| secs(c - *start));
        max_reaction = max_reaction.max(reaction.unwrap_or(0.0));
        max_closed = max_closed.max(closed.unwrap_or(0.0));
        periods.push(Period_ {
            start: iso(*start),
            end: end_.map(iso),
            reasons: reasons.clone(),
            reaction_s: reaction.map(|r| (r * 10.0).round() / 10.0),
            dome_closed_s: closed.map(|r| (r * 10.0).round() / 10.0),
        });
    }
    Ok(Report {
        date: date.to_string(),
        speed,
        night_start: iso(dark_start.to_datetime()),
        night_end: iso(dark_end.to_datetime()),
        simulated_from: iso(from),
        simulated_to: iso(to),
        sequences: Sequences {
            submitted,
            planned: n("PLANNED") + n("TOBEPLANNED"),
            executed: n("EXECUTED"),
            rejected: n("REJECTED"),
            unplannable: n("UNPLANNABLE"),
            cancelled: n("CANCELLED"),
            executing: n("EXECUTING"),
            interrupted: l.interrupted,
        },
        images: images_by_kind.values().sum(),
        images_by_kind,
        safety: Safety {
            unsafe_periods: periods,
            reaction_budget_s: budget,
            max_reaction_s: (max_reaction * 10.0).round() / 10.0,
            max_dome_closed_s: (max_closed * 10.0).round() / 10.0,
            exposure_while_unsafe_s: (beyond * 10.0).round() / 10.0,
            exposure_within_reaction_s: (within * 10.0).round() / 10.0,
        },
        states: l.states.iter().map(|(t, s)| State { time: iso(*t), state: s.clone() }).collect(),
        faults: l.faults.clone(),
        restarts: l.restarts.clone(),
    })
}
