//! The PyROS socket protocol: JSON over TCP, one port per device (Telescope
//! 5000, CameraVIS 5001, CameraNIR 5002, PLC 5003, Dome 5004 by default). The
//! client drivers ([`SocketPlc`], [`SocketMount`], [`SocketDome`],
//! [`SocketCamera`], [`SocketFilterWheel`]) and the simulator servers
//! ([`serve`] with a [`Handler`]) behind `ferros sim`.

mod client;
mod devices;
pub mod ports;
pub mod protocol;
mod server;
pub mod stream;
pub mod wire;

pub use client::{Backoff, Connection, SocketPlc};
pub use devices::{
    IMAGE_ENCODING, MAX_IMAGE_MESSAGE, SocketCamera, SocketDome, SocketFilterWheel, SocketMount,
    encode_pixels,
};
pub use ferros_devices::net::{Listener, Network};
pub use ports::{PortsError, SocketConfig};
pub use server::{
    CameraHandler, DomeHandler, Handler, MountHandler, PlcHandler, PlcSource, Reply, serve, serve_plc,
};
pub use wire::WireError;
