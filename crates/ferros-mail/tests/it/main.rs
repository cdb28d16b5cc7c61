//! Mail through a real SMTP server: PyPI's aiosmtpd, started here, keeping
//! what it receives in a maildir. Gated by `FERROS_TEST_AIOSMTPD` (the
//! Python to run it with), which `.ci/run` sets.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use ferros_mail::{Delivery, Mail, Mailer};

/// What the real processes may take, at most.
const LIMIT: Duration = Duration::from_secs(60);

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
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _server = Server(
        Command::new(python)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&maildir)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < LIMIT, "aiosmtpd did not listen within a minute");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
    let start = Instant::now();
    let got = loop {
        let got = received(&maildir);
        if !got.is_empty() {
            break got;
        }
        assert!(start.elapsed() < LIMIT, "nothing received within a minute");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert!(m.contains("Subject: Ferros: new account alice to activate"), "{m}");
    assert!(
        m.contains("To: pi@observatory.example") && m.contains("From: ferros@observatory.example"),
        "{m}"
    );
    assert!(m.contains("/activate/"), "{m}");
    assert!(!dir.path().join("outbox").exists(), "nothing left in the outbox");
}
