//! One simulated night.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use ferros_agents::alerts::{AlertDesk, VtpIntake};
use ferros_agents::{AgentContext, AgentKind, Bus, Event, Supervisor};
use ferros_archive::Archive;
use ferros_astro::NightSky;
use ferros_clock::Clock;
use ferros_config::Settings;
use ferros_db::{Db, NewUser};
use ferros_devices::Shutter;
use ferros_devices::net::Network;
use ferros_devices_sim::{Motions, Scenario, Witness};
use ferros_domain::{
    GlobalStatus, JulianDate, NewProgram, NewRequest, Period, Priority, Profile, Quota, RequestKind, Seconds,
};
use ferros_observatory::Observatory;
use ferros_request_xml::{ReadOptions, read_request};

use crate::cpu::{Cpu, pin};
use crate::faults::inject_faults;
use crate::report::{Log, Report, Wall, iso, report};

/// Where the night's lines go (states, UNSAFE, sequences), as they happen.
pub type Printer = Arc<dyn Fn(&str) + Send + Sync>;

/// A request file: its name (for messages) and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestText {
    pub name: String,
    pub text: String,
}

/// The example requests shipped with Ferros (`examples/requests`): ten
/// routine requests and an alert (the seeds' example budgets no readout, and
/// the simulated cameras have one: it is left out).
pub fn example_requests() -> Vec<RequestText> {
    macro_rules! example {
        ($($name:literal),*) => {
            vec![$(RequestText {
                name: $name.to_owned(),
                text: include_str!(concat!("../../../examples/requests/", $name)).to_owned(),
            }),*]
        };
    }
    example!(
        "alert_request_01.xml",
        "routine_request_01.xml",
        "routine_request_02.xml",
        "routine_request_03.xml",
        "routine_request_04.xml",
        "routine_request_05.xml",
        "routine_request_06.xml",
        "routine_request_07.xml",
        "routine_request_08.xml",
        "routine_request_09.xml",
        "routine_request_10.xml"
    )
}

/// A notice to deliver during the night: its file name, its text, and when
/// (minutes after the night's start; `None`: at its own Who/Date, shifted
/// with the others so that the first arrives an hour into the night).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertText {
    pub name: String,
    pub text: String,
    pub after_dark_min: Option<f64>,
}

/// Where the night's VOEvent broker listens, on the night's own network.
const BROKER: &str = "broker:8099";

/// What to simulate.
#[derive(Clone)]
pub struct Night {
    /// The observatory's settings: its site, agents and executor (the devices
    /// are the simulators, the database and archive are new, in `dir`).
    pub settings: Settings,
    pub date: NaiveDate,
    /// Routine requests are submitted at the start; alerts arrive an hour into the night.
    pub requests: Vec<RequestText>,
    /// VOEvent notices, delivered by a VOEvent Transport Protocol broker to
    /// the alert manager's subscriber at their times.
    pub alerts: Vec<AlertText>,
    /// The PLC's scenario, its iterations spread over the night.
    pub scenario: Scenario,
    /// The seed of the weather's and the cameras' noise, and of the faults.
    pub seed: u64,
    /// Random faults drawn from the seed: devices that hang or stop
    /// answering, agents killed.
    pub faults: bool,
    /// Clock seconds per real second, for someone watching; `None`: as fast as the machine can.
    pub pace: Option<f64>,
    /// A new or empty folder for the night's database and archive.
    pub dir: PathBuf,
    pub printer: Option<Printer>,
    /// Print only the setting out, not each event.
    pub quiet: bool,
    /// Where the night's threads run (all on one CPU: see [`Cpu`]).
    pub cpu: Cpu,
}

