//! Reading and writing request documents: every shipped sample, the seeds'
//! example, round trips, and each kind of bad input.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::path::PathBuf;

use ferros_domain::{Detector, JulianDate, Readouts, RequestKind, Strategy};
use ferros_request_xml::{Problem, ReadOptions, read_request, write_request};

fn opts() -> ReadOptions {
    ReadOptions::at(JulianDate::new(2_461_366.75).unwrap())
}

/// Cameras that read out at once, as the seeds' example assumes.
fn seed_opts() -> ReadOptions {
    ReadOptions { readouts: Readouts { vis: 0.0, nir: 0.0 }, ..opts() }
}

fn samples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/requests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.push(dir.join("../seeds/seed_example.xml"));
    files.sort();
    files
}

fn problems(xml: &str) -> Vec<String> {
    read_request(xml, &opts()).unwrap_err().iter().map(Problem::to_string).collect()
}

fn seq(attrs: &str, body: &str) -> String {
    format!(
        r#"<request name="r" scientific_program="GRB">
  <sequence name="s" {attrs}>{body}</sequence>
</request>"#
    )
}

const ALBUM: &str =
    r#"<album name="a" detector="VIS"><plan name="p" filter="r" exposure="10" nb_images="2"/></album>"#;

#[test]
fn every_sample_reads_and_round_trips() {
    let files = samples();
    assert!(files.len() >= 11, "expected at least 10 samples and the seeds' example, found {}", files.len());
    for path in files {
        let xml = std::fs::read_to_string(&path).unwrap();
        let opts = if path.ends_with("seed_example.xml") { seed_opts() } else { opts() };
        let first = read_request(&xml, &opts).unwrap_or_else(|p| panic!("{}: {p:?}", path.display()));
        let exported = write_request(&first.request);
        let second = read_request(&exported, &opts)
            .unwrap_or_else(|p| panic!("{}: {p:?}\n{exported}", path.display()));
        assert_eq!(first.request, second.request, "{} does not round trip:\n{exported}", path.display());
        // Writing is stable once read back.
        assert_eq!(exported, write_request(&second.request));
    }
}

#[test]
fn the_seed_example_imports_as_it_is() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/seeds");
    let xml = std::fs::read_to_string(dir.join("seed_example.xml")).unwrap();
    // Five images in 10 s: the seeds' example budgets no readout. Ferros's
    // simulated VIS camera reads out in 5 s, and the plan is refused, saying why.
    let p = problems(&xml);
    assert!(p.iter().any(|l| l.contains("10 s leaves no exposure time: 5 images x 5 s of readout")), "{p:?}");
    let got = read_request(&xml, &seed_opts()).unwrap();
    assert!(got.submit, "submitted=\"1\" asks for submission");
    let r = &got.request;
    assert_eq!(r.program, "GRB");
    assert_eq!(r.target_type, "test");
    let s = &r.sequences[0].spec;
    // relative="1": jd1/jd2 are seconds from now.
    assert!((s.jd1.seconds_since(opts().now) - 15.0).abs() < 1e-3);
    assert!((s.jd2.seconds_since(opts().now) - 60000.0).abs() < 1e-3);
    assert_eq!(s.duration.get(), 10.0);
    assert_eq!(s.coordinates, None);
    assert_eq!(s.target_coords.as_deref(), Some("10"));
    assert_eq!(got.warnings.len(), 1, "{:?}", got.warnings);
    let plan = &r.sequences[0].albums[0].plans[0];
    assert_eq!(r.sequences[0].albums[0].spec.detector, Detector::Vis);
    assert_eq!((plan.nb_images, plan.exposure.get(), plan.duration.get()), (5, 2.0, 10.0));
}

