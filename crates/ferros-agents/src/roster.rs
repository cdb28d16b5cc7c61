//! The agents of an observatory and how each is made (at start and at each
//! restart): what `ferros start`, `ferros agent NAME` and a simulated night run.

use std::sync::Arc;
use std::time::Duration;

use ferros_archive::Archive;
use ferros_config::Settings;
use ferros_observatory::Observatory;

use crate::AgentError;
use crate::alerts::{AlertDesk, KafkaIntake, VtpIntake, WatchIntake};
use crate::runtime::{Agent, AgentContext, Factory};
use crate::{
    EnvAgent, ExecutorAgent, GicPublisher, MajordomeAgent, PIPELINE_PERIOD, PipelineAgent, PlannerAgent,
};
use ferros_devices::net::Network;

/// One of the agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentKind {
    Env,
    Majordome,
    Gic,
    Planner,
    Executor,
    /// The alert manager's intakes: the watched folder, each VTP broker, Kafka.
    Alerts,
    /// The data reduction pipeline.
    Pipeline,
}

impl AgentKind {
    pub const ALL: [AgentKind; 7] = [
        AgentKind::Env,
        AgentKind::Majordome,
        AgentKind::Gic,
        AgentKind::Planner,
        AgentKind::Executor,
        AgentKind::Alerts,
        AgentKind::Pipeline,
    ];
}

/// The GIC's device status list is replaced this often (the seeds say about 6 s).
const GIC_PERIOD: Duration = Duration::from_secs(6);

/// The factories of the agents to run: `only` one, or all, in a fixed order.
pub fn factories(
    settings: &Settings,
    actx: &AgentContext,
    obs: &Observatory,
    archive: &Archive,
    only: Option<AgentKind>,
) -> Result<Vec<Factory>, AgentError> {
    let mut out: Vec<Factory> = Vec::new();
    for kind in AgentKind::ALL {
        if only.is_some_and(|o| o != kind) {
            continue;
        }
        if kind == AgentKind::Alerts {
            let desk = AlertDesk::new(settings, obs.site, &obs.wheels)?;
            let dir = settings.alert_watch_dir();
            let d = desk.clone();
            out.push(Arc::new(move || Box::new(WatchIntake::new(d.clone(), dir.clone())) as Box<dyn Agent>));
            for broker in &settings.alerts.vtp {
                let (d, broker, ivorn) = (desk.clone(), broker.clone(), settings.alerts.vtp_ivorn.clone());
                let spool =
                    settings.data_dir.join("spool").join(format!("vtp-{}", broker.replace([':', '/'], "_")));
                out.push(Arc::new(move || {
                    Box::new(VtpIntake::new(d.clone(), Network::Tcp, &broker, &ivorn, Some(spool.clone())))
                        as Box<dyn Agent>
                }));
            }
            if !settings.alerts.kafka.is_empty() {
                let a = settings.alerts.clone();
                out.push(Arc::new(move || {
                    Box::new(KafkaIntake::new(
                        desk.clone(),
                        a.kafka.clone(),
                        a.kafka_topics.clone(),
                        a.kafka_start,
                    )) as Box<dyn Agent>
                }));
            }
            continue;
        }
        let factory: Factory = match kind {
            AgentKind::Env => {
                let Some(source) = obs.weather.clone() else {
                    return Err(AgentError::Missing(
                        "no weather source: devices.plc has driver \"none\", ENV has nothing to read"
                            .to_owned(),
                    ));
                };
                let (settings, site) = (settings.clone(), obs.site);
                let dome = obs.dome.clone();
                Arc::new(move || {
                    Box::new(EnvAgent::new(&settings, site, source.clone(), dome.clone())) as Box<dyn Agent>
                })
            }
            AgentKind::Majordome => {
                let (settings, obs) = (settings.clone(), obs.clone());
                Arc::new(move || Box::new(MajordomeAgent::new(&settings, obs.clone())) as Box<dyn Agent>)
            }
            AgentKind::Gic => {
                let (obs, archive) = (obs.clone(), archive.clone());
                Arc::new(move || {
                    Box::new(GicPublisher::new(obs.clone(), archive.clone(), GIC_PERIOD)) as Box<dyn Agent>
                })
            }
            AgentKind::Planner => {
                let (settings, site) = (settings.clone(), obs.site);
                Arc::new(move || Box::new(PlannerAgent::new(&settings, site)) as Box<dyn Agent>)
            }
            AgentKind::Executor => {
                let (settings, obs, archive, actx) =
                    (settings.clone(), obs.clone(), archive.clone(), actx.clone());
                Arc::new(move || {
                    Box::new(ExecutorAgent::new(&settings, obs.clone(), archive.clone(), actx.clone()))
                        as Box<dyn Agent>
                })
            }
            AgentKind::Alerts => continue,
            AgentKind::Pipeline => {
                if !settings.pipeline.enabled {
                    continue;
                }
                // The configured catalogue, else the simulators' synthetic sky.
                let catalogue = match settings.pipeline.catalogue_path() {
                    Some(path) => ferros_catalog::shared(&path)
                        .map_err(|e| AgentError::Missing(format!("pipeline.catalogue: {e}")))?,
                    None => Arc::new(ferros_catalog::Catalogue::synthetic()),
                };
                let (settings, archive) = (settings.clone(), archive.clone());
                Arc::new(move || {
                    Box::new(PipelineAgent::new(
                        &settings,
                        archive.clone(),
                        Some(catalogue.clone()),
                        PIPELINE_PERIOD,
                    )) as Box<dyn Agent>
                })
            }
        };
        out.push(factory);
    }
    Ok(out)
}
