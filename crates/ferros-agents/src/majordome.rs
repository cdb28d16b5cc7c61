//! The majordome agent: reads the environment synthesis (from the database,
//! so ENV may run elsewhere), the Sun and the devices, runs the majordome's
//! rules (`ferros-majordome`) and carries out the safety actions on the
//! devices: abort exposures, close the dome, park the mount. Every change of
//! mode is logged. Observing itself needs the executor, which is not here yet:
//! `Observe` is noted, not run.

use std::time::Duration;

use async_trait::async_trait;
use ferros_astro::Site;
use ferros_config::Settings;
use ferros_devices::{CameraActivity, Shutter, bounded};
use ferros_domain::{GlobalStatus, LogLevel};
use ferros_majordome::{Action, Command, Inputs, Majordome, Rules};
use ferros_observatory::Observatory;

use crate::runtime::{Agent, AgentContext};

pub struct MajordomeAgent {
    obs: Observatory,
    site: Option<Site>,
    night_altitude: f64,
    stale_after: f64,
    period: Duration,
    timeout: Duration,
    majordome: Majordome,
    /// The flags were read back from the database (after a restart).
    restored: bool,
}

impl std::fmt::Debug for MajordomeAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MajordomeAgent").field("mode", &self.majordome.mode).finish_non_exhaustive()
    }
}

impl MajordomeAgent {
    pub fn new(settings: &Settings, obs: Observatory) -> Self {
        let s = &settings.site;
        Self {
            obs,
            site: Site::new(s.latitude, s.longitude, s.elevation).ok(),
            night_altitude: s.night_sun_altitude,
            stale_after: settings.weather.stale_after_s,
            period: Duration::from_secs_f64(settings.agents.majordome_period_s),
            timeout: Duration::from_secs_f64(settings.devices.timeout_s),
            majordome: Majordome::new(Rules::default()),
            restored: false,
        }
    }

    /// What the majordome sees now.
    async fn inputs(&self, ctx: &AgentContext) -> Result<Inputs, String> {
        let now = ctx.clock.now();
        let watch = ctx.db.latest_watch("env").await.map_err(|e| e.to_string())?;
        // No synthesis, or an old one (ENV not running): UNSAFE, PLC unknown.
        let (env, body) = match watch {
            Some(w) if (now - w.updated).num_milliseconds() as f64 / 1000.0 <= self.stale_after => {
                (w.global_status, serde_json::from_str::<serde_json::Value>(&w.body).unwrap_or_default())
            }
            _ => (GlobalStatus::Unsafe, serde_json::Value::Null),
        };
        let decision_of = |name: &str| {
            body["site"]["quantities"]
                .as_array()
                .and_then(|qs| qs.iter().find(|q| q["name"] == name))
                .and_then(|q| q["decision"].as_str().map(str::to_owned))
        };
        let plc_fresh = decision_of("plc_link").as_deref() == Some("safe");
        let plc_auto = decision_of("plc_mode").as_deref() == Some("safe");
        let t = self.timeout;
        let mount = match &self.obs.mount {
            Some(m) => bounded(m.name(), "state", t, m.state()).await.ok().map(|s| s.value),
            None => None,
        };
        let dome = match &self.obs.dome {
            Some(d) => bounded(d.name(), "state", t, d.state()).await.ok().map(|s| s.value),
            None => None,
        };
        let vis = match &self.obs.camera_vis {
            Some(c) => bounded(c.name(), "state", t, c.state()).await.ok().map(|s| s.value),
            None => None,
        };
        let nir = match &self.obs.camera_nir {
            Some(c) => bounded(c.name(), "state", t, c.state()).await.ok().map(|s| s.value),
            None => None,
        };
        let exposing = [&vis, &nir]
            .iter()
            .any(|c| c.as_ref().is_some_and(|c| matches!(c.activity, CameraActivity::Exposing)));
        let secured = dome.as_ref().is_none_or(|d| d.shutter == Shutter::Closed)
            && mount.as_ref().is_none_or(|m| m.parked && !m.slewing)
            && !exposing;
        let sun = crate::sun_altitude(self.site.as_ref(), now);
        Ok(Inputs {
            now,
            plc_fresh,
            plc_auto,
            plc_bypass: false,
            env,
            night: sun.is_some_and(|a| a < self.night_altitude),
            night_of: (now - chrono::TimeDelta::hours(12)).date_naive(),
            // The executor that runs the schedule is not built yet.
            work: false,
            mount_ok: self.obs.mount.is_none() || mount.is_some(),
            vis_ok: self.obs.camera_vis.is_none() || vis.is_some(),
            nir_ok: self.obs.camera_nir.is_none() || nir.is_some(),
            secured,
        })
    }

