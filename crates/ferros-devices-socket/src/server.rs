//! The simulator servers: one listener per device, answering the socket
//! protocol with an in-process device (a simulator, or any driver).

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use ferros_clock::Clock;
use ferros_devices::net::{Listener, Stream};
use ferros_devices::{
    Camera, DeviceError, DeviceResult, Dome, Exposure, FilterWheel, Mount, PlcSays, ServedPlc,
};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::io::AsyncWriteExt;

use crate::devices::{IMAGE_ENCODING, encode_pixels};
use crate::protocol::{self, boolean, number};
use crate::stream::{JsonReader, ReadError};
use crate::wire;

/// What a device sends back for one request.
#[derive(Debug)]
pub enum Reply {
    Json(Value),
    /// Nothing (a PLC that went silent).
    Silent,
    /// These bytes as they are (a PLC sending garbage).
    Raw(Vec<u8>),
}

/// A device behind a server: answers one request at a time.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// For the logs: "PLC simulator", "telescope simulator"...
    fn label(&self) -> &str;
    async fn answer(&self, request: &Value) -> Reply;
}

/// Serves `handler` until `shutdown` completes, then closes every connection.
pub async fn serve(
    listener: impl Into<Listener>,
    handler: Arc<dyn Handler>,
    shutdown: impl Future<Output = ()>,
) {
    let mut listener = listener.into();
    tokio::pin!(shutdown);
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracing::info!("{}: client {peer}", handler.label());
                    sessions.spawn(session(stream, handler.clone()));
                }
                Err(e) => tracing::warn!("{}: accept failed: {e}", handler.label()),
            },
            // Reap finished sessions so the set does not grow.
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    sessions.abort_all();
    while sessions.join_next().await.is_some() {}
}

async fn session(mut stream: Box<dyn Stream>, handler: Arc<dyn Handler>) {
    let mut reader = JsonReader::default();
    loop {
        let request = match reader.next(&mut stream).await {
            Ok(v) => v,
            Err(ReadError::Closed { .. }) => return,
            Err(e) => {
                let _ = send(&mut stream, &protocol::bad_request(e.to_string())).await;
                return;
            }
        };
        let written = match handler.answer(&request).await {
            Reply::Silent => continue,
            Reply::Raw(bytes) => stream.write_all(&bytes).await,
            Reply::Json(v) => send(&mut stream, &v).await,
        };
        if written.is_err() {
            return;
        }
    }
}

async fn send(stream: &mut Box<dyn Stream>, v: &Value) -> std::io::Result<()> {
    let mut text = v.to_string();
    text.push('\n');
    stream.write_all(text.as_bytes()).await
}

/// A served PLC (a simulated one): what it says at an instant, and the bypass.
pub type PlcSource = Arc<dyn ServedPlc>;

/// Serves a PLC: the seeds' STATUS, silences and garbage as `source` says,
/// and the BYPASS command.
pub async fn serve_plc(
    listener: impl Into<Listener>,
    source: PlcSource,
    clock: Clock,
    shutdown: impl Future<Output = ()>,
) {
    serve(listener, Arc::new(PlcHandler { source, clock }), shutdown).await
}

pub struct PlcHandler {
    pub source: PlcSource,
    pub clock: Clock,
}

impl std::fmt::Debug for PlcHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlcHandler").finish_non_exhaustive()
    }
}

#[async_trait]
impl Handler for PlcHandler {
    fn label(&self) -> &str {
        "PLC simulator"
    }

