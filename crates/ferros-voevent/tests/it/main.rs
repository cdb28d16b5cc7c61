//! The reader on 135 real GCN notices, and on damaged ones.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::path::{Path, PathBuf};

use ferros_voevent::{Cite, Role, VoEventError, parse};

fn notices() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(root).unwrap().flatten().filter(|d| d.path().is_dir()) {
        out.extend(std::fs::read_dir(dir.path()).unwrap().flatten().map(|f| f.path()));
    }
    out.sort();
    out
}

fn read(rel: &str) -> ferros_voevent::VoEvent {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(rel);
    parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every notice reads; those of a kind with a position give one on the sky.
#[test]
fn every_real_notice_reads() {
    let files = notices();
    assert_eq!(files.len(), 135);
    let mut positions = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let e = parse(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(e.ivorn.starts_with("ivo://"), "{}", f.display());
        assert!(e.param("Packet_Type").is_some() || e.param("Pkt_Type").is_some() || !e.params.is_empty());
        if let Some(p) = e.position() {
            positions += 1;
            assert!((0.0..360.0).contains(&p.ra_deg) && (-90.0..=90.0).contains(&p.dec_deg));
        }
    }
    assert!(positions >= 80, "{positions} notices with a position");
}

#[test]
fn an_eclairs_notice_maps_onto_the_model() {
    let e = read("svom_eclairs/eclairs_297.xml");
    assert_eq!(e.ivorn, "ivo://org.svom/fsc#sb26021102_not-slewing");
    assert_eq!(e.role, Role::Observation);
    assert_eq!(e.who.short_name.as_deref(), Some("FSC"));
    assert_eq!(e.param("Burst_Id").unwrap().value, "sb26021102");
    assert_eq!(e.param("Burst_Id").unwrap().group.as_deref(), Some("Svom_Identifiers"));
    assert_eq!(e.number("SNR"), Some(14.48));
    let w = e.where_when.as_ref().unwrap();
    assert_eq!(w.system.as_deref(), Some("UTC-ICRS-GEO"));
    assert_eq!(w.time.unwrap().to_rfc3339(), "2026-02-11T19:24:28.734+00:00");
    let p = e.position().unwrap();
    assert_eq!((p.ra_deg, p.dec_deg, p.error_deg), (86.9994, -0.4306, Some(0.0947)));
    assert_eq!(e.citations.len(), 2);
    assert!(e.citations.iter().all(|c| c.cite == Cite::Followup));
    assert!(!e.is_retraction());
}

/// SVOM/GRM sends -1 for an unknown error radius: read as unknown.
#[test]
fn a_negative_error_radius_is_unknown() {
    let p = read("svom_grm/grm_330.xml").position().unwrap();
    assert_eq!((p.ra_deg, p.dec_deg, p.error_deg), (171.5201, -40.9497, None));
}

#[test]
fn a_gravitational_wave_retraction_is_one() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/lvc_retraction");
    for f in std::fs::read_dir(dir).unwrap().flatten() {
        let e = parse(&std::fs::read_to_string(f.path()).unwrap()).unwrap();
        assert!(e.is_retraction(), "{}", f.path().display());
        assert!(e.position().is_none());
    }
}

#[test]
fn a_fermi_position_has_its_error_circle_and_importance() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fermi_gbm_flt_pos");
    let f = std::fs::read_dir(dir).unwrap().flatten().next().unwrap().path();
    let e = parse(&std::fs::read_to_string(f).unwrap()).unwrap();
    assert!(e.position().unwrap().error_deg.unwrap() > 1.0);
    assert_eq!(e.why.as_ref().unwrap().importance, Some(0.5));
}

/// What is missing or wrong is named, with where it was looked for.
#[test]
fn damaged_notices_are_refused_with_the_reason() {
    let good = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/svom_eclairs/eclairs_297.xml"),
    )
    .unwrap();
    let cases: [(String, &str); 11] = [
        (
            good.replace("http://www.ivoa.net/xml/VOEvent/v2.0\"", "http://example.org/v9\""),
            "namespace \"http://example.org/v9\" is not VOEvent's",
        ),
        (
            good.replace("xmlns:voe=\"http://www.ivoa.net/xml/VOEvent/v2.0\"", "").replace("voe:", ""),
            "no namespace",
        ),
        (
            good.replace("ivorn=\"ivo://org.svom/fsc#sb26021102_not-slewing\"", ""),
            "VOEvent: missing the ivorn attribute",
        ),
        (good.replace("ivo://org.svom/fsc#sb26021102_not-slewing", "http://x"), "does not begin with ivo://"),
        (good.replace("role=\"observation\"", "role=\"rumour\""), "role \"rumour\" is not one of"),
        (good.replace("<C1>86.9994</C1>", ""), "missing Value2/C1 (RA)"),
        (good.replace("<C2>-0.4306</C2>", "<C2>-95</C2>"), "RA 86.9994, Dec -95 is not a place on the sky"),
        (good.replace("<C1>86.9994</C1>", "<C1>east</C1>"), "Position2D/Value2/C1: \"east\" is not a number"),
        (good.replace("2026-02-11T19:24:28.734000", "yesterday"), "\"yesterday\" is not an ISO 8601 time"),
        (good.replace("cite=\"followup\"", "cite=\"maybe\""), "cite \"maybe\" is not one of"),
        (good.replace("UTC-ICRS-GEO\"/>", "UTC-GALACTIC-GEO\"/>"), "only ICRS and FK5"),
    ];
    for (xml, expected) in cases {
        let e = parse(&xml).unwrap_err().to_string();
        assert!(e.contains(expected), "expected {expected:?}, got {e:?}");
    }
    assert!(matches!(parse("<request/>"), Err(VoEventError::NotVoEvent(_))));
    assert!(matches!(parse("<VOEvent"), Err(VoEventError::Xml(_))));
    let dtd = "<!DOCTYPE v [<!ENTITY a \"b\">]><VOEvent ivorn=\"ivo://x\">&a;</VOEvent>";
    assert!(matches!(parse(dtd), Err(VoEventError::Xml(_))));
    let huge = " ".repeat(ferros_limits::MAX_VOEVENT_BYTES + 1);
    assert!(matches!(parse(&huge), Err(VoEventError::TooLarge(_))));
}
