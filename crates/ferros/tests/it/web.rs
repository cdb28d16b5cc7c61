//! The web server of `ferros start` from outside, with real clients:
//!
//! - the dashboard in headless Chromium (`tests/browser/walk.cjs` through npm
//!   playwright-core): the administrator creates an operator and an observer,
//!   the observer uploads and submits a request and sees it planned, the
//!   operator locks and unlocks, a visitor is refused. Gated by
//!   `FERROS_TEST_BROWSER` (the folder whose `node_modules` holds
//!   playwright-core); the screenshots are kept in `FERROS_TEST_ARTEFACTS`
//!   (default `target/browser-artefacts`);
//! - the API against its own OpenAPI document with PyPI schemathesis: no
//!   generated input gets a 5xx. Gated by `FERROS_TEST_SCHEMATHESIS` (the
//!   schemathesis command).
//!
//! `.ci/run` sets both.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::{Ferros, Running, s};

/// Evening at San Pedro Martir in December, M31 high.
const EVENING: &str = "2026-12-02T03:00:00Z";

#[test]
fn the_dashboard_walk_in_a_browser() {
    let Ok(node_dir) = std::env::var("FERROS_TEST_BROWSER") else {
        eprintln!("FERROS_TEST_BROWSER is not set: the browser walk runs in .ci/run");
        return;
    };
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let artefacts = std::env::var("FERROS_TEST_ARTEFACTS")
        .map_or_else(|_| manifest.join("../../target/browser-artefacts"), PathBuf::from);
    std::fs::create_dir_all(&artefacts).unwrap();
    let f = Ferros::new();
    f.ok(&["program", "add", "AGN", "--quota-hours", "20"]);
    let mut r = Running::start(&f, EVENING, &[]);
    let admin = r.wait("Created the administrator account \"admin\" with password: ");
    let password = admin.rsplit(' ').next().unwrap().to_owned();
    let web = r.wait("  web        http://");
    let url = web.split_whitespace().nth(1).unwrap().to_owned();
    let request = manifest.join("../../examples/requests/routine_request_01.xml");
    let out = Command::new("node")
        .arg(manifest.join("tests/browser/walk.cjs"))
        .env("NODE_PATH", PathBuf::from(&node_dir).join("node_modules"))
        .env("FERROS_URL", &url)
        .env("FERROS_ADMIN_PASSWORD", &password)
        .env("FERROS_REQUEST_XML", s(&request))
        .env("FERROS_REQUEST_NAME", "M31 nucleus monitoring")
        .env("FERROS_ARTEFACTS", &artefacts)
        .output()
        .unwrap();
    r.kill("-INT");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "the browser walk failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("browser walk: passed"), "{stdout}");
    // The walk's actions are in the log the System page shows.
    let log = f.ok(&["user", "list", "--json"]);
    for name in ["olga", "oscar"] {
        assert!(log.contains(name), "{name} was not created: {log}");
    }
}

#[test]
fn the_api_answers_every_generated_input_without_a_server_error() {
    let Ok(schemathesis) = std::env::var("FERROS_TEST_SCHEMATHESIS") else {
        eprintln!("FERROS_TEST_SCHEMATHESIS is not set: the API property tests run in .ci/run");
        return;
    };
    let f = Ferros::new();
    f.ok(&["program", "add", "AGN", "--quota-hours", "20"]);
    // One account holding every profile, so that every route is reached
    // past its access check.
    let mut child = f
        .command(&[
            "user",
            "add",
            "fuzz",
            "--profile",
            "sysadmin,operator,superoperator,pi,observer,tac,IE/IS",
            "--program",
            "AGN",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"a long enough password\n").unwrap();
    assert!(child.wait().unwrap().success());
    let mut r = Running::start(&f, EVENING, &[]);
    let web = r.wait("  web        http://");
    let url = web.split_whitespace().nth(1).unwrap().trim_end_matches('/').to_owned();
    let login = Command::new("curl")
        .args(["-fsS", "-H", "content-type: application/json", "-d"])
        .arg(r#"{"username":"fuzz","password":"a long enough password"}"#)
        .arg(format!("{url}/api/v1/login"))
        .output()
        .unwrap();
    assert!(login.status.success(), "{}", String::from_utf8_lossy(&login.stderr));
    let token: serde_json::Value = serde_json::from_slice(&login.stdout).unwrap();
    let token = token["token"].as_str().unwrap().to_owned();
    let report = f.dir.path().join("schemathesis");
    let out = Command::new(&schemathesis)
        .args(["run", &format!("{url}/api/v1/openapi.json"), "--checks", "not_a_server_error"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        // Logging out would end the token the other operations use.
        .args(["--exclude-path", "/api/v1/logout", "--max-examples", "40", "--seed", "7", "--no-color"])
        .args(["--workers", "1", "--request-timeout", "30", "--report-dir"])
        .arg(&report)
        .output()
        .unwrap();
    r.kill("-INT");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "schemathesis found server errors:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
