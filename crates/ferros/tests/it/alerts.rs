//! `ferros alert` end to end, on real GCN notices.

use std::path::PathBuf;

use super::{Ferros, Running, s};

fn notice(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ferros-voevent/tests/data").join(rel)
}

/// A dark hour at San Pedro Martir, when the burst of 2026-02-28 is high.
const DARK: &str = "2026-03-01T11:30:00Z";

#[test]
fn notices_are_injected_decided_listed_and_shown() {
    let f = Ferros::new();
    let eclairs = notice("svom_eclairs/eclairs_301.xml");
    let v = f.json(&["alert", "inject", s(&eclairs), "--json", "--time", DARK]);
    assert_eq!(v["outcome"], "created", "{v}");
    assert_eq!(v["alert"], 1);
    let request = v["request"].as_i64().unwrap();
    // The alert request: priority 0, submitted, owned by the alert manager.
    let r = f.json(&["request", "show", &request.to_string(), "--json"]);
    assert_eq!(r["kind"], "alert");
    assert_eq!(r["owner"], "alert-manager");
    assert_eq!(r["program"], "GRB");
    assert_eq!(r["sequences"][0]["status"], "TOBEPLANNED");
    assert_eq!(r["sequences"][0]["spec"]["coordinates"]["ra"], 237.8312);

    // The same notice again: counted, not acted on twice.
    let again = f.json(&["alert", "inject", s(&eclairs), "--json", "--time", DARK]);
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["alert"], 1);
    assert_eq!(f.request_count(), 1);

    // MXT's better position of the same burst updates the request in place.
    let mxt = f.json(&["alert", "inject", s(&notice("svom_mxt/mxt_41.xml")), "--json", "--time", DARK]);
    assert_eq!(mxt["outcome"], "updated", "{mxt}");
    assert_eq!(mxt["request"].as_i64(), Some(request));
    assert_eq!(f.request_count(), 1);
    let r = f.json(&["request", "show", &request.to_string(), "--json"]);
    let statuses: Vec<&str> =
        r["sequences"].as_array().unwrap().iter().map(|q| q["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["CANCELLED", "TOBEPLANNED"]);
    assert_eq!(r["sequences"][1]["spec"]["coordinates"]["ra"], 237.4411);

    // A document that is no notice is refused (exit 2) and kept with its reason.
    let junk = f.write("junk.xml", "<VOEvent ivorn='x'><Who></VOEvent>");
    let err = f.fails(&["alert", "inject", s(&junk), "--time", DARK], 2);
    assert!(err.contains("refused"), "{err}");
    let list = f.json(&["alert", "list", "--json"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["outcome"], "refused");
    assert!(list[0]["reason"].as_str().unwrap().contains("malformed XML"), "{}", list[0]);
    assert_eq!(list[2]["duplicates"], 1);

    let shown = f.json(&["alert", "show", "1", "--json"]);
    assert_eq!(shown["strategy"], "svom-eclairs");
    assert!(shown["delays_ms"]["stored"].as_i64().unwrap() >= 0);
    let text = f.ok(&["alert", "show", "2"]);
    assert!(text.contains("decision   updated") && text.contains("same burst as alert 1"), "{text}");
    assert!(text.contains("timeline") && text.contains("slew commanded"), "{text}");
    assert!(f.fails(&["alert", "show", "99"], 2).contains("alert 99 does not exist"));

    // Another strategy rebuilds the request in place.
    let out = f.ok(&["alert", "strategy", "2", "default", "--time", DARK]);
    assert!(out.contains("updated") && out.contains("strategy changed to default"), "{out}");
    let r = f.json(&["request", "show", &request.to_string(), "--json"]);
    assert_eq!(r["sequences"].as_array().unwrap().len(), 3);
    assert!(f.fails(&["alert", "strategy", "2", "nope"], 2).contains("no strategy \"nope\""));
    let strategies = f.ok(&["alert", "strategies"]);
    assert!(strategies.contains("svom-eclairs") && strategies.contains("default"), "{strategies}");
}

#[test]
fn only_allowed_profiles_create_alert_requests() {
    let f = Ferros::new();
    f.setup();
    let alert =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/requests/alert_request_01.xml");
    let err = f.fails(&["request", "import", s(&alert), "--user", "alice"], 2);
    assert!(err.contains("may not create alert requests"), "{err}");
    assert_eq!(f.request_count(), 0);
    f.ok(&["user", "add", "olga", "--profile", "superoperator", "--program", "GRB"]);
    f.ok(&["request", "import", s(&alert), "--user", "olga"]);
    assert_eq!(f.request_count(), 1);
}

/// Waits (at most a minute) for the executor to say it commanded an alert's
/// slew; returns alert `id` as then stored.
fn wait_for_slew(f: &Ferros, r: &mut Running, id: i64) -> serde_json::Value {
    r.wait("slew to its alert's target commanded");
    let a = f.json(&["alert", "show", &id.to_string(), "--json"]);
    assert!(!a["slew_at"].is_null(), "alert {id}: {a}");
    a
}

/// Produces files (`-`: a record that is not XML) with PyPI confluent-kafka.
fn produce(addr: &str, topic: &str, files: &[&str]) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/kafka_produce.py");
    let mut args = vec![s(&script).to_owned(), addr.to_owned(), topic.to_owned()];
    args.extend(files.iter().map(|f| (*f).to_owned()));
    let out = std::process::Command::new("python3").args(&args).output().unwrap();
    assert!(out.status.success(), "kafka_produce.py: {}", String::from_utf8_lossy(&out.stderr));
}

fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}{}-{n}", std::process::id())
}

