//! A camera that fails: reset (abort), marked faulty with its error, an
//! alarm in the log, a backoff before it is tried again, and back in service
//! when it answers idle. The VIS camera is blocking: while it is faulty no
//! sequence starts (observing is paused, the log says why); the NIR camera
//! is not: its albums are skipped. An archive that cannot write (a full
//! disk) is out of service the same way: no job starts until a test write
//! succeeds.

use super::*;

/// The first wait before a faulty camera is tried again; each failed try doubles it.
const FIRST_RETRY_S: f64 = 30.0;
/// The longest wait between tries.
const MOST_RETRY_S: f64 = 900.0;

/// A camera out of service: why, since when, when it is tried again.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraFault {
    pub camera: String,
    pub error: String,
    pub since: DateTime<Utc>,
    pub retry_at: DateTime<Utc>,
    /// Failures in a row (kept while it is back in service on trial: its
    /// next failure waits longer; an image taken forgets them).
    pub tries: u32,
    /// Out of service (false: back in service, on trial).
    pub active: bool,
}

/// The wait after `tries` failed tries, seconds.
fn backoff(tries: u32) -> f64 {
    (FIRST_RETRY_S * 2f64.powi(i32::try_from(tries.saturating_sub(1)).unwrap_or(i32::MAX).min(10)))
        .min(MOST_RETRY_S)
}

impl Kit {
    fn fault_of(&self, detector: Detector) -> Option<CameraFault> {
        self.faulty.lock().unwrap_or_else(|e| e.into_inner()).get(&detector).cloned()
    }

    /// An image was taken: the camera's past failures are forgotten.
    pub(super) fn camera_ok(&self, detector: Detector) {
        let mut faulty = self.faulty.lock().unwrap_or_else(|e| e.into_inner());
        if faulty.get(&detector).is_some_and(|f| !f.active) {
            faulty.remove(&detector);
        }
    }

    /// Why the camera of `detector` is out of service ("" when it is not).
    pub(super) fn faulty_reason(&self, detector: Detector) -> String {
        self.fault_of(detector).map(|f| f.error).unwrap_or_default()
    }

    /// The camera failed: it is reset (aborted), marked faulty, and the
    /// operator told; the error returned says so.
    pub(super) async fn camera_failed(&self, ch: &Channel, error: AgentError) -> AgentError {
        let c = &ch.camera;
        let _ = bounded(c.name(), "abort", self.timeout, c.abort()).await;
        let now = self.clock.now();
        let before = self.fault_of(ch.detector);
        let tries = before.as_ref().map_or(1, |f| f.tries.saturating_add(1));
        let wait = backoff(tries);
        let fault = CameraFault {
            camera: c.name().to_owned(),
            error: error.to_string(),
            since: before.filter(|f| f.active).map_or(now, |f| f.since),
            retry_at: now + TimeDelta::milliseconds((wait * 1000.0) as i64),
            tries,
            active: true,
        };
        let effect = match ch.detector {
            Detector::Vis => "observing is paused",
            Detector::Nir => "NIR albums are skipped",
        };
        self.log(
            LogLevel::Error,
            format!(
                "alarm: {} is faulty ({}): reset; {effect}; tried again at {} (in {wait} s)",
                fault.camera,
                fault.error,
                fault.retry_at.format("%H:%M:%S")
            ),
        )
        .await;
        self.faulty.lock().unwrap_or_else(|e| e.into_inner()).insert(ch.detector, fault.clone());
        self.ctx.shared.set_fault(&fault.camera, Some(fault.error.clone()));
        AgentError::Faulty { device: fault.camera, why: fault.error }
    }

    /// Whether the camera of `detector` may be used now. A faulty one is
    /// tried once its wait is over: answering idle, it is back in service;
    /// else it is reset again and waits longer.
    pub(super) async fn camera_usable(&self, detector: Detector) -> bool {
        let Some(fault) = self.fault_of(detector).filter(|f| f.active) else { return true };
        let now = self.clock.now();
        if now < fault.retry_at {
            return false;
        }
        let Some(ch) = self.channel(detector) else { return false };
        let c = &ch.camera;
        let answer = bounded(c.name(), "state", self.timeout, c.state()).await;
        match answer {
            Ok(s) if matches!(s.value.activity, CameraActivity::Idle | CameraActivity::Ready) => {
                if let Some(f) = self.faulty.lock().unwrap_or_else(|e| e.into_inner()).get_mut(&detector) {
                    f.active = false;
                }
                self.ctx.shared.set_fault(c.name(), None);
                self.log(
                    LogLevel::Info,
                    format!("{} answers again ({:?}): back in service", c.name(), s.value.activity),
                )
                .await;
                true
            }
            Ok(s) => {
                let _ = self
                    .camera_failed(
                        &ch,
                        AgentError::Exposure { camera: c.name().to_owned(), activity: s.value.activity },
                    )
                    .await;
                false
            }
            Err(e) => {
                let _ = self.camera_failed(&ch, AgentError::Device(e)).await;
                false
            }
        }
    }
}

impl Kit {
    /// The archive could not write an image: out of service, with an alarm;
    /// the error returned says so.
    pub(super) async fn archive_failed(&self, error: AgentError) -> AgentError {
        let now = self.clock.now();
        let mut out = self.archive_out.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let tries = out.as_ref().map_or(1, |f| f.tries.saturating_add(1));
        let wait = backoff(tries);
        let fault = CameraFault {
            camera: "archive".to_owned(),
            error: error.to_string(),
            since: out.take().filter(|f| f.active).map_or(now, |f| f.since),
            retry_at: now + TimeDelta::milliseconds((wait * 1000.0) as i64),
            tries,
            active: true,
        };
        self.log(
            LogLevel::Error,
            format!(
                "alarm: the archive cannot write ({}): observing is paused; tried again at {} (in {wait} s)",
                fault.error,
                fault.retry_at.format("%H:%M:%S")
            ),
        )
        .await;
        *self.archive_out.lock().unwrap_or_else(|e| e.into_inner()) = Some(fault.clone());
        self.ctx.shared.set_fault("archive", Some(fault.error.clone()));
        AgentError::Faulty { device: fault.camera, why: fault.error }
    }

    /// Whether the archive may be written to now: once its wait is over, a
    /// test write says whether it is back in service.
    pub(super) async fn archive_usable(&self) -> bool {
        let out = self.archive_out.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(fault) = out.filter(|f| f.active) else { return true };
        if self.clock.now() < fault.retry_at {
            return false;
        }
        let archive = self.archive.clone();
        let probe = self.clock.offload(move || archive.writable()).await;
        match probe {
            Ok(Ok(())) => {
                if let Some(f) = self.archive_out.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                    f.active = false;
                }
                self.ctx.shared.set_fault("archive", None);
                self.log(LogLevel::Info, "the archive writes again: back in service").await;
                true
            }
            Ok(Err(e)) => {
                let _ = self.archive_failed(AgentError::Archive(e)).await;
                false
            }
            Err(source) => {
                let _ = self.archive_failed(AgentError::Offload { what: "a test write", source }).await;
                false
            }
        }
    }

    /// An image was archived: the archive's past failures are forgotten.
    pub(super) fn archive_ok(&self) {
        let mut out = self.archive_out.lock().unwrap_or_else(|e| e.into_inner());
        if out.as_ref().is_some_and(|f| !f.active) {
            *out = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn the_wait_doubles_up_to_a_quarter_of_an_hour() {
        assert_eq!([1, 2, 3, 4, 5, 6, 100].map(backoff), [30.0, 60.0, 120.0, 240.0, 480.0, 900.0, 900.0]);
    }
}
