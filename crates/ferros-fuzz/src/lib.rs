//! Mutation fuzzing of every reader of outside input: the request XML, the
//! FITS reader, Alpaca's ImageBytes, the INDI stream, the socket protocol's
//! stream and STATUS, VOEvent notices, PLC scenarios and `socket_config.ini`. Each target
//! starts from its kept corpus (`fuzz/corpus/<target>/`), mutates it (bits,
//! bytes, insertions, deletions, repeats, splices, a dictionary of hostile
//! tokens) and feeds every input to the reader: any answer will do, a panic
//! is a crash. Coverage-guided `cargo fuzz` needs a nightly toolchain; Ferros
//! builds on stable, so this runs everywhere, CI included.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

/// A reader under test: it takes bytes and must answer.
#[derive(Debug)]
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
    /// Tokens worth inserting into this kind of input.
    pub dictionary: &'static [&'static str],
}

/// The largest input a mutation makes (the readers' limits are tested by
/// their own tests; fuzzing looks for panics in the parsing).
pub const MAX_INPUT: usize = 64 * 1024;

const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1e300",
    "-1e300",
    "NaN",
    "inf",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "0.0000001",
    "2461366.5",
];

fn block_on(f: impl std::future::Future<Output = ()>) {
    match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt.block_on(f),
        Err(e) => panic!("no runtime: {e}"),
    }
}

fn request_xml(b: &[u8]) {
    let now = ferros_domain::JulianDate::new(2_461_366.5).unwrap_or_else(|e| panic!("{e}"));
    let _ = ferros_request_xml::read_request(
        &String::from_utf8_lossy(b),
        &ferros_request_xml::ReadOptions::at(now),
    );
}

fn fits(b: &[u8]) {
    let _ = ferros_fits::read(b);
}

fn alpaca_image_bytes(b: &[u8]) {
    let _ = ferros_devices_alpaca::image_bytes::parse(b);
}

fn indi_xml(b: &[u8]) {
    block_on(async {
        let mut r = ferros_devices_indi::xml::MessageReader::with_limit(b, 16 * 1024);
        for _ in 0..1_000 {
            if !matches!(r.next().await, Ok(Some(_))) {
                break;
            }
        }
    });
}

fn socket_stream(b: &[u8]) {
    use ferros_devices_socket::{stream::JsonReader, wire};
    block_on(async {
        let mut r = JsonReader::with_limit(16 * 1024);
        let mut input = b;
        for _ in 0..1_000 {
            match r.next(&mut input).await {
                Ok(v) => {
                    let _ = wire::decode_status(&v);
                    let _ = wire::command_names(&v);
                }
                Err(_) => break,
            }
        }
    });
}

fn voevent(b: &[u8]) {
    let _ = ferros_voevent::parse(&String::from_utf8_lossy(b));
}

/// A VOEvent Transport Protocol stream, each message read as a notice and
/// decided on with the built-in strategies.
fn vtp_stream(b: &[u8]) {
    use std::sync::OnceLock;
    static RULES: OnceLock<(ferros_alerts::Strategies, ferros_alerts::Sky)> = OnceLock::new();
    let (strategies, sky) = RULES.get_or_init(|| {
        let wheels = ferros_domain::Wheels::default();
        let site = ferros_astro::Site::new(31.0439, -115.4637, 2830.0).unwrap_or_else(|_| unreachable!());
        (
            ferros_alerts::Strategies::builtin(&wheels).unwrap_or_else(|e| panic!("{e}")),
            ferros_alerts::Sky { site, night_altitude: -12.0 },
        )
    });
    block_on(async {
        let mut input = b;
        for _ in 0..64 {
            let ferros_agents::alerts::Incoming::Message(m) =
                ferros_agents::alerts::read_frame(&mut input).await
            else {
                break;
            };
            let Ok(event) = ferros_voevent::parse(&String::from_utf8_lossy(&m)) else { continue };
            let Ok(facts) = ferros_alerts::Facts::of(&event) else { continue };
            let now = facts.trigger.unwrap_or_default();
            let rules = ferros_alerts::Rules {
                strategies,
                sky,
                build: ferros_alerts::BuildContext {
                    now,
                    program: "GRB",
                    readouts: ferros_domain::Readouts::DEFAULT,
                    field_of_view_deg: 0.43,
                },
                accept_tests: true,
                same_burst_s: 120.0,
            };
            let _ = ferros_alerts::decide(&event, &facts, &[], &rules);
        }
    });
}

