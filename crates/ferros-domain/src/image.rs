//! Images taken by the cameras and what the pipeline made of them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AlbumId, Detector, PlanId, RequestId, SequenceId};

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
