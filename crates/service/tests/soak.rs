//! Soak: `evctl serve`'s engine over 100 simulated devices with every fault the simulator has
//! (latency, dropped connections, garbage frames, wrong transaction ids, exceptions, one
//! connection at a time with an idle timeout, devices that never answer in time, simulators
//! that restart), for a bounded time. It checks that nothing panics, that no published value
//! differs from what the simulator serves (a value decoded from a bad frame would), that every
//! poller keeps polling, that a restarted device is back within the poll deadline after its
//! simulator returns, and that memory stays flat.
//!
//! CI runs it for 15 s. The long run is the same test with a duration, in release:
//! `EVCTL_SOAK_SECS=1800 cargo test -p service --release --test soak -- --nocapture`
//! (figures in `docs/reliability.md`).

mod common;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use device_maps::DeviceMap;
use simulator::modbus::{Exception, Faults, Simulator, SimulatorHandle};
use tokio::sync::Mutex;

const DEVICES: usize = 100;
const MAPS: [&str; 3] = ["eastron-sdm630", "vestel-evc04", "sunspec-inverter"];
const INTERVAL: Duration = Duration::from_millis(200);
const TIMEOUT: Duration = Duration::from_millis(300);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

fn every(n: u32) -> Option<NonZeroU32> {
    NonZeroU32::new(n)
}

/// The faults of device `i`: eight kinds in turn, the last all at once.
fn faults(i: usize) -> Faults {
    let none = Faults::none();
    match i % 8 {
        0 => Faults {
            latency: Duration::from_millis(100),
            ..none
        },
        1 => Faults {
            drop_every: every(5),
            ..none
        },
        2 => Faults {
            garbage_every: every(4),
            ..none
        },
        3 => Faults {
            wrong_transaction_id_every: every(4),
            ..none
        },
        4 => Faults {
            exception_every: every(3).map(|n| (n, Exception::ServerDeviceFailure)),
            ..none
        },
        5 => Faults {
            max_connections: Some(1),
            idle_timeout: Some(Duration::from_millis(700)),
            ..none
        },
        // Never answers within the timeout: a dead device among the live ones.
        6 => Faults {
            latency: Duration::from_millis(600),
            ..none
        },
        _ => Faults {
            latency: Duration::from_millis(20),
            drop_every: every(11),
            garbage_every: every(13),
            wrong_transaction_id_every: every(7),
            exception_every: every(5).map(|n| (n, Exception::IllegalDataAddress)),
            ..none
        },
    }
}

fn is_dead(i: usize) -> bool {
    i % 8 == 6
}