    async fn answer(&self, request: &Value) -> Reply {
        match wire::command_names(request) {
            Err(e) => Reply::Json(protocol::bad_request(e)),
            Ok(names) if names.iter().any(|n| n == "STATUS") => {
                let now = self.clock.now();
                match self.source.says(now) {
                    PlcSays::Silent => Reply::Silent,
                    PlcSays::Garbage => Reply::Raw(b"{\"name\": STATUS, garbage\n".to_vec()),
                    PlcSays::Status(status) => Reply::Json(wire::encode_status(&status, now)),
                }
            }
            Ok(names) if names.iter().any(|n| n == "BYPASS") => {
                let value = protocol::command(request).ok().and_then(|(_, o)| o.get("value").cloned());
                let on = match value.as_ref().and_then(serde_json::Value::as_u64) {
                    Some(0) => false,
                    Some(1) => true,
                    _ => {
                        return Reply::Json(protocol::bad_request(format!(
                            "BYPASS: \"value\" must be 0 or 1, not {}",
                            value.map_or_else(|| "missing".to_owned(), |v| v.to_string())
                        )));
                    }
                };
                match self.source.says(self.clock.now()) {
                    PlcSays::Silent => Reply::Silent,
                    PlcSays::Garbage => Reply::Raw(b"{\"name\": BYPASS, garbage\n".to_vec()),
                    PlcSays::Status(_) => {
                        self.source.set_bypass(on);
                        Reply::Json(protocol::ok("BYPASS"))
                    }
                }
            }
            Ok(names) => Reply::Json(protocol::error(&DeviceError::not_supported(
                "PLC",
                format!("unknown command {}", names.join(", ")),
            ))),
        }
    }
}

/// The answer for a command's outcome.
fn done(name: &str, r: DeviceResult<()>) -> Value {
    match r {
        Ok(()) => protocol::ok(name),
        Err(e) => protocol::error(&e),
    }
}

/// `STATUS`: the state's fields, when it was read and the capabilities.
fn status<S: Serialize, C: Serialize>(r: DeviceResult<ferros_devices::Stamped<S>>, caps: C) -> Value {
    match r {
        Err(e) => protocol::error(&e),
        Ok(s) => {
            let mut o = match serde_json::to_value(&s.value) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            };
            o.insert("at".into(), json!(s.at));
            o.insert("capabilities".into(), serde_json::to_value(caps).unwrap_or(Value::Null));
            protocol::answer("STATUS", Value::Object(o))
        }
    }
}

fn unknown(name: &str) -> Value {
    protocol::error(&DeviceError::not_supported("device", format!("unknown command {name}")))
}

/// Reads the command out of a request, or answers why it cannot.
fn parse(request: &Value) -> Result<(String, Map<String, Value>), Value> {
    protocol::command(request).map_err(protocol::bad_request)
}

/// Runs `f` on the parameters, or answers that they are wrong.
fn params<T, E: std::fmt::Display>(name: &str, r: Result<T, E>) -> Result<T, Value> {
    r.map_err(|e| protocol::bad_request(format!("{name}: {e}")))
}

/// A mount behind the socket protocol (port 5000).
pub struct MountHandler(pub Arc<dyn Mount>);

impl std::fmt::Debug for MountHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MountHandler({})", self.0.name())
    }
}

#[async_trait]
impl Handler for MountHandler {
    fn label(&self) -> &str {
        "telescope simulator"
    }
    async fn answer(&self, request: &Value) -> Reply {
        Reply::Json(self.run(request).await.unwrap_or_else(|v| v))
    }
}

impl MountHandler {
    async fn run(&self, request: &Value) -> Result<Value, Value> {
        let m = &self.0;
        let (name, c) = parse(request)?;
        let n = name.as_str();
        Ok(match n {
            "STATUS" => status(m.state().await, m.capabilities()),
            "SLEW_RADEC" => {
                let (ra, dec) = params(n, number(&c, "ra").and_then(|ra| Ok((ra, number(&c, "dec")?))))?;
                done(n, m.slew_radec(ra, dec).await)
            }
            "SLEW_ALTAZ" => {
                let (alt, az) = params(n, number(&c, "alt").and_then(|a| Ok((a, number(&c, "az")?))))?;
                done(n, m.slew_altaz(alt, az).await)
            }
            "TRACKING" => done(n, m.set_tracking(params(n, boolean(&c, "on"))?).await),
            "STOP" => done(n, m.stop().await),
            "ABORT" => done(n, m.abort().await),
            "PARK" => done(n, m.park().await),
            "UNPARK" => done(n, m.unpark().await),
            "HOME" => done(n, m.home().await),
            _ => unknown(n),
        })
    }
}

