//! The VOEvent Transport Protocol, subscriber side (Comet brokers, GCN's
//! classic VOEvent server): over TCP, every message is a 4-byte big-endian
//! length and that many bytes of XML, either a VOEvent or a `Transport`
//! element. The broker says `iamalive` now and then and Ferros answers in
//! kind; each VOEvent is answered with an `ack` once stored (a `nak` when
//! it is no notice). A connection that fails, closes or stays silent too
//! long is made again after a doubling wait (1 s to 1 min).
//!
//! VTP has no redelivery: a broker sends a notice once. So each notice is
//! first written to a spool folder (synced), then handed to the desk, then
//! its file removed and the notice acknowledged; a notice whose storing a
//! crash interrupted is found in the spool at the next start and taken then.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ferros_alerts::Outcome;
use ferros_devices::net::Network;
use ferros_domain::LogLevel;
use ferros_limits::MAX_VTP_FRAME;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, WriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{ALERTS, AlertDesk};
use crate::AgentError;
use crate::runtime::{Agent, AgentContext};

// The broker lives in real time: these are real durations (tokio's clock,
// which a virtual clock's tests pause and move), whatever the Ferros clock's speed.
/// How long a step waits for a message before the agent beats.
const STEP: Duration = Duration::from_secs(5);
/// A broker says iamalive every minute or so: silent for 5 minutes, it is gone.
const SILENCE: Duration = Duration::from_secs(300);
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(60);
/// Time allowed to connect and to write an answer.
const IO_LIMIT: Duration = Duration::from_secs(10);

const TRANSPORT_NS: &str = "http://telescope-networks.org/schema/Transport/v1.1";

/// A message with its length in front.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 4);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// What reading one message can end with.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    Message(Vec<u8>),
    /// The length said more than a message may have: the stream cannot be
    /// followed further.
    TooLong(usize),
    /// The connection ended in the middle of a message.
    Cut {
        got: usize,
        want: usize,
    },
    /// The connection ended between messages (or failed).
    Closed(String),
}

/// Reads one message (never more than [`MAX_VTP_FRAME`] bytes).
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Incoming {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]).await {
            Ok(0) if got == 0 => return Incoming::Closed("the broker closed the connection".into()),
            Ok(0) => return Incoming::Cut { got, want: 4 },
            Ok(n) => got += n,
            Err(e) => return Incoming::Closed(e.to_string()),
        }
    }
    let want = u32::from_be_bytes(len) as usize;
    if want > MAX_VTP_FRAME {
        return Incoming::TooLong(want);
    }
    let mut body = vec![0u8; want];
    let mut got = 0;
    while got < want {
        match r.read(&mut body[got..]).await {
            Ok(0) => return Incoming::Cut { got, want },
            Ok(n) => got += n,
            Err(_) => return Incoming::Cut { got, want },
        }
    }
    Incoming::Message(body)
}

/// A `Transport` message: `role` (iamalive, ack, nak), about `origin`.
fn transport(role: &str, origin: &str, response: &str, at: DateTime<Utc>) -> Vec<u8> {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    format!(
        "<?xml version='1.0' encoding='UTF-8'?>\n<trn:Transport xmlns:trn=\"{TRANSPORT_NS}\" version=\"1.0\" role=\"{role}\">\
         <Origin>{}</Origin><Response>{}</Response><TimeStamp>{}</TimeStamp></trn:Transport>",
        esc(origin),
        esc(response),
        at.format("%Y-%m-%dT%H:%M:%S%.6fZ")
    )
    .into_bytes()
}

/// What a message is: a Transport element (its role and Origin), or anything else.
fn transport_of(bytes: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let doc = roxmltree::Document::parse_with_options(
        text,
        roxmltree::ParsingOptions { allow_dtd: false, ..Default::default() },
    )
    .ok()?;
    let root = doc.root_element();
    if root.tag_name().name() != "Transport" {
        return None;
    }
    let origin = root
        .children()
        .find(|n| n.tag_name().name() == "Origin")
        .and_then(|n| n.text())
        .unwrap_or_default()
        .trim()
        .to_owned();
    Some((root.attribute("role").unwrap_or_default().to_owned(), origin))
}

