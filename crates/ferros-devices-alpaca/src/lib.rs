//! ASCOM Alpaca client drivers: HTTP/JSON to `/api/v1/{type}/{number}/{method}`.
//!
//! Every call is one HTTP request (on a pooled connection) bounded by the
//! driver's timeout; the driver connects the device (`PUT connected`) before
//! its first call and again after any failure, so a device that restarts is
//! picked up by the next call. Alpaca errors become `DeviceError`s by number
//! (0x400 not implemented, 0x401 invalid value, 0x407 not connected, 0x408
//! parked, 0x40B invalid operation...).

mod camera;
mod client;
mod devices;
pub mod image_bytes;

pub use camera::AlpacaCamera;
pub use client::Endpoint;
pub use devices::{AlpacaDome, AlpacaFilterWheel, AlpacaMount, AlpacaWeather};
