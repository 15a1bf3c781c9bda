//! Criterion benches of the wire layer: one status datagram, and every test vector parsed and
//! re-encoded.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use emproto::wire::{Command, Datagrams, Payload, RawFrame, parse_datagram};

/// Every packet of `tests/vectors/*.hex`, as bytes.
fn vectors() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/vectors exists")
        .map(|e| e.expect("readable directory").path())
        .filter(|p| p.extension().is_some_and(|x| x == "hex"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).expect("readable vector");
            let hex: String = text
                .lines()
                .filter(|l| !l.starts_with('#'))
                .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
                .collect();
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect()
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let status = vectors_by_name("D6");
    c.bench_function("parse status datagram (D6, 33-byte payload)", |b| {
        b.iter(|| parse_datagram(black_box(&status)))
    });
    c.bench_function("check the envelope of a status datagram (D6)", |b| {
        b.iter(|| RawFrame::parse(black_box(&status), 0).map(|(f, _)| f.checksum))
    });
    let payload = status[21..status.len() - 4].to_vec();
    c.bench_function("parse a status payload (D6)", |b| {
        b.iter(|| Payload::parse(Command::STATUS, black_box(&payload)))
    });
    c.bench_function("parse_status only (D6)", |b| {
        b.iter(|| emproto::wire::parse_status(black_box(&payload)).map(|(_, s)| s.power_w))
    });
    c.bench_function("parse_charge_start_response only", |b| {
        b.iter(|| {
            emproto::wire::parse_charge_start_response(black_box(&payload[..5]))
                .map(|(_, s)| s.max_current_a)
        })
    });
    let all = vectors();
    assert!(all.len() >= 60);
    let mut out = Vec::with_capacity(8192);
    c.bench_function("parse and re-encode all vectors", |b| {
        b.iter(|| {
            out.clear();
            for packet in &all {
                for d in Datagrams::new(black_box(packet)).flatten() {
                    // Every datagram that parsed encodes.
                    let _ = d.encode_into(&mut out);
                }
            }
            black_box(out.len())
        })
    });
}

fn vectors_by_name(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/vectors/{name}.hex"));
    let text = std::fs::read_to_string(path).expect("readable vector");
    let hex: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<String>();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

criterion_group!(wire, benches);
criterion_main!(wire);
