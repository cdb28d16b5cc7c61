//! The majordome agent: reads the environment synthesis (ENV's word in
//! memory, or from the database when ENV runs elsewhere), the Sun and the devices, runs the majordome's
//! rules (`ferros-majordome`) and carries out the safety actions on the
//! devices: abort exposures, close the dome, park the mount. Every change of
//! mode is logged and published on the bus. Observing is the executor's
//! (`executor/`): it runs the schedule while the mode is SCHEDULER
//! (observing), which the majordome enters when it is night, safe, and
//! there is work (a sequence due, an alert waiting, the evening's flats).

use std::time::Duration;

use async_trait::async_trait;
use ferros_astro::Site;
use ferros_config::{Role, Settings};
use ferros_devices::{CameraActivity, Shutter, bounded};
use ferros_domain::{Decision, Detector, GlobalStatus, JulianDate, LogLevel};
use ferros_majordome::{Action, Command, DeviceCommand, Inputs, Majordome, Rules, State};
use ferros_observatory::Observatory;

use crate::AgentError;
use crate::device_states::{DeviceStates, Latest};
use crate::runtime::{Agent, AgentContext, Event};

/// The stored state is refreshed at least this often (seconds of the clock).
const STORE_AT_LEAST_S: i64 = 60;

// A control command older than `COMMAND_TTL_S` (seconds of the clock) when
// the majordome reads it is refused as expired: its giver stopped waiting (an
// interrupted `ferros control`, a majordome that was not running), and an
// order carried out late is a wrong order.
pub use ferros_limits::COMMAND_TTL_S;

pub struct MajordomeAgent {
    obs: Observatory,
    site: Site,
    night_altitude: f64,
    stale_after: f64,
    period: Duration,
    timeout: Duration,
    majordome: Majordome,
    settings: Settings,
    /// How early a planned sequence counts as work, days.
    lead_days: f64,
    /// The first mode was published on the bus.
    announced: bool,
    /// The flags were read back from the database (after a restart).
    restored: bool,
    /// The devices' states, read in the background from the first step on.
    devices: Option<DeviceStates>,
    /// The state last stored, and when: stored again when it changes, and
    /// at least once a minute for those who read its age.
    stored: Option<(chrono::DateTime<chrono::Utc>, State)>,
    /// When a park and a dome closing were last sent: one in progress is
    /// progress, not sent again at each tick (a mount slower than a tick
    /// would never park), until it stops short or takes longer than a motion may.
    sent: std::sync::Mutex<Sent>,
}

#[derive(Debug, Default)]
struct Sent {
    park: Option<chrono::DateTime<chrono::Utc>>,
    close: Option<chrono::DateTime<chrono::Utc>>,
}

impl std::fmt::Debug for MajordomeAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MajordomeAgent").field("mode", &self.majordome.mode).finish_non_exhaustive()
    }
}

impl MajordomeAgent {
    pub fn new(settings: &Settings, obs: Observatory) -> Self {
        Self {
            site: obs.site,
            obs,
            night_altitude: settings.site.night_sun_altitude,
            stale_after: settings.weather.stale_after_s,
            period: Duration::from_secs_f64(settings.agents.majordome_period_s),
            timeout: Duration::from_secs_f64(settings.devices.timeout_s),
            majordome: Majordome::new(Rules::default()),
            settings: settings.clone(),
            // The dome takes about a minute: open a little before the first sequence.
            lead_days: (settings.executor.lead_s + 300.0) / 86_400.0,
            restored: false,
            announced: false,
            devices: None,
            stored: None,
            sent: std::sync::Mutex::default(),
        }
    }

