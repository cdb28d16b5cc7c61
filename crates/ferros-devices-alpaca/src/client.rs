//! One Alpaca device: its URL, the HTTP client, transaction numbers, errors.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use ferros_devices::{DeviceError, DeviceResult};
use serde_json::Value;

/// A device of an Alpaca server: `{base}/api/v1/{kind}/{number}/`.
#[derive(Debug)]
pub struct Endpoint {
    name: String,
    base: String,
    kind: &'static str,
    number: u32,
    http: reqwest::Client,
    timeout: Duration,
    transaction: AtomicU32,
    connected: AtomicBool,
    /// Held while connecting: concurrent first calls connect once.
    connecting: tokio::sync::Mutex<()>,
}

/// Ferros's client number in every request.
const CLIENT_ID: u32 = 4242;

impl Endpoint {
    /// `base` is the server's URL (`http://host:11111`), `kind` the Alpaca device
    /// type (`telescope`, `dome`, `camera`...).
    pub fn new(name: &str, base: &str, kind: &'static str, number: u32, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Self {
            name: name.to_owned(),
            base: base.trim_end_matches('/').to_owned(),
            kind,
            number,
            http,
            timeout,
            transaction: AtomicU32::new(1),
            connected: AtomicBool::new(false),
            connecting: tokio::sync::Mutex::new(()),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn url(&self, method: &str) -> String {
        format!("{}/api/v1/{}/{}/{method}", self.base, self.kind, self.number)
    }

    fn next_transaction(&self) -> String {
        self.transaction.fetch_add(1, Ordering::Relaxed).to_string()
    }

    /// Connects the device if it was not (first call, or after a failure).
    pub async fn ensure_connected(&self) -> DeviceResult<()> {
        if self.connected.load(Ordering::Acquire) {
            return Ok(());
        }
        // One call connects; the others wait for it and find it done.
        let _connecting = self.connecting.lock().await;
        if self.connected.load(Ordering::Acquire) {
            return Ok(());
        }
        self.put_raw("connected", &[("Connected", "true".into())]).await.map_err(|e| match e {
            // A server without this device answers "not implemented" to everything.
            DeviceError::NotSupported { what, .. } => {
                DeviceError::comm(&self.name, format!("cannot connect {}/{}: {what}", self.kind, self.number))
            }
            other => other,
        })?;
        self.connected.store(true, Ordering::Release);
        tracing::info!("{}: connected to {}", self.name, self.url(""));
        Ok(())
    }

    /// A failure that may mean the link or the device went away: connect again next time.
    fn lost(&self, e: DeviceError) -> DeviceError {
        if matches!(e, DeviceError::Comm { .. } | DeviceError::Timeout { .. }) {
            self.connected.store(false, Ordering::Release);
        }
        e
    }

    /// `GET method`: its `Value`.
    pub async fn get(&self, method: &str) -> DeviceResult<Value> {
        self.ensure_connected().await?;
        self.get_raw(method).await.map_err(|e| self.lost(e))
    }

    async fn get_raw(&self, method: &str) -> DeviceResult<Value> {
        let request = self
            .http
            .get(self.url(method))
            .timeout(self.timeout)
            .query(&[("ClientID", CLIENT_ID.to_string()), ("ClientTransactionID", self.next_transaction())]);
        let body = self.send(method, request).await?;
        let mut o = self.answer(method, &body)?;
        o.remove("Value")
            .ok_or_else(|| DeviceError::comm(&self.name, format!("{method}: no \"Value\" in the answer")))
    }

    /// `PUT method` with form parameters.
    pub async fn put(&self, method: &str, params: &[(&str, String)]) -> DeviceResult<()> {
        self.ensure_connected().await?;
        self.put_raw(method, params).await.map_err(|e| self.lost(e))
    }

    async fn put_raw(&self, method: &str, params: &[(&str, String)]) -> DeviceResult<()> {
        let mut form: Vec<(&str, String)> = params.to_vec();
        form.push(("ClientID", CLIENT_ID.to_string()));
        form.push(("ClientTransactionID", self.next_transaction()));
        let body =
            form.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
        let request = self
            .http
            .put(self.url(method))
            .timeout(self.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        let body = self.send(method, request).await?;
        self.answer(method, &body).map(|_| ())
    }

    /// Sends a request, returns the body of a 200 answer.
    async fn send(&self, method: &str, request: reqwest::RequestBuilder) -> DeviceResult<Vec<u8>> {
        let response = request.send().await.map_err(|e| self.http_error(method, &e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.http_error(method, &e))?;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        let text = String::from_utf8_lossy(&body);
        let text = text.trim();
        Err(match status.as_u16() {
            404 => DeviceError::not_supported(
                &self.name,
                format!("{method} ({} answered 404 Not Found)", self.url(method)),
            ),
            400 => DeviceError::comm(&self.name, format!("{method} refused as malformed (HTTP 400): {text}")),
            code => DeviceError::comm(&self.name, format!("{method}: HTTP {code}: {text}")),
        })
    }

    pub(crate) fn http_error(&self, method: &str, e: &reqwest::Error) -> DeviceError {
        if e.is_timeout() {
            DeviceError::Timeout {
                device: self.name.clone(),
                what: method.to_owned(),
                seconds: self.timeout.as_secs_f64(),
            }
        } else if e.is_connect() {
            DeviceError::comm(&self.name, format!("cannot connect to {}: {}", self.base, root_cause(e)))
        } else {
            DeviceError::comm(&self.name, format!("{method}: {}", root_cause(e)))
        }
    }

    /// The JSON object of an answer, or the Alpaca error it carries.
    pub(crate) fn answer(&self, method: &str, body: &[u8]) -> DeviceResult<serde_json::Map<String, Value>> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| DeviceError::comm(&self.name, format!("{method}: unreadable answer: {e}")))?;
        let Value::Object(o) = v else {
            return Err(DeviceError::comm(&self.name, format!("{method}: the answer is not a JSON object")));
        };
        let number = match o.get("ErrorNumber") {
            Some(Value::Number(n)) => n.as_i64().unwrap_or(-1),
            Some(other) => {
                return Err(DeviceError::comm(
                    &self.name,
                    format!("{method}: ErrorNumber is {other}, not a number"),
                ));
            }
            None => {
                return Err(DeviceError::comm(&self.name, format!("{method}: no ErrorNumber in the answer")));
            }
        };
        if number == 0 {
            return Ok(o);
        }
        let message = o.get("ErrorMessage").and_then(Value::as_str).unwrap_or_default();
        let reason = format!("{method}: {message} (Alpaca error 0x{number:X})");
        Err(match number {
            0x400 | 0x40C => DeviceError::not_supported(&self.name, reason),
            0x401 => DeviceError::limit(&self.name, reason),
            0x408 | 0x409 | 0x40B => DeviceError::busy(&self.name, reason),
            _ => DeviceError::comm(&self.name, reason),
        })
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) fn query(&self) -> [(&'static str, String); 2] {
        [("ClientID", CLIENT_ID.to_string()), ("ClientTransactionID", self.next_transaction())]
    }

    pub(crate) fn lose(&self, e: DeviceError) -> DeviceError {
        self.lost(e)
    }

    pub async fn get_f64(&self, method: &str) -> DeviceResult<f64> {
        let v = self.get(method).await?;
        v.as_f64().ok_or_else(|| self.wrong(method, &v, "a number"))
    }

    pub async fn get_bool(&self, method: &str) -> DeviceResult<bool> {
        let v = self.get(method).await?;
        v.as_bool().ok_or_else(|| self.wrong(method, &v, "true or false"))
    }

    pub async fn get_i64(&self, method: &str) -> DeviceResult<i64> {
        let v = self.get(method).await?;
        v.as_i64().ok_or_else(|| self.wrong(method, &v, "an integer"))
    }

    pub async fn get_strings(&self, method: &str) -> DeviceResult<Vec<String>> {
        let v = self.get(method).await?;
        v.as_array()
            .and_then(|a| a.iter().map(|s| s.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>())
            .ok_or_else(|| self.wrong(method, &v, "a list of names"))
    }

    fn wrong(&self, method: &str, v: &Value, expected: &str) -> DeviceError {
        let shown: String = v.to_string().chars().take(60).collect();
        self.lost(DeviceError::comm(&self.name, format!("{method}: Value is {shown}, expected {expected}")))
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Percent-encoding for form bodies (names and numbers need little).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
