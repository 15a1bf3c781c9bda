//! Throughput of the dongle framing: encoding a request, decoding a 60-register reply, and
//! cutting a stream of real captured frames read in 300-byte chunks.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use givenergy_dongle::{Frame, Framer, ReadFunction, ReadRequest, Serial};

const FRAMES_TSV: &str = include_str!("../tests/data/frames.tsv");

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn golden_frames() -> Vec<Vec<u8>> {
    FRAMES_TSV
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            (cols.len() == 11 && cols[4] != "stream_chunk").then(|| hex(cols[3]))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let request = Frame::ReadRequest(ReadRequest {
        adapter: Serial::CLIENT_DEFAULT,
        device: 0x11,
        function: ReadFunction::Input,
        base: 0,
        count: 60,
    });
    c.bench_function("encode read request", |b| {
        b.iter(|| black_box(&request).encode())
    });

    let frames = golden_frames();
    let reply = frames
        .iter()
        .find(|f| f.len() == 164 && Frame::decode(f).is_ok())
        .cloned()
        .unwrap_or_default();
    c.bench_function("decode 60-register reply", |b| {
        b.iter(|| Frame::decode(black_box(&reply)))
    });

    let stream: Vec<u8> = frames.concat();
    let mut group = c.benchmark_group("framer");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function(
        "cut and decode 155 captured frames in 300-byte reads",
        |b| {
            b.iter(|| {
                let mut framer = Framer::new();
                let mut decoded = 0_usize;
                for chunk in stream.chunks(300) {
                    framer.push(chunk);
                    while let Some(raw) = framer.next_frame() {
                        decoded += usize::from(raw.decode().is_ok());
                    }
                }
                decoded
            });
        },
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
