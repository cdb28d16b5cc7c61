//! The agents of an observatory and how each is made (at start and at each
//! restart): what `ferros start`, `ferros agent NAME` and a simulated night run.

use std::sync::Arc;
use std::time::Duration;

use ferros_archive::Archive;
use ferros_config::Settings;
use ferros_observatory::Observatory;

use crate::AgentError;
use crate::runtime::{Agent, AgentContext, Factory};
use crate::{EnvAgent, ExecutorAgent, GicPublisher, MajordomeAgent, PlannerAgent};

/// One of the agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentKind {
    Env,
    Majordome,
    Gic,
    Planner,
    Executor,
}

impl AgentKind {
    pub const ALL: [AgentKind; 5] =
        [AgentKind::Env, AgentKind::Majordome, AgentKind::Gic, AgentKind::Planner, AgentKind::Executor];
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
        };
        out.push(factory);
    }
    Ok(out)
}
