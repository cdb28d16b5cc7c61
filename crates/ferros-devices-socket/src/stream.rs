//! Reading whole JSON values off a byte stream, whatever the framing.

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Messages larger than this are refused.
pub const MAX_MESSAGE: usize = ferros_limits::MAX_SOCKET_MESSAGE;

#[derive(Debug)]
pub struct JsonReader {
    buf: Vec<u8>,
    limit: usize,
}

impl Default for JsonReader {
    fn default() -> Self {
        Self::with_limit(MAX_MESSAGE)
    }
}

#[derive(Debug, PartialEq)]
pub enum ReadError {
    /// The peer closed the connection (`partial`: in the middle of a message).
    Closed {
        partial: bool,
    },
    /// Bytes that are not JSON.
    Garbage(String),
    TooLarge(usize),
    Io(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Closed { partial: true } => {
                f.write_str("connection closed in the middle of a message")
            }
            ReadError::Closed { partial: false } => f.write_str("connection closed"),
            ReadError::Garbage(e) => write!(f, "unreadable answer: {e}"),
            ReadError::TooLarge(n) => write!(f, "message larger than {n} bytes"),
            ReadError::Io(e) => f.write_str(e),
        }
    }
}

impl JsonReader {
    /// A reader refusing messages longer than `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        Self { buf: Vec::new(), limit }
    }

    /// The next JSON value of the stream.
    pub async fn next(&mut self, r: &mut (impl AsyncRead + Unpin)) -> Result<Value, ReadError> {
        // What is left of the last read may already hold a whole value.
        let mut may_end = true;
        let mut chunk = vec![0u8; 65536];
        loop {
            if may_end && let Some(v) = self.take()? {
                return Ok(v);
            }
            if self.buf.len() > self.limit {
                return Err(ReadError::TooLarge(self.limit));
            }
            let n = r.read(&mut chunk).await.map_err(|e| ReadError::Io(e.to_string()))?;
            if n == 0 {
                let partial = self.buf.iter().any(|b| !b.is_ascii_whitespace());
                return Err(ReadError::Closed { partial });
            }
            // A value can only end with a read holding one of these: parsing
            // again on every piece of a long image would take quadratic time.
            may_end = chunk[..n].iter().any(|b| matches!(b, b'}' | b']' | b'\n' | b'"'));
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn take(&mut self) -> Result<Option<Value>, ReadError> {
        let start = self.buf.iter().position(|b| !b.is_ascii_whitespace());
        let Some(start) = start else {
            self.buf.clear();
            return Ok(None);
        };
        let mut it = serde_json::Deserializer::from_slice(&self.buf[start..]).into_iter::<Value>();
        match it.next() {
            Some(Ok(v)) => {
                let used = start + it.byte_offset();
                self.buf.drain(..used);
                Ok(Some(v))
            }
            Some(Err(e)) if e.is_eof() => Ok(None),
            Some(Err(e)) => {
                self.buf.clear();
                Err(ReadError::Garbage(e.to_string()))
            }
            None => Ok(None),
        }
    }
}