    /// What the majordome sees now.
    async fn inputs(&self, ctx: &AgentContext) -> Result<Inputs, AgentError> {
        let now = ctx.clock.now();
        // No synthesis, or an old one (ENV not running): UNSAFE, PLC unknown.
        let synthesis = ctx
            .env()
            .await?
            .filter(|s| (now - s.updated).num_milliseconds() as f64 / 1000.0 <= self.stale_after);
        let env = synthesis.as_ref().map_or(GlobalStatus::Unsafe, |s| s.global_status);
        let safe = |name: &str| {
            synthesis.as_ref().and_then(|s| s.quantity(name)).is_some_and(|q| q.decision == Decision::Safe)
        };
        let (plc_fresh, plc_auto) = (safe("plc_link"), safe("plc_mode"));
        let lit = |name: &str| {
            synthesis.as_ref().and_then(|s| s.quantity(name)).is_some_and(|q| q.value == Some(1.0))
        };
        // The latest answers: the tick waits on no device.
        let Latest { mount, dome, vis, nir } =
            self.devices.as_ref().map(DeviceStates::latest).unwrap_or_default();
        let exposing = [&vis, &nir]
            .iter()
            .any(|c| c.as_ref().is_some_and(|c| matches!(c.activity, CameraActivity::Exposing)));
        // A device that does not answer is not known to be safe: only a
        // dome seen closed and a mount seen parked (or none fitted) are.
        let secured = (self.obs.dome.is_none()
            || dome.as_ref().is_some_and(|d| d.shutter == Shutter::Closed))
            && (self.obs.mount.is_none() || mount.as_ref().is_some_and(|m| m.parked && !m.slewing))
            && !exposing;
        let sun = crate::sun_altitude(&self.site, now);
        // Work: a sequence due (or running), an alert waiting, or the evening's flats.
        let jd = JulianDate::from_datetime(now)?.days();
        let flats = crate::flats_due(&ctx.db, &self.settings, &self.site, now).await;
        let work = flats || ctx.db.work_due(jd, jd + self.lead_days).await?;
        Ok(Inputs {
            now,
            plc_fresh,
            plc_auto,
            plc_bypass: lit(ferros_env::PLC_BYPASS),
            plc_ack: lit(ferros_env::NIGHT_ACK),
            env,
            // Twilight flats are taken in the evening, before the night proper.
            night: sun.is_some_and(|a| a < self.night_altitude) || flats,
            night_of: (now - chrono::TimeDelta::hours(12)).date_naive(),
            work,
            mount_ok: self.obs.mount.is_none() || mount.is_some(),
            vis_ok: self.obs.camera_vis.is_none() || vis.is_some(),
            nir_ok: self.obs.camera_nir.is_none() || nir.is_some(),
            secured,
        })
    }

