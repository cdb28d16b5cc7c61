//! The runtime and ENV on the PLC simulator over the socket protocol: any
//! start order, a PLC that goes silent or sends garbage, the seeds' rain, an
//! agent killed, hung or crashing. Each time the status turns UNSAFE within
//! the configured delay, nothing crashes, and monitoring resumes. Every test
//! runs on the virtual clock and the in-process network: its result does not
//! depend on how busy the machine is.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use ferros_agents::{Agent, AgentContext, Bus, EnvAgent, Event, Factory, Supervisor, SupervisorHandle};
use ferros_clock::Clock;
use ferros_config::Settings;
use ferros_db::{Db, StoredWatch};
use ferros_devices::WeatherSource;
use ferros_devices_sim::{Scenario, SimPlc};
use ferros_devices_socket::{Backoff, Network, SocketPlc, serve_plc};
use ferros_domain::GlobalStatus;

mod alerts;
mod executor;
mod majordome;
mod pipeline;

pub(crate) fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap()
}

pub(crate) fn settings() -> Settings {
    let mut s = Settings::default();
    s.agents.env_period_s = 2.0;
    s.agents.heartbeat_timeout_s = 20.0;
    s.weather.stale_after_s = 8.0;
    s.weather.safe_delay_s = 6.0;
    s.devices.timeout_s = 0.3;
    s
}

pub(crate) struct Harness {
    pub(crate) db: Db,
    bus: Bus,
    pub(crate) handle: SupervisorHandle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Harness {
    pub(crate) async fn start(factories: Vec<Factory>, clock: Clock) -> Harness {
        Self::start_with(clock, |_| factories).await
    }

    /// Starts the agents `make` builds, given the context they will share.
    pub(crate) async fn start_with(
        clock: Clock,
        make: impl FnOnce(&AgentContext) -> Vec<Factory>,
    ) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("f.db").display());
        // On a virtual clock, every query ends inside the step that makes it.
        let db = if clock.is_virtual() { Db::connect_virtual(&url).await } else { Db::connect(&url).await };
        let db = db.unwrap();
        let bus = Bus::default();
        let ctx = AgentContext::new(db.clone(), clock, bus.clone());
        let factories = make(&ctx);
        let timeout = Duration::from_secs_f64(settings().agents.heartbeat_timeout_s);
        let mut sup =
            Supervisor::new(ctx, timeout).with_backoff(Duration::from_millis(100), Duration::from_secs(1));
        for f in factories {
            sup.add(f);
        }
        let handle = sup.handle();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(sup.run(async {
            let _ = stopped.await;
        }));
        Harness { db, bus, handle, stop: Some(stop), done, _dir: dir }
    }

    async fn env(&self) -> Option<StoredWatch> {
        self.db.latest_watch("env").await.unwrap()
    }

    /// Waits (seconds of tokio's clock: virtual ones on a paused runtime) for
    /// the env watch to satisfy `ok`; returns it.
    pub(crate) async fn until(
        &self,
        real_secs: f64,
        what: &str,
        ok: impl Fn(&StoredWatch) -> bool,
    ) -> StoredWatch {
        let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(real_secs);
        loop {
            if let Some(w) = self.env().await
                && ok(&w)
            {
                return w;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "{what}: not within {real_secs} s; last: {:?}",
                    self.env().await.map(|w| (w.global_status, w.reasons))
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.done.await.unwrap();
    }
}

pub(crate) fn safe(w: &StoredWatch) -> bool {
    w.global_status == GlobalStatus::Safe
}

fn unsafe_because(what: &'static str) -> impl Fn(&StoredWatch) -> bool {
    move |w| w.global_status == GlobalStatus::Unsafe && w.reasons.iter().any(|r| r.contains(what))
}

fn env_factory(source: Arc<dyn WeatherSource>) -> Factory {
    let s = settings();
    Arc::new(move || {
        Box::new(EnvAgent::new(&s, ferros_observatory::site(&s).unwrap(), source.clone(), None))
            as Box<dyn Agent>
    })
}

/// The address of the PLC on a test's network.
const PLC: &str = "plc:5003";

async fn plc_server(net: &Network, clock: Clock, scenario: &str) -> tokio::sync::oneshot::Sender<()> {
    let plc = Arc::new(
        SimPlc::new("plc-sim", clock, Duration::from_secs(1), Scenario::parse(scenario).unwrap()).unwrap(),
    );
    let listener = net.bind(PLC).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_plc(listener, plc.clone(), clock, async {
        let _ = stopped.await;
    }));
    stop
}

