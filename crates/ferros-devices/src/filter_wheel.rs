//! Filter wheels.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{DeviceResult, Stamped};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilterWheelState {
    pub connected: bool,
    pub homing: bool,
    pub moving: bool,
    /// Slot in place (0-based), `None` while moving or unknown.
    pub position: Option<usize>,
    /// The filter in each slot.
    pub names: Vec<String>,
}

impl FilterWheelState {
    pub fn filter(&self) -> Option<&str> {
        self.position.and_then(|p| self.names.get(p)).map(String::as_str)
    }
}

/// The slot holding filter `name` (exactly, else ignoring case when only one
/// matches so: "r" and "R" may be different filters), or a `Limit` error
/// listing the filters there are.
pub fn slot_of(device: &str, names: &[String], name: &str) -> DeviceResult<usize> {
    if let Some(i) = names.iter().position(|n| n == name) {
        return Ok(i);
    }
    let loose: Vec<usize> = (0..names.len()).filter(|&i| names[i].eq_ignore_ascii_case(name)).collect();
    match loose[..] {
        [i] => Ok(i),
        _ => Err(crate::DeviceError::limit(
            device,
            format!("no filter \"{name}\" (has: {})", names.join(", ")),
        )),
    }
}

#[async_trait]
pub trait FilterWheel: Send + Sync {
    fn name(&self) -> &str;
    async fn state(&self) -> DeviceResult<Stamped<FilterWheelState>>;
    /// Starts moving to a slot.
    async fn select(&self, position: usize) -> DeviceResult<()>;
    /// Starts moving to the slot holding filter `name`.
    async fn select_filter(&self, name: &str) -> DeviceResult<()>;
    async fn home(&self) -> DeviceResult<()>;
}
