//! Supervised agents: tasks, heartbeats, restarts, the bus.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ferros_clock::Clock;
use ferros_db::{AgentRecord, Db};
use ferros_domain::{GlobalStatus, LogEntry, LogLevel};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use crate::AgentError;

/// What agents tell each other and the console.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The environment's status or reasons changed.
    Environment { at: DateTime<Utc>, status: GlobalStatus, reasons: Vec<String> },
    /// The supervisor restarted an agent.
    Restarted { agent: String, reason: String, restarts: i64 },
    /// The majordome changed mode.
    Mode { at: DateTime<Utc>, mode: ferros_majordome::Mode },
    /// An exposure ended (completed, or aborted); `sky`: a light or flat frame.
    Exposure { camera: String, start: DateTime<Utc>, end: DateTime<Utc>, sky: bool, completed: bool },
    /// A sequence started or ended (EXECUTING, EXECUTED, given back...).
    Sequence { at: DateTime<Utc>, id: i64, state: String },
    /// The planner stored a new schedule.
    Schedule { at: DateTime<Utc>, id: i64, planned: usize },
    /// A notice was stored with its decision (`outcome`), and the request it
    /// created, updated or cancelled.
    Alert { at: DateTime<Utc>, id: i64, outcome: String, request: Option<i64>, summary: String },
    /// The executor's job (a sequence, flats, calibrations) ended: it can take the next.
    ExecutorFree { at: DateTime<Utc> },
    /// An image was archived (file and row): the pipeline can take it.
    Archived { at: DateTime<Utc>, path: String },
    /// The pipeline reduced an image (or failed to, `error`); for an alert
    /// image, the candidates it found.
    Reduced { at: DateTime<Utc>, path: String, sources: usize, candidates: usize, error: Option<String> },
}

/// A broadcast channel: every subscriber gets every event sent after it subscribed.
#[derive(Debug, Clone)]
pub struct Bus(broadcast::Sender<Event>);

impl Default for Bus {
    fn default() -> Self {
        Self(broadcast::channel(1024).0)
    }
}

impl Bus {
    pub fn publish(&self, e: Event) {
        // No subscriber is not an error.
        let _ = self.0.send(e);
    }
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.0.subscribe()
    }
}

/// What every agent works with.
#[derive(Debug, Clone)]
pub struct AgentContext {
    pub db: Db,
    pub clock: Clock,
    pub bus: Bus,
    pub shared: Shared,
}

/// The latest word of ENV and of the majordome, in memory for the other
/// agents of the process. Both are stored as well, for the commands, the
/// pages, and an agent run alone (`ferros agent NAME`), which reads them back
/// from the database (see [`AgentContext::env`], [`AgentContext::majordome`]).
#[derive(Debug, Clone, Default)]
pub struct Shared {
    env: Arc<std::sync::Mutex<Option<Arc<ferros_env::Synthesis>>>>,
    majordome: Arc<std::sync::Mutex<Option<ferros_majordome::State>>>,
    /// Devices out of service, by name, with their error (the executor's cameras).
    faults: Arc<std::sync::Mutex<std::collections::BTreeMap<String, String>>>,
}

impl Shared {
    /// Marks `device` out of service with `error`, or (None) back in service.
    pub fn set_fault(&self, device: &str, error: Option<String>) {
        let mut f = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        match error {
            Some(e) => f.insert(device.to_owned(), e),
            None => f.remove(device),
        };
    }