fn socket_plc(net: &Network, clock: Clock) -> Arc<dyn WeatherSource> {
    let backoff = Backoff { first: Duration::from_millis(50), max: Duration::from_millis(200) };
    let timeout = Duration::from_secs_f64(settings().devices.timeout_s);
    Arc::new(SocketPlc::new("plc", PLC, clock, timeout, backoff).with_network(net.clone()))
}

fn clock() -> Clock {
    Clock::virtual_from(start_time())
}

#[tokio::test(start_paused = true)]
async fn the_plc_may_start_after_ferros() {
    let (c, net) = (clock(), Network::memory());
    let h = Harness::start(vec![env_factory(socket_plc(&net, c))], c).await;
    let w = h.until(30.0, "unsafe without a PLC", unsafe_because("no data from the weather source")).await;
    assert!(w.reasons.iter().any(|r| r.contains("cannot connect")), "{:?}", w.reasons);
    let _plc = plc_server(&net, c, "[0]").await;
    // Answering now; SAFE once conditions stayed good for the safe delay (6 s).
    h.until(30.0, "safe once the PLC answers", safe).await;
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_plc_may_start_first_and_rain_is_seen_at_once() {
    let (c, net) = (clock(), Network::memory());
    let rain =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/scenarios/rain.json"))
            .unwrap();
    // Rain from iteration 3 (3 s) to 7 (7 s): dry before, dry after.
    let plc = plc_server(&net, c, &rain).await;
    let mut events =
        {
            let h = Harness::start(vec![env_factory(socket_plc(&net, c))], c).await;
            let events = h.bus.subscribe();
            let w = h.until(30.0, "rain", unsafe_because("rain: it rains hard (12.0 mm/h)")).await;
            let since = w.updated;
            h.until(50.0, "safe after the rain", safe).await;
            let changes =
                h.db.watch_history("weather", since - chrono::TimeDelta::seconds(10), 100).await.unwrap();
            assert!(changes.iter().any(|x| x.global_status == GlobalStatus::Unsafe
                && x.reasons.iter().any(|r| r.starts_with("rain"))));
            assert!(changes.last().unwrap().global_status == GlobalStatus::Safe, "{changes:?}");
            // The readings went into the series.
            let rain = h.db.series("rain", 0, 0, i64::MAX).await.unwrap();
            assert!(rain.iter().any(|p| p.mean == 12.0) && rain.iter().any(|p| p.mean == 0.0));
            h.stop().await;
            events
        };
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let Event::Environment { status, .. } = e {
            seen.push(status);
        }
    }
    assert!(seen.contains(&GlobalStatus::Unsafe) && seen.last() == Some(&GlobalStatus::Safe), "{seen:?}");
    let _ = plc.send(());
}

