//! Telescope mounts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{DeviceResult, Stamped};

/// What a mount can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountCapabilities {
    pub slew_altaz: bool,
    pub park: bool,
    pub home: bool,
    pub tracking: bool,
}

/// The mount's state: every field of seed 000's "DEVICES STATUS LIST" for the telescope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MountState {
    pub connected: bool,
    pub slewing: bool,
    pub homing: bool,
    pub parked: bool,
    pub tracking: bool,
    /// An axis is on its end-of-travel sensor.
    pub stop_sensor: bool,
    /// Pointed at the flat-field screen.
    pub at_flat_position: bool,
    pub last_connection: Option<DateTime<Utc>>,
    pub last_maintenance: Option<DateTime<Utc>>,
    /// Where it points: J2000 RA/Dec, hour angle (hours) and Dec, alt/az (degrees).
    pub ra: f64,
    pub dec: f64,
    pub ha: f64,
    pub alt: f64,
    pub az: f64,
}

#[async_trait]
pub trait Mount: Send + Sync {
    fn name(&self) -> &str;
    fn capabilities(&self) -> MountCapabilities;
    async fn state(&self) -> DeviceResult<Stamped<MountState>>;
    /// Starts a slew to a J2000 position; `state().slewing` tells when it is over.
    async fn slew_radec(&self, ra: f64, dec: f64) -> DeviceResult<()>;
    async fn slew_altaz(&self, alt: f64, az: f64) -> DeviceResult<()>;
    async fn set_tracking(&self, on: bool) -> DeviceResult<()>;
    /// Stops any motion and tracking.
    async fn stop(&self) -> DeviceResult<()>;
    /// Aborts a slew in progress (the mount stays where it is).
    async fn abort(&self) -> DeviceResult<()>;
    async fn park(&self) -> DeviceResult<()>;
    async fn unpark(&self) -> DeviceResult<()>;
    async fn home(&self) -> DeviceResult<()>;
}
