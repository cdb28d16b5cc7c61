//! Planning results: a schedule for one night, with one entry per sequence it
//! considered, planned or not, and why.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{DomainError, JulianDate, Seconds, SequenceId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScheduleId(pub i64);

impl fmt::Display for ScheduleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The outcome of planning for one sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EntryStatus {
    Planned,
    Rejected,
    Unplannable,
    /// Kept where it was because it is running or done.
    Executing,
    Executed,
}

impl EntryStatus {
    pub const ALL: [EntryStatus; 5] =
        [Self::Planned, Self::Rejected, Self::Unplannable, Self::Executing, Self::Executed];

    pub fn code(self) -> &'static str {
        match self {
            Self::Planned => "PLANNED",
            Self::Rejected => "REJECTED",
            Self::Unplannable => "UNPLANNABLE",
            Self::Executing => "EXECUTING",
            Self::Executed => "EXECUTED",
        }
    }
}

impl FromStr for EntryStatus {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|e| e.code().eq_ignore_ascii_case(s))
            .ok_or_else(|| DomainError::unknown("status", s, &Self::ALL.map(Self::code)))
    }
}

impl fmt::Display for EntryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleEntry {
    pub sequence_id: SequenceId,
    pub status: EntryStatus,
    /// Start and end of the block (overhead first), when placed.
    pub tsp: Option<JulianDate>,
    pub tep: Option<JulianDate>,
    /// How far the block may move left / right without leaving its window or
    /// touching its neighbours.
    pub slack_left: Seconds,
    pub slack_right: Seconds,
    /// Why the sequence is not planned (empty when planned).
    pub reason: String,
}

/// A planning result to store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSchedule {
    pub night_start: JulianDate,
    pub night_end: JulianDate,
    /// Planning started here (night start, or "now" when replanning).
    pub plan_start: JulianDate,
    pub entries: Vec<ScheduleEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub id: ScheduleId,
    pub created_at: DateTime<Utc>,
    pub night_start: JulianDate,
    pub night_end: JulianDate,
    pub plan_start: JulianDate,
    pub entries: Vec<ScheduleEntry>,
}