#[tokio::test(start_paused = true)]
async fn a_silent_plc_is_unsafe_within_the_stale_delay_then_monitoring_resumes() {
    let (c, net) = (clock(), Network::memory());
    // Silent from 6 s to 20 s of its loop.
    let _plc = plc_server(&net, c, r#"[40, {"time": 6, "plcSimulator": {"silent": true}}, {"time": 20, "plcSimulator": {"silent": false}}]"#).await;
    let h = Harness::start(vec![env_factory(socket_plc(&net, c))], c).await;
    h.until(20.0, "safe first", safe).await;
    let w = h.until(30.0, "stale", unsafe_because("plc_link: data")).await;
    // Silent from 6 s; stale after 8 s more; one period (2 s) and a timeout (3 s) of slack.
    let silent_for =
        (w.updated - (start_time() + chrono::TimeDelta::seconds(6))).num_milliseconds() as f64 / 1000.0;
    assert!(silent_for <= 8.0 + 2.0 + 3.0 + 1.0, "unsafe {silent_for} s after the PLC went silent");
    h.until(40.0, "safe again", safe).await;
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn garbage_from_the_plc_is_unsafe_and_nothing_crashes() {
    let (c, net) = (clock(), Network::memory());
    let _plc = plc_server(&net, c, r#"[40, {"time": 5, "plcSimulator": {"garbage": true}}, {"time": 18, "plcSimulator": {"garbage": false}}]"#).await;
    let h = Harness::start(vec![env_factory(socket_plc(&net, c))], c).await;
    h.until(20.0, "safe first", safe).await;
    let w = h.until(30.0, "garbage", unsafe_because("plc_link")).await;
    assert!(w.reasons.iter().any(|r| r.contains("unreadable answer")), "{:?}", w.reasons);
    h.until(40.0, "safe again", safe).await;
    let agents = h.db.list_agents().await.unwrap();
    assert_eq!((agents[0].name.as_str(), agents[0].restarts), ("env", 0), "the agent never died");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_killed_agent_is_restarted_and_monitoring_resumes() {
    let (c, net) = (clock(), Network::memory());
    let _plc = plc_server(&net, c, "[0]").await;
    let h = Harness::start(vec![env_factory(socket_plc(&net, c))], c).await;
    let mut events = h.bus.subscribe();
    let before = h.until(20.0, "safe first", safe).await.updated;
    h.handle.kill("env").await;
    // A new agent starts UNSAFE until the safe delay has passed again, and keeps updating.
    h.until(20.0, "restarted", |w| w.updated > before && w.global_status == GlobalStatus::Unsafe).await;
    h.until(30.0, "safe again", safe).await;
    let a = &h.db.list_agents().await.unwrap()[0];
    assert_eq!((a.state.as_str(), a.restarts, a.last_error.as_str()), ("running", 1, "killed"));
    let logs = h.db.recent_logs(50).await.unwrap();
    assert!(
        logs.iter()
            .any(|l| l.source == "supervisor"
                && l.message.starts_with("agent env killed; restarting in 0.1 s"))
    );
    let mut restarted = false;
    while let Ok(e) = events.try_recv() {
        restarted |= matches!(e, Event::Restarted { ref agent, restarts: 1, .. } if agent == "env");
    }
    assert!(restarted);
    h.stop().await;
}

/// An agent that hangs at its third step, or panics there.
struct Faulty {
    steps: u32,
    panic: bool,
}

#[async_trait]
impl Agent for Faulty {
    fn name(&self) -> &str {
        if self.panic { "crashing" } else { "hanging" }
    }
    fn period(&self) -> Duration {
        Duration::from_secs(1)
    }
    async fn step(&mut self, ctx: &AgentContext) -> Result<(), ferros_agents::AgentError> {
        self.steps += 1;
        if self.steps == 2 {
            return Err(ferros_agents::AgentError::Missing(
                "a step that fails is logged, nothing more".into(),
            ));
        }
        if self.steps == 3 {
            if self.panic {
                panic!("out of cheese");
            }
            std::future::pending::<()>().await;
        }
        let _ = ctx;
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn hung_and_crashing_agents_are_restarted_with_backoff() {
    let c = clock();
    let hanging: Factory = Arc::new(|| Box::new(Faulty { steps: 0, panic: false }) as Box<dyn Agent>);
    let crashing: Factory = Arc::new(|| Box::new(Faulty { steps: 0, panic: true }) as Box<dyn Agent>);
    let h = Harness::start(vec![hanging, crashing], c).await;
    // The hanging one misses its heartbeat (20 s of clock).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(80);
    loop {
        let agents = h.db.list_agents().await.unwrap();
        let get = |n: &str| agents.iter().find(|a| a.name == n).cloned();
        if let (Some(hang), Some(crash)) = (get("hanging"), get("crashing"))
            && hang.restarts >= 1
            && crash.restarts >= 2
        {
            assert!(hang.last_error.starts_with("no heartbeat for"), "{hang:?}");
            assert_eq!(crash.last_error, "crashed: out of cheese");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{agents:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logs = h.db.recent_logs(200).await.unwrap();
    assert!(
        logs.iter()
            .any(|l| l.source == "crashing" && l.message == "a step that fails is logged, nothing more")
    );
    // Backoff: 0.1 s, then 0.2 s...
    assert!(
        logs.iter().any(|l| l.message.contains("crashing crashed: out of cheese; restarting in 0.2 s")),
        "{logs:?}"
    );
    h.stop().await;
}

/// An agent failing the same way at every step (the GIC on a full disk, every
/// 6 s): one line when it begins, one when it ends.
struct Failing {
    steps: u32,
}

#[async_trait]
impl Agent for Failing {
    fn name(&self) -> &str {
        "failing"
    }
    fn period(&self) -> Duration {
        Duration::from_secs(1)
    }
    async fn step(&mut self, _ctx: &AgentContext) -> Result<(), ferros_agents::AgentError> {
        self.steps += 1;
        if (2..=31).contains(&self.steps) {
            return Err(ferros_agents::AgentError::Missing("the disk is full".into()));
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_step_failing_the_same_way_is_logged_once() {
    let c = clock();
    let failing: Factory = Arc::new(|| Box::new(Failing { steps: 0 }) as Box<dyn Agent>);
    let h = Harness::start(vec![failing], c).await;
    tokio::time::sleep(Duration::from_secs(40)).await;
    let logs: Vec<String> =
        h.db.recent_logs(200)
            .await
            .unwrap()
            .into_iter()
            .filter(|l| l.source == "failing")
            .map(|l| l.message)
            .rev()
            .collect();
    assert_eq!(
        logs,
        ["the disk is full", "works again after 30 failed step(s): the disk is full"],
        "{logs:?}"
    );
    h.stop().await;
}
