//! The one error every device call may return.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum DeviceError {
    /// The device is doing something else that must finish first.
    #[error("{device} is busy: {reason}")]
    Busy { device: String, reason: String },
    #[error("{device} cannot {what}")]
    NotSupported { device: String, what: String },
    #[error("{device} did not answer within {seconds} s ({what})")]
    Timeout { device: String, what: String, seconds: f64 },
    /// The link to the device failed or it sent something unreadable.
    #[error("{device}: communication failed: {reason}")]
    Comm { device: String, reason: String },
    #[error("{device}: {what} was aborted")]
    Aborted { device: String, what: String },
    /// The request would take the device beyond a limit (horizon, travel...).
    #[error("{device}: {reason}")]
    Limit { device: String, reason: String },
}

impl DeviceError {
    pub fn busy(device: &str, reason: impl Into<String>) -> Self {
        DeviceError::Busy { device: device.to_owned(), reason: reason.into() }
    }
    pub fn not_supported(device: &str, what: impl Into<String>) -> Self {
        DeviceError::NotSupported { device: device.to_owned(), what: what.into() }
    }
    pub fn comm(device: &str, reason: impl Into<String>) -> Self {
        DeviceError::Comm { device: device.to_owned(), reason: reason.into() }
    }
    pub fn aborted(device: &str, what: impl Into<String>) -> Self {
        DeviceError::Aborted { device: device.to_owned(), what: what.into() }
    }
    pub fn limit(device: &str, reason: impl Into<String>) -> Self {
        DeviceError::Limit { device: device.to_owned(), reason: reason.into() }
    }
}

pub type DeviceResult<T> = Result<T, DeviceError>;
