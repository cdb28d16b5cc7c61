//! INDI client drivers: XML over TCP (port 7624) to an `indiserver` and its
//! drivers. One [`IndiClient`] per server keeps the connection, the
//! properties and the reconnection; [`IndiMount`], [`IndiDome`],
//! [`IndiCamera`], [`IndiFilterWheel`] and [`IndiWeather`] drive one INDI
//! device each through the standard properties (EQUATORIAL_EOD_COORD,
//! DOME_SHUTTER, CCD_EXPOSURE and the CCD1 BLOB, FILTER_SLOT, WEATHER_PARAMETERS...).

mod client;
mod devices;
pub mod xml;

pub use client::{Backoff, IndiClient, Property};
pub use devices::{IndiCamera, IndiDome, IndiFilterWheel, IndiMount, IndiWeather};
