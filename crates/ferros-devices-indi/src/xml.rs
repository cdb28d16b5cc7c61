//! Reading the INDI stream: top-level elements one after the other (no root),
//! turned into [`Message`]s. Anything that is not well-formed INDI XML is an
//! error naming the element and what is wrong with it.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use base64::Engine as _;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use tokio::io::{AsyncBufRead, AsyncRead};

/// What is wrong in the stream: where (the element) and what.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum XmlError {
    #[error("connection lost in the middle of <{tag}>: {why}")]
    LostIn { tag: String, why: String },
    #[error("connection lost: {0}")]
    Lost(String),
    #[error("malformed XML at byte {at}: {why}")]
    Malformed { at: u64, why: String },
    #[error("connection closed in the middle of <{0}>")]
    ClosedIn(String),
    #[error("text outside any element: \"{0}\"")]
    StrayText(String),
    #[error("unknown entity &{0};")]
    Entity(String),
    #[error("a closing tag without its opening")]
    StrayClose,
    #[error("<{child}> inside <{open}> in <{top}>")]
    Nested { child: String, open: String, top: String },
    #[error("unbalanced tags in <{0}>")]
    Unbalanced(String),
    #[error("<{tag}> without {attr}=")]
    MissingAttribute { tag: String, attr: String },
    /// A vector (`<setNumberVector device="T" name="EQ">`) with a bad state
    /// or element (`element`, if it is one of its elements).
    #[error("{at}: {}{what}", element.as_ref().map(|e| format!("{e}: ")).unwrap_or_default())]
    Vector { at: String, element: Option<String>, what: ValueError },
}

/// A value that is not what its kind says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("\"{0}\" is not a number")]
    NotANumber(String),
    #[error("state \"{0}\" is not Idle, Ok, Busy or Alert")]
    State(String),
    #[error("switch value \"{0}\" is not On or Off")]
    Switch(String),
    #[error("BLOB is not base64: {0}")]
    Base64(String),
    #[error("BLOB of {have} bytes, announced {announced}")]
    BlobSize { have: usize, announced: usize },
}

/// A property's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropState {
    Idle,
    Ok,
    Busy,
    Alert,
}

impl PropState {
    fn parse(s: &str) -> Result<Self, ValueError> {
        match s {
            "Idle" => Ok(PropState::Idle),
            "Ok" => Ok(PropState::Ok),
            "Busy" => Ok(PropState::Busy),
            "Alert" => Ok(PropState::Alert),
            other => Err(ValueError::State(other.to_owned())),
        }
    }
}

/// The kind of a property vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Number,
    Text,
    Switch,
    Light,
    Blob,
}

impl Kind {
    fn of(tag: &str) -> Option<Kind> {
        Some(match tag {
            "Number" => Kind::Number,
            "Text" => Kind::Text,
            "Switch" => Kind::Switch,
            "Light" => Kind::Light,
            "BLOB" => Kind::Blob,
            _ => return None,
        })
    }

    pub fn tag(self) -> &'static str {
        match self {
            Kind::Number => "Number",
            Kind::Text => "Text",
            Kind::Switch => "Switch",
            Kind::Light => "Light",
            Kind::Blob => "BLOB",
        }
    }
}

/// One element's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Text(String),
    Switch(bool),
    Light(PropState),
    Blob { format: String, data: Vec<u8> },
}

/// A message from the server.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// `def*Vector` (defines) or `set*Vector` (updates).
    Vector {
        define: bool,
        kind: Kind,
        device: String,
        name: String,
        state: Option<PropState>,
        message: Option<String>,
        elements: BTreeMap<String, Value>,
    },
    Delete {
        device: String,
        name: Option<String>,
    },
    Note {
        device: Option<String>,
        message: String,
    },
    /// Something Ferros does not use (`new*Vector` echoes, pings...).
    Other(String),
}

/// Reads messages off a stream.
#[derive(Debug)]
pub struct MessageReader<R> {
    reader: Reader<Capped<R>>,
    buf: Vec<u8>,
    /// Bytes taken off the stream, and where the message being read began.
    taken: Arc<AtomicU64>,
    mark: Arc<AtomicU64>,
}

/// The longest message a server may send, bytes: a few times the largest
/// image expected as a BLOB (a 16-bit 4096 x 4096 frame is 45 MB in base64).
pub const MAX_MESSAGE: u64 = ferros_limits::MAX_INDI_MESSAGE;

/// A stream that fails once a message has taken more than `limit` bytes off
/// it: an endless element cannot grow the reader's buffer without bound.
#[derive(Debug)]
struct Capped<R> {
    inner: R,
    limit: u64,
    taken: Arc<AtomicU64>,
    mark: Arc<AtomicU64>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Capped<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<R: AsyncBufRead + Unpin> AsyncBufRead for Capped<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<&[u8]>> {
        let this = self.get_mut();
        let taken = this.taken.load(Ordering::Relaxed) - this.mark.load(Ordering::Relaxed);
        if taken > this.limit {
            let too_long = format!("a message of more than {} bytes", this.limit);
            return Poll::Ready(Err(std::io::Error::new(std::io::ErrorKind::InvalidData, too_long)));
        }
        Pin::new(&mut this.inner).poll_fill_buf(cx)
    }

