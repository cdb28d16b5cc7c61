//! The `ferros` binary end to end: each command as a user runs it, on a fresh
//! data directory, with its output and exit status.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod alerts;
mod night;
mod pipeline;
mod web;

struct Ferros {
    dir: tempfile::TempDir,
    db: Option<String>,
}

impl Ferros {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap(), db: None }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ferros"));
        c.args(args).current_dir(self.dir.path()).env("FERROS_DATA_DIR", self.dir.path().join("var"));
        for var in ["FERROS_CONFIG", "FERROS_DATABASE_URL", "FERROS_BIND", "FERROS_TIME", "FERROS_SPEED"] {
            c.env_remove(var);
        }
        if let Some(url) = &self.db {
            c.env("FERROS_DATABASE_URL", url);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap()
    }

    /// Runs and expects success; returns standard output.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "ferros {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects success; returns standard output and standard error.
    fn ok_with_stderr(&self, args: &[&str]) -> (String, String) {
        let out = self.run(args);
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(out.status.success(), "ferros {args:?} failed:\n{err}");
        (String::from_utf8(out.stdout).unwrap(), err)
    }

    /// Runs and expects exit status `code`; returns standard error.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(code), "ferros {args:?}: {err}");
        err
    }

    /// Cameras that read out at once (`ferros.toml`), as the seeds' example
    /// assumes, and its filter an alias of the VIS wheel's "r".
    fn instant_cameras(&self) {
        std::fs::write(
            self.dir.path().join("ferros.toml"),
            "[executor]\nreadout_vis_s = 0\nreadout_nir_s = 0\n\
             [devices.filter_vis]\naliases = { \"First infrared filter\" = \"r\" }\n",
        )
        .unwrap();
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    fn setup(&self) {
        for (name, quota) in
            [("GRB", "50"), ("AGN", "20"), ("SNe", "20"), ("EXOPLANETS", "30"), ("CALIB", "10")]
        {
            self.ok(&["program", "add", name, "--quota-hours", quota]);
        }
        self.ok(&[
            "user",
            "add",
            "alice",
            "--profile",
            "observer",
            "--program",
            "GRB,AGN,SNe,EXOPLANETS,CALIB",
        ]);
        // Alert requests are a superoperator's (or the alert manager's).
        self.ok(&["user", "add", "sam", "--profile", "superoperator", "--program", "GRB"]);
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn request_count(&self) -> usize {
        self.json(&["request", "list", "--json"]).as_array().unwrap().len()
    }
}

fn samples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/requests");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

/// The seeds' own example request (it budgets no readout: kept apart).
fn seed_example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/seeds/seed_example.xml")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Imports every sample, exports each, imports the export, and compares.
fn import_export_round_trip(f: &Ferros) {
    for path in samples() {
        let alert = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("alert"));
        let user = if alert { "sam" } else { "alice" };
        let first = f.json(&["request", "import", s(&path), "--user", user, "--json"]);
        let id = first["request_id"].as_i64().unwrap().to_string();
        assert!(!first["sequences"].as_array().unwrap().is_empty());
        let xml = f.ok(&["request", "export", &id]);
        let copy = f.write("exported.xml", &xml);
        let second = f.json(&["request", "import", s(&copy), "--user", user, "--json"]);
        let id2 = second["request_id"].as_i64().unwrap().to_string();
        let mut a = f.json(&["request", "show", &id, "--json"]);
        let mut b = f.json(&["request", "show", &id2, "--json"]);
        for v in [&mut a, &mut b] {
            strip_ids(v);
        }
        assert_eq!(a, b, "{} does not survive export and import", path.display());
    }
}

/// Removes what differs between two stored copies: ids, statuses, times of creation.
fn strip_ids(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for key in ["id", "request_id", "created_at", "status"] {
                map.remove(key);
            }
            map.values_mut().for_each(strip_ids);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_ids),
        _ => {}
    }
}

#[test]
fn every_sample_imports_and_round_trips_through_export() {
    let f = Ferros::new();
    f.setup();
    import_export_round_trip(&f);
    assert_eq!(f.request_count(), 2 * samples().len());
}

