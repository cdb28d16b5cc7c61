//! `ferros alert` end to end, on real GCN notices.

use std::path::PathBuf;

use super::{Ferros, s};

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