/// A dome behind the socket protocol (port 5004).
pub struct DomeHandler(pub Arc<dyn Dome>);

impl std::fmt::Debug for DomeHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DomeHandler({})", self.0.name())
    }
}

#[async_trait]
impl Handler for DomeHandler {
    fn label(&self) -> &str {
        "dome simulator"
    }
    async fn answer(&self, request: &Value) -> Reply {
        Reply::Json(self.run(request).await.unwrap_or_else(|v| v))
    }
}

impl DomeHandler {
    async fn run(&self, request: &Value) -> Result<Value, Value> {
        let d = &self.0;
        let (name, c) = parse(request)?;
        let n = name.as_str();
        Ok(match n {
            "STATUS" => status(d.state().await, d.capabilities()),
            "OPEN" => done(n, d.open().await),
            "CLOSE" => done(n, d.close().await),
            "SLEW_AZIMUTH" => done(n, d.slew_azimuth(params(n, number(&c, "azimuth"))?).await),
            "SLAVE" => done(n, d.set_slaved(params(n, boolean(&c, "on"))?).await),
            "ABORT" => done(n, d.abort().await),
            "HOME" => done(n, d.home().await),
            _ => unknown(n),
        })
    }
}

/// A camera and its filter wheel behind the socket protocol (ports 5001, 5002).
pub struct CameraHandler {
    pub camera: Arc<dyn Camera>,
    pub wheel: Option<Arc<dyn FilterWheel>>,
}

impl std::fmt::Debug for CameraHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CameraHandler({})", self.camera.name())
    }
}

#[async_trait]
impl Handler for CameraHandler {
    fn label(&self) -> &str {
        "camera simulator"
    }
    async fn answer(&self, request: &Value) -> Reply {
        Reply::Json(self.run(request).await.unwrap_or_else(|v| v))
    }
}

impl CameraHandler {
    fn wheel(&self) -> Result<&Arc<dyn FilterWheel>, Value> {
        self.wheel.as_ref().ok_or_else(|| {
            protocol::error(&DeviceError::not_supported(self.camera.name(), "change filters (no wheel)"))
        })
    }

    async fn run(&self, request: &Value) -> Result<Value, Value> {
        let cam = &self.camera;
        let (name, c) = parse(request)?;
        let n = name.as_str();
        Ok(match n {
            "STATUS" => status(cam.state().await, cam.capabilities()),
            "EXPOSE" => {
                let e: Exposure = params(n, serde_json::from_value(Value::Object(c)))?;
                done(n, cam.expose(&e).await)
            }
            "ABORT" => done(n, cam.abort().await),
            "COOLER" => {
                let setpoint = match c.get("setpoint") {
                    None | Some(Value::Null) => None,
                    Some(_) => Some(params(n, number(&c, "setpoint"))?),
                };
                done(n, cam.set_cooler(setpoint).await)
            }
            "IMAGE" => match cam.image().await {
                Err(e) => protocol::error(&e),
                Ok(f) => protocol::answer(
                    "IMAGE",
                    json!({
                        "width": f.width, "height": f.height, "started": f.started,
                        "exposure": f.exposure, "encoding": IMAGE_ENCODING,
                        "pixels": encode_pixels(&f.pixels),
                    }),
                ),
            },
            "FILTER_STATUS" => match self.wheel()?.state().await {
                Ok(s) => protocol::answer("FILTER_STATUS", serde_json::to_value(s.value).unwrap_or_default()),
                Err(e) => protocol::error(&e),
            },
            "SELECT_FILTER" => {
                let w = self.wheel()?;
                let r = match (c.get("position"), c.get("filter")) {
                    (Some(Value::Number(p)), _) if p.as_u64().is_some() => {
                        w.select(p.as_u64().unwrap_or_default() as usize).await
                    }
                    (_, Some(Value::String(f))) => w.select_filter(f).await,
                    _ => return Err(protocol::bad_request("SELECT_FILTER: give \"position\" or \"filter\"")),
                };
                done(n, r)
            }
            "FILTER_HOME" => done(n, self.wheel()?.home().await),
            _ => unknown(n),
        })
    }
}
