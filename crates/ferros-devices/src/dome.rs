//! Domes and enclosures.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{DeviceResult, Stamped};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shutter {
    Opened,
    Closed,
    /// Moving, or stopped between open and closed.
    Intermediate,
    Unknown,
}

impl Shutter {
    /// As serialized (`opened`).
    pub fn as_str(self) -> &'static str {
        match self {
            Shutter::Opened => "opened",
            Shutter::Closed => "closed",
            Shutter::Intermediate => "intermediate",
            Shutter::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomeCapabilities {
    /// A rotating dome (a roll-off roof has no azimuth).
    pub azimuth: bool,
    pub slave: bool,
    pub home: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomeState {
    pub connected: bool,
    pub homing: bool,
    pub slewing: bool,
    /// Azimuth of the slit, degrees.
    pub azimuth: f64,
    pub shutter: Shutter,
    /// Following the mount.
    pub slaved: bool,
}

#[async_trait]
pub trait Dome: Send + Sync {
    fn name(&self) -> &str;
    fn capabilities(&self) -> DomeCapabilities;
    async fn state(&self) -> DeviceResult<Stamped<DomeState>>;
    /// Starts opening; `state().shutter` says when it is open.
    async fn open(&self) -> DeviceResult<()>;
    async fn close(&self) -> DeviceResult<()>;
    async fn slew_azimuth(&self, azimuth: f64) -> DeviceResult<()>;
    /// Follow the mount (the dome turns to the mount's azimuth by itself).
    async fn set_slaved(&self, on: bool) -> DeviceResult<()>;
    /// Stops rotation and shutter.
    async fn abort(&self) -> DeviceResult<()>;
    async fn home(&self) -> DeviceResult<()>;
}