    fn consume(mut self: Pin<&mut Self>, amt: usize) {
        self.taken.fetch_add(amt as u64, Ordering::Relaxed);
        Pin::new(&mut self.inner).consume(amt);
    }
}

impl<R: AsyncBufRead + Unpin> MessageReader<R> {
    pub fn new(inner: R) -> Self {
        Self::with_limit(inner, MAX_MESSAGE)
    }

    /// A reader whose messages may be at most `limit` bytes long.
    pub fn with_limit(inner: R, limit: u64) -> Self {
        let (taken, mark) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let capped = Capped { inner, limit, taken: taken.clone(), mark: mark.clone() };
        let mut reader = Reader::from_reader(capped);
        reader.config_mut().trim_text(true);
        Self { reader, buf: Vec::new(), taken, mark }
    }

    /// The next message; `Ok(None)` when the peer closed the stream between
    /// messages. A message longer than the limit is an error: the stream is
    /// then to be dropped.
    pub async fn next(&mut self) -> Result<Option<Message>, XmlError> {
        self.mark.store(self.taken.load(Ordering::Relaxed), Ordering::Relaxed);
        let mut top: Option<Top> = None;
        loop {
            self.buf.clear();
            let at = self.reader.buffer_position();
            let malformed = |e: &dyn std::fmt::Display| XmlError::Malformed { at, why: e.to_string() };
            let event = match self.reader.read_event_into_async(&mut self.buf).await {
                Ok(e) => e,
                Err(quick_xml::Error::Io(e)) => {
                    return Err(match &top {
                        Some(t) => XmlError::LostIn { tag: t.tag.clone(), why: e.to_string() },
                        None => XmlError::Lost(e.to_string()),
                    });
                }
                Err(e) => {
                    return Err(XmlError::Malformed {
                        at: self.reader.buffer_position(),
                        why: e.to_string(),
                    });
                }
            };
            match event {
                Event::Eof => {
                    return match top {
                        None => Ok(None),
                        Some(t) => Err(XmlError::ClosedIn(t.tag)),
                    };
                }
                Event::Start(e) => match &mut top {
                    None => top = Some(Top::open(&e)?),
                    Some(t) => t.child_start(&e)?,
                },
                Event::Empty(e) => match &mut top {
                    None => return Top::open(&e)?.finish().map(Some),
                    Some(t) => {
                        t.child_start(&e)?;
                        t.child_end()?;
                    }
                },
                Event::Text(e) => {
                    let text = e.xml_content().map_err(|e| malformed(&e))?;
                    match &mut top {
                        Some(t) => t.text(&text),
                        None => {
                            let shown: String = text.chars().take(40).collect();
                            return Err(XmlError::StrayText(shown));
                        }
                    }
                }
                Event::GeneralRef(r) => {
                    let c = match r.resolve_char_ref().map_err(|e| malformed(&e))? {
                        Some(c) => c.to_string(),
                        None => match r.decode().map_err(|e| malformed(&e))?.as_ref() {
                            "amp" => "&".into(),
                            "lt" => "<".into(),
                            "gt" => ">".into(),
                            "quot" => "\"".into(),
                            "apos" => "'".into(),
                            other => return Err(XmlError::Entity(other.to_owned())),
                        },
                    };
                    if let Some(t) = &mut top {
                        t.text(&c);
                    }
                }
                Event::End(_) => match &mut top {
                    Some(t) if t.child.is_some() => t.child_end()?,
                    Some(_) => return top.take().map(Top::finish).transpose(),
                    None => return Err(XmlError::StrayClose),
                },
                // Declarations, comments, processing instructions: nothing to read.
                _ => {}
            }
        }
    }
}

fn attributes(e: &BytesStart<'_>) -> Result<BTreeMap<String, String>, XmlError> {
    let tag = || String::from_utf8_lossy(e.name().as_ref()).into_owned();
    let bad = |why: String| XmlError::Malformed { at: 0, why: format!("in <{}>: {why}", tag()) };
    let mut out = BTreeMap::new();
    for a in e.attributes() {
        let a = a.map_err(|e| bad(e.to_string()))?;
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let value = a.unescape_value().map_err(|e| bad(e.to_string()))?.into_owned();
        out.insert(key, value);
    }
    Ok(out)
}

/// A top-level element being read.
#[derive(Debug)]
struct Top {
    tag: String,
    attrs: BTreeMap<String, String>,
    /// (tag, attributes, text) of the child element open now.
    child: Option<(String, BTreeMap<String, String>, String)>,
    children: Vec<(String, BTreeMap<String, String>, String)>,
}

