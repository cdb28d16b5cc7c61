//! Images taken by the cameras and what the pipeline made of them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AlbumId, Detector, PlanId, RequestId, SequenceId};

/// What an image is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageKind {
    /// The sky, for a sequence.
    Light,
    Dark,
    Bias,
    /// The twilight sky, for flat fields.
    Flat,
}

impl ImageKind {
    pub fn code(self) -> &'static str {
        match self {
            ImageKind::Light => "light",
            ImageKind::Dark => "dark",
            ImageKind::Bias => "bias",
            ImageKind::Flat => "flat",
        }
    }
}

impl std::str::FromStr for ImageKind {
    type Err = crate::DomainError;
    fn from_str(s: &str) -> Result<Self, crate::DomainError> {
        [ImageKind::Light, ImageKind::Dark, ImageKind::Bias, ImageKind::Flat]
            .into_iter()
            .find(|k| k.code().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| crate::DomainError::unknown("image kind", s, &["light", "dark", "bias", "flat"]))
    }
}

impl CalibrationLevel {
    pub fn code(self) -> &'static str {
        match self {
            CalibrationLevel::Raw => "raw",
            CalibrationLevel::Calibrated => "calibrated",
            CalibrationLevel::Analysed => "analysed",
        }
    }
}

impl std::str::FromStr for CalibrationLevel {
    type Err = crate::DomainError;
    fn from_str(s: &str) -> Result<Self, crate::DomainError> {
        [CalibrationLevel::Raw, CalibrationLevel::Calibrated, CalibrationLevel::Analysed]
            .into_iter()
            .find(|k| k.code().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                crate::DomainError::unknown("calibration level", s, &["raw", "calibrated", "analysed"])
            })
    }
}

/// How far an image went through the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationLevel {
    /// As read from the camera.
    Raw,
    /// Bias, dark and flat applied.
    Calibrated,
    /// Sources extracted and astrometry solved.
    Analysed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// Path relative to the archive root.
    pub path: String,
    pub kind: ImageKind,
    pub request_id: Option<RequestId>,
    pub sequence_id: Option<SequenceId>,
    pub album_id: Option<AlbumId>,
    pub plan_id: Option<PlanId>,
    pub detector: Detector,
    pub date_obs: DateTime<Utc>,
    pub exposure_s: f64,
    pub filter: String,
    /// FITS header cards, in order.
    pub headers: Vec<(String, String)>,
    pub calibration: CalibrationLevel,
    /// Analysis results (sources, zero point, WCS), free-form JSON text.
    pub analysis: Option<String>,
}

/// A master calibration frame: many bias, dark or flat frames combined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Master {
    pub id: i64,
    pub kind: ImageKind,
    pub detector: Detector,
    /// A flat's filter ("" for bias and dark).
    pub filter: String,
    /// A dark's exposure, seconds (0 for bias and flat).
    pub exposure_s: f64,
    /// The detector's mean temperature over the frames, C.
    pub temperature: Option<f64>,
    pub binning: u32,
    pub width: u32,
    pub height: u32,
    /// Frames combined.
    pub frames: u32,
    /// Relative to the archive root.
    pub path: String,
    pub created_at: DateTime<Utc>,
}

/// Where an image is in the pipeline's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PipelineState {
    /// Waiting for the pipeline.
    Pending,
    Done,
    /// Its failure is recorded with it.
    Failed,
    /// Archived before the pipeline existed.
    Skipped,
}

impl PipelineState {
    pub fn code(self) -> &'static str {
        match self {
            PipelineState::Pending => "pending",
            PipelineState::Done => "done",
            PipelineState::Failed => "failed",
            PipelineState::Skipped => "skipped",
        }
    }
}
