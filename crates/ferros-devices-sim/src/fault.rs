//! Failures a simulator can be told to show, for tests of the agents.

use std::sync::{Arc, Mutex};

use ferros_devices::{DeviceError, DeviceResult};

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Fault {
    #[default]
    None,
    /// Every call fails with this error.
    Error(DeviceError),
    /// Every call fails at once: the device is not answering.
    Unreachable,
    /// Every call hangs (callers must bound it, see `ferros_devices::bounded`).
    Hang,
}

/// A switch shared by a simulator and whoever tests it.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Mutex<Fault>>);

impl Faults {
    pub fn set(&self, fault: Fault) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = fault;
    }

    pub fn clear(&self) {
        self.set(Fault::None);
    }

    fn current(&self) -> Fault {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Applies the current fault to a call of `device`.
    pub(crate) async fn check(&self, device: &str) -> DeviceResult<()> {
        match self.current() {
            Fault::None => Ok(()),
            Fault::Error(e) => Err(e),
            Fault::Unreachable => Err(DeviceError::comm(device, "not answering")),
            Fault::Hang => std::future::pending().await,
        }
    }
}
