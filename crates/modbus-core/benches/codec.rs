//! Benchmarks for the numbers: decode one FLOAT32 in every order (< 5 ns), decode a
//! 125-register response into its values (< 1 µs), plan 10,000 registers over 3 units (< 1 ms).
//!
//! Run: `cargo bench -p modbus-core --bench codec -- --warm-up-time 1 --measurement-time 3`
//!
//! Every benchmark runs twice: once timed by the wall clock (criterion's default), once by the
//! CPU time of the benchmark thread (group names starting `cpu/`). On a shared, loaded machine
//! the wall clock also counts the time other processes hold the core; the thread's CPU time
//! does not, so it shows what the code costs.

use std::hint::black_box;
use std::time::Duration;

use cpu_time::ThreadTime;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, criterion_group, criterion_main};
use modbus_core::{Codec, DataType, Gaps, Limits, Order, Sentinel, Span, Table, Value, plan};

fn float32<M: Measurement>(c: &mut Criterion<M>, prefix: &str) {
    let mut group = c.benchmark_group(format!("{prefix}decode_float32"));
    for order in Order::ALL {
        let codec = Codec::new(DataType::Float32, order).expect("codec");
        let words = codec.encode(&Value::Float(230.1)).expect("encode");
        group.bench_function(order.name(), |b| b.iter(|| codec.decode(black_box(&words))));
    }
    // The floor: the bare bit conversion, without type, order, NaN or length handling.
    let words = [0x4366u16, 0x1999];
    group.bench_function("baseline_from_bits", |b| {
        b.iter(|| {
            let w = black_box(&words);
            f32::from_bits((u32::from(w[0]) << 16) | u32::from(w[1]))
        })
    });
    group.finish();
}

/// The Alfen socket block 300..=424 as one response: a bit field, a scaled UINT64, a UINT16,
/// 28 FLOAT32 and 15 FLOAT64 values (46 values; 422..=424 belong to a value read elsewhere).
fn alfen_socket_codecs() -> Vec<(usize, Codec)> {
    let fixed = |ty| Codec::new(ty, Order::Abcd).expect("codec");
    let mut codecs = vec![
        (0, fixed(DataType::Bits16)),
        (
            1,
            fixed(DataType::UInt64)
                .scaled(0.001, 0.0)
                .expect("scale")
                .missing_when(Sentinel::AllOnes)
                .expect("sentinel"),
        ),
        (5, fixed(DataType::UInt16)),
    ];
    codecs.extend((6..62).step_by(2).map(|at| (at, fixed(DataType::Float32))));
    codecs.extend(
        (62..122)
            .step_by(4)
            .map(|at| (at, fixed(DataType::Float64))),
    );
    codecs
}

fn decode_all(codecs: &[(usize, Codec)], response: &[u16]) -> Vec<Option<Value>> {
    codecs
        .iter()
        .map(|(at, codec)| {
            response
                .get(*at..*at + usize::from(codec.registers()))
                .and_then(|words| codec.decode(words).ok().flatten())
        })
        .collect()
}

fn response_125<M: Measurement>(c: &mut Criterion<M>, prefix: &str) {
    let mut group = c.benchmark_group(format!("{prefix}decode_response_125"));

    let codecs = alfen_socket_codecs();
    let mut response = vec![0u16; 125];
    for (i, (at, codec)) in codecs.iter().enumerate() {
        let value = match codec.data_type() {
            DataType::Bits16 => Value::Flags(3),
            DataType::UInt16 => Value::UInt(1),
            _ => Value::Float(230.0 + i as f64 * 0.5),
        };
        let n = usize::from(codec.registers());
        codec
            .encode_into(&value, &mut response[*at..*at + n])
            .expect("encode");
    }
    response[6..8].copy_from_slice(&[0xFFFF, 0xFFFF]); // one NaN
    group.bench_function("alfen_socket_46_values", |b| {
        b.iter(|| decode_all(black_box(&codecs), black_box(&response)))
    });

    let swapped: Vec<(usize, Codec)> = (0..124)
        .step_by(2)
        .map(|at| {
            let codec = Codec::new(DataType::Float32, Order::Cdab).expect("codec");
            (at, codec)
        })
        .collect();
    let words: Vec<u16> = (0..125u16).map(|i| i.wrapping_mul(0x9E37)).collect();
    group.bench_function("float32_cdab_62_values", |b| {
        b.iter(|| decode_all(black_box(&swapped), black_box(&words)))
    });
    group.finish();
}

/// A deterministic shuffle (xorshift), so the planner gets its input unsorted.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        items.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

fn planner<M: Measurement>(c: &mut Criterion<M>, prefix: &str) {
    let mut group = c.benchmark_group(format!("{prefix}plan_10000_registers_3_units"));

    // 10,000 single-register spans: units 1, 2, 3, holding and input tables, with a gap of 3
    // unneeded registers after every 20.
    let mut singles: Vec<Span> = (0..10_000u32)
        .map(|i| {
            let unit = (i % 3) as u8 + 1;
            let k = i / 3;
            let table = if k % 2 == 0 {
                Table::Holding
            } else {
                Table::Input
            };
            let n = k / 2;
            Span::new(unit, table, (n + 3 * (n / 20)) as u16, 1)
        })
        .collect();
    shuffle(&mut singles, 0x1234_5678);
    let limits = Limits {
        gaps: Gaps::UpTo(4),
        ..Limits::default()
    };
    group.bench_function("10000_single_spans_shuffled", |b| {
        b.iter(|| plan(black_box(&singles), black_box(&limits)))
    });

    // The same 10,000 registers as typed values (1, 2 or 4 registers each), on 60-register
    // pages with no gaps allowed.
    let mut typed = Vec::new();
    let mut registers = 0u32;
    let mut address = [0u32; 3];
    let mut i = 0u32;
    while registers < 10_000 {
        let unit = (i % 3) as usize;
        let width = [1u32, 2, 2, 4][(i as usize / 3) % 4].min(10_000 - registers);
        let page_end = (address[unit] / 60 + 1) * 60;
        if address[unit] + width > page_end {
            address[unit] = page_end;
        }
        typed.push(Span::new(
            unit as u8 + 1,
            Table::Holding,
            address[unit] as u16,
            width as u16,
        ));
        address[unit] += width;
        registers += width;
        i += 1;
    }
    shuffle(&mut typed, 0x9876_5432);
    let paged = Limits {
        page_size: Some(60),
        ..Limits::default()
    };
    group.bench_function("typed_spans_paged_shuffled", |b| {
        b.iter(|| plan(black_box(&typed), black_box(&paged)))
    });
    group.finish();
}

/// Criterion measurement by the CPU time of the calling thread.
struct CpuTime {
    /// Used only for its duration formatter.
    wall: WallTime,
}

impl Measurement for CpuTime {
    type Intermediate = ThreadTime;
    type Value = Duration;

    fn start(&self) -> ThreadTime {
        ThreadTime::now()
    }

    fn end(&self, start: ThreadTime) -> Duration {
        start.elapsed()
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

fn wall(c: &mut Criterion) {
    float32(c, "");
    response_125(c, "");
    planner(c, "");
}

fn cpu(c: &mut Criterion<CpuTime>) {
    float32(c, "cpu/");
    response_125(c, "cpu/");
    planner(c, "cpu/");
}

criterion_group!(wall_clock, wall);
criterion_group! {
    name = thread_cpu_time;
    config = Criterion::default().with_measurement(CpuTime { wall: WallTime });
    targets = cpu
}
criterion_main!(wall_clock, thread_cpu_time);