impl std::fmt::Debug for Night {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Night")
            .field("date", &self.date)
            .field("requests", &self.requests.len())
            .field("seed", &self.seed)
            .field("faults", &self.faults)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Why a night could not be simulated.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Bad input: a date without a night, a request with problems, a folder in use.
    #[error("{0}")]
    Input(String),
    /// The simulation itself failed (database, disk, threads).
    #[error("{0}")]
    Failure(String),
    /// The simulated observatory cannot be built from the settings.
    #[error("{0}")]
    Observatory(#[from] ferros_observatory::ObservatoryError),
    /// A campaign drew a weather scenario the PLC refuses (a bug of the campaign).
    #[error("random weather: {0}")]
    Weather(#[from] ferros_devices_sim::ScenarioError),
}

impl From<ferros_db::DbError> for SimError {
    fn from(e: ferros_db::DbError) -> Self {
        SimError::Failure(format!("database: {e}"))
    }
}

/// The observer the simulated requests belong to.
const OBSERVER: &str = "observer";

/// How long (clock time) the agents may take after sunrise to wind the night down.
const SETTLE: TimeDelta = TimeDelta::minutes(30);

/// The span of a night: what it simulates and its dark time.
struct Span {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    dark: (JulianDate, JulianDate),
}

fn span(settings: &Settings, date: NaiveDate) -> Result<Span, SimError> {
    let s = &settings.site;
    let site = ferros_observatory::site(settings).map_err(|e| SimError::Input(format!("site: {e}")))?;
    let sky = NightSky::new(site, date, s.night_sun_altitude).map_err(|e| SimError::Input(e.to_string()))?;
    let (dusk, dawn) = sky.dusk_dawn(-0.833);
    let dark = sky.dark();
    let (Some(dusk), Some(dawn), Some(first), Some(last)) = (dusk, dawn, dark.first(), dark.last()) else {
        return Err(SimError::Input(format!("no night on {date} at {}", s.name)));
    };
    Ok(Span {
        from: dusk.to_datetime() - TimeDelta::minutes(20),
        to: dawn.to_datetime() + TimeDelta::minutes(50),
        dark: (first.start, last.end),
    })
}

/// Reads the request files (relative windows count from `now`).
fn read_requests(files: &[RequestText], opts: &ReadOptions) -> Result<Vec<(String, NewRequest)>, SimError> {
    files
        .iter()
        .map(|f| {
            let imported = read_request(&f.text, opts).map_err(|problems| {
                let lines: Vec<String> = problems.iter().map(|q| format!("{}:{q}", f.name)).collect();
                SimError::Input(format!(
                    "{}\n{}: {} problem(s); nothing simulated",
                    lines.join("\n"),
                    f.name,
                    problems.len()
                ))
            })?;
            Ok((f.text.clone(), imported.request))
        })
        .collect()
}

/// Real seconds a night's runtime may stay busy without simulated time
/// moving: past it, tasks keep waking one another at one instant (a bug), and
/// the night ends with that error instead of never ending.
const STUCK: Duration = Duration::from_secs(120);

/// Simulates the night, on a thread and a runtime of its own, and returns its report.
pub fn run(night: Night) -> Result<Report, SimError> {
    // When the runtime last waited (time moves only then); `None` while a
    // paced night sleeps for its watcher.
    let parked = Arc::new(Mutex::new(Some(std::time::Instant::now())));
    let (stuck_tx, stuck_rx) = tokio::sync::oneshot::channel::<()>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let watchdog = {
        let parked = parked.clone();
        std::thread::Builder::new()
            .name("ferros-night-watch".into())
            .spawn(move || {
                loop {
                    match done_rx.recv_timeout(Duration::from_secs(1)) {
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                    if parked.lock().unwrap_or_else(|e| e.into_inner()).is_some_and(|t| t.elapsed() > STUCK) {
                        let _ = stuck_tx.send(());
                        return;
                    }
                }
            })
            .map_err(|e| SimError::Failure(format!("cannot start the night's watchdog: {e}")))?
    };
    let thread = std::thread::Builder::new()
        .name("ferros-night".into())
        .spawn(move || {
            let started = std::time::Instant::now();
            // Before the database's threads start: they run on the same CPU.
            let pinned = pin(night.cpu);
            let mut builder = tokio::runtime::Builder::new_current_thread();
            builder.enable_time().start_paused(true);
            let pace = night.pace.map(pacer);
            builder.on_thread_park(move || {
                let set = |v| *parked.lock().unwrap_or_else(|e| e.into_inner()) = v;
                if let Some(p) = &pace {
                    set(None);
                    p();
                }
                set(Some(std::time::Instant::now()));
            });
            let rt = builder.build().map_err(|e| SimError::Failure(format!("runtime: {e}")))?;
            let mut report = rt.block_on(simulate(night, pinned, stuck_rx))?;
            report.wall = Some(Wall { seconds: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0 });
            Ok(report)
        })
        .map_err(|e| SimError::Failure(format!("cannot start the night's thread: {e}")))?;
    let out = thread.join().map_err(|_| SimError::Failure("the night's thread panicked".into()));
    let _ = done_tx.send(());
    let _ = watchdog.join();
    out?
}

/// Paces a night for someone watching: each time every task waits, the
/// thread sleeps until the wall clock has caught up with the virtual one at
/// `speed`. It only delays; what happens, and in which order, is the same.
fn pacer(speed: f64) -> impl Fn() + Send + Sync + 'static {
    let origin = Mutex::new(None::<(tokio::time::Instant, std::time::Instant)>);
    move || {
        let now = tokio::time::Instant::now();
        let mut o = origin.lock().unwrap_or_else(|e| e.into_inner());
        let (virtual0, real0) = *o.get_or_insert((now, std::time::Instant::now()));
        let due = now.duration_since(virtual0).div_f64(speed);
        let done = real0.elapsed();
        if due > done {
            std::thread::sleep(due - done);
        }
    }
}

async fn simulate(
    night: Night,
    pinned: crate::cpu::Pinned,
    stuck: tokio::sync::oneshot::Receiver<()>,
) -> Result<Report, SimError> {
    let say = |line: &str| {
        if let Some(p) = &night.printer {
            p(line);
        }
    };
    let Span { from, to, dark } = span(&night.settings, night.date)?;
    let start_jd = JulianDate::from_datetime(from).map_err(|e| SimError::Input(e.to_string()))?;
    let opts = ReadOptions {
        now: start_jd,
        limits: night.settings.import,
        readouts: night.settings.executor.readouts(),
        wheels: ferros_observatory::simulated_wheels(&night.settings),
    };
    let requests = read_requests(&night.requests, &opts)?;
    // The scenario's iterations are spread over the simulated span.
    let length = (to - from).to_std().unwrap_or_default();
    let plc_period = match u32::try_from(night.scenario.iterations) {
        Ok(n) if n > 0 => length / n,
        _ => Duration::from_secs(2),
    };

    // A fresh place: its own database and archive.
    let dir = &night.dir;
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(SimError::Input(format!("{} is not empty: a simulation starts afresh", dir.display())));
    }
    std::fs::create_dir_all(dir).map_err(|e| SimError::Input(format!("{}: {e}", dir.display())))?;
    let clock = Clock::virtual_from(from);
    let mut settings = night.settings.clone();
    settings.data_dir = dir.clone();
    settings.database_url = String::new();
    let s = &settings.site;
    say(&format!(
        "Simulating the night of {} at {} from {} to {} UTC, seed {}{}",
        night.date,
        s.name,
        iso(from),
        iso(to),
        night.seed,
        if night.faults { ", with faults" } else { "" }
    ));
    say(&format!("  data       {}", dir.display()));
    let db = Db::connect_virtual(&settings.database_url()).await?;
    // Routine requests are there at the start; alerts arrive an hour into the night.
    let (alerts, routine): (Vec<_>, Vec<_>) =
        requests.into_iter().partition(|(_, r)| r.kind == RequestKind::Alert);
    create_accounts(&db, clock.now(), routine.iter().chain(&alerts).map(|(_, r)| r)).await?;
    let mut submitted = load_requests(&db, clock.now(), &routine, &say).await?;
    say(&format!("  requests   {} routine submitted ({submitted} sequence(s))", routine.len()));
    let alert_time = dark.0.to_datetime() + TimeDelta::hours(1);
    if !alerts.is_empty() {
        say(&format!("  alerts     {} arriving at {}", alerts.len(), iso(alert_time)));
    }

    let sim = ferros_observatory::simulators_seeded(
        &settings,
        clock,
        night.scenario.clone(),
        plc_period,
        Some(night.seed),
    )?;
    let site = ferros_observatory::site(&settings).map_err(|e| SimError::Input(format!("site: {e}")))?;
    let mut obs = Observatory::of_simulators(sim, site, Duration::from_secs_f64(settings.devices.timeout_s));
    obs.wheels = ferros_observatory::simulated_wheels(&settings);
    // The cameras' own record of their shots: the safety figures rest on what
    // the detectors took, not on what the agents say they did.
    let witnesses: Vec<Witness> =
        [&obs.sim.camera_vis, &obs.sim.camera_nir].into_iter().flatten().map(|c| c.witness()).collect();
    // And what the devices spent moving, for the efficiency figures.
    let s = &obs.sim;
    let motions: Vec<Motions> = [s.mount.as_ref().map(|m| &m.motions), s.dome.as_ref().map(|d| &d.motions)]
        .into_iter()
        .chain([&s.filter_vis, &s.filter_nir].map(|f| f.as_ref().map(|f| &f.motions)))
        .chain([&s.camera_vis, &s.camera_nir].map(|c| c.as_ref().map(|c| &c.motions)))
        .flatten()
        .cloned()
        .collect();
    for m in &motions {
        m.start_recording();
    }
    // Thrown away after the report: not synced to the disk, and written
    // behind by a thread beside the night's (its real time is no part of
    // the night's; what is written is, whole, when the night returns).
    let archive = Archive::open(&dir.join("archive"))
        .and_then(|a| a.written_behind(move || crate::cpu::beside(&pinned)))
        .map_err(|e| SimError::Failure(format!("archive: {e}")))?;
    let bus = Bus::default();
    let actx = AgentContext::new(db.clone(), clock, bus.clone());
    let timeout = Duration::from_secs_f64(settings.agents.heartbeat_timeout_s);
    let mut supervisor = Supervisor::new(actx.clone(), timeout);
    for kind in AgentKind::ALL.into_iter().filter(|k| *k != AgentKind::Alerts) {
        for f in ferros_agents::factories(&settings, &actx, &obs, &archive, Some(kind))
            .map_err(|e| SimError::Input(e.to_string()))?
        {
            supervisor.add(f);
        }
    }
    // Notices come over the VOEvent Transport Protocol, on the night's own
    // network: the subscriber's code, on the virtual clock.
    let broker = if night.alerts.is_empty() {
        None
    } else {
        let net = Network::memory();
        let listener = net.bind(BROKER).await.map_err(|e| SimError::Failure(format!("broker: {e}")))?;
        let desk =
            AlertDesk::new(&settings, obs.site, &obs.wheels).map_err(|e| SimError::Input(e.to_string()))?;
        let ivorn = settings.alerts.vtp_ivorn.clone();
        supervisor.add(Arc::new(move || {
            Box::new(VtpIntake::new(desk.clone(), net.clone(), BROKER, &ivorn, None))
                as Box<dyn ferros_agents::Agent>
        }));
        let deliveries = deliveries(&night.alerts, dark.0.to_datetime())?;
        for (at, name, _) in &deliveries {
            say(&format!("  alert      {name} at {}", iso(*at)));
        }
        // Each notice's afterglow: a fading source inside its error circle
        // from the notice's time, which the cameras show and the pipeline
        // must find.
        for (k, (at, name, text)) in deliveries.iter().enumerate() {
            let Some(p) = ferros_voevent::parse(text).ok().and_then(|v| v.where_when?.position) else {
                continue;
            };
            let t = afterglow(&p, night.seed.wrapping_add(k as u64), *at);
            for cam in [&obs.sim.camera_vis, &obs.sim.camera_nir].into_iter().flatten() {
                cam.inject_transient(t);
            }
            say(&format!(
                "  afterglow  {name}: magnitude {:.1} at {:.4} {:+.4}, fading {} a hour",
                t.mag, t.ra, t.dec, t.fade
            ));
        }
        Some(tokio::spawn(broadcast(listener, deliveries, clock)))
    };
    let handle = supervisor.handle();
    let log = Arc::new(Mutex::new(Log::default()));
    let printer = if night.quiet { None } else { night.printer.clone() };
    let listener = tokio::spawn(listen(bus.subscribe(), clock, log.clone(), printer.clone()));
    let dome_watch = tokio::spawn(watch_dome(obs.clone(), clock, log.clone()));
    let alert_count: i64 = alerts.iter().map(|(_, r)| r.sequences.len() as i64).sum();
    let arrivals = {
        let db = db.clone();
        tokio::spawn(async move {
            let left = (alert_time - clock.now()).to_std().unwrap_or_default();
            clock.sleep(left).await;
            let say = |line: &str| {
                if let Some(p) = &printer {
                    p(line);
                }
            };
            if let Err(e) = load_requests(&db, clock.now(), &alerts, &say).await {
                tracing::error!("alerts: {e}");
            }
        })
    };
    submitted += alert_count;
    let faults = night.faults.then(|| {
        tokio::spawn(inject_faults(
            night.seed,
            obs.clone(),
            archive.clone(),
            handle,
            clock,
            (from, to),
            log.clone(),
        ))
    });
    // The simulation ends after sunrise, once the agents have finished what
    // they were doing (at most half an hour of clock later).
    let settling = {
        let db = db.clone();
        let log = log.clone();
        async move {
            let left = (to - clock.now()).to_std().unwrap_or_default();
            clock.sleep(left).await;
            while !settled(&db).await {
                if clock.now() - to >= SETTLE {
                    let note = format!(
                        "{}  the agents had not settled half an hour after the night",
                        iso(clock.now())
                    );
                    log.lock().unwrap_or_else(|e| e.into_inner()).notes.push(note);
                    break;
                }
                clock.sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let stuck_at = Arc::new(Mutex::new(None));
    let ending = {
        let stuck_at = stuck_at.clone();
        async move {
            tokio::select! {
                biased;
                Ok(()) = stuck => {
                    *stuck_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(clock.now());
                }
                () = settling => {}
            }
        }
    };
    supervisor.run(ending).await;
    if let Some(at) = *stuck_at.lock().unwrap_or_else(|e| e.into_inner()) {
        return Err(SimError::Failure(format!(
            "the agents kept waking one another at {} without simulated time moving for {} s (real): \
             a livelock; the night's data are in {}",
            iso(at),
            STUCK.as_secs(),
            dir.display()
        )));
    }
    let ended = clock.now();
    listener.abort();
    dome_watch.abort();
    arrivals.abort();
    if let Some(b) = broker {
        b.abort();
    }
    if let Some(f) = faults {
        f.abort();
    }
    archive.flush().map_err(|e| SimError::Failure(format!("archive: {e}")))?;
    // The notices' requests were submitted by the alert manager.
    for r in db.list_requests().await? {
        if r.owner == settings.alerts.owner {
            submitted += i64::try_from(r.sequence_statuses.len()).unwrap_or(i64::MAX);
        }
    }
    let shots: Vec<_> = witnesses.iter().flat_map(Witness::shots).collect();
    let moved: Vec<_> = motions.iter().flat_map(Motions::recorded).collect();
    let report = report(
        &settings,
        &db,
        &night,
        (dark.0, dark.1),
        (from, to, ended),
        &log,
        (&shots, &moved),
        submitted,
    )
    .await?;
    db.close().await;
    Ok(report)
}

/// When each notice is delivered, and its text with its times moved to then.
/// A notice's simulated afterglow: magnitude 10 at the notice's time (a
/// bright one, that the alert's short exposures under the Moon still show),
/// fading by 0.3 a hour, a third of the error circle (at most 3 arcminutes)
/// from its centre in a direction drawn from `seed`.
fn afterglow(p: &ferros_voevent::Position, seed: u64, at: DateTime<Utc>) -> ferros_devices_sim::Transient {
    let angle =
        (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64 / (1u64 << 53) as f64 * std::f64::consts::TAU;
    let off = (p.error_deg.unwrap_or(0.0) / 3.0).min(0.05);
    let cosd = p.dec_deg.to_radians().cos().max(0.01);
    ferros_devices_sim::Transient {
        ra: (p.ra_deg + off * angle.cos() / cosd).rem_euclid(360.0),
        dec: (p.dec_deg + off * angle.sin()).clamp(-90.0, 90.0),
        mag: 10.0,
        fade: 0.3,
        start: at,
    }
}

fn deliveries(
    alerts: &[AlertText],
    dark: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, String, String)>, SimError> {
    let date_of = |t: &str| {
        let doc = roxmltree::Document::parse_with_options(
            t,
            roxmltree::ParsingOptions { allow_dtd: false, ..Default::default() },
        )
        .ok()?;
        let d = doc.descendants().find(|n| n.tag_name().name() == "Date")?.text()?;
        ferros_voevent::iso_time(d.trim())
    };
    let first = dark + TimeDelta::hours(1);
    let earliest =
        alerts.iter().filter(|a| a.after_dark_min.is_none()).filter_map(|a| date_of(&a.text)).min();
    let mut out = Vec::new();
    for a in alerts {
        let own = date_of(&a.text);
        let at = match (a.after_dark_min, own, earliest) {
            (Some(m), _, _) => {
                if !(m.is_finite() && (0.0..=24.0 * 60.0).contains(&m)) {
                    return Err(SimError::Input(format!(
                        "{}: {m} minutes after dark is not within the night",
                        a.name
                    )));
                }
                dark + TimeDelta::milliseconds((m * 60_000.0) as i64)
            }
            (None, Some(d), Some(e)) => first + (d - e),
            _ => first,
        };
        // The notice's times move with it: its trigger is as old when it arrives.
        let text = match own {
            Some(d) => shift_times(&a.text, at - d),
            None => a.text.clone(),
        };
        out.push((at, a.name.clone(), text));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    Ok(out)
}

/// Moves every `<Date>` and `<ISOTime>` of a notice by `by`.
fn shift_times(text: &str, by: TimeDelta) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = ["<Date>", "<ISOTime>"].iter().filter_map(|tag| rest.find(tag).map(|i| (i, *tag))).min();
        let Some((i, tag)) = next else {
            out.push_str(rest);
            return out;
        };
        let start = i + tag.len();
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find('<').unwrap_or(rest.len());
        let value = &rest[..end];
        match ferros_voevent::iso_time(value.trim()) {
            Some(t) => out.push_str(&(t + by).format("%Y-%m-%dT%H:%M:%S%.6f").to_string()),
            None => out.push_str(value),
        }
        rest = &rest[end..];
    }
}

/// The night's VOEvent broker: sends each notice at its time to the
/// subscriber, and `iamalive` every minute as brokers do; takes the
/// subscriber back when it connects again. A notice whose answer did not come
/// is sent again on the next connection.
async fn broadcast(
    mut listener: ferros_devices::net::Listener,
    deliveries: Vec<(DateTime<Utc>, String, String)>,
    clock: Clock,
) {
    use ferros_agents::alerts::{Incoming, frame, read_frame};
    use tokio::io::AsyncWriteExt;
    const ALIVE: TimeDelta = TimeDelta::seconds(60);
    let alive = |at: DateTime<Utc>| {
        format!(
            "<?xml version='1.0'?><trn:Transport xmlns:trn=\"http://telescope-networks.org/schema/Transport/v1.1\" \
             version=\"1.0\" role=\"iamalive\"><Origin>ivo://ferros/simulated-broker</Origin><TimeStamp>{}</TimeStamp></trn:Transport>",
            iso(at)
        )
    };
    let mut conn: Option<Box<dyn ferros_devices::net::Stream>> = None;
    let mut queue = deliveries.into_iter().peekable();
    let mut next_alive = clock.now() + ALIVE;
    loop {
        let due = queue.peek().map_or(next_alive, |(at, _, _)| (*at).min(next_alive));
        let wait = (due - clock.now()).to_std().unwrap_or_default();
        tokio::select! {
            biased;
            accepted = listener.accept() => match accepted {
                Ok((c, _)) => conn = Some(c),
                Err(_) => return,
            },
            () = clock.sleep(wait) => {
                let Some(c) = conn.as_mut() else {
                    next_alive = clock.now() + ALIVE;
                    continue;
                };
                let now = clock.now();
                let notice = queue.peek().filter(|(at, _, _)| *at <= now).map(|(_, _, text)| text.clone());
                let message = notice.clone().unwrap_or_else(|| alive(now));
                let answered = c.write_all(&frame(message.as_bytes())).await.is_ok()
                    && matches!(read_frame(c).await, Incoming::Message(_));
                if !answered {
                    conn = None;
                } else if notice.is_some() {
                    queue.next();
                } else {
                    next_alive = now + ALIVE;
                }
            }
        }
    }
}

/// Whether the agents are done with the night: no sequence EXECUTING, and the
/// planner's latest schedule made after the sequences' latest change.
async fn settled(db: &Db) -> bool {
    if !db.executing_sequences().await.is_ok_and(|e| e.is_empty()) {
        return false;
    }
    match (db.planning_mark().await, db.latest_schedule().await) {
        (Ok(m), _) if m.changed.is_none() => true,
        (Ok(ferros_db::PlanningMark { changed: Some(changed), .. }), Ok(Some(s))) => s.created_at >= changed,
        _ => false,
    }
}

/// The observer and the programs the requests name.
async fn create_accounts<'a>(
    db: &Db,
    now: DateTime<Utc>,
    requests: impl Iterator<Item = &'a NewRequest>,
) -> Result<(), SimError> {
    let programs: BTreeSet<String> = requests.map(|r| r.program.clone()).collect();
    for name in &programs {
        let p = NewProgram {
            name: name.clone(),
            description: "created by a simulated night".into(),
            period: Period::containing(now.date_naive()),
            priority: Priority::new(50).map_err(|e| SimError::Input(e.to_string()))?,
            quota: Quota::Time(
                Seconds::new("quota", 100.0 * 3600.0).map_err(|e| SimError::Input(e.to_string()))?,
            ),
        };
        db.create_program(&p, None, now).await?;
    }
    let user = NewUser {
        username: OBSERVER.into(),
        email: String::new(),
        // No password: nobody logs in to a simulated night.
        password_hash: "!".into(),
        profiles: BTreeSet::from([Profile::Observer, Profile::Pi]),
        programs: programs.into_iter().collect(),
    };
    db.create_user(&user, now).await?;
    Ok(())
}

/// Imports and submits requests now (relative windows from now); returns the sequences stored.
async fn load_requests(
    db: &Db,
    now: DateTime<Utc>,
    requests: &[(String, NewRequest)],
    say: &(dyn Fn(&str) + Sync),
) -> Result<i64, SimError> {
    let jd = JulianDate::from_datetime(now).map_err(|e| SimError::Input(e.to_string()))?;
    let mut sequences = 0;
    for (text, _) in requests {
        // Read again: relative windows start when the request arrives.
        let r = read_request(text, &ReadOptions::at(jd))
            .map_err(|p| SimError::Input(p.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))?
            .request;
        let id = db.create_request(&r, OBSERVER, true, now).await?;
        sequences += db.request(id).await?.map(|r| r.sequences.len()).unwrap_or(0) as i64;
        if r.kind == RequestKind::Alert {
            say(&format!("{}  ALERT request {id} \"{}\" submitted", now.format("%H:%M:%S"), r.name));
        }
    }
    Ok(sequences)
}

/// Keeps what the agents announce on the bus, and prints it.
async fn listen(
    mut events: tokio::sync::broadcast::Receiver<Event>,
    clock: Clock,
    log: Arc<Mutex<Log>>,
    printer: Option<Printer>,
) {
    let say = |line: String| {
        if let Some(p) = &printer {
            p(&line);
        }
    };
    loop {
        let e = match events.recv().await {
            Ok(e) => e,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                log.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .notes
                    .push(format!("{}  {n} event(s) of the bus were missed", iso(clock.now())));
                continue;
            }
            Err(_) => return,
        };
        let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
        match e {
            Event::Mode { at, mode } => {
                say(format!("{}  {mode}", at.format("%H:%M:%S")));
                l.states.push((at, mode.label().to_owned()));
            }
            Event::Environment { at, status, reasons } => {
                let open = l.unsafe_periods.last().is_some_and(|p| p.1.is_none());
                match status {
                    GlobalStatus::Unsafe if !open => {
                        say(format!("{}  UNSAFE: {}", at.format("%H:%M:%S"), reasons.join("; ")));
                        l.unsafe_periods.push((at, None, reasons));
                    }
                    GlobalStatus::Safe if open => {
                        say(format!("{}  SAFE", at.format("%H:%M:%S")));
                        if let Some(p) = l.unsafe_periods.last_mut() {
                            p.1 = Some(at);
                        }
                    }
                    _ => {}
                }
            }
            Event::Exposure { .. }
            | Event::Schedule { .. }
            | Event::Alert { .. }
            | Event::ExecutorFree { .. }
            | Event::Archived { .. }
            | Event::Reduced { .. } => {}
            Event::Sequence { at, id, state } => {
                if state.starts_with("given back") {
                    l.interrupted += 1;
                }
                say(format!("{}  sequence {id} {state}", at.format("%H:%M:%S")));
            }
            Event::Restarted { agent, reason, .. } => {
                l.restarts.push(format!("{}  {agent} ({reason})", iso(clock.now())));
                say(format!("{}  agent {agent} restarted ({reason})", clock.now().format("%H:%M:%S")));
            }
        }
    }
}

/// Samples the dome's shutter every 5 s of clock time.
async fn watch_dome(obs: Observatory, clock: Clock, log: Arc<Mutex<Log>>) {
    let Some(dome) = obs.sim.dome.clone() else { return };
    // What the shutter really does, not what the dome answers: a slaved
    // dome cannot answer while its mount does not.
    loop {
        let shutter = dome.shutter();
        log.lock().unwrap_or_else(|e| e.into_inner()).dome.push((clock.now(), shutter));
        clock.sleep(Duration::from_secs(5)).await;
    }
}

/// The dome's shutter at an instant.
pub(crate) type DomeSample = (DateTime<Utc>, Shutter);

#[cfg(test)]
mod alert_times {
    #![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

    use super::*;

    const NOTICE: &str = "<VOEvent><Who><Date>2026-02-11T19:32:24+00:00</Date></Who>\
        <WhereWhen><ISOTime>2026-02-11T19:24:28.734000</ISOTime></WhereWhen></VOEvent>";

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_notice_s_times_move_together() {
        let shifted = shift_times(NOTICE, TimeDelta::hours(1));
        assert!(shifted.contains("<Date>2026-02-11T20:32:24.000000</Date>"), "{shifted}");
        assert!(shifted.contains("<ISOTime>2026-02-11T20:24:28.734000</ISOTime>"), "{shifted}");
        // Text that is no time is left as it is.
        assert_eq!(shift_times("<Date>soon</Date>", TimeDelta::hours(1)), "<Date>soon</Date>");
    }

    #[test]
    fn deliveries_follow_the_schedule_or_the_notices_own_dates() {
        let dark = t("2026-11-23T01:36:21Z");
        let later = NOTICE.replace("19:32:24", "20:02:24");
        let alerts = [
            AlertText { name: "a.xml".into(), text: NOTICE.into(), after_dark_min: None },
            AlertText { name: "b.xml".into(), text: later, after_dark_min: None },
            AlertText { name: "c.xml".into(), text: "<VOEvent/>".into(), after_dark_min: Some(10.0) },
        ];
        let d = deliveries(&alerts, dark).unwrap();
        let at: Vec<(&str, DateTime<Utc>)> = d.iter().map(|(at, n, _)| (n.as_str(), *at)).collect();
        assert_eq!(
            at,
            [
                ("c.xml", t("2026-11-23T01:46:21Z")),
                ("a.xml", t("2026-11-23T02:36:21Z")),
                ("b.xml", t("2026-11-23T03:06:21Z")),
            ]
        );
        // The trigger keeps its age: 8 minutes before the notice's date.
        assert!(d[1].2.contains("<ISOTime>2026-11-23T02:28:25.734000</ISOTime>"), "{}", d[1].2);
        let bad = [AlertText { name: "x.xml".into(), text: NOTICE.into(), after_dark_min: Some(-5.0) }];
        assert!(deliveries(&bad, dark).is_err());
    }
}