/// A strategy file, read and checked against a wheel of four filters.
fn strategy(b: &[u8]) {
    let wheel = |names: &[&str]| ferros_domain::Wheel {
        names: names.iter().map(|n| (*n).to_owned()).collect(),
        aliases: Default::default(),
    };
    let wheels = ferros_domain::Wheels { vis: wheel(&["g", "r", "i", "z"]), nir: wheel(&["J", "H"]) };
    let _ = ferros_alerts::Strategies::load([("fuzz.toml", String::from_utf8_lossy(b).as_ref())], &wheels);
}

fn scenario(b: &[u8]) {
    let _ = ferros_devices_sim::Scenario::parse(&String::from_utf8_lossy(b));
}

fn socket_config(b: &[u8]) {
    let _ = ferros_devices_socket::SocketConfig::parse(&String::from_utf8_lossy(b));
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "request_xml",
        run: request_xml,
        dictionary: &[
            "<request ",
            "<sequence ",
            "<album ",
            "<plan ",
            "</plan>",
            "/>",
            "=\"",
            "\"",
            "&#10;",
            "&#x202e;",
            "<!DOCTYPE x [<!ENTITY a \"aaaa\">]>",
            "&a;",
            "nb_images",
            "exposure",
            "duration",
            "window",
            "binning",
            "jd1",
            "jd2",
            "relative=\"1\"",
            "detector=\"NIR\"",
            "Ω",
        ],
    },
    Target {
        name: "fits",
        run: fits,
        dictionary: &[
            "END     ",
            "NAXIS   =",
            "NAXIS1  =",
            "BITPIX  =",
            "-64",
            "BZERO   =",
            "BSCALE  =",
            "SIMPLE  =",
            "'",
        ],
    },
    Target { name: "alpaca_image_bytes", run: alpaca_image_bytes, dictionary: &["\u{1}", "\u{2}", "\u{ff}"] },
    Target {
        name: "indi_xml",
        run: indi_xml,
        dictionary: &[
            "<defNumberVector ",
            "<setBLOBVector ",
            "<oneBLOB ",
            "<oneText>",
            "</oneText>",
            "size=\"",
            "format=\".fits\"",
            "<![CDATA[",
            "]]>",
            "&amp;",
            "&#0;",
            "<delProperty ",
            "/>",
            ">",
            "<",
            "state=\"Alert\"",
        ],
    },
    Target {
        name: "socket_stream",
        run: socket_stream,
        dictionary: &[
            "{",
            "}",
            "[",
            "]",
            "\"",
            ":",
            ",",
            "\"status\"",
            "\"sensors\"",
            "\"mode\"",
            "null",
            "true",
            "\\u0000",
        ],
    },
    Target {
        name: "vtp_stream",
        run: vtp_stream,
        dictionary: &[
            "\u{0}\u{0}\u{0}\u{10}",
            "<trn:Transport role=\"iamalive\">",
            "<C1>",
            "<Error2Radius>",
            "cite=\"retraction\"",
            "role=\"test\"",
            "Burst_Id",
        ],
    },
    Target {
        name: "strategy",
        run: strategy,
        dictionary: &[
            "[[ladder]]",
            "[match]",
            "[target]",
            "after_min = ",
            "exposure_s = ",
            "images = ",
            "1e309",
            "-0",
            "\"\"\"",
            "= {",
            "max_tiles = ",
            "roles = [\"test\"]",
        ],
    },
    Target {
        name: "voevent",
        run: voevent,
        dictionary: &[
            "<Param ",
            "<Group ",
            "<C1>",
            "</C1>",
            "<C2>",
            "</C2>",
            "<Error2Radius>",
            "<ISOTime>",
            "role=\"",
            "ivorn=\"",
            "ivo://",
            "cite=\"",
            "importance=\"",
            "<Why ",
            "<Inference ",
            "UTC-FK5-GEO",
        ],
    },
    Target {
        name: "scenario",
        run: scenario,
        dictionary: &["{", "}", "[", "]", "\"iterations\"", "\"changes\"", "\"at\"", ":", ","],
    },
    Target {
        name: "socket_config",
        run: socket_config,
        dictionary: &["[", "]", "=", "ip", "port", "65535", "65536", "Telescope", "CameraVIS", "\n"],
    },
];