    /// Carries out the actions, each device at the same time (one that hangs
    /// does not hold the others back); a device that fails is logged.
    async fn act(&self, ctx: &AgentContext, actions: &[Action]) {
        let t = self.timeout;
        let has = |a: Action| actions.contains(&a);
        // Each camera on its own: one that hangs does not hold the other's abort back.
        let abort = |c: &Option<std::sync::Arc<dyn ferros_devices::Camera>>| {
            let c = c.clone().filter(|_| has(Action::AbortExposures));
            async move {
                let c = c?;
                match bounded(c.name(), "state", t, c.state()).await {
                    Ok(s) if s.value.activity == CameraActivity::Exposing => {
                        Some((Action::AbortExposures, bounded(c.name(), "abort", t, c.abort()).await))
                    }
                    _ => None,
                }
            }
        };
        let cameras = async {
            let (v, n) = tokio::join!(abort(&self.obs.camera_vis), abort(&self.obs.camera_nir));
            v.into_iter().chain(n).collect::<Vec<_>>()
        };
        let now = ctx.clock.now();
        let limit =
            chrono::TimeDelta::milliseconds((self.settings.executor.motion_timeout_s * 1000.0) as i64);
        // Sent at `at` and not over yet: still on its way.
        let under_way = |at: Option<chrono::DateTime<chrono::Utc>>| at.is_some_and(|at| now - at < limit);
        let sent = || self.sent.lock().unwrap_or_else(|e| e.into_inner());
        let dome = async {
            let Some(d) = &self.obs.dome else { return Vec::new() };
            if has(Action::CloseDome) {
                let r = match bounded(d.name(), "state", t, d.state()).await {
                    Ok(s) if s.value.shutter == Shutter::Closed => {
                        sent().close = None;
                        Ok(())
                    }
                    Ok(s) if s.value.shutter == Shutter::Intermediate && under_way(sent().close) => Ok(()),
                    _ => {
                        sent().close = Some(now);
                        bounded(d.name(), "close", t, d.close()).await
                    }
                };
                vec![(Action::CloseDome, r)]
            } else if has(Action::OpenDome) {
                sent().close = None;
                let r = match bounded(d.name(), "state", t, d.state()).await {
                    Ok(s) if s.value.shutter == Shutter::Opened => Ok(()),
                    _ => bounded(d.name(), "open", t, d.open()).await,
                };
                vec![(Action::OpenDome, r)]
            } else {
                Vec::new()
            }
        };
        let mount = async {
            let Some(m) = &self.obs.mount else { return Vec::new() };
            if has(Action::ParkMount) {
                let r = match bounded(m.name(), "state", t, m.state()).await {
                    Ok(s) if s.value.parked && !s.value.slewing => {
                        sent().park = None;
                        Ok(())
                    }
                    // Parking: on its way, let it go.
                    Ok(s) if s.value.slewing && under_way(sent().park) => Ok(()),
                    Ok(s) if s.value.slewing => {
                        // Stop wherever it was going, then park.
                        let _ = bounded(m.name(), "abort", t, m.abort()).await;
                        sent().park = Some(now);
                        bounded(m.name(), "park", t, m.park()).await
                    }
                    _ => {
                        sent().park = Some(now);
                        bounded(m.name(), "park", t, m.park()).await
                    }
                };
                vec![(Action::ParkMount, r)]
            } else if has(Action::UnparkMount) {
                sent().park = None;
                let r = match bounded(m.name(), "state", t, m.state()).await {
                    Ok(s) if !s.value.parked => Ok(()),
                    _ => bounded(m.name(), "unpark", t, m.unpark()).await,
                };
                vec![(Action::UnparkMount, r)]
            } else {
                Vec::new()
            }
        };
        // The bypass asked of the PLC (or its end): its next status confirms it.
        let plc = async {
            let Some(on) = actions.iter().find_map(|a| match a {
                Action::PlcBypass(on) => Some(*on),
                _ => None,
            }) else {
                return Vec::new();
            };
            let r = match &self.obs.weather {
                Some(w) => bounded(w.name(), "bypass", t, w.set_bypass(on)).await,
                None => Err(ferros_devices::DeviceError::not_supported("PLC", "this observatory has none")),
            };
            vec![(Action::PlcBypass(on), r)]
        };
        let (c, d, m, p) = tokio::join!(cameras, dome, mount, plc);
        for (a, r) in c.into_iter().chain(d).chain(m).chain(p) {
            if let Err(e) = r {
                ctx.log("majordome", LogLevel::Error, format!("{a:?}: {e}")).await;
            }
        }
    }
}

