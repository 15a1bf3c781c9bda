//! The Modbus response path of every built-in map: a selection chosen by the input, the plan of
//! it, and every answer taken from the input (the right length, a short or a long one, or a
//! failure), cut back and decoded with scales, sentinels, checks and derived values. It must
//! never panic, and a value the input did not provide must never appear as read.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use device_maps::{DeviceMap, ReadFailure, Registry};
use libfuzzer_sys::fuzz_target;

fn maps() -> &'static [Arc<DeviceMap>] {
    static MAPS: OnceLock<Vec<Arc<DeviceMap>>> = OnceLock::new();
    MAPS.get_or_init(|| {
        let registry = Registry::built_in().expect("built-in maps load");
        registry.maps().cloned().collect()
    })
}

#[derive(Debug)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("refused")
    }
}

impl std::error::Error for Refused {}

fuzz_target!(|data: &[u8]| {
    let [pick, select, verify, rest @ ..] = data else {
        return;
    };
    let maps = maps();
    let map = &maps[usize::from(*pick) % maps.len()];
    // Every n-th register, n from the input (0: all of them).
    let step = usize::from(*select % 8);
    let selection: Vec<usize> = (0..map.registers.len())
        .filter(|i| step == 0 || i % (step + 1) == 0)
        .collect();
    let Ok(plan) = map.plan_read_with(&selection, &map.units(), verify % 2 == 0) else {
        return;
    };
    let mut words = rest.chunks_exact(2).map(|w| u16::from_be_bytes([w[0], w[1]]));
    let now = SystemTime::now();
    let responses: Vec<(Result<Vec<u16>, ReadFailure>, SystemTime)> = plan
        .requests()
        .iter()
        .map(|req| {
            let shape = words.next().unwrap_or(0);
            let result = match shape % 5 {
                0 => Err(Arc::new(Refused) as ReadFailure),
                1 => Ok(words.by_ref().take(usize::from(req.count) / 2).collect()),
                2 => Ok(words.by_ref().take(usize::from(req.count) + 1).collect()),
                _ => {
                    let mut got: Vec<u16> = words.by_ref().take(usize::from(req.count)).collect();
                    got.resize(usize::from(req.count), 0);
                    Ok(got)
                }
            };
            (result, now)
        })
        .collect();
    let snapshot = plan.decode_at(now, &responses);
    if snapshot.mismatch.is_some() {
        assert!(snapshot.readings.iter().all(|r| r.value.is_err()));
    }
    for reading in &snapshot.readings {
        if let (Some(r), Ok(v)) = (map.register(&reading.name), &reading.value) {
            let _ = device_maps::describe_value(r, v);
        }
    }
});
