//! How long loading a map and decoding a full read take (the CLI pays both on every run).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use device_maps::{MemoryDevice, Registry, block_on, parse_map};

fn parse(c: &mut Criterion) {
    for (path, text) in Registry::built_in_files() {
        let id = path
            .trim_start_matches("devices/")
            .trim_end_matches(".yaml");
        if !matches!(id, "alfen-eve" | "givenergy-hybrid") {
            continue;
        }
        c.bench_function(&format!("parse {id}"), |b| {
            b.iter(|| parse_map(id, black_box(text)).expect("built-in map loads"))
        });
    }
}

fn read(c: &mut Criterion) {
    let registry = Registry::built_in().expect("built-in maps load");
    let Some(map) = registry.get("alfen-eve").map(Arc::clone) else {
        return;
    };
    let selection = map.select::<&str>(&[]).expect("all registers");
    let units = map.units();
    c.bench_function("plan alfen-eve full read", |b| {
        b.iter(|| {
            map.plan_read(black_box(&selection), &units)
                .expect("plannable")
        })
    });
    let plan = map.plan_read(&selection, &units).expect("plannable");
    let mut device = MemoryDevice::with_examples(&map);
    c.bench_function("read and decode alfen-eve (in memory)", |b| {
        b.iter(|| {
            device.log.clear();
            block_on(plan.execute(&mut device))
        })
    });
}

criterion_group!(benches, parse, read);
criterion_main!(benches);
