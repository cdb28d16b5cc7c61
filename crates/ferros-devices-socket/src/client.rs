//! The client side: one connection per device that reconnects with backoff
//! and turns every failure of the peer into a `DeviceError` (the caller keeps
//! running), and the PLC driver on it.

use std::time::Duration;

use async_trait::async_trait;
use ferros_clock::Clock;
use ferros_devices::net::{Network, Stream};
use ferros_devices::{DeviceError, DeviceResult, Stamped, WeatherSource, WeatherStatus};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::stream::{JsonReader, ReadError};
use crate::{protocol, wire};

pub use ferros_devices::Backoff;

struct Link {
    stream: Option<(Box<dyn Stream>, JsonReader)>,
    next_attempt: Option<Instant>,
    delay: Duration,
}

/// A device's connection: one exchange at a time, each bounded by `timeout`
/// (tokio's time: real, or virtual on a paused runtime). A failed exchange
/// drops the connection; the next call after the backoff delay connects
/// again, so either side may start first.
pub struct Connection {
    name: String,
    addr: String,
    network: Network,
    timeout: Duration,
    backoff: Backoff,
    max_message: usize,
    link: Mutex<Link>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Connection {
    pub fn new(name: &str, addr: &str, timeout: Duration, backoff: Backoff) -> Self {
        Self {
            name: name.to_owned(),
            addr: addr.to_owned(),
            network: Network::Tcp,
            timeout,
            backoff,
            max_message: crate::stream::MAX_MESSAGE,
            link: Mutex::new(Link { stream: None, next_attempt: None, delay: backoff.first }),
        }
    }

    /// Reaches the device over `network` instead of TCP.
    pub fn with_network(mut self, network: Network) -> Self {
        self.network = network;
        self
    }

    /// Accepts answers up to `bytes` long (camera images).
    pub fn with_max_message(mut self, bytes: usize) -> Self {
        self.max_message = bytes;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends `request` and reads the answer (`what` names it in errors).
    pub async fn exchange(&self, what: &str, request: &Value) -> DeviceResult<Value> {
        self.exchange_within(what, request, self.timeout).await
    }

    /// Like [`Connection::exchange`], with its own time limit.
    pub async fn exchange_within(&self, what: &str, request: &Value, limit: Duration) -> DeviceResult<Value> {
        let mut link = self.link.lock().await;
        if link.stream.is_none() {
            if let Some(at) = link.next_attempt
                && Instant::now() < at
            {
                let wait = at - Instant::now();
                return Err(DeviceError::comm(
                    &self.name,
                    format!("not connected to {}; next attempt in {:.1} s", self.addr, wait.as_secs_f64()),
                ));
            }
            match tokio::time::timeout(self.timeout, self.network.connect(&self.addr)).await {
                Ok(Ok(s)) => {
                    link.stream = Some((s, JsonReader::with_limit(self.max_message)));
                    tracing::info!("{}: connected to {}", self.name, self.addr);
                }
                Ok(Err(e)) => {
                    return Err(self.failed(&mut link, format!("cannot connect to {}: {e}", self.addr)));
                }
                Err(_) => {
                    return Err(self.failed(&mut link, format!("cannot connect to {}: timed out", self.addr)));
                }
            }
        }
        let Some((stream, reader)) = link.stream.as_mut() else {
            return Err(DeviceError::comm(&self.name, "not connected"));
        };
        let mut text = request.to_string();
        text.push('\n');
        let answer = tokio::time::timeout(limit, async {
            stream.write_all(text.as_bytes()).await.map_err(|e| ReadError::Io(e.to_string()))?;
            reader.next(stream).await
        })
        .await;
        match answer {
            Err(_) => {
                // A late answer must not be taken for the next one: start afresh.
                link.stream = None;
                Err(DeviceError::Timeout {
                    device: self.name.clone(),
                    what: what.to_owned(),
                    seconds: limit.as_secs_f64(),
                })
            }
            Ok(Err(e)) => Err(self.failed(&mut link, format!("{what}: {e}"))),
            Ok(Ok(v)) => {
                link.delay = self.backoff.first;
                link.next_attempt = None;
                Ok(v)
            }
        }
    }

    /// Drops the connection because the peer sent something unusable.
    pub async fn drop_link(&self, reason: &str) -> DeviceError {
        let mut link = self.link.lock().await;
        self.failed(&mut link, reason.to_owned())
    }

    /// Drops the connection and schedules the next attempt.
    fn failed(&self, link: &mut Link, reason: String) -> DeviceError {
        link.stream = None;
        link.next_attempt = Some(Instant::now() + link.delay);
        link.delay = (link.delay * 2).min(self.backoff.max);
        tracing::warn!("{}: {reason}", self.name);
        DeviceError::comm(&self.name, reason)
    }
}

/// The PLC driver: asks `STATUS`, reads the seeds' answer.
#[derive(Debug)]
pub struct SocketPlc {
    conn: Connection,
    clock: Clock,
}

impl SocketPlc {
    /// A PLC at `addr` (`host:port`); each exchange is bounded by `timeout` (real time).
    pub fn new(name: &str, addr: &str, clock: Clock, timeout: Duration, backoff: Backoff) -> Self {
        Self { conn: Connection::new(name, addr, timeout, backoff), clock }
    }

    /// Reaches the PLC over `network` instead of TCP.
    pub fn with_network(mut self, network: Network) -> Self {
        self.conn = self.conn.with_network(network);
        self
    }
}

#[async_trait]
impl WeatherSource for SocketPlc {
    fn name(&self) -> &str {
        self.conn.name()
    }

    async fn status(&self) -> DeviceResult<Stamped<WeatherStatus>> {
        let value = self.conn.exchange("STATUS", &wire::status_request()).await?;
        match wire::decode_status(&value) {
            Ok(value) => Ok(Stamped { at: self.clock.now(), value }),
            Err(e) => Err(self.conn.drop_link(&format!("bad STATUS: {e}")).await),
        }
    }

    async fn set_bypass(&self, on: bool) -> DeviceResult<()> {
        let reply = self.conn.exchange("BYPASS", &wire::bypass_request(on)).await?;
        protocol::expect(self.conn.name(), "BYPASS", &reply).map(|_| ())
    }
}