#[test]
fn a_kafka_notice_ends_as_a_slew_once_across_a_kill() {
    let Ok(addr) = std::env::var("FERROS_TEST_KAFKA_ADDR") else { return };
    let f = Ferros::new();
    let topic = unique("gcn.notices.svom.voevent.test-");
    let eclairs = notice("svom_eclairs/eclairs_301.xml");
    produce(&addr, &topic, &[s(&eclairs), "-"]);
    f.write(
        "ferros.toml",
        &format!(
            "[alerts]\nkafka = [\"{addr}\"]\nkafka_topics = [\"{topic}\"]\nkafka_start = \"earliest\"\n"
        ),
    );
    // Killed between the notice's receipt and its storing: nothing stored.
    let mut r = Running::start(&f, DARK, &[("FERROS_ALERT_PAUSE_BEFORE_STORE", "1")]);
    r.wait("paused before storing it");
    r.kill("-KILL");
    assert_eq!(f.json(&["alert", "list", "--json"]).as_array().unwrap().len(), 0);
    // Started again: read from the stored position, taken once, the telescope slews.
    let mut r = Running::start(&f, DARK, &[]);
    r.wait("ALERT 1 CREATED");
    let refused = r.wait("ALERT 2 REFUSED");
    assert!(refused.contains("not a VOEvent"), "{refused}");
    let a = wait_for_slew(&f, &mut r, 1);
    assert_eq!(a["source"], format!("kafka:{topic}[0]@0"));
    r.kill("-INT");
    // A third start takes nothing again; a new notice of the burst updates it.
    produce(&addr, &topic, &[s(&notice("svom_mxt/mxt_41.xml"))]);
    let mut r = Running::start(&f, DARK, &[]);
    r.wait("ALERT 3 UPDATED");
    r.kill("-INT");
    let list = f.json(&["alert", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
    assert_eq!(f.request_count(), 1);
}

#[test]
fn a_comet_notice_ends_as_a_slew_once_across_a_kill() {
    let (Ok(receive), Ok(broadcast)) =
        (std::env::var("FERROS_TEST_COMET_RECEIVE"), std::env::var("FERROS_TEST_COMET_BROADCAST"))
    else {
        return;
    };
    let f = Ferros::new();
    f.write("ferros.toml", &format!("[alerts]\nvtp = [\"{broadcast}\"]\n"));
    // A broker refuses what it has seen: each run sends notices of its own.
    let tag = unique("run");
    let own = |rel: &str, name: &str| {
        let text = std::fs::read_to_string(notice(rel)).unwrap();
        f.write(
            name,
            &text.replace(
                "ivorn=\"ivo://org.svom/fsc#sb26022802_",
                &format!("ivorn=\"ivo://org.svom/fsc#sb26022802_{tag}_"),
            ),
        )
    };
    let (eclairs, mxt) =
        (own("svom_eclairs/eclairs_301.xml", "eclairs.xml"), own("svom_mxt/mxt_41.xml", "mxt.xml"));
    let send = |file: &PathBuf| {
        let (host, port) = receive.rsplit_once(':').unwrap();
        let out = std::process::Command::new("comet-sendvo")
            .args(["--host", host, "--port", port, "-f", s(file)])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "comet-sendvo: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // Killed between receipt and storing: the notice waits in the spool.
    let mut r = Running::start(&f, DARK, &[("FERROS_ALERT_PAUSE_BEFORE_STORE", "1")]);
    r.wait("subscribed");
    send(&eclairs);
    r.wait("paused before storing it");
    r.kill("-KILL");
    assert_eq!(f.json(&["alert", "list", "--json"]).as_array().unwrap().len(), 0);
    let mut r = Running::start(&f, DARK, &[]);
    r.wait("ALERT 1 CREATED");
    r.wait("taken from the spool after a restart");
    let a = wait_for_slew(&f, &mut r, 1);
    assert!(a["source"].as_str().unwrap().starts_with("vtp:"), "{a}");
    // Another notice of the burst, live through the broker.
    r.wait("subscribed");
    send(&mxt);
    r.wait("ALERT 2 UPDATED");
    r.kill("-INT");
    assert_eq!(f.json(&["alert", "list", "--json"]).as_array().unwrap().len(), 2);
    assert_eq!(f.request_count(), 1);
}
