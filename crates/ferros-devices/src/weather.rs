//! Weather and site sources: the PLC (a Beckhoff in the seeds), INDI weather,
//! Alpaca ObservingConditions and SafetyMonitor. They all give a list of sensors.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{DeviceResult, Stamped};

/// A reading: most are numbers, some are text ("SW", "on").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Reading {
    Number(f64),
    Text(String),
}

impl Reading {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Reading::Number(v) => Some(*v),
            Reading::Text(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorValue {
    pub name: String,
    pub value: Reading,
    pub unit: String,
    #[serde(default)]
    pub comment: String,
}

/// One sensor (WXT520, DRD11, VantagePro, MLX90614, a flat lamp...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sensor {
    pub name: String,
    /// `meteo`, `calib`, `site`...
    pub kind: String,
    pub serial_number: String,
    pub valid: bool,
    pub values: Vec<SensorValue>,
}

impl Sensor {
    pub fn value(&self, name: &str) -> Option<&Reading> {
        self.values.iter().find(|v| v.name == name).map(|v| &v.value)
    }
}

/// Who commands the observatory, as the PLC sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PlcMode {
    Auto,
    Manual,
    Unknown,
}

impl PlcMode {
    /// As serialized (`AUTO`).
    pub fn as_str(self) -> &'static str {
        match self {
            PlcMode::Auto => "AUTO",
            PlcMode::Manual => "MANUAL",
            PlcMode::Unknown => "UNKNOWN",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeatherStatus {
    pub mode: PlcMode,
    /// When the source says it measured (its own clock), if it says.
    pub measured_at: Option<DateTime<Utc>>,
    pub sensors: Vec<Sensor>,
    /// Active alarms (intrusion, emergency stop, UPS on battery...).
    pub alarms: Vec<String>,
    /// The PLC's safety status is bypassed (an operator asked it to be).
    #[serde(default)]
    pub bypass: bool,
    /// The night ACK button of the control room was pressed (it stays lit
    /// until the PLC's day ends).
    #[serde(default)]
    pub night_ack: bool,
}

#[async_trait]
pub trait WeatherSource: Send + Sync {
    fn name(&self) -> &str;
    async fn status(&self) -> DeviceResult<Stamped<WeatherStatus>>;

    /// Asks the PLC to bypass its safety status (`true`) or to stop
    /// (`false`); the PLC's next status says whether it did. Sources that
    /// are not a PLC have no bypass.
    async fn set_bypass(&self, on: bool) -> DeviceResult<()> {
        let _ = on;
        Err(crate::DeviceError::not_supported(self.name(), "no safety bypass: not a PLC"))
    }
}

/// A PLC served by a simulator server: what it says at an instant, and
/// the bypass asked of it (which it may ignore, as a faulty PLC would).
pub trait ServedPlc: Send + Sync {
    fn says(&self, now: DateTime<Utc>) -> PlcSays;
    fn set_bypass(&self, on: bool);
}

/// What a PLC answers a STATUS request with at one instant: its status, or
/// nothing (gone silent), or bytes that are not JSON. What a simulated PLC
/// says, served over a protocol by a simulator server.
#[derive(Debug, Clone, PartialEq)]
pub enum PlcSays {
    Status(WeatherStatus),
    Silent,
    Garbage,
}
