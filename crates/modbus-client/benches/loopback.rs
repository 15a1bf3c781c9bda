//! Full reads of the shipped alfen-eve map against the simulator on loopback: one device, and a
//! fleet of 50 devices polled at once through one pool.
//!
//! Run: `cargo bench -p modbus-client --bench loopback -- --warm-up-time 1 --measurement-time 3`

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use device_maps::{DeviceMap, ReadPlan, Registry};
use modbus_client::{ModbusClient, Pool};
use simulator::modbus::{Simulator, SimulatorHandle};

fn setup(
    runtime: &tokio::runtime::Runtime,
    devices: usize,
) -> (
    Arc<DeviceMap>,
    ReadPlan,
    Vec<SimulatorHandle>,
    Vec<ModbusClient>,
) {
    let registry = Registry::built_in().expect("built-in maps load");
    let map = Arc::clone(registry.get("alfen-eve").expect("alfen-eve is built in"));
    let units = map.units();
    let selection = map.select::<&str>(&[]).expect("every register");
    let plan = map.plan_read(&selection, &units).expect("plannable");
    let pool = Pool::new();
    let mut sims = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..devices {
        let sim = runtime
            .block_on(Simulator::builder(&map).bind("127.0.0.1:0"))
            .expect("bind loopback");
        let client = pool
            .client_for_map(&map, &units, "127.0.0.1", Some(sim.local_addr().port()))
            .expect("modbus-tcp map");
        sims.push(sim);
        clients.push(client);
    }
    (map, plan, sims, clients)
}

fn full_reads(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let (_map, plan, _sims, mut clients) = setup(&runtime, 1);
    let mut client = clients.remove(0);
    c.bench_function("alfen-eve full read (6 requests), one device", |b| {
        b.iter(|| {
            let snapshot = runtime.block_on(plan.execute(&mut client));
            assert_eq!(snapshot.missing().count(), 0);
        });
    });

    let (_map, plan, _sims, clients) = setup(&runtime, 50);
    let plan = Arc::new(plan);
    c.bench_function("alfen-eve full read, fleet of 50 devices at once", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut tasks = Vec::new();
                for client in &clients {
                    let (plan, mut client) = (Arc::clone(&plan), client.clone());
                    tasks.push(tokio::spawn(async move {
                        plan.execute(&mut client).await.missing().count()
                    }));
                }
                for task in tasks {
                    assert_eq!(task.await.expect("task"), 0);
                }
            });
        });
    });
}

criterion_group!(benches, full_reads);
criterion_main!(benches);
