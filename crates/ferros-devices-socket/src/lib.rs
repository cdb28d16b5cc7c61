//! The PyROS socket protocol: JSON over TCP, one port per device (PLC 5003 by
//! default). For now the PLC: the client driver ([`SocketPlc`], a
//! `WeatherSource`) and the simulator server ([`serve_plc`]) behind `ferros sim plc`.

mod client;
pub mod ports;
mod server;
pub mod stream;
pub mod wire;

pub use client::{Backoff, SocketPlc};
pub use ports::SocketConfig;
pub use server::serve_plc;
