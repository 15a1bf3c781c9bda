//! Parses one status datagram (vector D6) ten million times, for measuring CPU time with
//! `perf stat` or `time` on a machine too busy for criterion's wall-clock figures:
//!
//! ```text
//! cargo build --release -p emproto --no-default-features --example parse_loop
//! perf stat -e task-clock target/release/examples/parse_loop datagram   # or: payload, status
//! ```
//!
//! Task-clock divided by ten million is the CPU time of one parse.

use std::hint::black_box;

use emproto::wire::{Command, Payload, parse_datagram, parse_status};

const D6: &str = "0601003a000123456789abcdefffffffffffff00040108fd063e00002af80001e2405a6effff0104010e0000102008fe063d08fb0641132b0f02";

fn main() {
    let bytes: Vec<u8> = (0..D6.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&D6[i..i + 2], 16).ok())
        .collect();
    let payload = &bytes[21..bytes.len() - 4];
    let what = std::env::args().nth(1).unwrap_or_else(|| "datagram".into());
    let mut parsed = 0u64;
    for _ in 0..10_000_000u32 {
        let ok = match what.as_str() {
            "payload" => black_box(Payload::parse(Command::STATUS, black_box(payload))).is_ok(),
            "status" => black_box(parse_status(black_box(payload))).is_ok(),
            _ => black_box(parse_datagram(black_box(&bytes))).is_ok(),
        };
        parsed += u64::from(ok);
    }
    println!("{parsed} parses of the {what}");
}
