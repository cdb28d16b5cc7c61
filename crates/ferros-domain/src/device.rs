//! Device identities and the status every device reports (the "DEVICES STATUS
//! LIST" of seed 000, sent about every 6 seconds).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Mount,
    Dome,
    Camera,
    FilterWheel,
    Plc,
}

/// Whether a device stops observing when it is unavailable (mount, PLC, VIS
/// camera) or is only noted and re-integrated later (NIR camera).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criticality {
    Blocking,
    NonBlocking,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    Ok,
    Busy,
    Failed,
    Unreachable,
}

/// The last status of one device: a typed header and the device's own fields
/// (slewing, park, ra/dec, alt/az, shutter, CCD temperature, filter...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceStatus {
    pub name: String,
    pub kind: DeviceKind,
    pub criticality: Criticality,
    pub availability: Availability,
    pub updated_at: DateTime<Utc>,
    /// Field name -> value, as reported.
    pub fields: Vec<(String, String)>,
    /// Active failures, empty when healthy.
    pub failures: Vec<String>,
}
