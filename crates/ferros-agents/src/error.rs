//! What an agent's step, or a part of its work, can fail with. The
//! supervisor logs it; the executor records it as the reason a sequence was
//! given back.

use ferros_devices::{CameraActivity, DeviceError};

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("database: {0}")]
    Db(#[from] ferros_db::DbError),
    #[error("{0}")]
    Device(#[from] DeviceError),
    /// A device failed at one part of the work (`dome`, `pointing`, `filter g`).
    #[error("{part}: {source}")]
    Part { part: String, source: DeviceError },
    #[error("archive: {0}")]
    Archive(#[from] ferros_archive::ArchiveError),
    /// A time or a position out of the domain's ranges.
    #[error("{0}")]
    Domain(#[from] ferros_domain::DomainError),
    #[error("{0}")]
    Astro(#[from] ferros_astro::AstroError),
    /// What another agent stored cannot be read back.
    #[error("the stored {what} cannot be read: {source}")]
    Stored { what: &'static str, source: serde_json::Error },
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Planning(#[from] crate::planning::PlanningError),
    /// The work was stopped before its end; the reason is who stopped it and why.
    #[error("{0}")]
    Stopped(String),
    /// What the work is about went away (a request, a sequence) or is not fitted.
    #[error("{0}")]
    Missing(String),
    /// A device failed and is out of service until it answers again: the
    /// work is given back, not held against it.
    #[error("{device} is faulty: {why}")]
    Faulty { device: String, why: String },
    #[error("{camera}: the exposure ended {activity:?}")]
    Exposure { camera: String, activity: CameraActivity },
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    /// Blocking work handed to another thread ended without its result.
    #[error("{what}: {source}")]
    Offload { what: &'static str, source: ferros_clock::OffloadError },
    /// A task of the work ended without its result (it panicked or was cancelled).
    #[error("{what}: {source}")]
    Task { what: &'static str, source: tokio::task::JoinError },
}

impl AgentError {
    /// A device's failure at `part` of the work.
    pub fn part(part: impl Into<String>) -> impl FnOnce(DeviceError) -> AgentError {
        let part = part.into();
        move |source| AgentError::Part { part, source }
    }
}