    /// Carries out the actions; a device that fails is logged, the others go on.
    async fn act(&self, ctx: &AgentContext, actions: &[Action]) {
        let t = self.timeout;
        for a in actions {
            let result = match a {
                Action::AbortExposures => {
                    let mut r = Ok(());
                    for c in [&self.obs.camera_vis, &self.obs.camera_nir].into_iter().flatten() {
                        if let Ok(s) = bounded(c.name(), "state", t, c.state()).await
                            && s.value.activity == CameraActivity::Exposing
                        {
                            r = r.and(bounded(c.name(), "abort", t, c.abort()).await);
                        }
                    }
                    r
                }
                Action::CloseDome => match &self.obs.dome {
                    Some(d) => match bounded(d.name(), "state", t, d.state()).await {
                        Ok(s) if s.value.shutter == Shutter::Closed => Ok(()),
                        _ => bounded(d.name(), "close", t, d.close()).await,
                    },
                    None => Ok(()),
                },
                Action::ParkMount => match &self.obs.mount {
                    Some(m) => match bounded(m.name(), "state", t, m.state()).await {
                        Ok(s) if s.value.parked => Ok(()),
                        Ok(s) if s.value.slewing => {
                            // Stop wherever it was going, then park.
                            let _ = bounded(m.name(), "abort", t, m.abort()).await;
                            bounded(m.name(), "park", t, m.park()).await
                        }
                        _ => bounded(m.name(), "park", t, m.park()).await,
                    },
                    None => Ok(()),
                },
                Action::OpenDome => match &self.obs.dome {
                    Some(d) => bounded(d.name(), "open", t, d.open()).await,
                    None => Ok(()),
                },
                Action::UnparkMount => match &self.obs.mount {
                    Some(m) => bounded(m.name(), "unpark", t, m.unpark()).await,
                    None => Ok(()),
                },
                Action::Observe | Action::StopObserving | Action::PlcBypass(_) => Ok(()),
            };
            if let Err(e) = result {
                ctx.log("majordome", LogLevel::Error, format!("{a:?}: {e}")).await;
            }
        }
    }
}

impl MajordomeAgent {
    /// Answers the pending control commands, oldest first, with the rules of
    /// who may and when; carries out what an accepted one asks.
    async fn commands(&mut self, ctx: &AgentContext, inputs: &Inputs) -> Result<(), String> {
        let pending = ctx.db.pending_commands().await.map_err(|e| e.to_string())?;
        for c in pending {
            let outcome = match Command::parse(&c.command) {
                None => Err(format!("unknown command \"{}\"", c.command)),
                Some(cmd) => match ctx.db.user_by_name(&c.actor).await.map_err(|e| e.to_string())? {
                    None => Err(format!("no user named {}", c.actor)),
                    Some(u) if !u.active => Err(format!("{} is not an active user", c.actor)),
                    Some(u) => {
                        let profiles: Vec<_> = u.profiles.into_iter().collect();
                        self.majordome.command(cmd, &profiles, inputs)
                    }
                },
            };
            let now = ctx.clock.now();
            match outcome {
                Ok(actions) => {
                    ctx.db.finish_command(c.id, true, "", now).await.map_err(|e| e.to_string())?;
                    ctx.log("majordome", LogLevel::Info, format!("{}: {} accepted", c.actor, c.command))
                        .await;
                    self.act(ctx, &actions).await;
                }
                Err(why) => {
                    ctx.db.finish_command(c.id, false, &why, now).await.map_err(|e| e.to_string())?;
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

#[async_trait]
impl Agent for MajordomeAgent {
    fn name(&self) -> &str {
        "majordome"
    }

    fn period(&self) -> Duration {
        self.period
    }

    async fn step(&mut self, ctx: &AgentContext) -> Result<(), String> {
        if !self.restored {
            // A lock and the night's ACK outlive a restart; a bypass does not
            // (an operator asks for it again, and the PLC confirms it again).
            if let Some((_, body)) = ctx.db.majordome_state().await.map_err(|e| e.to_string())? {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                self.majordome.locked = v["locked"].as_bool().unwrap_or(false);
                self.majordome.night_ack = v["night_ack"].as_str().and_then(|d| d.parse().ok());
                if self.majordome.locked {
                    ctx.log("majordome", LogLevel::Info, "the observatory was locked: it stays locked").await;
                }
            }
            self.restored = true;
        }
        let inputs = self.inputs(ctx).await?;
        self.commands(ctx, &inputs).await?;
        let tick = self.majordome.tick(&inputs);
        for n in &tick.notes {
            ctx.log("majordome", LogLevel::Info, n.clone()).await;
        }
        self.act(ctx, &tick.actions).await;
        let state = serde_json::json!({
            "mode": tick.mode.label(),
            "safe": tick.safe,
            "locked": self.majordome.locked,
            "bypass": self.majordome.bypass,
            "night_ack": self.majordome.night_ack,
            "night": inputs.night,
            "plc": if !inputs.plc_fresh { "no answer" } else if inputs.plc_auto { "AUTO" } else { "MANUAL" },
            "env": inputs.env,
            "secured": inputs.secured,
        });
        ctx.db.store_majordome(inputs.now, &state.to_string()).await.map_err(|e| e.to_string())
    }
}