/// A small deterministic generator (SplitMix64).
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when n is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { usize::try_from(self.next() % n as u64).unwrap_or(0) }
    }
}

/// One input made from the corpus: a few mutations of one of its entries.
pub fn mutate(corpus: &[Vec<u8>], dictionary: &[&str], rng: &mut Rng) -> Vec<u8> {
    let mut b = corpus.get(rng.below(corpus.len())).cloned().unwrap_or_default();
    for _ in 0..=rng.below(4) {
        let at = rng.below(b.len() + 1);
        match rng.below(8) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = u8::try_from(rng.below(256)).unwrap_or(0);
            }
            2 => {
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| u8::try_from(rng.below(256)).unwrap_or(0)).collect();
                b.splice(at..at, bytes);
            }
            3 if !b.is_empty() => {
                let end = (at + 1 + rng.below(64)).min(b.len());
                b.drain(at.min(end)..end);
            }
            4 if !b.is_empty() => {
                let start = rng.below(b.len());
                let end = (start + 1 + rng.below(64)).min(b.len());
                let piece = b[start..end].repeat(1 + rng.below(16));
                b.splice(at..at, piece);
            }
            5 if !corpus.is_empty() => {
                let other = &corpus[rng.below(corpus.len())];
                let start = rng.below(other.len());
                let end = (start + rng.below(256)).min(other.len());
                b.splice(at..at, other[start..end].iter().copied());
            }
            6 if !dictionary.is_empty() => {
                let t = dictionary[rng.below(dictionary.len())];
                b.splice(at..at, t.bytes());
            }
            _ => {
                let t = NUMBERS[rng.below(NUMBERS.len())];
                b.splice(at..at, t.bytes());
            }
        }
        b.truncate(MAX_INPUT);
    }
    b
}

/// Reads a target's corpus: every file in `dir/<target>/`, sorted by name.
pub fn corpus(dir: &Path, target: &str) -> std::io::Result<Vec<Vec<u8>>> {
    let mut files: Vec<_> =
        std::fs::read_dir(dir.join(target))?.filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    files.iter().map(std::fs::read).collect()
}

/// What a run of one target did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub runs: u64,
    pub seconds: f64,
    /// The first input that panicked, with the panic's message.
    pub crash: Option<(Vec<u8>, String)>,
}

/// Feeds `target` the corpus itself, then mutations of it, for `time`.
pub fn fuzz(target: &Target, corpus: &[Vec<u8>], time: Duration, seed: u64) -> Outcome {
    let mut rng = Rng::new(seed);
    let start = Instant::now();
    let mut runs = 0u64;
    let mut i = 0usize;
    loop {
        let input =
            if i < corpus.len() { corpus[i].clone() } else { mutate(corpus, target.dictionary, &mut rng) };
        i += 1;
        runs += 1;
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| (target.run)(&input))) {
            let why = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            return Outcome { runs, seconds: start.elapsed().as_secs_f64(), crash: Some((input, why)) };
        }
        if i >= corpus.len() && start.elapsed() >= time {
            return Outcome { runs, seconds: start.elapsed().as_secs_f64(), crash: None };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus")
    }

    /// Every kept input reads without a panic, and a short run of
    /// mutations too: the fuzzing that CI runs longer.
    #[test]
    fn every_target_survives_its_corpus_and_a_short_run() {
        for t in TARGETS {
            let c = corpus(&corpus_dir(), t.name).unwrap();
            assert!(!c.is_empty(), "{}: no corpus", t.name);
            let o = fuzz(t, &c, Duration::ZERO, 1);
            assert_eq!(o.crash.as_ref().map(|c| &c.1), None, "{}", t.name);
            let mut rng = Rng::new(7);
            for _ in 0..300 {
                let input = mutate(&c, t.dictionary, &mut rng);
                assert!(input.len() <= MAX_INPUT);
                (t.run)(&input);
            }
        }
    }

    #[test]
    fn a_panicking_reader_is_a_crash_with_its_input() {
        fn panics(b: &[u8]) {
            assert!(!b.starts_with(b"boom"), "a boom");
        }
        let t = Target { name: "t", run: panics, dictionary: &[] };
        let o = fuzz(&t, &[b"ok".to_vec(), b"boom".to_vec()], Duration::ZERO, 1);
        let (input, why) = o.crash.unwrap();
        assert_eq!((input.as_slice(), why.as_str(), o.runs), (&b"boom"[..], "a boom", 2));
    }
}
