//! Alerts: a VOEvent received from GCN or SVOM and what Ferros did with it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Coordinates, RequestId};

/// The VOEvent role: only `observation` events trigger observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertRole {
    Observation,
    Prediction,
    Utility,
    Test,
}

/// What became of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertOutcome {
    /// Received, not yet handled.
    Received,
    /// A request was created for it.
    RequestCreated,
    /// Not for us (role, instrument, position), with the reason in `note`.
    Ignored,
    /// An update of an alert already handled (same trigger).
    Updated,
    Retracted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub ivorn: String,
    pub role: AlertRole,
    pub author: String,
    /// When the event happened (trigger time) and when Ferros got it.
    pub event_time: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub trigger_id: Option<String>,
    pub position: Option<Coordinates>,
    /// 1-sigma error radius of the position, degrees.
    pub error_radius: Option<f64>,
    /// Mission flags as given (e.g. "StarTrack_Lost_Lock": "false").
    pub flags: Vec<(String, String)>,
    /// The observation strategy chosen for it (name of a strategy file).
    pub strategy: Option<String>,
    pub request: Option<RequestId>,
    pub outcome: AlertOutcome,
    pub note: String,
}