#[test]
fn postgres_backend_runs_the_same_commands() {
    let Ok(base) = std::env::var("FERROS_TEST_POSTGRES_URL") else {
        eprintln!("FERROS_TEST_POSTGRES_URL is not set: the PostgreSQL run is skipped");
        return;
    };
    let schema = format!("ferros_cli_{}", std::process::id());
    let psql = |sql: &str| {
        let out = Command::new("psql").args([base.as_str(), "-qAtc", sql]).output().expect("psql is needed");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"));
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut f = Ferros::new();
    f.db = Some(format!("{base}{sep}options=-c%20search_path%3D{schema}"));
    f.setup();
    import_export_round_trip(&f);
    let out = f.ok(&["program", "list"]);
    assert!(out.contains("EXOPLANETS"), "{out}");
    psql(&format!("DROP SCHEMA {schema} CASCADE"));
}

/// Twenty commands opening one new database at once: migrations take turns,
/// every command succeeds, and the database holds what each of them wrote.
#[test]
fn twenty_processes_open_a_new_database_at_once() {
    let f = Ferros::new();
    let children: Vec<_> = (0..20)
        .map(|i| {
            f.command(&["program", "add", &format!("P{i}"), "--quota-hours", "1"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "process {i}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let programs = f.json(&["program", "list", "--json"]);
    assert_eq!(programs.as_array().unwrap().len(), 20, "{programs}");
}

#[test]
fn the_seed_example_imports_submitted_with_a_warning() {
    let f = Ferros::new();
    f.setup();
    let path = seed_example();
    // Five images in 10 s: no time for the simulated VIS camera's 5 s readouts.
    let err = f.fails(&["request", "import", s(&path), "--user", "alice"], 2);
    assert!(err.contains("seed_example.xml:5:7: request/sequence[1]/album[1]/plan[1]: attribute duration: 10 s leaves no exposure time"), "{err}");
    // Nor is its filter on the simulated VIS wheel: the import says which are.
    std::fs::write(f.dir.path().join("ferros.toml"), "[executor]\nreadout_vis_s = 0\n").unwrap();
    let err = f.fails(&["request", "import", s(&path), "--user", "alice"], 2);
    assert!(err.contains("attribute filter: no filter \"First infrared filter\" on the wheel (it has g, r, i, z, y, B, V, R, I, Ha)"), "{err}");
    f.instant_cameras();
    let out = f.run(&["request", "import", s(&path), "--user", "alice"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stdout.contains("request 1 imported") && stdout.contains("1 TOBEPLANNED"), "{stdout}");
    assert!(stderr.contains("seed_example.xml:3:3: request/sequence[1]: target_coords=\"10\""), "{stderr}");
}

#[test]
fn submit_and_cancel_change_statuses() {
    let f = Ferros::new();
    f.setup();
    let path = samples().into_iter().find(|p| p.ends_with("routine_request_02.xml")).unwrap();
    f.ok(&["request", "import", s(&path), "--user", "alice"]);
    let list = f.json(&["request", "list", "--json"]);
    assert_eq!(list[0]["status"], "3 COMPLETE");
    assert_eq!(f.ok(&["request", "submit", "1"]).trim(), "request 1: 3 sequence(s) submitted (TOBEPLANNED)");
    let err = f.fails(&["request", "submit", "1"], 2);
    assert_eq!(err.trim(), "error: request 1 has no sequence left to submit");
    assert_eq!(f.ok(&["request", "cancel", "1"]).trim(), "request 1: 3 sequence(s) cancelled");
    let shown = f.json(&["request", "show", "1", "--json"]);
    assert!(shown["sequences"].as_array().unwrap().iter().all(|s| s["status"] == "CANCELLED"));
    let err = f.fails(&["request", "cancel", "1"], 2);
    assert_eq!(err.trim(), "error: request 1 has nothing left to cancel");
    for cmd in ["show", "export", "submit", "cancel"] {
        let err = f.fails(&["request", cmd, "42"], 2);
        assert_eq!(err.trim(), "error: request 42 does not exist", "{cmd}");
    }
}

#[test]
fn submit_flag_moves_sequences_to_tobeplanned() {
    let f = Ferros::new();
    f.setup();
    let path = samples().into_iter().find(|p| p.ends_with("routine_request_06.xml")).unwrap();
    f.ok(&["request", "import", s(&path), "--user", "alice", "--submit"]);
    let list = f.json(&["request", "list", "--json"]);
    assert_eq!(list[0]["status"], "2 TOBEPLANNED");
    assert_eq!(list[0]["state"], "PENDING");
}

#[test]
fn invalid_documents_report_every_problem_and_store_nothing() {
    let f = Ferros::new();
    f.setup();
    let bad = f.write(
        "bad.xml",
        r#"<request name="r" scientific_program="GRB">
  <sequence name="s" jd1="2461367.5" jd2="2461366.5" ra="361" dec="-95">
    <album name="a" detector="VIS"><plan name="p" filter="r" exposure="-3" nb_images="0" size="big"/></album>
  </sequence>
</request>"#,
    );
    // A document larger than a request may be is refused before it is read whole.
    let huge = f.write("huge.xml", &" ".repeat(4 * 1024 * 1024 + 1));
    let err = f.fails(&["request", "import", s(&huge), "--user", "alice"], 2);
    assert!(err.contains("huge.xml: more than the 4194304 bytes a request may have"), "{err}");
    let err = f.fails(&["request", "import", s(&bad), "--user", "alice"], 2);
    let lines: Vec<&str> = err.lines().collect();
    for expected in [
        "bad.xml:2:3: request/sequence[1]: ra = 361 is out of range",
        "bad.xml:2:3: request/sequence[1]: jd2 = 2461366.5 must be after jd1 = 2461367.5",
        "bad.xml:3:36: request/sequence[1]/album[1]/plan[1]: unknown attribute \"size\"",
        "bad.xml:3:36: request/sequence[1]/album[1]/plan[1]: attribute nb_images: 0 is out of range (expected 1..=10000)",
    ] {
        assert!(lines.iter().any(|l| l.contains(expected)), "missing {expected:?} in\n{err}");
    }
    assert!(lines.last().unwrap().ends_with("problem(s); nothing stored"), "{err}");
    // The limits are the observatory's to choose ([import]).
    std::fs::write(f.dir.path().join("ferros.toml"), "[import]\nmax_sequences = 1\n").unwrap();
    let three = samples().into_iter().find(|p| p.ends_with("routine_request_02.xml")).unwrap();
    let err = f.fails(&["request", "import", s(&three), "--user", "alice"], 2);
    assert!(
        err.contains("routine_request_02.xml:10:3: request: more than 1 <sequence> here: at most 1"),
        "{err}"
    );
    std::fs::remove_file(f.dir.path().join("ferros.toml")).unwrap();
    let cases = [
        ("malformed.xml", "<request name=\"x\"><sequence></request>", "malformed.xml:1:29: malformed XML"),
        ("empty.xml", "", "empty.xml:1:1: malformed XML"),
        (
            "types.xml",
            r#"<request name="r" scientific_program="GRB"><sequence name="s" jd1="soon" jd2="2461366.5" duration="1"/></request>"#,
            "attribute jd1: \"soon\" is not a number",
        ),
        (
            "negative.xml",
            r#"<request name="r" scientific_program="GRB"><sequence name="s" jd1="2461366.5" jd2="2461367.5" duration="-1"/></request>"#,
            "duration = -1 is out of range",
        ),
        (
            "program.xml",
            r#"<request name="r" scientific_program="NOPE"><sequence name="s" jd1="2461366.5" jd2="2461367.5"><album name="a" detector="VIS"><plan name="p" filter="r" exposure="1" nb_images="1"/></album></sequence></request>"#,
            "program.xml: request: scientific_program \"NOPE\" does not exist",
        ),
        (
            "incomplete.xml",
            r#"<request name="r" scientific_program="GRB" submitted="1"><sequence name="s" jd1="2461366.5" jd2="2461367.5" duration="60"/></request>"#,
            "incomplete.xml: request/sequence[1]: the sequence is INCOMPLETE",
        ),
    ];
    for (name, text, expected) in cases {
        let path = f.write(name, text);
        let err = f.fails(&["request", "import", s(&path), "--user", "alice"], 2);
        assert!(err.contains(expected), "{name}: expected {expected:?} in\n{err}");
    }
    let binary = f.dir.path().join("binary.xml");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x3c]).unwrap();
    let err = f.fails(&["request", "import", s(&binary), "--user", "alice"], 2);
    assert!(err.contains("binary.xml: not UTF-8 text"), "{err}");
    let err = f.fails(&["request", "import", "missing.xml", "--user", "alice"], 2);
    assert!(err.starts_with("error: missing.xml: cannot read: No such file"), "{err}");
    let good = samples().into_iter().find(|p| p.ends_with("routine_request_01.xml")).unwrap();
    let err = f.fails(&["request", "import", s(&good), "--user", "mallory"], 2);
    assert!(err.contains("user \"mallory\" does not exist"), "{err}");
    f.ok(&["user", "add", "olga", "--profile", "operator"]);
    let err = f.fails(&["request", "import", s(&good), "--user", "olga"], 2);
    assert!(err.contains("user \"olga\" may not submit requests to program \"AGN\""), "{err}");
    assert_eq!(f.request_count(), 0, "nothing may be stored after a failed import");
}

#[test]
fn programs_and_users_are_managed_and_checked() {
    let f = Ferros::new();
    let out = f.ok(&["program", "add", "GRB", "--grade", "A", "--quota-hours", "12.5", "--period", "2026B"]);
    // Quotas are shares of the period's night time at the site.
    let shown = out.trim();
    assert!(
        shown.starts_with("program 1 \"GRB\" created: period 2026B, priority 10, quota 12.50 h ("),
        "{shown}"
    );
    assert!(shown.ends_with(" % of 2026B)"), "{shown}");
    let out = f.ok(&["program", "add", "AGN", "--quota-percent", "40", "--period", "2026B"]);
    assert!(out.contains("(40.0 % of 2026B)"), "{out}");
    let e = f.fails(&["program", "add", "X", "--quota-percent", "60", "--period", "2026B"], 2);
    assert!(e.contains("the quotas of 2026B would total 100.") && e.contains("%) is left"), "{e}");
    // Without a quota: what is left of the period, said so.
    let (out, err) = f.ok_with_stderr(&["program", "add", "SNe", "--priority", "25", "--period", "2026B"]);
    assert!(out.contains("% of 2026B)"), "{out}");
    assert!(err.contains("no quota given: the program has all of 2026B not granted"), "{err}");
    let programs = f.json(&["program", "list", "--json"]);
    assert_eq!(programs[1]["name"], "GRB");
    assert_eq!(programs[1]["quota_hours"], 12.5);
    assert_eq!(programs[2]["priority"], 25);
    let total: f64 = programs.as_array().unwrap().iter().map(|p| p["quota_percent"].as_f64().unwrap()).sum();
    assert!((total - 100.0).abs() < 1e-6, "{total} %");
    assert_eq!(f.fails(&["program", "add", "GRB"], 2).trim(), "error: program \"GRB\" already exists");
    let e = f.fails(&["program", "add", "Y", "--period", "2026B"], 2);
    assert!(e.contains("no time is left in 2026B"), "{e}");
    // Edits: the same check; the PI named by user.
    let e = f.fails(&["program", "edit", "GRB", "--quota-percent", "50"], 2);
    assert!(e.contains("would total"), "{e}");
    assert!(f.fails(&["program", "edit", "GRB"], 2).contains("nothing to change"));
    assert!(
        f.fails(&["program", "edit", "GRB", "--pi", "nobody"], 2).contains("user \"nobody\" does not exist")
    );
    let out = f.ok(&["program", "edit", "SNe", "--quota-hours", "10", "--grade", "C"]);
    assert!(out.contains("priority 30, quota 10.00 h"), "{out}");
    let out = f.ok(&["program", "show", "SNe"]);
    assert!(out.contains("used   0.00 h, asked 0.00 h (submitted, not yet run), free 10.00 h"), "{out}");
    assert_eq!(f.json(&["program", "show", "SNe", "--json"])["free_hours"], 10.0);
    assert!(f.fails(&["program", "add", "X", "--priority", "500"], 2).contains("--priority"));
    assert!(f.fails(&["program", "add", "X", "--grade", "Z"], 2).contains("--grade"));
    assert!(f.fails(&["program", "add", "X", "--quota-hours", "-1"], 2).contains("--quota-hours"));
    assert!(f.fails(&["program", "add", "X", "--period", "2026C"], 2).contains("--period"));

    let out =
        f.ok(&["user", "add", "paula", "--profile", "pi,observer", "--program", "GRB", "--email", "p@x.org"]);
    assert!(out.contains("user 1 \"paula\" created (Observer, PI)"), "{out}");
    let password = out.lines().find_map(|l| l.strip_prefix("password: ")).unwrap();
    assert_eq!(password.len(), 20);
    let mut child = f
        .command(&["user", "add", "ivan", "--profile", "IE/IS", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"correct horse battery\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8(out.stdout).unwrap().contains("password:"));
    let users = f.json(&["user", "list", "--json"]);
    assert_eq!(users[1]["username"], "paula");
    assert_eq!(users[1]["profiles"], serde_json::json!(["observer", "pi"]));
    assert_eq!(users[1]["programs"], serde_json::json!(["GRB"]));
    assert_eq!(users[0]["profiles"], serde_json::json!(["engineer"]));
    assert_eq!(f.json(&["program", "list", "--json"])[1]["pi"], "paula");
    assert!(f.fails(&["user", "add", "paula", "--profile", "observer"], 2).contains("already exists"));
    assert!(f.fails(&["user", "add", "zed", "--profile", "wizard"], 2).contains("unknown value \"wizard\""));
    assert!(
        f.fails(&["user", "add", "zed", "--profile", "observer", "--program", "NOPE"], 2)
            .contains("program \"NOPE\" does not exist")
    );
    assert!(f.fails(&["user", "add", "bad name", "--profile", "observer"], 2).contains("username"));
    assert_eq!(f.json(&["user", "list", "--json"]).as_array().unwrap().len(), 2);
}

#[test]
fn bad_settings_and_unreachable_databases_fail_with_one_line() {
    let f = Ferros::new();
    let err = f.fails(&["program", "list", "--db", "postgres://ferros@127.0.0.1:1/none"], 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: cannot open database postgres://ferros@127.0.0.1:1/none"), "{err}");
    let err = f.fails(&["program", "list", "--db", "mysql://x"], 2);
    assert!(err.contains("unsupported database URL"), "{err}");
    let err = f.fails(&["program", "list", "--config", "nope.toml"], 2);
    assert_eq!(err.trim(), "error: config file nope.toml: not found");
    f.write("ferros.toml", "[site]\nlatitude = 123\n");
    let err = f.fails(&["program", "list"], 2);
    assert!(err.contains("site.latitude: 123 is outside -90..90"), "{err}");
    let err = f.fails(&["program", "list", "--config", "ferros.toml", "--time", "tomorrow"], 2);
    assert!(err.contains("site.latitude"), "{err}");
    std::fs::remove_file(f.dir.path().join("ferros.toml")).unwrap();
    let err = f.fails(&["program", "list", "--time", "tomorrow"], 2);
    assert!(err.contains("--time: \"tomorrow\" is not an ISO 8601 time"), "{err}");
    let err = f.fails(&["program", "list", "--time", "3600-01-01"], 2);
    assert!(err.contains("--time: jd = "), "{err}");
    let err = f.fails(&["program", "list", "--speed", "0"], 2);
    assert!(err.contains("--speed"), "{err}");
}

#[test]
fn relative_times_follow_the_simulated_clock() {
    let f = Ferros::new();
    f.setup();
    f.instant_cameras();
    let path = seed_example();
    f.ok(&["request", "import", s(&path), "--user", "alice", "--time", "2017-11-18T18:00:00Z"]);
    let shown = f.json(&["request", "show", "1", "--json"]);
    let jd1 = shown["sequences"][0]["spec"]["jd1"].as_f64().unwrap();
    // 2017-11-18T18:00:00Z is JD 2458076.25; jd1 is 15 s later.
    assert!((jd1 - (2_458_076.25 + 15.0 / 86_400.0)).abs() < 1e-7, "{jd1}");
}

/// Starts `ferros start` on a free port and returns the child and the base URL.
fn start(f: &Ferros, extra: &[&str]) -> (std::process::Child, String, Vec<String>) {
    let mut args = vec!["start", "--bind", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut child = f.command(&args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut lines = Vec::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let url = loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "ferros start ended early: {lines:?}");
        lines.push(line.trim_end().to_owned());
        if let Some(rest) = line.trim().strip_prefix("web") {
            break rest.split_whitespace().next().unwrap().trim_end_matches('/').to_owned();
        }
    };
    // Keep reading so the child never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    (child, url, lines)
}

fn http_get(url: &str, path: &str) -> String {
    let addr = url.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn stop(child: &mut std::process::Child, signal: &str) -> std::process::ExitStatus {
    let ok = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(ok.success());
    child.wait().unwrap()
}

#[test]
fn start_serves_healthz_creates_one_admin_and_stops_cleanly() {
    let f = Ferros::new();
    let (mut child, url, lines) = start(&f, &[]);
    let text = lines.join("\n");
    assert!(text.contains("Created the administrator account \"admin\" with password: "), "{text}");
    assert!(text.contains("database   sqlite://"), "{text}");
    let health = http_get(&url, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200 OK"), "{health}");
    assert!(health.contains("\"database\":\"ok\""), "{health}");
    let home = http_get(&url, "/");
    assert!(home.contains("Robotic observatory control") && home.contains("href=\"/login\""), "{home}");
    // A visitor sees the schedule, not the requests (the rights matrix).
    assert!(http_get(&url, "/schedule").starts_with("HTTP/1.1 200"));
    assert!(http_get(&url, "/requests").starts_with("HTTP/1.1 401"));
    assert!(stop(&mut child, "-TERM").success());

    // A second start finds the administrator and creates no other.
    let (mut child, url, lines) = start(&f, &["--time", "2026-11-22T20:00:00Z", "--speed", "10"]);
    let text = lines.join("\n");
    assert!(!text.contains("administrator"), "{text}");
    assert!(text.contains("clock      simulated, 2026-11-22 20:00:"), "{text}");
    assert!(http_get(&url, "/healthz").contains("\"simulated_clock\":true"));
    assert!(stop(&mut child, "-INT").success());
    let users = f.json(&["user", "list", "--json"]);
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(users[0]["profiles"], serde_json::json!(["sysadmin"]));
    // The admin may import for any program.
    f.ok(&["program", "add", "GRB"]);
    f.instant_cameras();
    let path = seed_example();
    f.ok(&["request", "import", s(&path)]);
}

#[test]
fn start_reports_a_busy_port() {
    let f = Ferros::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = f.fails(&["start", "--bind", &addr], 1);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
}

fn golden() -> serde_json::Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ferros-astro/tests/data/astropy_golden.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn astro_night_matches_astropy_and_uses_the_configured_site() {
    let f = Ferros::new();
    let g = golden();
    let want = g["nights"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["site"] == "san-pedro-martir" && n["date"] == "2026-11-05")
        .unwrap()
        .clone();
    // The default site is COLIBRI's, San Pedro Martir.
    let got = f.json(&["astro", "night", "--date", "2026-11-05", "--json"]);
    for key in
        ["sunset", "sunrise", "civil_dusk", "nautical_dawn", "astronomical_dusk", "moonrise", "moonset"]
    {
        let jd = got[format!("{key}_jd")].as_f64().unwrap();
        assert!((jd - want[key].as_f64().unwrap()).abs() * 86_400.0 < 10.0, "{key}: {got}");
        assert!(got[key].as_str().unwrap().ends_with('Z'), "{key} must be UTC ISO 8601: {got}");
    }
    assert_eq!(got["night_start"], got["nautical_dusk"], "night altitude -12 by default");
    assert!(
        (got["moon_illumination"].as_f64().unwrap() - want["moon_illumination"].as_f64().unwrap()).abs()
            < 1e-3
    );
    // The night altitude comes from the configuration.
    f.write("ferros.toml", "[site]\nnight_sun_altitude = -18.0\n");
    let dark = f.json(&["astro", "night", "--date", "2026-11-05", "--json"]);
    assert_eq!(dark["night_start"], dark["astronomical_dusk"]);
    // Polar day: times that do not occur are null.
    let polar = f.json(&["astro", "night", "--date", "2026-06-21", "--lat", "70", "--lon", "20", "--json"]);
    assert!(
        polar["sunset"].is_null() && polar["sunset_jd"].is_null() && polar["night_start"].is_null(),
        "{polar}"
    );
}

#[test]
fn astro_target_and_altaz_give_the_documented_fields() {
    let f = Ferros::new();
    let got = f.json(&[
        "astro",
        "target",
        "--ra",
        "10.6847",
        "--dec",
        "41.269",
        "--date",
        "2026-11-22",
        "--min-alt",
        "30",
        "--min-moon-sep",
        "20",
        "--json",
    ]);
    for key in ["rise", "set", "transit", "transit_altitude", "windows"] {
        assert!(!got[key].is_null(), "{key}: {got}");
    }
    let w = &got["windows"][0];
    assert!(w["start_jd"].as_f64().unwrap() < w["end_jd"].as_f64().unwrap(), "{got}");
    assert!((got["transit_altitude"].as_f64().unwrap() - 79.62).abs() < 0.01, "{got}");
    // A circumpolar target never rises nor sets.
    let polaris =
        f.json(&["astro", "target", "--ra", "37.95", "--dec", "89.26", "--date", "2026-11-22", "--json"]);
    assert!(
        polaris["rise"].is_null() && polaris["set"].is_null() && !polaris["transit"].is_null(),
        "{polaris}"
    );

    let g = golden();
    let t = g["targets"].as_array().unwrap().iter().find(|t| t["site"] == "haute-provence").unwrap().clone();
    let time = chrono::DateTime::from_timestamp_micros(
        ((t["jd"].as_f64().unwrap() - 2_440_587.5) * 86_400e6).round() as i64,
    )
    .unwrap()
    .to_rfc3339();
    let (ra, dec) = (t["ra"].to_string(), t["dec"].to_string());
    let got = f.json(&[
        "astro", "altaz", "--ra", &ra, "--dec", &dec, "--time", &time, "--lat", "43.9317", "--lon", "5.7133",
        "--elev", "650", "--json",
    ]);
    assert!((got["alt"].as_f64().unwrap() - t["alt"].as_f64().unwrap()).abs() < 5.0 / 3600.0, "{got} vs {t}");
    assert!((got["ha"].as_f64().unwrap() - t["ha"].as_f64().unwrap()).abs() < 1.0 / 3600.0, "{got} vs {t}");
    match got["airmass"].as_f64() {
        Some(x) => assert!((x - 1.0 / got["alt"].as_f64().unwrap().to_radians().sin()).abs() < 1e-4),
        None => assert!(got["alt"].as_f64().unwrap() <= 0.0),
    }
}

#[test]
fn astro_refuses_bad_input() {
    let f = Ferros::new();
    for (args, expected) in [
        (vec!["astro", "night", "--lat", "95"], "latitude = 95 is out of range"),
        (vec!["astro", "night", "--lon", "-200"], "longitude = -200 is out of range"),
        (vec!["astro", "night", "--date", "22/11/2026"], "--date: \"22/11/2026\" is not a date"),
        (vec!["astro", "night", "--date", "2150-01-01"], "outside the dates"),
        (vec!["astro", "target", "--ra", "400", "--dec", "0"], "--ra = 400 is out of range"),
        (vec!["astro", "target", "--ra", "10", "--dec", "-91"], "--dec = -91 is out of range"),
        (vec!["astro", "target", "--ra", "10", "--dec", "0", "--max-airmass", "0.5"], "--max-airmass"),
        (vec!["astro", "altaz", "--ra", "10", "--dec", "0", "--time", "noon"], "--time: \"noon\""),
    ] {
        let err = f.fails(&args, 2);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

#[test]
fn bench_astro_prints_its_figures() {
    let f = Ferros::new();
    let out = f.ok(&["bench", "astro", "--targets", "200", "--time", "2026-11-22T12:00:00Z"]);
    assert!(out.contains("windows of 200 targets"), "{out}");
    assert!(out.contains("per target"), "{out}");
}

#[test]
fn schedule_plan_from_a_file_prints_the_documented_json() {
    let f = Ferros::new();
    let input = f.write(
        "night.json",
        r#"{"night": {"start": 2461367.5, "end": 2461367.9}, "now": 2461367.55,
            "sequences": [
              {"id": 1, "jd1": 2461367.5, "jd2": 2461367.9, "priority": 3, "duration": 3600, "t_prefered": null},
              {"id": 2, "jd1": 2461367.5, "jd2": 2461367.9, "priority": 1, "duration": 1800, "overhead": 600},
              {"id": 3, "jd1": 2461367.5, "jd2": 2461367.9, "priority": 2, "duration": 3600,
               "status": "EXECUTING", "tsp": 2461367.52, "tep": 2461367.5616666},
              {"id": 4, "jd1": 2461368.5, "jd2": 2461369.0, "priority": 1, "duration": 60}
            ]}"#,
    );
    let out = f.json(&["schedule", "plan", "--input", s(&input), "--json"]);
    assert_eq!(out["night_start"], 2461367.5);
    assert_eq!(out["night_end"], 2461367.9);
    let entries = out["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 4);
    let by_id = |id: i64| entries.iter().find(|e| e["sequence_id"] == id).unwrap();
    assert_eq!(by_id(3)["status"], "EXECUTING");
    assert_eq!(by_id(3)["tsp"], 2461367.52);
    // Priority 1 first, after the running block and from "now".
    assert_eq!(by_id(2)["status"], "PLANNED");
    assert!((by_id(2)["tsp"].as_f64().unwrap() - 2461367.5616666).abs() < 1e-6, "{out}");
    let tep2 = by_id(2)["tep"].as_f64().unwrap();
    assert!(((tep2 - by_id(2)["tsp"].as_f64().unwrap()) * 86_400.0 - 2400.0).abs() < 0.01);
    assert_eq!(by_id(1)["status"], "PLANNED");
    assert_eq!(by_id(4)["status"], "REJECTED");
    assert!(by_id(4)["reason"].as_str().unwrap().contains("outside tonight"));
    for e in entries {
        assert!(e.get("reason").is_some() && e.get("tsp").is_some() && e.get("tep").is_some());
    }
    // Nothing is stored.
    let err = f.fails(&["schedule", "show"], 2);
    assert!(err.contains("no schedule yet"), "{err}");
}

#[test]
fn schedule_plan_refuses_bad_files_naming_the_sequence() {
    let f = Ferros::new();
    let seq = |extra: &str| {
        format!(
            r#"{{"night": {{"start": 10.0, "end": 20.0}}, "sequences": [{{"id": 7, "jd1": 11.0, "jd2": 12.0, "priority": 1, "duration": 60{extra}}}]}}"#
        )
    };
    for (text, expected) in [
        ("{not json".to_owned(), "key must be a string at line 1 column 2"),
        (seq(r#", "colour": "red""#), "unknown field `colour`"),
        (seq(r#", "overhead": -5"#), "sequence 7: overhead = -5 must be a number of seconds >= 0"),
        (seq(r#", "t_prefered": NaN"#), "expected value"),
        (seq(r#", "overhead": 1e999"#), "number out of range"),
        (seq(r#", "status": "EXECUTED""#), "sequence 7: status EXECUTED needs \"tsp\" and \"tep\""),
        (seq(r#", "status": "PLANNED""#), "sequence 7: status \"PLANNED\""),
        (
            r#"{"night": {"start": 10, "end": 20}, "sequences": [{"id": 7, "jd1": 12, "jd2": 11, "priority": 1, "duration": 60}]}"#.to_owned(),
            "sequence 7: jd2 = 11 is before jd1 = 12",
        ),
        (
            r#"{"night": {"start": 10, "end": 20}, "sequences": [{"id": 7, "jd1": 11, "jd2": 12, "priority": 1, "duration": -60}]}"#.to_owned(),
            "sequence 7: duration = -60 must be a number of seconds >= 0",
        ),
        (
            r#"{"night": {"start": 10, "end": 20}, "sequences": [{"id": 7, "jd1": 11, "jd2": 12, "priority": 1, "duration": 60},
               {"id": 7, "jd1": 11, "jd2": 12, "priority": 1, "duration": 60}]}"#.to_owned(),
            "sequence 7: duplicate id",
        ),
        (r#"{"night": {"start": 20, "end": 10}, "sequences": []}"#.to_owned(), "night: end 10 must be after start 20"),
    ] {
        let path = f.write("bad.json", &text);
        let err = f.fails(&["schedule", "plan", "--input", s(&path)], 2);
        assert!(err.contains(expected), "expected {expected:?} for {text}\ngot {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn schedule_plan_uses_the_database_and_keeps_its_history() {
    let f = Ferros::new();
    f.setup();
    for name in [
        "routine_request_01.xml",
        "routine_request_02.xml",
        "routine_request_04.xml",
        "routine_request_07.xml",
    ] {
        let path = samples().into_iter().find(|p| p.ends_with(name)).unwrap();
        f.ok(&["request", "import", s(&path), "--user", "alice", "--submit"]);
    }
    let out =
        f.json(&["schedule", "plan", "--night", "2026-11-22", "--time", "2026-11-22T20:00:00Z", "--json"]);
    assert_eq!(out["schedule_id"], 1);
    assert_eq!(out["night"], "2026-11-22");
    let entries = out["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 6, "{out}");
    let planned: Vec<i64> = entries
        .iter()
        .filter(|e| e["status"] == "PLANNED")
        .map(|e| e["sequence_id"].as_i64().unwrap())
        .collect();
    assert!(planned.contains(&1) && planned.contains(&5), "M31 and M42 are up tonight: {out}");
    // Statuses follow the schedule, and show gives the stored one back.
    let m31 = f.json(&["request", "show", "1", "--json"]);
    assert_eq!(m31["sequences"][0]["status"], "PLANNED");
    assert!(m31["sequences"][0]["tsp"].as_f64().is_some());
    let shown = f.json(&["schedule", "show", "--json"]);
    assert_eq!(shown["id"], 1);
    assert_eq!(shown["entries"].as_array().unwrap().len(), 6);
    // A later night: M31 (reportable 0) was not done on its night, so it ends
    // UNPLANNABLE; 3C 273 (reportable 7) is still in the running.
    let later =
        f.json(&["schedule", "plan", "--night", "2026-11-24", "--time", "2026-11-24T20:00:00Z", "--json"]);
    let e = later["entries"].as_array().unwrap().iter().find(|e| e["sequence_id"] == 1).unwrap().clone();
    assert_eq!(e["status"], "UNPLANNABLE");
    assert_eq!(e["reason"], "not done within its 0 reportable night(s)");
    assert_eq!(f.json(&["request", "show", "1", "--json"])["sequences"][0]["status"], "UNPLANNABLE");
    let history = f.json(&["schedule", "history", "--json"]);
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert_eq!(history[0]["id"], 2, "newest first");
    let text = f.ok(&["schedule", "show"]);
    assert!(text.contains("schedule 2 made"), "{text}");
}

#[test]
fn schedule_plan_says_when_there_is_no_night() {
    let f = Ferros::new();
    f.write("ferros.toml", "[site]\nlatitude = 70.0\nlongitude = 20.0\n");
    let err = f.fails(&["schedule", "plan", "--night", "2026-06-21"], 2);
    assert!(err.contains("no night on 2026-06-21"), "{err}");
    let err = f.fails(&["schedule", "plan", "--night", "June"], 2);
    assert!(err.contains("--night: \"June\" is not a date"), "{err}");
}

#[test]
fn bench_scheduler_prints_its_figures() {
    let f = Ferros::new();
    let export = f.dir.path().join("night.json");
    let out = f.ok(&[
        "bench",
        "scheduler",
        "--sequences",
        "300",
        "--time",
        "2026-11-22T12:00:00Z",
        "--export",
        s(&export),
    ]);
    assert!(out.contains("planning") && out.contains("planned"), "{out}");
    let night: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(export).unwrap()).unwrap();
    assert_eq!(night["sequences"].as_array().unwrap().len(), 300);
}

#[test]
fn sim_plc_plays_the_rain_scenario_over_tcp() {
    let f = Ferros::new();
    let scenario = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios/rain.json");
    let mut child = f
        .command(&["sim", "plc", "--scenario", s(&scenario), "--bind", "127.0.0.1:0", "--period", "0.5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.contains("scenario of 10 iteration(s), 4 change(s)"), "{line}");
    let addr = line.split_whitespace().nth(3).unwrap().trim_end_matches(':').to_owned();
    let conn = std::net::TcpStream::connect(&addr).unwrap();
    let mut lines = BufReader::new(conn.try_clone().unwrap());
    let mut writer = conn;
    let mut rates: Vec<f64> = Vec::new();
    // Rain from 1.5 s to 3.5 s of the PLC's loop: asked until it has rained
    // and stopped (a minute at most, however busy the machine).
    for _ in 0..1200 {
        if rates.iter().any(|r| *r > 0.0) && rates.last() == Some(&0.0) {
            break;
        }
        writer.write_all(b"{\"command\": [{\"name\": \"STATUS\"}]}\n").unwrap();
        let mut answer = String::new();
        lines.read_line(&mut answer).unwrap();
        let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(v[0]["name"], "STATUS");
        let wxt = v[0]["device"].as_array().unwrap().iter().find(|d| d["name"] == "WXT520").unwrap().clone();
        let rain =
            wxt["values"].as_array().unwrap().iter().find(|x| x["name"] == "RainRate").unwrap()["value"]
                .as_f64()
                .unwrap();
        rates.push(rain);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let first_wet = rates.iter().position(|r| *r > 0.0).expect("it rains");
    assert!(rates[first_wet..].contains(&0.0), "and stops: {rates:?}");
    writer.write_all(b"{\"command\": [{\"name\": \"DANCE\"}]}\n").unwrap();
    let mut answer = String::new();
    lines.read_line(&mut answer).unwrap();
    assert!(answer.contains("unknown command DANCE"), "{answer}");
    assert!(stop(&mut child, "-INT").success());

    let bad = f.write("bad_scenario.json", r#"[5, {"time": 1, "plcSimulator": {"device_name": "WXT999", "value_name": "RainRate", "value": 1}}]"#);
    let err = f.fails(&["sim", "plc", "--scenario", s(&bad), "--bind", "127.0.0.1:0"], 2);
    assert!(err.contains("--scenario: change 1: no sensor WXT999"), "{err}");
    let huge = f.write("huge.json", &" ".repeat(4 * 1024 * 1024 + 1));
    let err = f.fails(&["sim", "plc", "--scenario", s(&huge), "--bind", "127.0.0.1:0"], 2);
    assert!(err.contains("huge.json: more than the 4194304 bytes a scenario may have"), "{err}");
    let many = f.write("many.json", "[4294967296]");
    let err = f.fails(&["sim", "plc", "--scenario", s(&many), "--bind", "127.0.0.1:0"], 2);
    assert!(err.contains("[0]: 4294967296 iterations: at most 1000000"), "{err}");
    let err = f.fails(&["sim", "plc", "--scenario", "nope.json"], 2);
    assert!(err.contains("nope.json: cannot read"), "{err}");

    // The address may come from a socket_config.ini, as in the seeds.
    f.write("ferros.toml", "[devices]\nsocket_config = \"ports.ini\"\n");
    f.write("ports.ini", "[PLC]\nip=127.0.0.1\nport=0\n");
    let mut child = f.command(&["sim", "plc"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("PLC simulator on 127.0.0.1:") && !line.contains(":5003"), "{line}");
    assert!(stop(&mut child, "-INT").success());
    f.write("ports.ini", "[PLC]\nport=http\n");
    let err = f.fails(&["sim", "plc"], 2);
    assert!(err.contains("ports.ini: line 2: port \"http\" is not a port number"), "{err}");
}

#[test]
fn device_status_reads_every_configured_device() {
    let f = Ferros::new();
    // The default: in-process simulators.
    let v = f.json(&["device", "status", "--json"]);
    let devices = v["devices"].as_array().unwrap();
    let roles: Vec<&str> = devices.iter().map(|d| d["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["telescope", "dome", "camera_vis", "camera_nir", "filter_vis", "filter_nir", "plc"]);
    assert!(devices.iter().all(|d| d["ok"] == true && d["driver"] == "sim"), "{v}");
    assert_eq!(devices[0]["state"]["parked"], true);
    assert_eq!(devices[1]["state"]["shutter"], "closed");
    assert_eq!(devices[4]["state"]["names"][0], "g");
    assert_eq!(devices[6]["state"]["sensors"].as_array().unwrap().len(), 5);
    let text = f.ok(&["device", "status"]);
    assert!(text.contains("dome        sim     in-process simulator"), "{text}");

    // Bad configuration is refused naming the key.
    f.write("ferros.toml", "[devices]\ntimeout_s = 1e300\n");
    let err = f.fails(&["device", "status"], 2);
    assert!(err.contains("devices.timeout_s: 1e300 must be > 0 and at most 3600 seconds"), "{err}");
    f.write("ferros.toml", "[devices.dome]\ndriver = \"carrier-pigeon\"\n");
    let err = f.fails(&["device", "status"], 2);
    assert!(
        err.contains("devices.dome.driver") && err.contains("carrier-pigeon") && err.contains("`alpaca`"),
        "{err}"
    );
    f.write("ferros.toml", "[devices.camera_vis]\ndriver = \"alpaca\"\ndevice = \"first\"\n");
    let err = f.fails(&["device", "status"], 2);
    assert!(err.contains("devices.camera_vis.device: \"first\" is not an Alpaca device number"), "{err}");

    // Socket devices with nobody listening: each says so, the command fails (exit 1).
    f.write(
        "ferros.toml",
        "[devices]\ndriver = \"socket\"\ntimeout_s = 0.5\n[devices.camera_nir]\ndriver = \"none\"\n[devices.filter_nir]\ndriver = \"none\"\n[devices.telescope]\naddress = \"127.0.0.1:9\"\n",
    );
    let out = f.run(&["device", "status", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let telescope = &v["devices"][0];
    assert_eq!(
        (telescope["ok"].as_bool(), telescope["address"].as_str()),
        (Some(false), Some("127.0.0.1:9"))
    );
    assert!(telescope["error"].as_str().unwrap().contains("cannot connect to 127.0.0.1:9"), "{v}");
    assert_eq!(v["devices"][3]["driver"], "none");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no answer from: telescope, dome, camera_vis, filter_vis, plc")
    );
}

#[test]
fn sim_all_serves_every_device_to_the_socket_drivers() {
    let f = Ferros::new();
    f.write("ferros.toml", "[devices]\nsocket_config = \"ports.ini\"\n");
    f.write(
        "ports.ini",
        "[Telescope]\nport=0\n[CameraVIS]\nport=0\n[CameraNIR]\nport=0\n[PLC]\nport=0\n[Dome]\nport=0\n",
    );
    let mut child = f
        .command(&["sim", "all", "--period", "0.5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut addresses = std::collections::BTreeMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line.starts_with("Ctrl-C") || line.is_empty() {
            break;
        }
        let name = line.split_whitespace().next().unwrap().to_owned();
        let addr = line.split(" on ").nth(1).unwrap().split([':', '.']).take(5).collect::<Vec<_>>();
        addresses.insert(name, format!("{}.{}.{}.{}:{}", addr[0], addr[1], addr[2], addr[3], addr[4]));
    }
    assert_eq!(addresses.len(), 5, "{addresses:?}");
    let toml = format!(
        "[devices]\ndriver = \"socket\"\n[devices.telescope]\naddress = \"{}\"\n[devices.dome]\naddress = \"{}\"\n\
         [devices.camera_vis]\naddress = \"{}\"\n[devices.filter_vis]\naddress = \"{}\"\n[devices.camera_nir]\naddress = \"{}\"\n\
         [devices.filter_nir]\naddress = \"{}\"\n[devices.plc]\naddress = \"{}\"\n",
        addresses["Telescope"],
        addresses["Dome"],
        addresses["CameraVIS"],
        addresses["CameraVIS"],
        addresses["CameraNIR"],
        addresses["CameraNIR"],
        addresses["PLC"],
    );
    f.write("ferros.toml", &toml);
    let v = f.json(&["device", "status", "--json"]);
    let devices = v["devices"].as_array().unwrap();
    assert!(devices.iter().all(|d| d["ok"] == true && d["driver"] == "socket"), "{v}");
    assert_eq!(devices[5]["state"]["names"], serde_json::json!(["Y", "J", "H", "Ks"]));
    assert_eq!(devices[6]["state"]["sensors"][0]["name"], "WXT520");
    assert!(stop(&mut child, "-INT").success());
    let err = f.fails(&["sim", "all", "--bind", "127.0.0.1:0"], 2);
    assert!(err.contains("--bind gives one device's address"), "{err}");
}

#[test]
fn start_shows_the_rain_scenario_live_and_env_reads_the_database() {
    let f = Ferros::new();
    let err = f.fails(&["env", "status"], 1);
    assert!(err.contains("no environment synthesis yet"), "{err}");
    let scenario = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios/rain.json");
    let mut child = f
        .command(&[
            "--time",
            "2026-11-23T06:00:00Z",
            "--speed",
            "10",
            "start",
            "--bind",
            "127.0.0.1:0",
            "--scenario",
            s(&scenario),
        ])
        .env("FERROS_WEATHER__SAFE_DELAY_S", "4")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "ferros start ended: {lines:?}");
        let done =
            line.contains("ENV  SAFE") && lines.iter().any(|l: &String| l.contains("ENV  UNSAFE: rain"));
        lines.push(line);
        if done {
            break;
        }
    }
    assert!(lines.iter().any(|l| l.contains("agents     env")), "{lines:?}");
    let rain_line = lines.iter().find(|l| l.contains("UNSAFE: rain")).unwrap();
    assert!(rain_line.contains("it rains hard (12.0 mm/h)"), "{rain_line}");
    // While it runs, the CLI reads the synthesis from the database.
    let v = f.json(&["env", "status", "--json"]);
    assert_eq!(v["global_status"], "SAFE", "{v}");
    let rain = v["quantities"].as_array().unwrap().iter().find(|q| q["name"] == "rain").unwrap().clone();
    assert_eq!(
        (rain["value"].as_f64(), rain["decision"].as_str(), rain["sensor"].as_str()),
        (Some(0.0), Some("safe"), Some("WXT520"))
    );
    assert!(rain["age_s"].as_f64().is_some());
    assert!(stop(&mut child, "-INT").success());
    // Asked the next morning (raw points are kept two days).
    let v = f.json(&[
        "--time",
        "2026-11-23T08:00:00Z",
        "env",
        "history",
        "rain",
        "--since",
        "2026-11-23T05:59:00Z",
        "--until",
        "2026-11-23T07:00:00Z",
        "--json",
    ]);
    assert_eq!(v["resolution"], "raw");
    let means: Vec<f64> =
        v["points"].as_array().unwrap().iter().map(|p| p["mean"].as_f64().unwrap()).collect();
    assert!(means.contains(&12.0) && means.contains(&0.0), "{means:?}");
    let text = f.ok(&["env", "status"]);
    assert!(text.starts_with("SAFE"), "{text}");
    let err = f.fails(
        &["env", "history", "snow", "--since", "2026-11-23T05:00:00Z", "--until", "2026-11-23T08:00:00Z"],
        2,
    );
    assert!(err.contains("no history of \"snow\" (there is: ") && err.contains("rain"), "{err}");
    let err = f.fails(
        &["env", "history", "rain", "--since", "2026-11-23T07:00:00Z", "--until", "2026-11-23T06:00:00Z"],
        2,
    );
    assert!(err.contains("--until must be after --since"), "{err}");
    let err = f.fails(&["env", "history", "rain", "--since", "yesterday"], 2);
    assert!(err.contains("--since"), "{err}");
}

#[test]
fn one_agent_runs_alone() {
    let f = Ferros::new();
    let mut child = f
        .command(&["--time", "2026-11-23T06:00:00Z", "--speed", "10", "agent", "env"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("Agent Env on sqlite://"), "{line}");
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert!(line.contains("ENV  UNSAFE: conditions good for 0 s"), "{line}");
    assert!(stop(&mut child, "-INT").success());
    let v = f.json(&["env", "status", "--json"]);
    assert_eq!(v["global_status"], "UNSAFE");
}

#[test]
fn control_commands_go_through_the_majordome() {
    let f = Ferros::new();
    f.ok(&["user", "add", "olga", "--profile", "operator"]);
    f.ok(&["user", "add", "vic", "--profile", "visitor"]);
    let err = f.fails(&["control", "dance", "--as", "olga"], 2);
    assert!(
        err.contains("unknown control command \"dance\" (status, device, plc-bypass, stop-plc-bypass, lock"),
        "{err}"
    );
    let err = f.fails(&["control", "device", "telescope", "fly", "--as", "olga"], 2);
    assert!(
        err.contains("unknown device command \"device telescope fly\" (expected device telescope park"),
        "{err}"
    );
    let err = f.fails(&["control", "device", "telescope", "slew", "10", "-95", "--as", "olga"], 2);
    assert!(err.contains("Dec \"-95\" must be a number in -90..90"), "{err}");
    let err = f.fails(&["control", "lock", "now", "--as", "olga"], 2);
    assert!(err.contains("lock takes no argument (now)"), "{err}");
    let err = f.fails(&["control", "lock"], 2);
    assert!(err.contains("--as USER"), "{err}");
    let err = f.fails(&["control", "lock", "--as", "nobody"], 2);
    assert!(err.contains("no user named nobody"), "{err}");
    // Nobody running: the command says so instead of waiting for ever.
    let err = f.fails(&["control", "lock", "--as", "olga", "--wait", "0.3"], 1);
    assert!(err.contains("no answer from the majordome within 0.3 s"), "{err}");
    let err = f.fails(&["control", "status"], 1);
    assert!(err.contains("no majordome state yet"), "{err}");

    let mut child = f
        .command(&["--time", "2026-11-23T06:00:00Z", "--speed", "10", "start", "--bind", "127.0.0.1:0"])
        .env("FERROS_WEATHER__SAFE_DELAY_S", "2")
        .env("FERROS_AGENTS__MAJORDOME_PERIOD_S", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(f.dir.path().join("start.err")).unwrap()))
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0);
        if line.contains("ENV  SAFE") {
            break;
        }
    }
    // One line per event: printed, not logged to the console a second time.
    let err = std::fs::read_to_string(f.dir.path().join("start.err")).unwrap();
    assert!(!err.contains("env: SAFE") && !err.contains("env: UNSAFE"), "{err}");
    // A wait no clock can hold is refused before anything is stored.
    let err = f.fails(&["control", "lock", "--as", "olga", "--wait", "1e300"], 2);
    assert!(err.contains("--wait: 1e300 must be > 0 and at most 120 seconds"), "{err}");
    let err = f.fails(&["control", "go-remote", "--as", "vic"], 2);
    assert!(err.contains("go remote refused: only engineers and operators may do this"), "{err}");
    let err = f.fails(&["control", "plc-bypass", "--as", "olga"], 2);
    assert!(err.contains("the environment is SAFE: nothing to bypass"), "{err}");
    assert!(f.ok(&["control", "lock", "--as", "olga"]).contains("lock accepted"));
    let mut locked = false;
    // The majordome answers within a step or two; a minute at most, however busy the machine.
    for _ in 0..600 {
        let v = f.json(&["control", "status", "--json"]);
        if v["mode"] == "STANDBY" && v["locked"] == true {
            locked = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(locked, "STANDBY and locked");
    let err = f.fails(&["control", "go-remote", "--as", "olga"], 2);
    assert!(err.contains("locked: unlock it first"), "{err}");
    assert!(f.ok(&["control", "unlock", "--as", "olga"]).contains("unlock accepted"));
    // The device status list for the GIC is there too.
    let gic = f.dir.path().join("var/archive/exchange/GIC/TO/device_status.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&gic).unwrap()).unwrap();
    assert_eq!(v["devices"][0]["role"], "telescope");
    // A command given no --time reads the running instance's clock: the
    // synthesis is seconds old, not the days between that clock and UTC.
    let out = f.command(&["env", "status", "--json"]).stdin(Stdio::null()).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["age_s"].as_f64().unwrap().abs() < 3600.0, "{v}");
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(note.contains("on the running instance's clock: simulated, 2026-11-23"), "{note}");
    assert!(stop(&mut child, "-INT").success());
    assert!(f.ok(&["control", "status"]).contains("environment SAFE"));
    // Stopped, it leaves no clock behind.
    let out = f.command(&["env", "status"]).stdin(Stdio::null()).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("running instance"));
}

/// `ferros start` on simulated time (x10 from a given instant), its output
/// read line by line.
struct Running {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    /// Lines read, and whether a wait took each (standard output and error
    /// interleave in any order).
    seen: Vec<(String, bool)>,
}

impl Running {
    fn start(f: &Ferros, time: &str, env: &[(&str, &str)]) -> Running {
        use std::io::BufRead;
        let mut cmd = f.command(&["--time", time, "--speed", "10", "start", "--bind", "127.0.0.1:0"]);
        cmd.env("FERROS_WEATHER__SAFE_DELAY_S", "4").env_remove("FERROS_ALERT_PAUSE_BEFORE_STORE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx2.send(l);
            }
        });
        Running { child, lines, seen: Vec::new() }
    }

    /// Waits (at most a minute) for a line containing `what` that no wait took yet.
    fn wait(&mut self, what: &str) -> String {
        if let Some((l, taken)) = self.seen.iter_mut().find(|(l, taken)| !*taken && l.contains(what)) {
            *taken = true;
            return l.clone();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(what);
                    self.seen.push((l.clone(), hit));
                    if hit {
                        return l;
                    }
                }
                Err(_) => {
                    let all: Vec<&str> = self.seen.iter().map(|(l, _)| l.as_str()).collect();
                    panic!("no line with {what:?} within a minute:\n{}", all.join("\n"))
                }
            }
        }
    }

    fn kill(mut self, signal: &str) {
        let ok =
            std::process::Command::new("kill").args([signal, &self.child.id().to_string()]).status().unwrap();
        assert!(ok.success());
        self.child.wait().unwrap();
    }
}

#[test]
fn a_backup_is_restored_into_a_fresh_folder() {
    let f = Ferros::new();
    f.instant_cameras();
    f.setup();
    let file = samples().into_iter().find(|p| p.ends_with("routine_request_02.xml")).unwrap();
    f.ok(&["request", "import", s(&file), "--user", "alice", "--submit"]);
    let backup = f.dir.path().join("backup");
    // While Ferros runs (its agents planning and writing).
    let mut running = Running::start(&f, "2026-12-02T03:00:00Z", &[]);
    running.wait("  web        http://");
    let out = f.ok(&["backup", backup.to_str().unwrap()]);
    running.kill("-INT");
    assert!(
        out.contains("backed up sqlite database") && out.contains("the configuration ferros.toml"),
        "{out}"
    );
    let e = f.fails(&["backup", backup.to_str().unwrap()], 2);
    assert!(e.contains("is not empty"), "{e}");

    let g = Ferros::new();
    let out = g.ok(&["restore", backup.to_str().unwrap()]);
    assert!(out.contains("restored") && out.contains("configuration restored to ferros.toml"), "{out}");
    let ids = |v: serde_json::Value| -> Vec<(serde_json::Value, serde_json::Value)> {
        v.as_array().unwrap().iter().map(|r| (r["id"].clone(), r["name"].clone())).collect()
    };
    assert_eq!(ids(g.json(&["request", "list", "--json"])), ids(f.json(&["request", "list", "--json"])));
    let users = |v: serde_json::Value| -> Vec<serde_json::Value> {
        v.as_array().unwrap().iter().map(|u| u["username"].clone()).collect()
    };
    assert_eq!(users(g.json(&["user", "list", "--json"])), users(f.json(&["user", "list", "--json"])));
    assert!(
        users(g.json(&["user", "list", "--json"])).contains(&serde_json::json!("admin")),
        "made by start"
    );
    assert_eq!(
        std::fs::read(g.dir.path().join("ferros.toml")).unwrap(),
        std::fs::read(f.dir.path().join("ferros.toml")).unwrap()
    );
    let e = g.fails(&["restore", backup.to_str().unwrap()], 2);
    assert!(e.contains("already holds data"), "{e}");
    let e = g.fails(&["restore", g.dir.path().to_str().unwrap()], 2);
    assert!(e.contains("manifest.json"), "{e}");
}
