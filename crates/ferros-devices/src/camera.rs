//! Cameras.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{DeviceResult, Stamped};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FrameType {
    Light,
    Dark,
    Bias,
    Flat,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exposure {
    /// Seconds.
    pub duration: f64,
    pub frame: FrameType,
    /// Same on both axes.
    pub binning: u8,
    /// Sub-window `(x, y, width, height)` in unbinned pixels; `None`: full frame.
    pub window: Option<(u32, u32, u32, u32)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CameraActivity {
    Idle,
    Exposing,
    Reading,
    /// An image is ready to be read with `image()`.
    Ready,
    Error,
}

impl CameraActivity {
    /// As serialized (`exposing`).
    pub fn as_str(self) -> &'static str {
        match self {
            CameraActivity::Idle => "idle",
            CameraActivity::Exposing => "exposing",
            CameraActivity::Reading => "reading",
            CameraActivity::Ready => "ready",
            CameraActivity::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameraCapabilities {
    pub width: u32,
    pub height: u32,
    pub max_binning: u8,
    pub cooler: bool,
    pub subframe: bool,
}

/// The camera's state: the fields of seed 000's status list for DDRAGO and CAGIRE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraState {
    pub connected: bool,
    /// `cam init`: initialised and ready.
    pub initialized: bool,
    pub activity: CameraActivity,
    /// Progress of the exposure in progress, 0..1.
    pub progress: f64,
    pub ccd_temperature: f64,
    pub cooler_on: bool,
    pub cooler_setpoint: Option<f64>,
    pub failure: Option<String>,
    pub last_maintenance: Option<DateTime<Utc>>,
}

/// An image read out of a camera: 16-bit pixels, row-major, and what was asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u16>,
    pub exposure: Exposure,
    pub started: DateTime<Utc>,
}

#[async_trait]
pub trait Camera: Send + Sync {
    fn name(&self) -> &str;
    fn capabilities(&self) -> CameraCapabilities;
    async fn state(&self) -> DeviceResult<Stamped<CameraState>>;
    /// Starts an exposure; `state().activity` becomes `Ready` when it can be read.
    async fn expose(&self, exposure: &Exposure) -> DeviceResult<()>;
    async fn abort(&self) -> DeviceResult<()>;
    /// The image of the last exposure, once `Ready`.
    async fn image(&self) -> DeviceResult<Frame>;
    async fn set_cooler(&self, setpoint: Option<f64>) -> DeviceResult<()>;
}