impl Top {
    fn open(e: &BytesStart<'_>) -> Result<Top, XmlError> {
        let tag = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        Ok(Top { attrs: attributes(e)?, tag, child: None, children: Vec::new() })
    }

    fn child_start(&mut self, e: &BytesStart<'_>) -> Result<(), XmlError> {
        let tag = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        if let Some((open, _, _)) = &self.child {
            return Err(XmlError::Nested { child: tag, open: open.clone(), top: self.tag.clone() });
        }
        self.child = Some((tag, attributes(e)?, String::new()));
        Ok(())
    }

    fn child_end(&mut self) -> Result<(), XmlError> {
        let child = self.child.take().ok_or_else(|| XmlError::Unbalanced(self.tag.clone()))?;
        self.children.push(child);
        Ok(())
    }

    fn text(&mut self, t: &str) {
        if let Some((_, _, text)) = &mut self.child {
            text.push_str(t);
        }
    }

    fn attr(&self, k: &str) -> Result<String, XmlError> {
        self.attrs
            .get(k)
            .cloned()
            .ok_or_else(|| XmlError::MissingAttribute { tag: self.tag.clone(), attr: k.to_owned() })
    }

    fn finish(self) -> Result<Message, XmlError> {
        let tag = self.tag.as_str();
        if tag == "delProperty" {
            return Ok(Message::Delete {
                device: self.attr("device")?,
                name: self.attrs.get("name").cloned(),
            });
        }
        if tag == "message" {
            return Ok(Message::Note {
                device: self.attrs.get("device").cloned(),
                message: self.attrs.get("message").cloned().unwrap_or_default(),
            });
        }
        let (define, rest) = if let Some(r) = tag.strip_prefix("def") {
            (true, r)
        } else if let Some(r) = tag.strip_prefix("set") {
            (false, r)
        } else {
            return Ok(Message::Other(self.tag));
        };
        let Some(kind) = rest.strip_suffix("Vector").and_then(Kind::of) else {
            return Ok(Message::Other(self.tag));
        };
        let device = self.attr("device")?;
        let name = self.attr("name")?;
        let at = format!("<{tag} device=\"{device}\" name=\"{name}\">");
        let state = self
            .attrs
            .get("state")
            .map(|s| PropState::parse(s))
            .transpose()
            .map_err(|what| XmlError::Vector { at: at.clone(), element: None, what })?;
        let mut elements = BTreeMap::new();
        for (ctag, cattrs, text) in self.children {
            let ename = cattrs
                .get("name")
                .cloned()
                .ok_or_else(|| XmlError::MissingAttribute { tag: ctag.clone(), attr: "name".into() })?;
            let value = element(kind, &cattrs, &text).map_err(|what| XmlError::Vector {
                at: at.clone(),
                element: Some(ename.clone()),
                what,
            })?;
            elements.insert(ename, value);
        }
        Ok(Message::Vector {
            define,
            kind,
            device,
            name,
            state,
            message: self.attrs.get("message").cloned(),
            elements,
        })
    }
}

fn element(kind: Kind, attrs: &BTreeMap<String, String>, text: &str) -> Result<Value, ValueError> {
    let text = text.trim();
    Ok(match kind {
        Kind::Number => Value::Number(number(text)?),
        Kind::Text => Value::Text(text.to_owned()),
        Kind::Switch => Value::Switch(match text {
            "On" => true,
            "Off" => false,
            other => return Err(ValueError::Switch(other.to_owned())),
        }),
        Kind::Light => Value::Light(PropState::parse(text)?),
        Kind::Blob => {
            let format = attrs.get("format").cloned().unwrap_or_default();
            let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let data = base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .map_err(|e| ValueError::Base64(e.to_string()))?;
            if let Some(size) = attrs.get("size").and_then(|s| s.parse::<usize>().ok())
                && size != data.len()
                && !format.ends_with(".z")
            {
                return Err(ValueError::BlobSize { have: data.len(), announced: size });
            }
            Value::Blob { format, data }
        }
    })
}

/// An INDI number: decimal, or sexagesimal (`-12:30:15.5`, `12 30`).
pub fn number(s: &str) -> Result<f64, ValueError> {
    let bad = || ValueError::NotANumber(s.chars().take(40).collect());
    if let Ok(v) = s.parse::<f64>() {
        return if v.is_finite() { Ok(v) } else { Err(bad()) };
    }
    let negative = s.starts_with('-');
    let parts: Vec<&str> =
        s.trim_start_matches(['-', '+']).split([':', ' ']).filter(|p| !p.is_empty()).collect();
    if parts.is_empty() || parts.len() > 3 {
        return Err(bad());
    }
    let mut value = 0.0;
    for (i, p) in parts.iter().enumerate() {
        let v: f64 = p.parse().map_err(|_| bad())?;
        if !v.is_finite() || v < 0.0 {
            return Err(bad());
        }
        value += v / 60f64.powi(i as i32);
    }
    Ok(if negative { -value } else { value })
}

/// Escapes text for an attribute or element.
pub fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}
