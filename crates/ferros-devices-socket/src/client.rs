//! The PLC driver: asks `STATUS` over TCP, reconnects with backoff, and turns
//! every failure of the peer into a `DeviceError` (the caller keeps running).

use std::time::Duration;

use async_trait::async_trait;
use ferros_clock::Clock;
use ferros_devices::{DeviceError, DeviceResult, Stamped, WeatherSource, WeatherStatus};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::stream::{JsonReader, ReadError};
use crate::wire;

/// Backoff between connection attempts: from `first`, doubling, at most `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { first: Duration::from_millis(500), max: Duration::from_secs(30) }
    }
}

#[derive(Debug)]
struct Link {
    stream: Option<(TcpStream, JsonReader)>,
    next_attempt: Option<Instant>,
    delay: Duration,
}

#[derive(Debug)]
pub struct SocketPlc {
    name: String,
    addr: String,
    clock: Clock,
    timeout: Duration,
    backoff: Backoff,
    link: Mutex<Link>,
}

impl SocketPlc {
    /// A PLC at `addr` (`host:port`); each exchange is bounded by `timeout` (real time).
    pub fn new(name: &str, addr: &str, clock: Clock, timeout: Duration, backoff: Backoff) -> Self {
        Self {
            name: name.to_owned(),
            addr: addr.to_owned(),
            clock,
            timeout,
            backoff,
            link: Mutex::new(Link { stream: None, next_attempt: None, delay: backoff.first }),
        }
    }

    async fn exchange(&self, link: &mut Link) -> DeviceResult<WeatherStatus> {
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
            match tokio::time::timeout(self.timeout, TcpStream::connect(&self.addr)).await {
                Ok(Ok(s)) => {
                    link.stream = Some((s, JsonReader::default()));
                    tracing::info!("{}: connected to {}", self.name, self.addr);
                }
                Ok(Err(e)) => return Err(self.failed(link, format!("cannot connect to {}: {e}", self.addr))),
                Err(_) => {
                    return Err(self.failed(link, format!("cannot connect to {}: timed out", self.addr)));
                }
            }
        }
        let Some((stream, reader)) = link.stream.as_mut() else {
            return Err(DeviceError::comm(&self.name, "not connected"));
        };
        let mut request = wire::status_request().to_string();
        request.push('\n');
        let answer = tokio::time::timeout(self.timeout, async {
            stream.write_all(request.as_bytes()).await.map_err(|e| ReadError::Io(e.to_string()))?;
            reader.next(stream).await
        })
        .await;
        let value = match answer {
            Err(_) => {
                link.stream = None;
                return Err(DeviceError::Timeout {
                    device: self.name.clone(),
                    what: "STATUS".into(),
                    seconds: self.timeout.as_secs_f64(),
                });
            }
            Ok(Err(e)) => return Err(self.failed(link, e.to_string())),
            Ok(Ok(v)) => v,
        };
        match wire::decode_status(&value) {
            Ok(s) => {
                link.delay = self.backoff.first;
                link.next_attempt = None;
                Ok(s)
            }
            Err(e) => Err(self.failed(link, format!("bad STATUS: {e}"))),
        }
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

#[async_trait]
impl WeatherSource for SocketPlc {
    fn name(&self) -> &str {
        &self.name
    }

    async fn status(&self) -> DeviceResult<Stamped<WeatherStatus>> {
        let mut link = self.link.lock().await;
        let value = self.exchange(&mut link).await?;
        Ok(Stamped { at: self.clock.now(), value })
    }
}
