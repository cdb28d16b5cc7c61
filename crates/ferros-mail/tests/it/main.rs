//! Mail through a real SMTP server: PyPI's aiosmtpd, started here, keeping
//! what it receives in a maildir. Gated by `FERROS_TEST_AIOSMTPD` (the
//! Python to run it with), which `.ci/run` sets. Nothing is waited for by
//! time: aiosmtpd's `Controller.start()` returns once the server answers
//! (then "ready" is printed), and its `Mailbox` handler stores a message
//! before it answers 250, so a mail sent is a mail in the maildir.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

use chrono::Utc;
use ferros_mail::{Delivery, Mail, Mailer};

/// aiosmtpd on a free port, writing into MAILDIR; prints "ready PORT" once it answers.
const SERVER: &str = "import socket, sys
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
s = socket.socket()
s.bind(('127.0.0.1', 0))
port = s.getsockname()[1]
s.close()
c = Controller(Mailbox(sys.argv[1]), hostname='127.0.0.1', port=port)
c.start()
print('ready', port, flush=True)
sys.stdin.read()
c.stop()
";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The messages the maildir holds (new ones).
fn received(maildir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else { return Vec::new() };
    entries.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()).collect()
}

#[tokio::test]
async fn mail_reaches_a_real_smtp_server() {
    let Ok(python) = std::env::var("FERROS_TEST_AIOSMTPD") else {
        eprintln!("FERROS_TEST_AIOSMTPD is not set: the SMTP test is skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    let mut server = Server(
        Command::new(python)
            .args(["-c", SERVER])
            .arg(&maildir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufReader::new(server.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line
        .strip_prefix("ready ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("aiosmtpd did not start: {line:?}"));
    let settings = ferros_config::Mail {
        smtp_host: "127.0.0.1".into(),
        smtp_port: port,
        from: "ferros@observatory.example".into(),
        ..Default::default()
    };
    let mailer = Mailer::new(&settings, dir.path()).unwrap();
    let mail = Mail {
        to: "pi@observatory.example".into(),
        subject: "Ferros: new account alice to activate".into(),
        body: format!("Activate it at\n  http://ferros.example/activate/{}\n", "x".repeat(43)),
    };
    assert_eq!(mailer.send(&mail, Utc::now()).await.unwrap(), Delivery::Smtp);
    let got = received(&maildir);
    assert_eq!(got.len(), 1, "the relay answered 250: the mail is stored");
    let m = &got[0];
    assert!(m.contains("Subject: Ferros: new account alice to activate"), "{m}");
    assert!(
        m.contains("To: pi@observatory.example") && m.contains("From: ferros@observatory.example"),
        "{m}"
    );
    assert!(m.contains("/activate/"), "{m}");
    assert!(!dir.path().join("outbox").exists(), "nothing left in the outbox");
}
