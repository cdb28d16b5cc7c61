//! Publishes the device status list (seed 000's "DEVICES STATUS LIST") for the
//! GIC: `exchange/GIC/TO/device_status.json`, replaced at once every period.

use std::time::Duration;

use async_trait::async_trait;
use ferros_archive::Archive;
use ferros_observatory::Observatory;

use crate::AgentError;
use crate::runtime::{Agent, AgentContext};

pub struct GicPublisher {
    obs: Observatory,
    archive: Archive,
    period: Duration,
}

impl std::fmt::Debug for GicPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GicPublisher").field("archive", &self.archive.root()).finish_non_exhaustive()
    }
}

/// The file's content: when, and each device's status.
#[derive(serde::Serialize)]
struct Published<'a> {
    date: chrono::DateTime<chrono::Utc>,
    devices: &'a [ferros_observatory::Report],
}

/// The file's name in `exchange/GIC/TO`.
pub const DEVICE_STATUS_FILE: &str = "device_status.json";

impl GicPublisher {
    /// Every `period` (the seeds say about 6 s).
    pub fn new(obs: Observatory, archive: Archive, period: Duration) -> Self {
        Self { obs, archive, period }
    }
}

#[async_trait]
impl Agent for GicPublisher {
    fn name(&self) -> &str {
        "gic"
    }

    fn period(&self) -> Duration {
        self.period
    }

    async fn step(&mut self, ctx: &AgentContext) -> Result<(), AgentError> {
        let mut reports = self.obs.status().await;
        // A camera the executor put out of service is faulty, whatever it answers now.
        let faults = ctx.shared.faults();
        for r in &mut reports {
            let camera = match r.slot.role {
                ferros_config::Role::CameraVis => self.obs.camera_vis.as_ref(),
                ferros_config::Role::CameraNir => self.obs.camera_nir.as_ref(),
                _ => None,
            };
            if let Some(e) = camera.and_then(|c| faults.get(c.name())) {
                r.ok = false;
                r.error = Some(format!("faulty: {e}"));
            }
        }
        let body = Published { date: ctx.clock.now(), devices: &reports };
        let text = serde_json::to_vec_pretty(&body)?;
        // File work is blocking: off the async workers.
        let archive = self.archive.clone();
        ctx.clock
            .offload(move || archive.publish_gic(DEVICE_STATUS_FILE, text))
            .await
            .map_err(|source| AgentError::Offload { what: "publishing the device status", source })??;
        Ok(())
    }
}