    /// The devices out of service, with their errors.
    pub fn faults(&self) -> std::collections::BTreeMap<String, String> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_env(&self, s: ferros_env::Synthesis) {
        *self.env.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(s));
    }

    /// ENV's latest synthesis, if ENV has run.
    pub fn env(&self) -> Option<Arc<ferros_env::Synthesis>> {
        self.env.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// ENV's latest global status, if ENV has run.
    pub fn env_status(&self) -> Option<GlobalStatus> {
        self.env.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|s| s.global_status)
    }

    pub fn set_majordome(&self, s: ferros_majordome::State) {
        *self.majordome.lock().unwrap_or_else(|e| e.into_inner()) = Some(s);
    }

    /// The majordome's latest state, if it has ticked.
    pub fn majordome(&self) -> Option<ferros_majordome::State> {
        *self.majordome.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl AgentContext {
    pub fn new(db: Db, clock: Clock, bus: Bus) -> Self {
        Self { db, clock, bus, shared: Shared::default() }
    }

    /// ENV's latest synthesis: from memory when ENV runs in this process,
    /// else as stored (ENV running elsewhere). `None` when there is none.
    pub async fn env(&self) -> Result<Option<Arc<ferros_env::Synthesis>>, AgentError> {
        if let Some(s) = self.shared.env() {
            return Ok(Some(s));
        }
        let Some(w) = self.db.latest_watch("env").await? else { return Ok(None) };
        let s = serde_json::from_str(&w.body)
            .map_err(|source| AgentError::Stored { what: "synthesis", source })?;
        Ok(Some(Arc::new(s)))
    }

    /// The majordome's latest state: from memory when it runs in this
    /// process, else as stored. `None` when it has not ticked yet.
    pub async fn majordome(&self) -> Result<Option<ferros_majordome::State>, AgentError> {
        if let Some(s) = self.shared.majordome() {
            return Ok(Some(s));
        }
        let Some((_, body)) = self.db.majordome_state().await? else {
            return Ok(None);
        };
        serde_json::from_str(&body)
            .map(Some)
            .map_err(|source| AgentError::Stored { what: "majordome's state", source })
    }

    /// Logs what is also announced on the bus (a sequence's state, ENV's
    /// status, a schedule, a restart): to the database, and to standard
    /// error only at debug level, since `ferros start` prints the event
    /// itself: one line per event.
    pub async fn record(&self, source: &str, level: LogLevel, message: impl Into<String>) {
        let message = message.into();
        tracing::debug!("{source}: {message}");
        let entry = LogEntry { at: self.clock.now(), source: source.to_owned(), level, message };
        if let Err(e) = self.db.log(&entry).await {
            tracing::warn!("{source}: cannot store a log entry: {e}");
        }
    }

    /// Logs to the database (the System page) and to standard error.
    pub async fn log(&self, source: &str, level: LogLevel, message: impl Into<String>) {
        let message = message.into();
        match level {
            LogLevel::Error => tracing::error!("{source}: {message}"),
            LogLevel::Warn => tracing::warn!("{source}: {message}"),
            _ => tracing::info!("{source}: {message}"),
        }
        let entry = LogEntry { at: self.clock.now(), source: source.to_owned(), level, message };
        if let Err(e) = self.db.log(&entry).await {
            tracing::warn!("{source}: cannot store a log entry: {e}");
        }
    }
}

#[async_trait]
pub trait Agent: Send + 'static {
    fn name(&self) -> &str;
    /// Time between steps, on the Ferros clock.
    fn period(&self) -> Duration;
    /// One iteration. An error is logged and the agent goes on; a panic ends
    /// it (and the supervisor starts a new one).
    async fn step(&mut self, ctx: &AgentContext) -> Result<(), AgentError>;
    /// Whether this news on the bus calls for a step at once, before the period is over.
    fn wakes_on(&self, _event: &Event) -> bool {
        false
    }
}

/// Makes a fresh agent (at start and at each restart).
pub type Factory = Arc<dyn Fn() -> Box<dyn Agent> + Send + Sync>;

enum Control {
    /// Ends an agent's task as a crash would (tests, operators).
    Kill(String),
}

/// Talks to a running supervisor.
#[derive(Debug, Clone)]
pub struct SupervisorHandle(mpsc::Sender<Control>);

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Control::Kill(n) => write!(f, "Kill({n})"),
        }
    }
}

impl SupervisorHandle {
    /// Kills an agent's task; the supervisor restarts it.
    pub async fn kill(&self, agent: &str) {
        let _ = self.0.send(Control::Kill(agent.to_owned())).await;
    }
}

struct Running {
    factory: Factory,
    task: Option<JoinHandle<()>>,
    /// Clock time of the last beat.
    beat_at: Arc<std::sync::Mutex<DateTime<Utc>>>,
    started_at: DateTime<Utc>,
    restarts: i64,
    /// Clock time before which it is not restarted.
    restart_at: Option<DateTime<Utc>>,
    delay: Duration,
    last_error: String,
    healthy_since: DateTime<Utc>,
}

/// How often, in clock time, the agents' heartbeats are written to the
/// database (all in one statement).
const DB_BEAT: Duration = Duration::from_secs(30);

/// Most steps an agent takes at one instant of the clock (woken by news each
/// time) before it waits for its period: on a virtual clock, time moves only
/// when every agent waits.
const MAX_STEPS_AT_ONCE: u32 = 100;

/// How often, in clock time, the supervisor looks at its agents.
const CHECK: Duration = Duration::from_secs(1);