#[test]
fn attributes_map_onto_the_model() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/requests");
    let r = read_request(&std::fs::read_to_string(dir.join("routine_request_03.xml")).unwrap(), &opts())
        .unwrap()
        .request;
    assert_eq!(r.strategy, Strategy::AllOrNothing);
    let s = &r.sequences[0].spec;
    assert_eq!(s.t_prefered.unwrap().days(), 2461369.80);
    assert_eq!(s.constraints.max_airmass, Some(2.0));
    assert!(s.mandatory);
    assert_eq!(r.sequences[0].albums[0].plans[0].window.unwrap().width, 512);

    let r = read_request(&std::fs::read_to_string(dir.join("routine_request_04.xml")).unwrap(), &opts())
        .unwrap()
        .request;
    let c = r.sequences[0].spec.coordinates.unwrap();
    assert!((c.ra.degrees() - 83.822083).abs() < 1e-5, "{c:?}");
    assert!((c.dec.degrees() + 5.391111).abs() < 1e-5, "{c:?}");
    // Albums run in parallel: the sequence lasts its longest album, readouts
    // included: VIS 4 x (300 + 5 / 2^2) s = 1205 s (NIR: 120 x (5 + 2) s = 840 s).
    assert_eq!(r.sequences[0].spec.duration.get(), 1205.0);

    let r = read_request(&std::fs::read_to_string(dir.join("alert_request_01.xml")).unwrap(), &opts())
        .unwrap()
        .request;
    assert_eq!(r.kind, RequestKind::Alert);
}

#[test]
fn malformed_xml_names_line_and_column() {
    let p = problems("<request name=\"x\">\n  <sequence>\n</request>");
    assert_eq!(p.len(), 1);
    assert!(p[0].starts_with("3:1: malformed XML"), "{p:?}");
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let xml = r#"<request name="r" scientific_program="GRB" colour="blue">
  <sequence name="ok" jd1="2461366.5" jd2="2461367.5">
    <album name="a" detector="VIS"><plan name="p" filter="r" exposure="10" nb_images="2"/></album>
  </sequence>
  <sequence name="bad" jd1="2461367.5" jd2="2461366.5" ra="400" dec="-91">
    <album name="a" detector="VIS">
      <plan name="p" filter="r" exposure="-1" nb_images="0"/>
    </album>
    <album name="b" detector="UV"><plan name="p" filter="r" exposure="ten" nb_images="1"/></album>
  </sequence>
</request>"#;
    let p = problems(xml);
    let expect = [
        "request: unknown attribute \"colour\"",
        "request/sequence[2]: ra = 400 is out of range",
        "request/sequence[2]: jd2 = 2461366.5 must be after jd1 = 2461367.5",
        "request/sequence[2]/album[1]/plan[1]: attribute nb_images: 0 is out of range (expected 1..=10000)",
        "request/sequence[2]/album[2]: detector: unknown value \"UV\"",
        "request/sequence[2]/album[2]/plan[1]: attribute exposure: \"ten\" is not a number",
    ];
    for e in expect {
        assert!(p.iter().any(|l| l.contains(e)), "missing {e:?} in {p:#?}");
    }
    assert!(p[0].starts_with("1:1: request:"), "{p:?}");
}

