//! Mail to users (accounts, programs). With `mail.smtp_host` set, each
//! mail goes to that SMTP relay (plain SMTP, within `mail.timeout_s`); a
//! mail the relay does not take, or every mail without a relay, is written
//! into the outbox folder as a whole RFC 5322 message (`*.eml`, written
//! aside and renamed, so a file there is always complete). Nothing is lost:
//! what is not sent is in the outbox, and the log says so.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, Message, Tokio1Executor};

/// Characters of a subject at most.
pub const MAX_SUBJECT: usize = 200;
/// Bytes of a body at most.
pub const MAX_BODY: usize = 64 << 10;

/// A mail to one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Where a mail went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Smtp,
    /// Written into the outbox (no relay configured, or the relay failed).
    Outbox(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("\"{0}\" is not an e-mail address")]
    Address(String),
    #[error("the mail is too large or its subject has line breaks")]
    Shape,
    #[error("cannot build the mail: {0}")]
    Build(String),
    #[error("cannot write the mail into {path}: {source}")]
    Outbox {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Sends Ferros's mails.
#[derive(Debug)]
pub struct Mailer {
    from: Mailbox,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    relay: String,
    outbox: PathBuf,
    written: AtomicU64,
}

impl Mailer {
    /// From the `[mail]` settings; the outbox under `data_dir`.
    pub fn new(settings: &ferros_config::Mail, data_dir: &Path) -> Result<Self, MailError> {
        let from: Mailbox = settings.from.parse().map_err(|_| MailError::Address(settings.from.clone()))?;
        let smtp = (!settings.smtp_host.is_empty()).then(|| {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.smtp_host.as_str())
                .port(settings.smtp_port)
                .timeout(Some(Duration::from_secs_f64(settings.timeout_s)))
                .build()
        });
        Ok(Self {
            from,
            smtp,
            relay: format!("{}:{}", settings.smtp_host, settings.smtp_port),
            outbox: settings.outbox_dir(data_dir),
            written: AtomicU64::new(0),
        })
    }

    /// Mails only into `outbox` (tests, tools).
    pub fn outbox_only(from: &str, outbox: PathBuf) -> Result<Self, MailError> {
        let from: Mailbox = from.parse().map_err(|_| MailError::Address(from.to_owned()))?;
        Ok(Self { from, smtp: None, relay: String::new(), outbox, written: AtomicU64::new(0) })
    }

    pub fn outbox(&self) -> &Path {
        &self.outbox
    }

    /// Sends `mail`, dated `now`: to the relay, else (or when the relay
    /// fails) into the outbox.
    pub async fn send(&self, mail: &Mail, now: DateTime<Utc>) -> Result<Delivery, MailError> {
        let to: Mailbox = mail.to.parse().map_err(|_| MailError::Address(mail.to.clone()))?;
        if mail.subject.chars().count() > MAX_SUBJECT
            || mail.subject.contains(['\r', '\n'])
            || mail.body.len() > MAX_BODY
        {
            return Err(MailError::Shape);
        }
        // 7-bit text, or quoted-printable for long lines and non-ASCII text.
        let body = Body::new(mail.body.clone());
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.as_str())
            .date(now.into())
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| MailError::Build(e.to_string()))?;
        if let Some(smtp) = &self.smtp {
            match smtp.send(message.clone()).await {
                Ok(_) => return Ok(Delivery::Smtp),
                Err(e) => tracing::warn!(
                    "the mail relay {} did not take the mail to {}: {e}; it is kept in {}",
                    self.relay,
                    mail.to,
                    self.outbox.display()
                ),
            }
        }
        self.write(&message.formatted(), &mail.to, now).await.map(Delivery::Outbox)
    }

    async fn write(&self, bytes: &[u8], to: &str, now: DateTime<Utc>) -> Result<PathBuf, MailError> {
        let err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| MailError::Outbox { path, source }
        };
        tokio::fs::create_dir_all(&self.outbox).await.map_err(err(&self.outbox))?;
        let n = self.written.fetch_add(1, Ordering::Relaxed);
        let who: String = to
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '@' | '-' | '_'))
            .take(64)
            .collect();
        let name = format!("{}-{}-{n}-{who}.eml", now.format("%Y%m%dT%H%M%S%.3f"), std::process::id());
        let path = self.outbox.join(&name);
        let tmp = self.outbox.join(format!(".{name}.tmp"));
        tokio::fs::write(&tmp, bytes).await.map_err(err(&tmp))?;
        tokio::fs::rename(&tmp, &path).await.map_err(err(&path))?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn mails_go_to_the_outbox_whole_and_bad_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let m = Mailer::outbox_only("ferros@example.org", dir.path().join("outbox")).unwrap();
        let mail =
            Mail {
                to: "alice@example.org".into(), subject: "Ferros: é".into(), body: "Hello\nthere".into()
            };
        let now = DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z").unwrap().with_timezone(&Utc);
        let Delivery::Outbox(path) = m.send(&mail, now).await.unwrap() else { panic!("no relay") };
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("To: alice@example.org") && text.contains("Hello"), "{text}");
        assert!(text.contains("Date: Sun, 06 Dec 2026 10:00:00"), "{text}");
        let files: Vec<_> = std::fs::read_dir(dir.path().join("outbox")).unwrap().collect();
        assert_eq!(files.len(), 1, "no temporary file left");
        let bad = Mail { to: "not an address".into(), ..mail.clone() };
        assert!(matches!(m.send(&bad, now).await, Err(MailError::Address(_))));
        let bad = Mail { subject: "a\r\nBcc: x@y".into(), ..mail.clone() };
        assert!(matches!(m.send(&bad, now).await, Err(MailError::Shape)));
        assert!(Mailer::outbox_only("nobody", dir.path().into()).is_err());
    }

    #[tokio::test]
    async fn a_relay_that_does_not_answer_leaves_the_mail_in_the_outbox() {
        let dir = tempfile::tempdir().unwrap();
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let settings = ferros_config::Mail {
            smtp_host: "127.0.0.1".into(),
            smtp_port: port,
            outbox: dir.path().join("out"),
            ..Default::default()
        };
        let m = Mailer::new(&settings, dir.path()).unwrap();
        let mail = Mail { to: "bob@example.org".into(), subject: "s".into(), body: "b".into() };
        let d = m.send(&mail, Utc::now()).await.unwrap();
        assert!(matches!(d, Delivery::Outbox(p) if p.starts_with(dir.path().join("out"))));
    }
}
