//! The repository's side of the data reduction pipeline.

use ferros_domain::{Detector, Image, ImageKind, Master, PipelineState};

use crate::{Db, DbResult, Pool, postgres, sqlite};

impl Db {
    /// The oldest images waiting for the pipeline, with their ids.
    pub async fn pipeline_pending(&self, limit: i64) -> DbResult<Vec<(i64, Image)>> {
        on_backend!(self, pipeline::pipeline_pending(limit))
    }

    /// Records what the pipeline made of an image: done, failed (why), skipped.
    pub async fn pipeline_outcome(&self, id: i64, state: PipelineState, error: Option<&str>) -> DbResult<()> {
        on_backend!(self, pipeline::pipeline_outcome(id, state, error))
    }

    /// A calibrated image of raw image `raw`, calibrated with the masters
    /// (bias, dark, flat) given; the raw image is done.
    pub async fn record_calibrated(
        &self,
        raw: i64,
        image: &Image,
        masters: [Option<i64>; 3],
    ) -> DbResult<i64> {
        on_backend!(self, pipeline::record_calibrated(raw, image, masters))
    }

    /// An image's analysis (JSON) and level ("calibrated", "analysed").
    pub async fn record_analysis(&self, id: i64, level: &str, analysis: &str) -> DbResult<()> {
        on_backend!(self, pipeline::record_analysis(id, level, analysis))
    }

    /// Records a master frame made of `frames` (image ids).
    pub async fn insert_master(&self, master: &Master, frames: &[i64]) -> DbResult<i64> {
        on_backend!(self, pipeline::insert_master(master, frames))
    }

    /// The masters of a kind for a detector, newest first.
    pub async fn masters(&self, kind: ImageKind, detector: Detector) -> DbResult<Vec<Master>> {
        on_backend!(self, pipeline::masters(kind, detector))
    }

    /// Calibration frames the pipeline looked at that are in no master yet.
    pub async fn calibration_frames(&self) -> DbResult<Vec<(i64, Image)>> {
        on_backend!(self, pipeline::calibration_frames())
    }

    /// The images of a request that have an analysis, newest first.
    pub async fn analysed_images(&self, request: i64, limit: i64) -> DbResult<Vec<(i64, Image)>> {
        on_backend!(self, pipeline::analysed_images(request, limit))
    }

    /// All images, raw and calibrated.
    pub async fn image_total(&self) -> DbResult<i64> {
        on_backend!(self, pipeline::image_total())
    }

    /// Raw images per pipeline state.
    pub async fn pipeline_counts(&self) -> DbResult<Vec<(String, i64)>> {
        on_backend!(self, pipeline::pipeline_counts())
    }

    /// The latest failures: (path, why).
    pub async fn pipeline_failures(&self, limit: i64) -> DbResult<Vec<(String, String)>> {
        on_backend!(self, pipeline::pipeline_failures(limit))
    }

    /// The error circle of the newest notice behind a request: (alert id,
    /// ra, dec, radius), degrees.
    pub async fn alert_circle(&self, request: i64) -> DbResult<Option<(i64, f64, f64, f64)>> {
        on_backend!(self, pipeline::alert_circle(request))
    }
}
