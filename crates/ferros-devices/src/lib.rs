//! The device layer's contracts. Agents drive mounts, domes, cameras, filter
//! wheels and weather sources through these traits only; drivers (in-process
//! simulators, the PyROS socket protocol, INDI, ASCOM Alpaca) implement them.
//!
//! Long operations (slew, shutter, exposure, filter change) are started by a
//! command and followed through `state()`; [`wait_for`] polls at a stated
//! interval under a timeout. Every call is bounded by [`bounded`].

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ferros_clock::Clock;
use serde::{Deserialize, Serialize};

mod camera;
pub mod conformance;
mod dome;
mod error;
mod filter_wheel;
mod mount;
pub mod net;
mod weather;

pub use camera::{Camera, CameraActivity, CameraCapabilities, CameraState, Exposure, Frame, FrameType};
pub use dome::{Dome, DomeCapabilities, DomeState, Shutter};
pub use error::{DeviceError, DeviceResult};
pub use filter_wheel::{FilterWheel, FilterWheelState, slot_of};
pub use mount::{Mount, MountCapabilities, MountState};
pub use weather::{PlcMode, PlcSays, Reading, Sensor, SensorValue, ServedPlc, WeatherSource, WeatherStatus};

/// Backoff between a driver's connection attempts: from `first`, doubling, at most `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { first: Duration::from_millis(500), max: Duration::from_secs(30) }
    }
}

/// A state and the (Ferros clock) time it was read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stamped<T> {
    pub at: DateTime<Utc>,
    pub value: T,
}

/// Runs one device call under a time limit (real seconds).
pub async fn bounded<T>(
    device: &str,
    what: &str,
    limit: Duration,
    call: impl Future<Output = DeviceResult<T>>,
) -> DeviceResult<T> {
    match tokio::time::timeout(limit, call).await {
        Ok(r) => r,
        Err(_) => Err(DeviceError::Timeout {
            device: device.to_owned(),
            what: what.to_owned(),
            seconds: limit.as_secs_f64(),
        }),
    }
}

/// Polls `read` every `every` (clock time) until `done` holds, or fails with
/// `Timeout` after `limit` (clock time). Errors of `read` end the wait.
pub async fn wait_for<T>(
    clock: &Clock,
    device: &str,
    what: &str,
    every: Duration,
    limit: Duration,
    mut read: impl AsyncFnMut() -> DeviceResult<T>,
    done: impl Fn(&T) -> bool,
) -> DeviceResult<T> {
    let start = clock.now();
    loop {
        let v = read().await?;
        if done(&v) {
            return Ok(v);
        }
        let waited = (clock.now() - start).to_std().unwrap_or_default();
        if waited >= limit {
            return Err(DeviceError::Timeout {
                device: device.to_owned(),
                what: what.to_owned(),
                seconds: limit.as_secs_f64(),
            });
        }
        clock.sleep(every).await;
    }
}