/// Devices whose simulator is restarted during the run.
fn restarts(i: usize) -> bool {
    i % 10 == 9 && !is_dead(i)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Whether `got` is what the simulator serves for register `name` of `map`.
fn served(map: &DeviceMap, name: &str, got: &modbus_core::Value) -> bool {
    let Some(r) = map.register(name) else {
        // Derived values are computed from registers checked here.
        return true;
    };
    match (got.as_f64(), r.example.as_f64()) {
        (Some(a), Some(b)) if b.is_nan() => a.is_nan(),
        (Some(a), Some(b)) => (a - b).abs() <= b.abs() * 1e-6 + 1e-9,
        _ => got == &r.example,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_faulty_devices_never_panic_never_mislead_and_keep_memory_flat() {
    let seconds: u64 = std::env::var("EVCTL_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let run = Duration::from_secs(seconds);
    let panics = Arc::new(AtomicUsize::new(0));
    {
        let panics = Arc::clone(&panics);
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            panics.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    }

    let maps: Vec<Arc<DeviceMap>> = MAPS.iter().map(|id| common::map(id)).collect();
    let mut sims: Vec<Option<SimulatorHandle>> = Vec::new();
    let mut config = format!(
        "poll: {{max_backoff: {}ms}}\ndevices:\n",
        MAX_BACKOFF.as_millis()
    );
    for i in 0..DEVICES {
        let map = &maps[i % MAPS.len()];
        let sim = Simulator::builder(map)
            .faults(faults(i))
            .bind("127.0.0.1:0")
            .await
            .expect("simulator binds");
        config.push_str(&format!(
            "  d{i:03}: {{map: {}, host: 127.0.0.1, port: {}, interval: {}ms, timeout: {}ms}}\n",
            map.id,
            sim.local_addr().port(),
            INTERVAL.as_millis(),
            TIMEOUT.as_millis()
        ));
        sims.push(Some(sim));
    }
    let (service, _) = common::start(&config);
    let mut updates = service.subscribe();

    // Restart simulators in turn: down for a second, then back on the same port.
    let sims = Arc::new(Mutex::new(sims));
    let back_at: Arc<Mutex<HashMap<String, Vec<Instant>>>> = Arc::default();
    let restarter = {
        let sims = Arc::clone(&sims);
        let back_at = Arc::clone(&back_at);
        let maps = maps.clone();
        tokio::spawn(async move {
            let restarted: Vec<usize> = (0..DEVICES).filter(|&i| restarts(i)).collect();
            let mut k = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                // The simulators' request logs are the test's, not the service's: keep them
                // empty so the memory measured is the service's.
                for sim in sims.lock().await.iter().flatten() {
                    sim.log().clear();
                }
                let i = restarted[k % restarted.len()];
                k += 1;
                let Some(sim) = sims.lock().await[i].take() else {
                    continue;
                };
                let address = sim.local_addr();
                sim.shutdown().await;
                tokio::time::sleep(Duration::from_secs(1)).await;
                let sim = Simulator::builder(&maps[i % MAPS.len()])
                    .faults(faults(i))
                    .bind(&address.to_string())
                    .await
                    .expect("the simulator binds its port again");
                back_at
                    .lock()
                    .await
                    .entry(format!("d{i:03}"))
                    .or_default()
                    .push(Instant::now());
                sims.lock().await[i] = Some(sim);
            }
        })
    };

    // Every restarted device must be available again within one poll deadline (the poller's
    // own: two attempts per request, a second of retry wait, plus the longest backoff) after
    // its simulator came back.
    let deadline = MAX_BACKOFF + INTERVAL + (TIMEOUT * 2 + Duration::from_secs(1)) * 8;
    let started = Instant::now();
    let mut rss_mid = 0;
    let mut polls_mid: HashMap<String, u64> = HashMap::new();
    let mut published = 0usize;
    let mut wrong: Vec<String> = Vec::new();
    // Bounded bookkeeping: whether each device was ever available, and the restarts still
    // waiting for the device to be available again.
    let mut ever_available: std::collections::HashSet<String> = Default::default();
    let mut recovery: Vec<Duration> = Vec::new();
    let mut slow: Vec<String> = Vec::new();
    let map_of = |id: &str| -> Arc<DeviceMap> {
        let i: usize = id[1..].parse().expect("device index");
        Arc::clone(&maps[i % MAPS.len()])
    };
    while started.elapsed() < run {
        if rss_mid == 0 && started.elapsed() >= run / 3 {
            rss_mid = rss_kib();
            for device in service.devices() {
                polls_mid.insert(device.id().to_owned(), device.status().polls);
            }
        }
        let update = match tokio::time::timeout(Duration::from_secs(1), updates.recv()).await {
            Ok(Ok(u)) => u,
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) | Err(_) => continue,
            Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => panic!("service stopped"),
        };
        let map = map_of(&update.id);
        if update.available {
            ever_available.insert(update.id.to_string());
            let mut waiting = back_at.lock().await;
            if let Some(times) = waiting.get_mut(&*update.id) {
                for back in times.drain(..) {
                    let took = back.elapsed();
                    if took > deadline {
                        slow.push(format!("{}: {took:?}", update.id));
                    }
                    if recovery.len() < 100_000 {
                        recovery.push(took);
                    }
                }
            }
        }
        for reading in &update.snapshot.readings {
            if let Ok(value) = &reading.value {
                published += 1;
                if !served(&map, &reading.name, value) && wrong.len() < 10 {
                    wrong.push(format!("{} {} = {value}", update.id, reading.name));
                }
            }
        }
    }
    restarter.abort();
    let rss_end = rss_kib();

    // Every poller is still polling (a panicked or starved one would have stopped).
    let mut stalled = Vec::new();
    for device in service.devices() {
        let before = polls_mid.get(device.id()).copied().unwrap_or(0);
        if device.status().polls <= before {
            stalled.push(device.id().to_owned());
        }
    }
    // A restart still waiting at the end must be recent, not one never recovered from.
    for (id, times) in back_at.lock().await.iter() {
        for back in times {
            if back.elapsed() > deadline {
                slow.push(format!("{id}: never available again"));
            }
        }
    }
    let live_never_available: Vec<String> = (0..DEVICES)
        .filter(|&i| !is_dead(i))
        .map(|i| format!("d{i:03}"))
        .filter(|id| !ever_available.contains(id))
        .collect();
    let dead_available: Vec<String> = (0..DEVICES)
        .filter(|&i| is_dead(i))
        .map(|i| format!("d{i:03}"))
        .filter(|id| ever_available.contains(id))
        .collect();
    recovery.sort();
    let total_polls: u64 = service.devices().map(|d| d.status().polls).sum();
    eprintln!(
        "soak: {DEVICES} devices, {seconds} s: {total_polls} polls, {published} values published, \
         {} restarts (recovery p50 {:?}, max {:?}), RSS {} KiB at 1/3 and {} KiB at the end",
        recovery.len(),
        recovery.get(recovery.len() / 2),
        recovery.last(),
        rss_mid,
        rss_end
    );
    service.shutdown().await;

    assert_eq!(panics.load(Ordering::SeqCst), 0, "a task panicked");
    assert!(
        wrong.is_empty(),
        "values not served by the simulator: {wrong:?}"
    );
    assert!(published > 0);
    assert!(stalled.is_empty(), "pollers that stopped: {stalled:?}");
    assert!(
        slow.is_empty(),
        "slow recoveries (deadline {deadline:?}): {slow:?}"
    );
    assert!(live_never_available.is_empty(), "{live_never_available:?}");
    assert!(dead_available.is_empty(), "{dead_available:?}");
    // Flat: what the buffers and history hold is bounded; 32 MiB of slack covers the
    // allocator keeping pages it once used.
    assert!(
        rss_end <= rss_mid + 32 * 1024,
        "memory grew from {rss_mid} KiB to {rss_end} KiB"
    );
}
