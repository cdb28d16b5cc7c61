//! Ferros's agents and the runtime that hosts them.
//!
//! An agent is a loop of steps on the Ferros clock. The [`Supervisor`] (the
//! seeds' "super agent") runs each as a task, records its state and heartbeat
//! in the database, and restarts it, with a backoff, when it dies or stops
//! beating; it logs why. Agents tell each other what changed on the [`Bus`].

mod device_states;
mod env;
mod executor;
mod gic;
mod majordome;
pub mod planning;
mod runtime;

pub use device_states::{DeviceStates, Latest};
pub use env::{EnvAgent, MINUTE_MS, TEN_MINUTES_MS, series_bin, series_step};
pub use executor::{ExecutorAgent, OBSERVING, Twilight, dither_offset, flats_due};
pub use gic::{DEVICE_STATUS_FILE, GicPublisher};
pub use majordome::MajordomeAgent;
pub use planning::PlannerAgent;
pub use runtime::{Agent, AgentContext, Bus, Event, Factory, Supervisor, SupervisorHandle};

/// The Sun's altitude at `site` at `now`, degrees.
pub(crate) fn sun_altitude(
    site: Option<&ferros_astro::Site>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<f64> {
    let jd = ferros_domain::JulianDate::from_datetime(now).ok()?;
    Some(ferros_astro::Frame::new(site?, jd).ok()?.sun().horizontal.alt)
}