/// Why a control command was not carried out (stored with it, and logged).
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("unknown command \"{0}\"")]
    Unknown(String),
    #[error("no user named {0}")]
    NoUser(String),
    #[error("{0} is not an active user")]
    Inactive(String),
    #[error(transparent)]
    Rule(#[from] ferros_majordome::Refusal),
    #[error(transparent)]
    Syntax(#[from] ferros_majordome::CommandError),
    #[error(transparent)]
    Device(#[from] ferros_devices::DeviceError),
}

/// The profiles of the active user `actor`, or why there are none.
async fn profiles_of(
    ctx: &AgentContext,
    actor: &str,
) -> Result<Result<Vec<ferros_domain::Profile>, Refused>, AgentError> {
    Ok(match ctx.db.user_by_name(actor).await? {
        None => Err(Refused::NoUser(actor.to_owned())),
        Some(u) if !u.active => Err(Refused::Inactive(actor.to_owned())),
        Some(u) => Ok(u.profiles.into_iter().collect()),
    })
}

impl MajordomeAgent {
    /// Answers the pending control commands, oldest first, with the rules of
    /// who may and when; carries out what an accepted one asks.
    async fn commands(&mut self, ctx: &AgentContext, inputs: &Inputs) -> Result<(), AgentError> {
        let pending = ctx.db.pending_commands().await?;
        for c in pending {
            let age = (ctx.clock.now() - c.at).num_seconds();
            if age > COMMAND_TTL_S {
                let why = format!(
                    "expired: given at {} ({age} s ago), more than the {COMMAND_TTL_S} s a command waits",
                    c.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
                ctx.db.finish_command(c.id, false, &why, ctx.clock.now()).await?;
                ctx.log("majordome", LogLevel::Warn, format!("{}: {} refused: {why}", c.actor, c.command))
                    .await;
                continue;
            }
            if c.command.starts_with("device ") {
                self.device_command(ctx, &c, inputs).await?;
                continue;
            }
            let outcome = match Command::parse(&c.command) {
                None => Err(Refused::Unknown(c.command.clone())),
                Some(cmd) => match profiles_of(ctx, &c.actor).await? {
                    Err(why) => Err(why),
                    Ok(profiles) => self.majordome.command(cmd, &profiles, inputs).map_err(Refused::from),
                },
            };
            let now = ctx.clock.now();
            match outcome {
                Ok(actions) => {
                    // The state the command made is stored before the answer:
                    // whoever reads the answer then reads that state.
                    let state = self.majordome.state(inputs);
                    ctx.db.store_majordome(inputs.now, &serde_json::to_string(&state)?).await?;
                    self.stored = Some((inputs.now, state));
                    ctx.db.finish_command(c.id, true, "", now).await?;
                    ctx.log("majordome", LogLevel::Info, format!("{}: {} accepted", c.actor, c.command))
                        .await;
                    self.act(ctx, &actions).await;
                }
                Err(why) => {
                    ctx.db.finish_command(c.id, false, &why.to_string(), now).await?;
                    ctx.log(
                        "majordome",
                        LogLevel::Warn,
                        format!("{}: {} refused: {why}", c.actor, c.command),
                    )
                    .await;
                }
            }
        }
        Ok(())
    }
}

impl MajordomeAgent {
    /// A device command by hand (REMOTE): checked by the rules, then carried out;
    /// a device that fails refuses it with its error.
    async fn device_command(
        &mut self,
        ctx: &AgentContext,
        c: &ferros_db::ControlCommand,
        inputs: &Inputs,
    ) -> Result<(), AgentError> {
        let outcome = match DeviceCommand::parse(&c.command) {
            Err(e) => Err(Refused::from(e)),
            Ok(cmd) => match profiles_of(ctx, &c.actor).await? {
                Err(why) => Err(why),
                Ok(profiles) => match self.majordome.device_command(&cmd, &profiles, inputs) {
                    Ok(()) => self.run_device(&cmd).await.map_err(Refused::from),
                    Err(e) => Err(e.into()),
                },
            },
        };
        let now = ctx.clock.now();
        let (ok, why) = match &outcome {
            Ok(()) => (true, String::new()),
            Err(e) => (false, e.to_string()),
        };
        ctx.db.finish_command(c.id, ok, &why, now).await?;
        let (level, said) = if ok {
            (LogLevel::Info, "done".to_owned())
        } else {
            (LogLevel::Warn, format!("refused: {why}"))
        };
        ctx.log("majordome", level, format!("{}: {} {said}", c.actor, c.command)).await;
        Ok(())
    }

    async fn run_device(&self, cmd: &DeviceCommand) -> ferros_devices::DeviceResult<()> {
        let t = self.timeout;
        let missing = |role: &str| ferros_devices::DeviceError::NotSupported {
            device: role.to_owned(),
            what: "this observatory has none".to_owned(),
        };
        let mount = || self.obs.mount.as_ref().ok_or_else(|| missing(Role::Telescope.as_str()));
        let dome = || self.obs.dome.as_ref().ok_or_else(|| missing(Role::Dome.as_str()));
        match cmd {
            DeviceCommand::MountPark => {
                let m = mount()?;
                bounded(m.name(), "park", t, m.park()).await
            }
            DeviceCommand::MountUnpark => {
                let m = mount()?;
                bounded(m.name(), "unpark", t, m.unpark()).await
            }
            DeviceCommand::MountSlew { ra, dec } => {
                let m = mount()?;
                bounded(m.name(), "slew", t, m.slew_radec(*ra, *dec)).await
            }
            DeviceCommand::MountAbort => {
                let m = mount()?;
                bounded(m.name(), "abort", t, m.abort()).await
            }
            DeviceCommand::DomeOpen => {
                let d = dome()?;
                bounded(d.name(), "open", t, d.open()).await
            }
            DeviceCommand::DomeClose => {
                let d = dome()?;
                bounded(d.name(), "close", t, d.close()).await
            }
            DeviceCommand::DomeAzimuth { azimuth } => {
                let d = dome()?;
                bounded(d.name(), "azimuth", t, d.slew_azimuth(*azimuth)).await
            }
            DeviceCommand::DomeAbort => {
                let d = dome()?;
                bounded(d.name(), "abort", t, d.abort()).await
            }
            DeviceCommand::FilterSelect { wheel, filter } => {
                let (w, role) = match wheel {
                    Detector::Vis => (&self.obs.filter_vis, Role::FilterVis),
                    Detector::Nir => (&self.obs.filter_nir, Role::FilterNir),
                };
                let w = w.as_ref().ok_or_else(|| missing(role.as_str()))?;
                bounded(w.name(), "select", t, w.select_filter(filter)).await
            }
            DeviceCommand::CameraAbort { camera } => {
                let (c, role) = match camera {
                    Detector::Vis => (&self.obs.camera_vis, Role::CameraVis),
                    Detector::Nir => (&self.obs.camera_nir, Role::CameraNir),
                };
                let c = c.as_ref().ok_or_else(|| missing(role.as_str()))?;
                bounded(c.name(), "abort", t, c.abort()).await
            }
        }
    }
}

#[async_trait]
impl Agent for MajordomeAgent {
    fn name(&self) -> &str {
        "majordome"
    }

    fn period(&self) -> Duration {
        self.period
    }

    /// UNSAFE or SAFE, a sequence started or ended, a new schedule: decide at once.
    fn wakes_on(&self, e: &Event) -> bool {
        matches!(
            e,
            Event::Environment { .. } | Event::Sequence { .. } | Event::Schedule { .. } | Event::Alert { .. }
        )
    }

    async fn step(&mut self, ctx: &AgentContext) -> Result<(), AgentError> {
        if !self.restored {
            // A lock and the night's ACK outlive a restart; a bypass does not
            // (an operator asks for it again, and the PLC confirms it again).
            if let Some((_, body)) = ctx.db.majordome_state().await? {
                match serde_json::from_str::<State>(&body) {
                    Ok(s) => (self.majordome.locked, self.majordome.night_ack) = (s.locked, s.night_ack),
                    Err(e) => {
                        let m =
                            format!("the stored state cannot be read ({e}): starting unlocked, without ACK");
                        ctx.log("majordome", LogLevel::Warn, m).await;
                    }
                }
                if self.majordome.locked {
                    ctx.log("majordome", LogLevel::Info, "the observatory was locked: it stays locked").await;
                }
            }
            self.restored = true;
        }
        if self.devices.is_none() {
            self.devices = Some(DeviceStates::start(&self.obs, ctx.clock, self.period, self.timeout).await);
        }
        let inputs = self.inputs(ctx).await?;
        self.commands(ctx, &inputs).await?;
        let before = self.majordome.mode;
        let tick = self.majordome.tick(&inputs);
        if tick.mode != before || !self.announced {
            ctx.bus.publish(Event::Mode { at: inputs.now, mode: tick.mode });
            self.announced = true;
        }
        for n in &tick.notes {
            ctx.log("majordome", LogLevel::Info, n.clone()).await;
        }
        self.act(ctx, &tick.actions).await;
        let state = self.majordome.state(&inputs);
        ctx.shared.set_majordome(state);
        let due = self.stored.is_none_or(|(at, s)| {
            s != state || inputs.now - at >= chrono::TimeDelta::seconds(STORE_AT_LEAST_S)
        });
        if due {
            let body = serde_json::to_string(&state)?;
            ctx.db.store_majordome(inputs.now, &body).await?;
            self.stored = Some((inputs.now, state));
        }
        Ok(())
    }
}