/// Runs agents and keeps them alive.
pub struct Supervisor {
    ctx: AgentContext,
    agents: Vec<Factory>,
    /// Clock time without a beat after which an agent is restarted.
    heartbeat_timeout: Duration,
    first_delay: Duration,
    max_delay: Duration,
    control: (mpsc::Sender<Control>, mpsc::Receiver<Control>),
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor").field("agents", &self.agents.len()).finish_non_exhaustive()
    }
}

impl Supervisor {
    pub fn new(ctx: AgentContext, heartbeat_timeout: Duration) -> Self {
        Self {
            ctx,
            agents: Vec::new(),
            heartbeat_timeout,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            control: mpsc::channel(16),
        }
    }

    /// Restart delays: from `first`, doubling, at most `max` (clock time).
    pub fn with_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.first_delay = first;
        self.max_delay = max;
        self
    }

    pub fn add(&mut self, factory: Factory) {
        self.agents.push(factory);
    }

    pub fn handle(&self) -> SupervisorHandle {
        SupervisorHandle(self.control.0.clone())
    }

    fn spawn(&self, r: &mut Running) {
        let mut agent = (r.factory)();
        let ctx = self.ctx.clone();
        let beat_at = r.beat_at.clone();
        *beat_at.lock().unwrap_or_else(|e| e.into_inner()) = ctx.clock.now();
        let mut events = ctx.bus.subscribe();
        r.task = Some(tokio::spawn(async move {
            // Steps taken at one instant: news answered by news (two agents
            // undoing each other's work) must not keep the clock from moving.
            let mut instant = (ctx.clock.now(), 0_u32);
            // A step failing as the one before (a full disk, every 6 s) is
            // logged once, and its end too.
            let mut failing: Option<(String, u64)> = None;
            loop {
                match agent.step(&ctx).await {
                    Err(e) => {
                        let why = e.to_string();
                        match &mut failing {
                            Some((last, n)) if *last == why => *n = n.saturating_add(1),
                            _ => {
                                ctx.log(agent.name(), LogLevel::Warn, why.clone()).await;
                                failing = Some((why, 1));
                            }
                        }
                    }
                    Ok(()) => {
                        if let Some((why, n)) = failing.take() {
                            ctx.log(
                                agent.name(),
                                LogLevel::Info,
                                format!("works again after {n} failed step(s): {why}"),
                            )
                            .await;
                        }
                    }
                }
                let now = ctx.clock.now();
                instant = if instant.0 == now { (now, instant.1.saturating_add(1)) } else { (now, 1) };
                let deaf = instant.1 > MAX_STEPS_AT_ONCE;
                if instant.1 == MAX_STEPS_AT_ONCE + 1 {
                    ctx.log(
                        agent.name(),
                        LogLevel::Error,
                        format!(
                            "{MAX_STEPS_AT_ONCE} steps without time passing: news is ignored until the next period"
                        ),
                    )
                    .await;
                }
                // The supervisor tells the database (every `DB_BEAT`).
                *beat_at.lock().unwrap_or_else(|e| e.into_inner()) = now;
                // The period, or news that concerns the agent.
                let period = ctx.clock.sleep(agent.period());
                tokio::pin!(period);
                loop {
                    tokio::select! {
                        biased;
                        e = events.recv() => match e {
                            Ok(_) if deaf => {}
                            Ok(e) if agent.wakes_on(&e) => break,
                            Ok(_) => {}
                            // Missed news: look again at once.
                            Err(broadcast::error::RecvError::Lagged(_)) if !deaf => break,
                            Err(broadcast::error::RecvError::Lagged(_)) => {}
                            Err(broadcast::error::RecvError::Closed) => {
                                (&mut period).await;
                                break;
                            }
                        },
                        () = &mut period => break,
                    }
                }
            }
        }));
        r.started_at = self.ctx.clock.now();
        r.healthy_since = r.started_at;
    }

    async fn record(&self, name: &str, r: &Running, state: &str) {
        let beat_at = *r.beat_at.lock().unwrap_or_else(|e| e.into_inner());
        let rec = AgentRecord {
            name: name.to_owned(),
            state: state.to_owned(),
            started_at: r.started_at,
            heartbeat_at: beat_at,
            restarts: r.restarts,
            last_error: r.last_error.clone(),
        };
        if let Err(e) = self.ctx.db.upsert_agent(&rec).await {
            tracing::warn!("supervisor: cannot record agent {name}: {e}");
        }
    }

    /// Runs the agents until `shutdown` completes, then stops them all.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut running: BTreeMap<String, Running> = BTreeMap::new();
        for factory in &self.agents {
            let name = factory().name().to_owned();
            let now = self.ctx.clock.now();
            let mut r = Running {
                factory: factory.clone(),
                task: None,
                beat_at: Arc::new(std::sync::Mutex::new(now)),
                started_at: now,
                restarts: 0,
                restart_at: None,
                delay: self.first_delay,
                last_error: String::new(),
                healthy_since: now,
            };
            self.spawn(&mut r);
            self.record(&name, &r, "running").await;
            self.ctx.log("supervisor", LogLevel::Info, format!("started agent {name}")).await;
            running.insert(name, r);
        }
        let mut db_beat_at = None::<DateTime<Utc>>;
        loop {
            let mut killed = None;
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(Control::Kill(name)) = self.control.1.recv() => killed = Some(name),
                () = self.ctx.clock.sleep(CHECK) => {}
            }
            let clock_now = self.ctx.clock.now();
            let names: Vec<String> = running.keys().cloned().collect();
            for name in names {
                let Some(mut r) = running.remove(&name) else { continue };
                // Why the agent must be restarted, if it must.
                let mut why = None;
                if killed.as_deref() == Some(name.as_str())
                    && let Some(t) = r.task.take()
                {
                    t.abort();
                    why = Some("killed".to_owned());
                }
                if let Some(t) = &r.task
                    && t.is_finished()
                {
                    let t = r.task.take();
                    why = Some(match t {
                        Some(t) => match t.await {
                            Err(e) if e.is_panic() => format!("crashed: {}", panic_text(e.into_panic())),
                            Err(_) => "stopped".to_owned(),
                            Ok(()) => "ended".to_owned(),
                        },
                        None => "ended".to_owned(),
                    });
                }
                let beat_at = *r.beat_at.lock().unwrap_or_else(|e| e.into_inner());
                let silent = (clock_now - beat_at).to_std().unwrap_or_default();
                if why.is_none() && r.task.is_some() && silent > self.heartbeat_timeout {
                    if let Some(t) = r.task.take() {
                        t.abort();
                    }
                    why = Some(format!("no heartbeat for {:.0} s", silent.as_secs_f64()));
                }
                if let Some(why) = why {
                    if (clock_now - r.healthy_since).to_std().unwrap_or_default() > Duration::from_secs(60) {
                        r.delay = self.first_delay;
                    }
                    r.restart_at = Some(clock_now + to_delta(r.delay));
                    r.last_error = why.clone();
                    self.ctx
                        .log(
                            "supervisor",
                            LogLevel::Error,
                            format!("agent {name} {why}; restarting in {:.1} s", r.delay.as_secs_f64()),
                        )
                        .await;
                    r.delay = (r.delay * 2).min(self.max_delay);
                    self.record(&name, &r, "restarting").await;
                }
                if r.task.is_none()
                    && let Some(at) = r.restart_at
                    && clock_now >= at
                {
                    r.restart_at = None;
                    r.restarts += 1;
                    self.spawn(&mut r);
                    self.record(&name, &r, "running").await;
                    self.ctx.bus.publish(Event::Restarted {
                        agent: name.clone(),
                        reason: r.last_error.clone(),
                        restarts: r.restarts,
                    });
                    self.ctx.record("supervisor", LogLevel::Info, format!("restarted agent {name}")).await;
                }
                running.insert(name, r);
            }
            if db_beat_at.is_none_or(|t| (clock_now - t).to_std().unwrap_or_default() >= DB_BEAT) {
                let beats: Vec<(String, DateTime<Utc>)> = running
                    .iter()
                    .filter(|(_, r)| r.task.is_some())
                    .map(|(name, r)| (name.clone(), *r.beat_at.lock().unwrap_or_else(|e| e.into_inner())))
                    .collect();
                if let Err(e) = self.ctx.db.agent_heartbeats(&beats).await {
                    tracing::warn!("supervisor: cannot record the heartbeats: {e}");
                }
                db_beat_at = Some(clock_now);
            }
        }
        for (name, mut r) in running {
            if let Some(t) = r.task.take() {
                t.abort();
                let _ = t.await;
            }
            self.record(&name, &r, "stopped").await;
        }
        self.ctx.log("supervisor", LogLevel::Info, "agents stopped").await;
    }
}

fn to_delta(d: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_owned()
    }
}