struct Connection {
    writer: WriteHalf<Box<dyn ferros_devices::net::Stream>>,
    incoming: mpsc::Receiver<Incoming>,
    reader: JoinHandle<()>,
    /// Real time (the broker's): tokio's clock, the virtual one in tests.
    last_heard: tokio::time::Instant,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// A subscription to one broker.
pub struct VtpIntake {
    desk: AlertDesk,
    net: Network,
    broker: String,
    name: String,
    ivorn: String,
    conn: Option<Connection>,
    retry_at: Option<DateTime<Utc>>,
    delay: Duration,
    /// The last connection failure logged (each different one once).
    failing: Option<String>,
    /// Where notices wait between their receipt and their storing.
    spool: Option<PathBuf>,
    swept: bool,
}

impl std::fmt::Debug for VtpIntake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VtpIntake").field("broker", &self.broker).finish_non_exhaustive()
    }
}

impl VtpIntake {
    /// Subscribes to `broker` (`host:port`) on `net`, answering as `ivorn`;
    /// notices wait in `spool` until stored (none: they are not kept).
    pub fn new(desk: AlertDesk, net: Network, broker: &str, ivorn: &str, spool: Option<PathBuf>) -> Self {
        Self {
            spool,
            swept: false,
            desk,
            net,
            broker: broker.to_owned(),
            name: format!("alerts-vtp {broker}"),
            ivorn: ivorn.to_owned(),
            conn: None,
            retry_at: None,
            delay: FIRST_RETRY,
            failing: None,
        }
    }

    fn source(&self) -> String {
        format!("vtp:{}", self.broker)
    }

    /// Writes a notice to the spool (synced), returning its file.
    fn spool_write(&self, m: &[u8], at: DateTime<Utc>) -> Result<Option<PathBuf>, AgentError> {
        let Some(dir) = &self.spool else { return Ok(None) };
        let io = |what: &Path| {
            let what = what.display().to_string();
            move |source| AgentError::Io { what, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let stamp = at.format("%Y%m%dT%H%M%S%.9f");
        let (mut path, mut k) = (dir.join(format!("{stamp}.xml")), 0);
        while path.exists() {
            k += 1;
            path = dir.join(format!("{stamp}-{k}.xml"));
        }
        let tmp = path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(m)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(dir)?.sync_all()
        };
        write().map_err(io(&path))?;
        Ok(Some(path))
    }

    /// Takes the notices a crash left in the spool.
    async fn sweep(&mut self, ctx: &AgentContext) -> Result<(), AgentError> {
        let Some(dir) = self.spool.clone() else { return Ok(()) };
        if !dir.is_dir() {
            return Ok(());
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|source| AgentError::Io { what: dir.display().to_string(), source })?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "xml"))
            .collect();
        files.sort();
        for path in files {
            let bytes = std::fs::read(&path)
                .map_err(|source| AgentError::Io { what: path.display().to_string(), source })?;
            let r = self
                .desk
                .receive(ctx, &bytes, &format!("{} (spooled)", self.source()), ctx.clock.now(), None)
                .await?;
            ctx.log(
                ALERTS,
                LogLevel::Info,
                format!("{}: alert {} taken from the spool after a restart", self.broker, r.alert),
            )
            .await;
            std::fs::remove_file(&path)
                .map_err(|source| AgentError::Io { what: path.display().to_string(), source })?;
        }
        Ok(())
    }

    async fn connect(&mut self) -> Result<(), String> {
        let stream = tokio::select! {
            biased;
            s = self.net.connect(&self.broker) => s.map_err(|e| e.to_string())?,
            () = tokio::time::sleep(IO_LIMIT) => return Err(format!("no answer in {} s", IO_LIMIT.as_secs())),
        };
        let (mut read, writer) = tokio::io::split(stream);
        let (tx, incoming) = mpsc::channel(16);
        let reader = tokio::spawn(async move {
            loop {
                let m = read_frame(&mut read).await;
                let end = !matches!(m, Incoming::Message(_));
                if tx.send(m).await.is_err() || end {
                    return;
                }
            }
        });
        self.conn = Some(Connection { writer, incoming, reader, last_heard: tokio::time::Instant::now() });
        Ok(())
    }

    async fn lost(&mut self, ctx: &AgentContext, why: String) {
        self.conn = None;
        let now = ctx.clock.now();
        self.retry_at = Some(now + chrono::TimeDelta::from_std(self.delay).unwrap_or_default());
        let message = format!("{}: {why}; connecting again in {} s", self.broker, self.delay.as_secs());
        if self.failing.as_deref() != Some(why.as_str()) {
            ctx.log(ALERTS, LogLevel::Warn, message).await;
            self.failing = Some(why);
        }
        self.delay = (self.delay * 2).min(LAST_RETRY);
    }

    async fn answer(&mut self, message: Vec<u8>) -> Result<(), String> {
        let Some(conn) = self.conn.as_mut() else { return Ok(()) };
        let framed = frame(&message);
        tokio::select! {
            biased;
            r = async { conn.writer.write_all(&framed).await?; conn.writer.flush().await } => r.map_err(|e| e.to_string()),
            () = tokio::time::sleep(IO_LIMIT) => Err(format!("an answer took more than {} s to write", IO_LIMIT.as_secs())),
        }
    }

    /// Handles one message: a VOEvent goes to the desk, then is acknowledged.
    async fn handle(&mut self, ctx: &AgentContext, m: Vec<u8>) -> Result<Result<(), String>, AgentError> {
        let now = ctx.clock.now();
        if let Some((role, origin)) = transport_of(&m) {
            if role == "iamalive" {
                let reply = transport("iamalive", &origin, &self.ivorn, now);
                return Ok(self.answer(reply).await);
            }
            // Acks and naks of what we never sent, or unknown roles: nothing to do.
            tracing::debug!("{ALERTS}: {}: a Transport message of role {role:?}", self.broker);
            return Ok(Ok(()));
        }
        let spooled = self.spool_write(&m, now)?;
        let receipt = self.desk.receive(ctx, &m, &self.source(), now, None).await?;
        if let Some(path) = spooled {
            std::fs::remove_file(&path)
                .map_err(|source| AgentError::Io { what: path.display().to_string(), source })?;
        }
        let ivorn = ctx.db.alert(receipt.alert).await?.and_then(|a| a.ivorn).unwrap_or_default();
        let role = if receipt.outcome == Outcome::Refused { "nak" } else { "ack" };
        Ok(self.answer(transport(role, &ivorn, &self.ivorn, ctx.clock.now())).await)
    }
}