#[test]
fn bad_values_are_rejected_one_by_one() {
    let jd = r#"jd1="2461366.5" jd2="2461367.5""#;
    let cases: Vec<(String, &str)> = vec![
        (seq(&format!(r#"{jd} ra="10" dec="95""#), ALBUM), "dec = 95 is out of range"),
        (seq(&format!(r#"{jd} ra="-1" dec="5""#), ALBUM), "ra = -1 is out of range"),
        (seq(&format!(r#"{jd} ra="10""#), ALBUM), "ra is given without dec"),
        (seq(&format!(r#"{jd} duration="-5""#), ALBUM), "duration = -5 is out of range"),
        (seq(&format!(r#"{jd} duration="5""#), ALBUM), "shorter than its longest album (30 s)"),
        (seq(&format!(r#"{jd} overhead="abc""#), ALBUM), "attribute overhead: \"abc\" is not a number"),
        (seq(&format!(r#"{jd} priority="9""#), ALBUM), "priority = 9 is out of range"),
        (seq(&format!(r#"{jd} priority="99999999999""#), ALBUM), "priority = 99999999999 is out of range"),
        (seq(&format!(r#"{jd} reportable="8""#), ALBUM), "reportable: 8 is out of range"),
        (seq(&format!(r#"{jd} mandatory="perhaps""#), ALBUM), "mandatory: \"perhaps\" is not a boolean"),
        (seq(&format!(r#"{jd} max_airmass="0.5""#), ALBUM), "max_airmass = 0.5 is out of range"),
        (seq(&format!(r#"{jd} t_prefered="2461368""#), ALBUM), "t_prefered = 2461368 is outside the window"),
        (seq(r#"jd1="15" jd2="60000""#, ALBUM), "attribute jd1: jd = 15 is out of range"),
        (seq(r#"jd1="2461366.5""#, ALBUM), "missing attribute jd2"),
        (
            seq(jd, r#"<album name="a" detector="VIS"><plan name="p" filter="r" nb_images="2"/></album>"#),
            "needs exposure",
        ),
        (
            seq(
                jd,
                r#"<album name="a" detector="VIS"><plan name="p" filter="r" exposure="10" nb_images="2" duration="5"/></album>"#,
            ),
            "duration: 5 s is shorter than nb_images x exposure",
        ),
        // Every image's readout (5 s on the VIS camera) is budgeted.
        (
            seq(
                jd,
                r#"<album name="a" detector="VIS"><plan name="p" filter="r" exposure="10" nb_images="2" duration="25"/></album>"#,
            ),
            "duration: 25 s is shorter than nb_images x (exposure + readout) = 2 x (10 + 5) s = 30 s",
        ),
        // The plan that never ended: 4294967295 images of 0 s in 10 s.
        (
            seq(
                jd,
                r#"<album name="a" detector="VIS"><plan name="p" filter="r" exposure="0" nb_images="4294967295" duration="10"/></album>"#,
            ),
            "attribute nb_images: 4294967295 is out of range (expected 1..=10000)",
        ),
        (
            seq(
                jd,
                r#"<album name="a" detector="VIS"><plan name="p" filter="r" exposure="0" nb_images="3" duration="10"/></album>"#,
            ),
            "duration: 10 s is shorter than nb_images x (exposure + readout) = 3 x (0 + 5) s = 15 s",
        ),
        (
            seq(
                jd,
                r#"<album name="a" detector="VIS"><plan name="p" filter="r" exposure="1" nb_images="2" binning="9"/></album>"#,
            ),
            "binning: 9",
        ),
        (
            seq(
                jd,
                r#"<album name="a" detector="VIS"><plan name="p" filter="r" exposure="1" nb_images="2" window="1,2,3"/></album>"#,
            ),
            "window",
        ),
        (seq(jd, r#"<album name="a" detector="VIS"><exposure/></album>"#), "unexpected element <exposure>"),
        (seq(jd, "some text"), "unexpected text"),
        (seq(jd, ""), "the sequence has no duration"),
        (r#"<request name="r" scientific_program="GRB"/>"#.to_owned(), "at least one <sequence>"),
        (r#"<plan name="p"/>"#.to_owned(), "the root element must be <request>"),
        (
            r#"<request scientific_program="GRB"><sequence/></request>"#.to_owned(),
            "request: missing attribute name",
        ),
    ];
    for (xml, expected) in cases {
        let p = problems(&xml);
        assert!(p.iter().any(|l| l.contains(expected)), "expected {expected:?} for\n{xml}\ngot {p:#?}");
    }
}

#[test]
fn a_sequence_without_album_is_accepted_as_incomplete() {
    let xml = seq(r#"jd1="2461366.5" jd2="2461367.5" duration="60""#, "");
    let got = read_request(&xml, &opts()).unwrap();
    assert!(got.request.sequences[0].albums.is_empty());
    assert!(got.warnings[0].to_string().contains("INCOMPLETE"));
}

#[test]
fn special_characters_survive_a_round_trip() {
    let xml = seq(r#"jd1="2461366.5" jd2="2461367.5" target="A &amp; B &lt;&quot;x&quot;&gt;""#, ALBUM);
    let got = read_request(&xml, &opts()).unwrap().request;
    assert_eq!(got.sequences[0].spec.target.as_deref(), Some("A & B <\"x\">"));
    let back = read_request(&write_request(&got), &opts()).unwrap().request;
    assert_eq!(got, back);
}

#[test]
fn doctype_declarations_are_refused() {
    let p =
        problems("<!DOCTYPE request [<!ENTITY x \"y\">]><request name=\"&x;\" scientific_program=\"GRB\"/>");
    assert!(p[0].contains("malformed XML"), "{p:?}");
}

#[test]
fn control_and_direction_characters_in_names_are_refused_with_their_place() {
    let p = problems(&seq(r#"jd1="2461366.5" jd2="2461367.5" target="M31&#10;fake row""#, ALBUM));
    assert!(
        p.iter().any(|x| x.contains("sequence[1]: attribute \"target\": character \\u{a} at 4 is a control")),
        "{p:?}"
    );
    let spoof = "<request name=\"invoice\u{202e}fdp.exe\" scientific_program=\"GRB\"><sequence name=\"s\" \
                 jd1=\"2461366.5\" jd2=\"2461367.5\">"
        .to_owned()
        + ALBUM
        + "</sequence></request>";
    let p = problems(&spoof);
    assert!(
        p.iter()
            .any(|x| x.contains("attribute \"name\": character \\u{202e} at 8 is a character that changes")),
        "{p:?}"
    );
    let c1 = seq(r#"jd1="2461366.5" jd2="2461367.5" target="a&#x85;b""#, ALBUM);
    assert!(problems(&c1).iter().any(|x| x.contains("\\u{85} at 2 is a control character")));
    // Names from any script are welcome.
    let ok = seq(r#"jd1="2461366.5" jd2="2461367.5" target="Ω Centauri""#, ALBUM);
    assert!(read_request(&ok, &opts()).is_ok());
}

#[test]
fn names_and_counts_have_limits() {
    let long = "x".repeat(257);
    let p = problems(&seq(&format!(r#"jd1="2461366.5" jd2="2461367.5" target="{long}""#), ALBUM));
    assert!(p.iter().any(|x| x.contains("attribute \"target\": 257 characters, at most 256")), "{p:?}");
    let one = format!(r#"<sequence name="s" jd1="2461366.5" jd2="2461367.5">{ALBUM}</sequence>"#);
    let many = format!(r#"<request name="r" scientific_program="GRB">{}</request>"#, one.repeat(501));
    let p = problems(&many);
    assert!(p.iter().any(|x| x.contains("request: more than 500 <sequence> here: at most 500")), "{p:?}");
    let plans = r#"<plan name="p" filter="r" exposure="10" nb_images="2"/>"#.repeat(65);
    let p = problems(&seq(
        r#"jd1="2461366.5" jd2="2461367.5""#,
        &format!(r#"<album name="a" detector="VIS">{plans}</album>"#),
    ));
    assert!(p.iter().any(|x| x.contains("more than 64 <plan> here")), "{p:?}");
}

/// Whatever the text, the reader answers (a request or its problems), never panics.
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    fn sample() -> String {
        std::fs::read_to_string(samples()[0].clone()).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1_000))]
        #[test]
        fn any_text_reads_without_panic(text in ".{0,400}") {
            let _ = read_request(&text, &opts());
        }

        #[test]
        fn a_damaged_request_reads_without_panic(
            edits in proptest::collection::vec((0usize..4000, proptest::char::any()), 1..8),
            cut in 0usize..4000,
        ) {
            let mut chars: Vec<char> = sample().chars().collect();
            let n = chars.len().max(1);
            for (at, c) in edits {
                if let Some(x) = chars.get_mut(at % n) {
                    *x = c;
                }
            }
            chars.truncate(cut.max(1));
            let text: String = chars.into_iter().collect();
            let _ = read_request(&text, &opts());
        }
    }
}

/// A plan's filter is checked against its camera's wheel, when the wheel is
/// known, through the wheel's aliases; the problem lists what the wheel has.
#[test]
fn filters_are_checked_against_the_wheel() {
    let xml = |filter: &str| {
        seq(
            r#"jd1="2461366.5" jd2="2461367.5""#,
            &format!(
                r#"<album name="a" detector="VIS"><plan name="p" filter="{filter}" exposure="10" nb_images="2"/></album>"#
            ),
        )
    };
    let names = ["Red", "Green", "Blue"].map(String::from).to_vec();
    let mut o = opts();
    o.wheels.vis = ferros_domain::Wheel { names, aliases: Default::default() };
    let p = read_request(&xml("r"), &o).unwrap_err();
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].message, "attribute filter: no filter \"r\" on the wheel (it has Red, Green, Blue)");
    assert!(read_request(&xml("Red"), &o).is_ok());
    o.wheels.vis.aliases.insert("r".into(), "Red".into());
    let r = read_request(&xml("r"), &o).unwrap().request;
    // The request keeps its own name; the executor turns the wheel to the alias's slot.
    assert_eq!(r.sequences[0].albums[0].plans[0].filter, "r");
    let p = read_request(&xml("i"), &o).unwrap_err();
    assert_eq!(
        p[0].message,
        "attribute filter: no filter \"i\" on the wheel (it has Red, Green, Blue; aliases r = Red)"
    );
    // An unknown wheel (not simulated, not configured): any filter, checked when the night begins.
    assert!(read_request(&xml("anything"), &opts()).is_ok());
}
