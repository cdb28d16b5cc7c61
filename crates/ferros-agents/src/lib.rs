//! Ferros's agents and the runtime that hosts them.
//!
//! An agent is a loop of steps on the Ferros clock. The [`Supervisor`] (the
//! seeds' "super agent") runs each as a task, records its state and heartbeat
//! in the database, and restarts it, with a backoff, when it dies or stops
//! beating; it logs why. Agents tell each other what changed on the [`Bus`].

pub mod alerts;
mod device_states;
mod env;
mod error;
mod executor;
mod gic;
mod majordome;
mod pipeline;
pub mod planning;
mod roster;
mod runtime;

pub use device_states::{DeviceStates, Latest};
pub use env::{EnvAgent, MINUTE_MS, TEN_MINUTES_MS, series_bin, series_step};
pub use error::AgentError;
pub use executor::{ExecutorAgent, Twilight, dither_offset, flats_due};
pub use gic::{DEVICE_STATUS_FILE, GicPublisher};
pub use majordome::{COMMAND_TTL_S, MajordomeAgent};
pub use pipeline::{PIPELINE_PERIOD, PipelineAgent};
pub use planning::PlannerAgent;
pub use roster::{AgentKind, factories};
pub use runtime::{Agent, AgentContext, Bus, Event, Factory, Shared, Supervisor, SupervisorHandle};

/// The Sun's altitude at `site` at `now`, degrees: interpolated between whole
/// minutes (`ferros_astro::SunAltitudes`), shared by every agent of the process.
pub(crate) fn sun_altitude(site: &ferros_astro::Site, now: chrono::DateTime<chrono::Utc>) -> Option<f64> {
    use std::sync::{Arc, Mutex};
    static SITES: Mutex<Vec<Arc<ferros_astro::SunAltitudes>>> = Mutex::new(Vec::new());
    let jd = ferros_domain::JulianDate::from_datetime(now).ok()?;
    let track = {
        let mut sites = SITES.lock().unwrap_or_else(|e| e.into_inner());
        match sites.iter().find(|t| t.site() == site) {
            Some(t) => t.clone(),
            None => {
                // A handful of sites at most (tests use several); the oldest goes first.
                if sites.len() >= 8 {
                    sites.remove(0);
                }
                let t = Arc::new(ferros_astro::SunAltitudes::new(*site));
                sites.push(t.clone());
                t
            }
        }
    };
    track.at(jd).ok()
}
