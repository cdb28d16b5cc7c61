//! The socket drivers for the mount, the dome, the cameras and their filter
//! wheels. Each asks `STATUS` for its state; a command answers `OK` or an
//! `ERROR` that becomes the matching `DeviceError` (see [`crate::protocol`]).

use std::sync::Mutex;

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use ferros_clock::Clock;
use ferros_devices::{
    Camera, CameraCapabilities, CameraState, DeviceError, DeviceResult, Dome, DomeCapabilities, DomeState,
    Exposure, FilterWheel, FilterWheelState, Frame, Mount, MountCapabilities, MountState, Stamped,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::client::Connection;
use crate::protocol::{decode, expect, request};
use crate::wire::WireError;

/// Largest answer a camera may send (an image).
pub const MAX_IMAGE_MESSAGE: usize = ferros_limits::MAX_SOCKET_IMAGE_MESSAGE;

/// How image pixels travel: 16-bit little-endian, then base64.
pub const IMAGE_ENCODING: &str = "u16le+base64";

/// One command, its answer object.
async fn call(conn: &Connection, name: &str, params: Value) -> DeviceResult<serde_json::Map<String, Value>> {
    let reply = conn.exchange(name, &request(name, params)).await?;
    match expect(conn.name(), name, &reply) {
        Err(e @ DeviceError::Comm { .. }) => Err(conn.drop_link(&e.to_string()).await),
        other => other,
    }
}

/// `STATUS`, read as a state and the capabilities it declares.
async fn status<S: DeserializeOwned, C: DeserializeOwned>(
    conn: &Connection,
    clock: &Clock,
) -> DeviceResult<(Stamped<S>, C)> {
    let o = call(conn, "STATUS", Value::Null).await?;
    let caps = o.get("capabilities").cloned().unwrap_or(Value::Null);
    let caps = match caps {
        Value::Object(m) => decode::<C>(conn.name(), "STATUS.capabilities", m),
        _ => Err(DeviceError::comm(conn.name(), "bad STATUS: \"capabilities\" missing or not an object")),
    };
    let state = decode::<S>(conn.name(), "STATUS", o);
    match (state, caps) {
        (Ok(s), Ok(c)) => Ok((Stamped { at: clock.now(), value: s }, c)),
        (Err(e), _) | (_, Err(e)) => Err(conn.drop_link(&e.to_string()).await),
    }
}

async fn command(conn: &Connection, name: &str, params: Value) -> DeviceResult<()> {
    call(conn, name, params).await.map(|_| ())
}

fn remember<C: Copy>(cell: &Mutex<C>, c: C) {
    *cell.lock().unwrap_or_else(|e| e.into_inner()) = c;
}

fn recall<C: Copy>(cell: &Mutex<C>) -> C {
    *cell.lock().unwrap_or_else(|e| e.into_inner())
}

/// A mount over the socket protocol (the seeds' Telescope, port 5000).
#[derive(Debug)]
pub struct SocketMount {
    conn: Connection,
    clock: Clock,
    /// As the last `STATUS` declared them.
    caps: Mutex<MountCapabilities>,
}

impl SocketMount {
    pub fn new(conn: Connection, clock: Clock) -> Self {
        let caps = MountCapabilities { slew_altaz: true, park: true, home: true, tracking: true };
        Self { conn, clock, caps: Mutex::new(caps) }
    }
}

#[async_trait]
impl Mount for SocketMount {
    fn name(&self) -> &str {
        self.conn.name()
    }
    fn capabilities(&self) -> MountCapabilities {
        recall(&self.caps)
    }
    async fn state(&self) -> DeviceResult<Stamped<MountState>> {
        let (s, c) = status(&self.conn, &self.clock).await?;
        remember(&self.caps, c);
        Ok(s)
    }
    async fn slew_radec(&self, ra: f64, dec: f64) -> DeviceResult<()> {
        command(&self.conn, "SLEW_RADEC", json!({"ra": ra, "dec": dec})).await
    }
    async fn slew_altaz(&self, alt: f64, az: f64) -> DeviceResult<()> {
        command(&self.conn, "SLEW_ALTAZ", json!({"alt": alt, "az": az})).await
    }
    async fn set_tracking(&self, on: bool) -> DeviceResult<()> {
        command(&self.conn, "TRACKING", json!({"on": on})).await
    }
    async fn stop(&self) -> DeviceResult<()> {
        command(&self.conn, "STOP", Value::Null).await
    }
    async fn abort(&self) -> DeviceResult<()> {
        command(&self.conn, "ABORT", Value::Null).await
    }
    async fn park(&self) -> DeviceResult<()> {
        command(&self.conn, "PARK", Value::Null).await
    }
    async fn unpark(&self) -> DeviceResult<()> {
        command(&self.conn, "UNPARK", Value::Null).await
    }
    async fn home(&self) -> DeviceResult<()> {
        command(&self.conn, "HOME", Value::Null).await
    }
}

/// A dome over the socket protocol (port 5004).
#[derive(Debug)]
pub struct SocketDome {
    conn: Connection,
    clock: Clock,
    caps: Mutex<DomeCapabilities>,
}

impl SocketDome {
    pub fn new(conn: Connection, clock: Clock) -> Self {
        let caps = DomeCapabilities { azimuth: true, slave: true, home: true };
        Self { conn, clock, caps: Mutex::new(caps) }
    }
}

#[async_trait]
impl Dome for SocketDome {
    fn name(&self) -> &str {
        self.conn.name()
    }
    fn capabilities(&self) -> DomeCapabilities {
        recall(&self.caps)
    }
    async fn state(&self) -> DeviceResult<Stamped<DomeState>> {
        let (s, c) = status(&self.conn, &self.clock).await?;
        remember(&self.caps, c);
        Ok(s)
    }
    async fn open(&self) -> DeviceResult<()> {
        command(&self.conn, "OPEN", Value::Null).await
    }
    async fn close(&self) -> DeviceResult<()> {
        command(&self.conn, "CLOSE", Value::Null).await
    }
    async fn slew_azimuth(&self, azimuth: f64) -> DeviceResult<()> {
        command(&self.conn, "SLEW_AZIMUTH", json!({"azimuth": azimuth})).await
    }
    async fn set_slaved(&self, on: bool) -> DeviceResult<()> {
        command(&self.conn, "SLAVE", json!({"on": on})).await
    }
    async fn abort(&self) -> DeviceResult<()> {
        command(&self.conn, "ABORT", Value::Null).await
    }
    async fn home(&self) -> DeviceResult<()> {
        command(&self.conn, "HOME", Value::Null).await
    }
}

/// A camera over the socket protocol (CameraVIS 5001, CameraNIR 5002).
#[derive(Debug)]
pub struct SocketCamera {
    conn: Connection,
    clock: Clock,
    caps: Mutex<CameraCapabilities>,
}

impl SocketCamera {
    /// The connection's answers may be as long as an image.
    pub fn new(conn: Connection, clock: Clock) -> Self {
        let caps = CameraCapabilities { width: 0, height: 0, max_binning: 1, cooler: false, subframe: false };
        Self { conn: conn.with_max_message(MAX_IMAGE_MESSAGE), clock, caps: Mutex::new(caps) }
    }
}

#[derive(Deserialize)]
struct ImageAnswer {
    width: u32,
    height: u32,
    started: DateTime<Utc>,
    exposure: Exposure,
    encoding: String,
    pixels: String,
}

/// Pixels as they travel.
pub fn encode_pixels(pixels: &[u16]) -> String {
    let bytes: Vec<u8> = pixels.iter().flat_map(|p| p.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn decode_image(a: ImageAnswer) -> Result<Frame, WireError> {
    if a.encoding != IMAGE_ENCODING {
        let what = format!("\"{}\" (expected {IMAGE_ENCODING})", a.encoding);
        return Err(WireError::field("IMAGE.encoding", what));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(a.pixels.as_bytes())
        .map_err(|e| WireError::field("IMAGE.pixels", e.to_string()))?;
    let Some(expected) = (a.width as usize).checked_mul(a.height as usize).and_then(|n| n.checked_mul(2))
    else {
        return Err(WireError::field("IMAGE", format!("dimensions {}x{} too large", a.width, a.height)));
    };
    if bytes.len() != expected {
        let what =
            format!("{} bytes for a {}x{} image (expected {expected})", bytes.len(), a.width, a.height);
        return Err(WireError::field("IMAGE.pixels", what));
    }
    let pixels = bytes.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect();
    Ok(Frame { width: a.width, height: a.height, pixels, exposure: a.exposure, started: a.started })
}

#[async_trait]
impl Camera for SocketCamera {
    fn name(&self) -> &str {
        self.conn.name()
    }
    fn capabilities(&self) -> CameraCapabilities {
        recall(&self.caps)
    }
    async fn state(&self) -> DeviceResult<Stamped<CameraState>> {
        let (s, c) = status(&self.conn, &self.clock).await?;
        remember(&self.caps, c);
        Ok(s)
    }
    async fn expose(&self, exposure: &Exposure) -> DeviceResult<()> {
        let params = serde_json::to_value(exposure).unwrap_or(Value::Null);
        command(&self.conn, "EXPOSE", params).await
    }
    async fn abort(&self) -> DeviceResult<()> {
        command(&self.conn, "ABORT", Value::Null).await
    }
    async fn image(&self) -> DeviceResult<Frame> {
        let o = call(&self.conn, "IMAGE", Value::Null).await?;
        let answer: ImageAnswer = match decode(self.conn.name(), "IMAGE", o) {
            Ok(a) => a,
            Err(e) => return Err(self.conn.drop_link(&e.to_string()).await),
        };
        match decode_image(answer) {
            Ok(f) => Ok(f),
            Err(e) => Err(self.conn.drop_link(&format!("bad {e}")).await),
        }
    }
    async fn set_cooler(&self, setpoint: Option<f64>) -> DeviceResult<()> {
        command(&self.conn, "COOLER", json!({"setpoint": setpoint})).await
    }
}

/// A camera's filter wheel, reached through the camera's port.
#[derive(Debug)]
pub struct SocketFilterWheel {
    conn: Connection,
    clock: Clock,
}

impl SocketFilterWheel {
    pub fn new(conn: Connection, clock: Clock) -> Self {
        Self { conn, clock }
    }
}

#[async_trait]
impl FilterWheel for SocketFilterWheel {
    fn name(&self) -> &str {
        self.conn.name()
    }
    async fn state(&self) -> DeviceResult<Stamped<FilterWheelState>> {
        let o = call(&self.conn, "FILTER_STATUS", Value::Null).await?;
        match decode(self.conn.name(), "FILTER_STATUS", o) {
            Ok(s) => Ok(Stamped { at: self.clock.now(), value: s }),
            Err(e) => Err(self.conn.drop_link(&e.to_string()).await),
        }
    }
    async fn select(&self, position: usize) -> DeviceResult<()> {
        command(&self.conn, "SELECT_FILTER", json!({"position": position})).await
    }
    async fn select_filter(&self, name: &str) -> DeviceResult<()> {
        command(&self.conn, "SELECT_FILTER", json!({"filter": name})).await
    }
    async fn home(&self) -> DeviceResult<()> {
        command(&self.conn, "FILTER_HOME", Value::Null).await
    }
}