#[async_trait]
impl Agent for VtpIntake {
    fn name(&self) -> &str {
        &self.name
    }

    fn period(&self) -> Duration {
        // The step waits for messages itself; between steps, no wait.
        Duration::from_millis(1)
    }

    async fn step(&mut self, ctx: &AgentContext) -> Result<(), AgentError> {
        if !self.swept {
            self.sweep(ctx).await?;
            self.swept = true;
        }
        let now = ctx.clock.now();
        if self.conn.is_none() {
            if let Some(at) = self.retry_at
                && now < at
            {
                ctx.clock.sleep((at - now).to_std().unwrap_or_default().min(STEP)).await;
                return Ok(());
            }
            if let Err(why) = self.connect().await {
                self.lost(ctx, format!("cannot connect: {why}")).await;
                return Ok(());
            }
            ctx.log(ALERTS, LogLevel::Info, format!("{}: subscribed", self.broker)).await;
            self.failing = None;
        }
        let Some(conn) = self.conn.as_mut() else { return Ok(()) };
        let got = tokio::select! {
            biased;
            m = conn.incoming.recv() => m,
            () = tokio::time::sleep(STEP) => {
                let silent = conn.last_heard.elapsed();
                if silent > SILENCE {
                    let why = format!("silent for {} s", silent.as_secs());
                    self.lost(ctx, why).await;
                }
                return Ok(());
            }
        };
        conn.last_heard = tokio::time::Instant::now();
        match got {
            Some(Incoming::Message(m)) => match self.handle(ctx, m).await? {
                Ok(()) => {
                    self.delay = FIRST_RETRY;
                }
                Err(why) => self.lost(ctx, why).await,
            },
            Some(Incoming::TooLong(n)) => {
                let why = format!(
                    "a message of {n} bytes announced, more than {MAX_VTP_FRAME}: the stream cannot be followed"
                );
                let source = format!("vtp:{}", self.broker);
                self.desk.refuse(ctx, &source, ctx.clock.now(), format!("VTP: {why}"), &[]).await?;
                self.lost(ctx, why).await;
            }
            Some(Incoming::Cut { got, want }) => {
                let why = format!("the connection ended {got} bytes into a message of {want}");
                let source = format!("vtp:{}", self.broker);
                self.desk.refuse(ctx, &source, ctx.clock.now(), format!("VTP: {why}"), &[]).await?;
                self.lost(ctx, why).await;
            }
            Some(Incoming::Closed(why)) => self.lost(ctx, why).await,
            None => self.lost(ctx, "the connection's reader stopped".to_owned()).await,
        }
        Ok(())
    }
}
