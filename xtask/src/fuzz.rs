//! `cargo xtask fuzz [TARGET...] [--time S] [--runs N] [--list]`: the libFuzzer targets of the
//! workspace, run with cargo-fuzz on the stable toolchain.
//!
//! cargo-fuzz needs nightly flags (`-Z sanitizer`, `-Cpasses=sancov-module`); `RUSTC_BOOTSTRAP=1`
//! lets the stable compiler take them. Targets run without a sanitizer (`--sanitizer none`):
//! the code is safe Rust, so what a run looks for is a panic, an endless loop (libFuzzer's
//! timeout) or unbounded memory (its RSS limit), and the build is several times faster. Each
//! target reads its committed seed corpus (`crates/<crate>/fuzz/corpus/<target>`, never
//! written) and grows a working corpus under `target/fuzz-corpus/<target>`. A crash leaves its
//! input in `crates/<crate>/fuzz/artifacts/<target>/` and fails the command.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail};

/// Every fuzz target: its crate folder under `crates/` and its name.
pub(crate) const TARGETS: &[(&str, &str)] = &[
    ("emproto", "parse_packet"),
    ("emproto", "em_session"),
    ("givenergy-dongle", "framer"),
    ("device-maps", "map_loader"),
    ("device-maps", "read_path"),
    ("service", "site_config"),
    ("service", "http_body"),
];

/// What one run reported.
struct Outcome {
    target: &'static str,
    runs: u64,
    seconds: f64,
    coverage: Option<u64>,
    features: Option<u64>,
}

pub(crate) fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let mut time: u64 = 60;
    let mut runs: Option<u64> = None;
    let mut chosen: Vec<&str> = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--list" => {
                for (krate, target) in TARGETS {
                    println!("{target:14} crates/{krate}/fuzz");
                }
                return Ok(());
            }
            "--time" => {
                time = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .context("--time takes a number of seconds")?;
            }
            "--runs" => {
                runs = Some(
                    args.next()
                        .and_then(|v| v.parse().ok())
                        .context("--runs takes a number of executions")?,
                );
            }
            name if !name.starts_with('-') => chosen.push(name),
            other => bail!(
                "unknown option `{other}`; usage: cargo xtask fuzz [TARGET...] [--time S] [--runs N] [--list]"
            ),
        }
    }
    for name in &chosen {
        if !TARGETS.iter().any(|(_, t)| t == name) {
            let names: Vec<&str> = TARGETS.iter().map(|(_, t)| *t).collect();
            bail!(
                "no fuzz target `{name}`; the targets are {}",
                names.join(", ")
            );
        }
    }
    let have = Command::new("cargo")
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        bail!("cargo-fuzz is not installed; install it with `cargo install cargo-fuzz --locked`");
    }
    let mut outcomes = Vec::new();
    for (krate, target) in TARGETS {
        if !chosen.is_empty() && !chosen.contains(target) {
            continue;
        }
        outcomes.push(run_one(root, krate, target, time, runs)?);
    }
    println!(
        "\n{:14} {:>12} {:>8} {:>10} {:>7} {:>7}",
        "target", "executions", "seconds", "exec/s", "cov", "ft"
    );
    for o in &outcomes {
        let per_second = o.runs as f64 / o.seconds.max(1.0);
        println!(
            "{:14} {:>12} {:>8.0} {:>10.0} {:>7} {:>7}",
            o.target,
            o.runs,
            o.seconds,
            per_second,
            o.coverage.map(|c| c.to_string()).unwrap_or_default(),
            o.features.map(|c| c.to_string()).unwrap_or_default()
        );
    }
    Ok(())
}

fn run_one(
    root: &Path,
    krate: &str,
    target: &'static str,
    time: u64,
    runs: Option<u64>,
) -> anyhow::Result<Outcome> {
    let dir = root.join("crates").join(krate).join("fuzz");
    let seeds = dir.join("corpus").join(target);
    let work = root.join("target").join("fuzz-corpus").join(target);
    std::fs::create_dir_all(&work).with_context(|| format!("create {}", work.display()))?;
    let mut libfuzzer = vec![
        format!("-max_total_time={time}"),
        "-timeout=10".to_owned(),
        "-rss_limit_mb=2048".to_owned(),
        "-print_final_stats=1".to_owned(),
    ];
    if let Some(n) = runs {
        libfuzzer.push(format!("-runs={n}"));
    }
    println!("fuzz: {target} (crates/{krate}/fuzz), up to {time} s");
    let started = Instant::now();
    let output = Command::new("cargo")
        .current_dir(&dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", root.join("target").join("fuzz"))
        .args(["fuzz", "run", "--sanitizer", "none", target])
        .arg(&work)
        .arg(&seeds)
        .arg("--")
        .args(&libfuzzer)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("run cargo fuzz for {target}"))?;
    let log = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        for line in tail.iter().rev() {
            eprintln!("  {line}");
        }
        bail!(
            "fuzz target `{target}` failed ({}); its input is in crates/{krate}/fuzz/artifacts/{target}/",
            output.status
        );
    }
    let stat = |name: &str| -> Option<u64> {
        log.lines()
            .find_map(|l| l.strip_prefix(&format!("stat::{name}:")))
            .and_then(|v| v.trim().parse().ok())
    };
    // The last status line carries the coverage reached.
    let last = log.lines().rev().find(|l| l.contains(" cov: "));
    let field = |line: &str, key: &str| -> Option<u64> {
        line.split_whitespace()
            .skip_while(|w| *w != key)
            .nth(1)
            .and_then(|v| v.parse().ok())
    };
    let outcome = Outcome {
        target,
        runs: stat("number_of_executed_units").unwrap_or(0),
        seconds: started
            .elapsed()
            .as_secs_f64()
            .min(stat("total_time").map_or(f64::MAX, |t| t as f64 + 1.0)),
        coverage: last.and_then(|l| field(l, "cov:")),
        features: last.and_then(|l| field(l, "ft:")),
    };
    println!(
        "fuzz: {target}: {} executions, cov {}, no crash, timeout or out-of-memory",
        outcome.runs,
        outcome
            .coverage
            .map(|c| c.to_string())
            .unwrap_or_else(|| "?".into())
    );
    Ok(outcome)
}
