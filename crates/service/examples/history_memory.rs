//! Memory of the dashboard's history for a site of 100 devices, filled to the brim.
//!
//! ```text
//! cargo run --release -p service --example history_memory -- [--devices 100] [--interval 10s] [--window 1h]
//! ```
//!
//! The devices take the built-in maps in turn (meters, chargers, an inverter); every register
//! the history would chart (a number without an enumeration or text) gets a full ring of one
//! window at the interval. It prints the series, the points, the bytes the history counts and
//! the growth of the process's resident memory (VmRSS), which includes the rings' own
//! bookkeeping and the allocator's slack. Nothing is asserted: the figures are for the docs.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use device_maps::{Kind, Registry};
use service::history::History;

const MAPS: [&str; 5] = [
    "eastron-sdm630",
    "vestel-evc04",
    "alfen-eve",
    "sunspec-inverter",
    "givenergy-hybrid",
];

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let devices: usize = arg(&args, "--devices").map_or(Ok(100), |v| v.parse())?;
    let interval = arg(&args, "--interval")
        .map(|v| device_maps::parse_duration(&v).context("--interval"))
        .transpose()?
        .unwrap_or(Duration::from_secs(10));
    let window = arg(&args, "--window")
        .map(|v| device_maps::parse_duration(&v).context("--window"))
        .transpose()?
        .unwrap_or(Duration::from_secs(3600));
    let registry = Registry::built_in()?;
    let history = History::new(window);
    let capacity = history.capacity(interval);
    let spacing = history.spacing_ms(interval);
    let before = rss_kib();
    let mut charted = 0;
    for i in 0..devices {
        let map = registry
            .get(MAPS[i % MAPS.len()])
            .context("a built-in map")?;
        let id: Arc<str> = Arc::from(format!("d{i:03}"));
        for register in map.registers.iter().filter(|r| {
            r.access.readable()
                && matches!(r.kind, Kind::Measurement | Kind::Counter | Kind::Setting)
                && r.enumeration.is_empty()
                && r.text_enumeration.is_empty()
        }) {
            charted += 1;
            for k in 0..capacity as u64 {
                history.record(
                    &id,
                    &register.name,
                    k * spacing,
                    k as f64,
                    capacity,
                    spacing,
                );
            }
        }
    }
    let after = rss_kib();
    let stats = history.stats();
    println!(
        "history: {devices} devices, {charted} charted registers, window {window:?} at {interval:?} \
         ({capacity} points each): {} series, {} points, {:.1} MiB of points; RSS grew {:.1} MiB \
         ({before} KiB to {after} KiB)",
        stats.series,
        stats.points,
        stats.bytes as f64 / 1_048_576.0,
        (after.saturating_sub(before)) as f64 / 1024.0,
    );
    Ok(())
}
