//! In-process simulators, the default drivers: a mount, a dome, cameras, a
//! filter wheel and a PLC that move or change with realistic timing on the Ferros clock (so a simulated
//! night runs fast) and can be told to fail ([`Faults`]) for tests.

mod camera;
mod dome;
mod fault;
mod filter_wheel;
mod motion;
mod mount;
mod plc;

pub use camera::{CameraConfig, ShotRecord, SimCamera, Transient, Witness};
pub use dome::{DomeConfig, SimDome};
pub use fault::{Fault, Faults};
pub use filter_wheel::SimFilterWheel;
pub use motion::{Motion, Motions};
pub use mount::{MountConfig, SimMount, altaz, hadec};
pub use plc::{Change, ModelError, PlcModel, Scenario, ScenarioError, SimPlc};
