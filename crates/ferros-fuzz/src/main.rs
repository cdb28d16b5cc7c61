//! `ferros-fuzz [--seconds N] [--seed S] [TARGET...]`: fuzzes each target
//! (all by default) for N seconds from `fuzz/corpus/`; prints the runs and
//! the time of each; a crash is saved under `fuzz/crashes/` and exits 1.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ferros_fuzz::{TARGETS, corpus, fuzz};

fn main() -> ExitCode {
    let mut seconds = 10.0f64;
    let mut seed = 1u64;
    let mut only = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = |v: Option<String>, what: &str| v.ok_or_else(|| format!("{what} needs a value"));
        let parsed = match a.as_str() {
            "--seconds" => value(args.next(), "--seconds").and_then(|v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && (0.0..=86_400.0).contains(s))
                    .map(|s| seconds = s)
                    .ok_or(format!("--seconds: {v} is not 0 to 86400"))
            }),
            "--seed" => value(args.next(), "--seed").and_then(|v| {
                v.parse().map(|s| seed = s).map_err(|_| format!("--seed: {v} is not a number"))
            }),
            t if TARGETS.iter().any(|x| x.name == t) => {
                only.push(t.to_owned());
                Ok(())
            }
            other => Err(format!(
                "unknown argument {other:?} (targets: {})",
                TARGETS.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
            )),
        };
        if let Err(e) = parsed {
            eprintln!("ferros-fuzz: {e}");
            return ExitCode::from(2);
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    // A reader's panic is reported as a crash, not printed by the hook.
    std::panic::set_hook(Box::new(|_| {}));
    let mut total = 0.0;
    for t in TARGETS.iter().filter(|t| only.is_empty() || only.iter().any(|o| o == t.name)) {
        let c = match corpus(&root.join("corpus"), t.name) {
            Ok(c) if !c.is_empty() => c,
            Ok(_) | Err(_) => {
                eprintln!("ferros-fuzz: {}: no corpus in fuzz/corpus/{}", t.name, t.name);
                return ExitCode::from(2);
            }
        };
        let o = fuzz(t, &c, Duration::from_secs_f64(seconds), seed);
        total += o.seconds;
        if let Some((input, why)) = o.crash {
            let dir = root.join("crashes");
            let path = dir.join(format!("{}-{seed}-{}", t.name, o.runs));
            let saved = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, &input));
            println!("{:<20} CRASH after {} runs ({:.1} s): {why}", t.name, o.runs, o.seconds);
            match saved {
                Ok(()) => println!("{:<20} the input is in {}", "", path.display()),
                Err(e) => println!("{:<20} cannot save the input: {e}", ""),
            }
            return ExitCode::from(1);
        }
        println!(
            "{:<20} {:>9} runs in {:>5.1} s, no crash (corpus {} inputs, {:.0} runs/s)",
            t.name,
            o.runs,
            o.seconds,
            c.len(),
            o.runs as f64 / o.seconds.max(1e-9)
        );
    }
    println!("{:<20} {:>5.1} s of fuzzing, no crash", "total", total);
    ExitCode::SUCCESS
}
