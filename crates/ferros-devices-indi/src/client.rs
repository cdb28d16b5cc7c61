//! One connection to an INDI server, shared by the devices on it. A task
//! keeps it up: it connects (backoff between attempts, either side may start
//! first), asks for the properties, connects the devices Ferros uses, and
//! keeps every property's latest value. Drivers read that cache and send
//! `new*Vector`s; a reply is the device's next update of that property.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferros_devices::net::Network;
use ferros_devices::{DeviceError, DeviceResult};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::sync::{Notify, mpsc, watch};

use crate::xml::{Kind, Message, MessageReader, PropState, Value, escape};

pub use ferros_devices::Backoff;

/// A property as last defined and updated.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub kind: Kind,
    pub state: PropState,
    pub elements: BTreeMap<String, Value>,
    /// The device's message with the last update.
    pub message: Option<String>,
    /// Counts updates, so a caller can wait for the next one.
    pub generation: u64,
}

impl Property {
    pub fn number(&self, e: &str) -> Option<f64> {
        match self.elements.get(e) {
            Some(Value::Number(v)) => Some(*v),
            _ => None,
        }
    }
    pub fn switch(&self, e: &str) -> Option<bool> {
        match self.elements.get(e) {
            Some(Value::Switch(v)) => Some(*v),
            _ => None,
        }
    }
    pub fn text(&self, e: &str) -> Option<&str> {
        match self.elements.get(e) {
            Some(Value::Text(v)) => Some(v),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    online: bool,
    /// Why the link is down, for the errors of calls made meanwhile.
    down_because: Option<String>,
    /// The last failure of the link, until the server sends something sound.
    last_failure: Option<String>,
    props: HashMap<(String, String), Property>,
    /// Devices to connect, and those whose images (BLOBs) Ferros wants.
    devices: BTreeSet<String>,
    blobs: BTreeSet<String>,
    outbox: Option<mpsc::UnboundedSender<String>>,
    generation: u64,
}

/// A connection to one INDI server.
#[derive(Debug)]
pub struct IndiClient {
    addr: String,
    timeout: Duration,
    shared: Mutex<Shared>,
    changed: Notify,
    /// Dropping the client stops its task.
    _alive: watch::Sender<()>,
}

impl IndiClient {
    /// Starts keeping a connection to `addr` (`host:7624`); calls wait at most `timeout`.
    pub fn start(addr: &str, timeout: Duration, backoff: Backoff) -> Arc<IndiClient> {
        Self::start_on(Network::Tcp, addr, timeout, backoff)
    }

    /// [`IndiClient::start`] on `network` (the in-process one for virtual time).
    pub fn start_on(network: Network, addr: &str, timeout: Duration, backoff: Backoff) -> Arc<IndiClient> {
        let (alive, watch) = watch::channel(());
        let client = Arc::new(IndiClient {
            addr: addr.to_owned(),
            timeout,
            shared: Mutex::new(Shared::default()),
            changed: Notify::new(),
            _alive: alive,
        });
        tokio::spawn(run(Arc::downgrade(&client), network, addr.to_owned(), backoff, watch));
        client
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks for `device` to be connected (now and after every reconnection),
    /// with its images sent to Ferros when `blobs`.
    pub fn want(&self, device: &str, blobs: bool) {
        let mut s = self.lock();
        let new = s.devices.insert(device.to_owned());
        if blobs {
            s.blobs.insert(device.to_owned());
        }
        if new && let Some(out) = &s.outbox {
            let _ = out.send(format!("<getProperties version=\"1.7\" device=\"{}\"/>\n", escape(device)));
            if blobs {
                let _ = out.send(enable_blob(device));
            }
        }
    }

    fn offline(&self, s: &Shared, device: &str) -> DeviceError {
        let why = s.down_because.clone().unwrap_or_else(|| format!("not connected to {}", self.addr));
        DeviceError::comm(device, why)
    }

    /// The property if the server has defined it; an error if the link is down.
    pub fn get(&self, device: &str, name: &str) -> DeviceResult<Option<Property>> {
        let s = self.lock();
        if !s.online {
            return Err(self.offline(&s, device));
        }
        Ok(s.props.get(&(device.to_owned(), name.to_owned())).cloned())
    }

    /// Reads a property in place (images are large: no copy).
    pub fn with<T>(&self, device: &str, name: &str, f: impl FnOnce(&Property) -> T) -> Option<T> {
        self.lock().props.get(&(device.to_owned(), name.to_owned())).map(f)
    }

    /// Whether the server defines this property now.
    pub fn has(&self, device: &str, name: &str) -> bool {
        self.lock().props.contains_key(&(device.to_owned(), name.to_owned()))
    }

    /// The property, waiting (up to the timeout) for the device to define it.
    pub async fn property(&self, device: &str, name: &str) -> DeviceResult<Property> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let notified = self.changed.notified();
            {
                let s = self.lock();
                if let Some(p) = s.props.get(&(device.to_owned(), name.to_owned())) {
                    return Ok(p.clone());
                }
                if tokio::time::Instant::now() >= deadline {
                    if !s.online {
                        return Err(self.offline(&s, device));
                    }
                    let known = s.props.keys().any(|(d, _)| d == device);
                    return Err(if known {
                        DeviceError::not_supported(
                            device,
                            format!("{name} (the INDI device has no such property)"),
                        )
                    } else {
                        let recent = s
                            .last_failure
                            .as_ref()
                            .map(|f| format!(" (last failure: {f})"))
                            .unwrap_or_default();
                        DeviceError::comm(
                            device,
                            format!("no INDI device named \"{device}\" on {}{recent}", self.addr),
                        )
                    });
                }
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }

    /// Sends new values for a property and waits for the device's answer (its
    /// next update of the property): `Alert` is an error with the device's message.
    pub async fn send(
        &self,
        device: &str,
        name: &str,
        kind: Kind,
        values: &[(&str, String)],
    ) -> DeviceResult<Property> {
        let before = self.property(device, name).await?.generation;
        let mut xml =
            format!("<new{k}Vector device=\"{}\" name=\"{}\">", escape(device), escape(name), k = kind.tag());
        for (e, v) in values {
            xml.push_str(&format!("<one{k} name=\"{}\">{}</one{k}>", escape(e), escape(v), k = kind.tag()));
        }
        xml.push_str(&format!("</new{}Vector>\n", kind.tag()));
        {
            let s = self.lock();
            match (&s.outbox, s.online) {
                (Some(out), true) => {
                    if out.send(xml).is_err() {
                        return Err(self.offline(&s, device));
                    }
                }
                _ => return Err(self.offline(&s, device)),
            }
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let notified = self.changed.notified();
            {
                let s = self.lock();
                if !s.online {
                    return Err(self.offline(&s, device));
                }
                if let Some(p) = s.props.get(&(device.to_owned(), name.to_owned()))
                    && p.generation > before
                {
                    if p.state == PropState::Alert {
                        let why = p.message.clone().unwrap_or_else(|| "the device refused".into());
                        return Err(refused(device, name, &why));
                    }
                    return Ok(p.clone());
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(DeviceError::Timeout {
                    device: device.to_owned(),
                    what: name.to_owned(),
                    seconds: self.timeout.as_secs_f64(),
                });
            }
        }
    }

    /// Sets one switch of a one-of-many vector (the others Off).
    pub async fn switch(&self, device: &str, name: &str, on: &str) -> DeviceResult<Property> {
        self.send(device, name, Kind::Switch, &[(on, "On".into())]).await
    }

    /// Waits until `done` holds for the property (or the timeout `limit`).
    pub async fn wait(
        &self,
        device: &str,
        name: &str,
        limit: Duration,
        done: impl Fn(&Property) -> bool,
    ) -> DeviceResult<Property> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.changed.notified();
            if let Some(p) = self.get(device, name)?
                && done(&p)
            {
                return Ok(p);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(DeviceError::Timeout {
                    device: device.to_owned(),
                    what: name.to_owned(),
                    seconds: limit.as_secs_f64(),
                });
            }
        }
    }

    fn apply(&self, m: Message) -> Option<String> {
        let mut s = self.lock();
        s.generation += 1;
        let generation = s.generation;
        let mut reply = None;
        match m {
            Message::Vector { define, kind, device, name, state, message, elements } => {
                s.last_failure = None;
                let key = (device.clone(), name.clone());
                let p = s.props.entry(key).or_insert_with(|| Property {
                    kind,
                    state: PropState::Idle,
                    elements: BTreeMap::new(),
                    message: None,
                    generation,
                });
                if define {
                    p.kind = kind;
                    p.elements.clear();
                }
                p.elements.extend(elements);
                if let Some(st) = state {
                    p.state = st;
                }
                p.message = message;
                p.generation = generation;
                if let Some(m) = &p.message
                    && p.state == PropState::Alert
                {
                    tracing::warn!("INDI {device}.{name}: {m}");
                }
                // A device Ferros uses that is not connected: connect it.
                if name == "CONNECTION" && s.devices.contains(&device) {
                    let connected =
                        s.props.get(&(device.clone(), name.clone())).and_then(|p| p.switch("CONNECT"));
                    if connected == Some(false) {
                        reply = Some(format!(
                            "<newSwitchVector device=\"{}\" name=\"CONNECTION\"><oneSwitch name=\"CONNECT\">On</oneSwitch></newSwitchVector>\n",
                            escape(&device)
                        ));
                    }
                }
            }
            Message::Delete { device, name: None } => s.props.retain(|(d, _), _| *d != device),
            Message::Delete { device, name: Some(n) } => {
                s.props.remove(&(device, n));
            }
            Message::Note { device, message } => {
                tracing::info!("INDI {}: {message}", device.unwrap_or_default());
            }
            Message::Other(_) => {}
        }
        drop(s);
        self.changed.notify_waiters();
        reply
    }

    fn set_online(&self, outbox: Option<mpsc::UnboundedSender<String>>, why: Option<String>) {
        let mut s = self.lock();
        s.online = outbox.is_some();
        s.outbox = outbox;
        if !s.online {
            s.props.clear();
            s.last_failure.clone_from(&why);
        }
        s.down_because = why;
        drop(s);
        self.changed.notify_waiters();
    }
}

fn enable_blob(device: &str) -> String {
    format!("<enableBLOB device=\"{}\">Also</enableBLOB>\n", escape(device))
}

/// An `Alert` answer: a limit when the device says so, otherwise a failure.
fn refused(device: &str, name: &str, why: &str) -> DeviceError {
    let lower = why.to_lowercase();
    if ["limit", "horizon", "range", "outside"].iter().any(|w| lower.contains(w)) {
        DeviceError::limit(device, format!("{name}: {why}"))
    } else {
        DeviceError::comm(device, format!("{name} failed: {why}"))
    }
}

/// Keeps the connection up while the client lives.
async fn run(
    client: std::sync::Weak<IndiClient>,
    network: Network,
    addr: String,
    backoff: Backoff,
    mut alive: watch::Receiver<()>,
) {
    let mut delay = backoff.first;
    loop {
        let (why, was_online) = tokio::select! {
            _ = alive.changed() => return,
            ended = session(&client, &network, &addr) => ended,
        };
        if was_online {
            delay = backoff.first;
        }
        let Some(c) = client.upgrade() else { return };
        let next = format!("{why}; next attempt in {:.1} s", delay.as_secs_f64());
        tracing::warn!("INDI {addr}: {why}");
        c.set_online(None, Some(next));
        drop(c);
        tokio::select! {
            _ = alive.changed() => return,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(backoff.max);
    }
}

/// One connection: why it ended, and whether it had been up.
async fn session(client: &std::sync::Weak<IndiClient>, network: &Network, addr: &str) -> (String, bool) {
    let timeout = client.upgrade().map_or(Duration::from_secs(5), |c| c.timeout);
    let stream = match tokio::time::timeout(timeout, network.connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return (format!("cannot connect to {addr}: {e}"), false),
        Err(_) => return (format!("cannot connect to {addr}: timed out"), false),
    };
    let (read, mut write) = tokio::io::split(stream);
    let (out, mut outbox) = mpsc::unbounded_channel::<String>();
    {
        let Some(c) = client.upgrade() else { return ("closed".into(), false) };
        let _ = out.send("<getProperties version=\"1.7\"/>\n".into());
        for d in c.lock().blobs.clone() {
            let _ = out.send(enable_blob(&d));
        }
        c.set_online(Some(out.clone()), None);
        tracing::info!("INDI: connected to {addr}");
    }
    let writer = async {
        while let Some(text) = outbox.recv().await {
            if let Err(e) = write.write_all(text.as_bytes()).await {
                return format!("cannot write to {addr}: {e}");
            }
        }
        "closed".to_owned()
    };
    // The reader runs on its own so that waiting for a message can be timed
    // out without losing a message read halfway.
    let (messages_tx, mut messages) = mpsc::channel(64);
    let reading = tokio::spawn(async move {
        let mut reader = MessageReader::new(BufReader::with_capacity(1 << 16, read));
        loop {
            let m = reader.next().await;
            let end = !matches!(m, Ok(Some(_)));
            if messages_tx.send(m).await.is_err() || end {
                return;
            }
        }
    });
    let reader = async {
        // A server silent for half the timeout is asked for a property; silent
        // for the other half too, the link is taken as dead.
        let idle = timeout / 2;
        let mut probing = false;
        loop {
            let m = match tokio::time::timeout(idle, messages.recv()).await {
                Ok(Some(m)) => m,
                Ok(None) => return format!("{addr}: reading stopped"),
                Err(_) if probing => {
                    return format!("no answer from {addr} for {:.1} s", timeout.as_secs_f64());
                }
                Err(_) => {
                    let Some(c) = client.upgrade() else { return "closed".to_owned() };
                    let first = c.lock().devices.iter().next().cloned();
                    if let Some(device) = first {
                        probing = true;
                        let _ = out.send(format!(
                            "<getProperties version=\"1.7\" device=\"{}\" name=\"CONNECTION\"/>\n",
                            escape(&device)
                        ));
                    }
                    continue;
                }
            };
            probing = false;
            match m {
                Ok(Some(m)) => {
                    let Some(c) = client.upgrade() else { return "closed".to_owned() };
                    if let Some(reply) = c.apply(m) {
                        let _ = out.send(reply);
                    }
                }
                Ok(None) => return format!("{addr} closed the connection"),
                Err(e) => return format!("bad data from {addr}: {e}"),
            }
        }
    };
    let why = tokio::select! {
        why = writer => why,
        why = reader => why,
    };
    reading.abort();
    (why, true)
}
