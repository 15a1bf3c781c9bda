//! Shipped device maps end to end: device-maps plans, this client carries, the simulator
//! serves, over loopback.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use device_maps::{DeviceMap, Registry, Snapshot, Units};
use modbus_client::{Layout, ModbusClient, Pool};
use modbus_core::{Table, Value};
use simulator::modbus::{Faults, Simulator, SimulatorHandle};

const WAIT: Duration = Duration::from_secs(30);

fn built_in(id: &str) -> Arc<DeviceMap> {
    let registry = Registry::built_in().unwrap();
    Arc::clone(
        registry
            .get(id)
            .unwrap_or_else(|| panic!("built-in map {id}")),
    )
}

fn client_for(map: &DeviceMap, units: &Units, sim: &SimulatorHandle) -> ModbusClient {
    Pool::new()
        .client_for_map(map, units, "127.0.0.1", Some(sim.local_addr().port()))
        .unwrap()
}

async fn read_all(map: &Arc<DeviceMap>, units: &Units, client: &mut ModbusClient) -> Snapshot {
    let selection = map.select::<&str>(&[]).unwrap();
    let plan = map.plan_read(&selection, units).unwrap();
    tokio::time::timeout(WAIT, plan.execute(client))
        .await
        .expect("the read finished")
}

/// Every readable register came back, equal to the value the simulator was given.
fn assert_examples(map: &DeviceMap, snapshot: &Snapshot) {
    for reading in &snapshot.readings {
        // A derived value is computed from the registers read; they are compared themselves.
        let Some(register) = map.register(&reading.name) else {
            assert!(map.derived(&reading.name).is_some(), "{}", reading.name);
            continue;
        };
        // An example of `null` is "not available": the simulator serves the sentinel.
        if register.example_words.is_some()
            && matches!(reading.value, Err(device_maps::Missing::Sentinel))
        {
            continue;
        }
        let got = reading
            .value()
            .unwrap_or_else(|| panic!("{}: {:?}", reading.name, reading.value));
        match (got.as_f64(), register.example.as_f64()) {
            (Some(got), Some(want)) => {
                assert!(
                    (got - want).abs() <= want.abs() * 1e-6 + 1e-9,
                    "{}: {got} != {want}",
                    reading.name
                );
            }
            _ => assert_eq!(got, &register.example, "{}", reading.name),
        }
    }
}

#[tokio::test]
async fn a_full_alfen_eve_read_is_six_requests() {
    let map = built_in("alfen-eve");
    let sim = Simulator::builder(&map).bind("127.0.0.1:0").await.unwrap();
    let units = map.units();
    let mut client = client_for(&map, &units, &sim);
    let snapshot = read_all(&map, &units, &mut client).await;
    assert_eq!(sim.log().len(), 6, "{:#?}", sim.log().entries());
    assert_eq!(snapshot.requests, 6);
    assert_eq!(snapshot.readings.len(), 89);
    assert_examples(&map, &snapshot);
    assert_eq!(
        snapshot.value("c_name"),
        Some(&Value::Text("ALF_1000".to_owned()))
    );
    assert_eq!(client.connections_opened(), 1);
    let units_seen: std::collections::BTreeSet<u8> =
        sim.log().entries().iter().map(|e| e.unit).collect();
    assert_eq!(units_seen.into_iter().collect::<Vec<_>>(), [1, 200]);
}

#[tokio::test]
async fn the_second_socket_of_a_double_station() {
    let map = built_in("alfen-eve");
    let sim = Simulator::builder(&map)
        .also_main_units(&[2])
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let mut units = map.units();
    units.apply("2").unwrap();
    let mut client = client_for(&map, &units, &sim);
    let snapshot = read_all(&map, &units, &mut client).await;
    assert_examples(&map, &snapshot);
    let units_seen: std::collections::BTreeSet<u8> =
        sim.log().entries().iter().map(|e| e.unit).collect();
    assert_eq!(units_seen.into_iter().collect::<Vec<_>>(), [2, 200]);
}

#[tokio::test]
async fn write_then_read_back() {
    let map = built_in("alfen-eve");
    let sim = Simulator::builder(&map).bind("127.0.0.1:0").await.unwrap();
    let units = map.units();
    let mut client = client_for(&map, &units, &sim);
    let plan = map
        .plan_writes(
            &[
                "modbus_slave_max_current=10.5",
                "charge_using_1_or_3_phases=1",
            ],
            &units,
        )
        .unwrap();
    let report = tokio::time::timeout(WAIT, plan.execute(&mut client))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.sent.len(), 2);
    let phases = report
        .confirmations
        .iter()
        .find(|c| c.register == "charge_using_1_or_3_phases")
        .unwrap();
    assert!(phases.confirmed, "{phases:?}");
    let writes: Vec<(u8, u8, u16, u16)> = sim
        .log()
        .entries()
        .iter()
        .filter(|e| e.function >= 5)
        .map(|e| (e.unit, e.function, e.address, e.count))
        .collect();
    assert_eq!(
        writes,
        [(1, 16, 1210, 2), (1, 6, 1215, 1)],
        "FLOAT32 in one FC16 request"
    );

    let selection = map
        .select(&["modbus_slave_max_current", "charge_using_1_or_3_phases"])
        .unwrap();
    let plan = map.plan_read(&selection, &units).unwrap();
    let snapshot = tokio::time::timeout(WAIT, plan.execute(&mut client))
        .await
        .unwrap();
    assert_eq!(
        snapshot
            .value("modbus_slave_max_current")
            .and_then(Value::as_f64),
        Some(10.5)
    );
    assert_eq!(
        snapshot
            .value("charge_using_1_or_3_phases")
            .and_then(Value::as_f64),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_full_read_survives_drops_garbage_and_busy_answers() {
    let map = built_in("alfen-eve");
    let faults = Faults {
        drop_every: std::num::NonZeroU32::new(4),
        garbage_every: std::num::NonZeroU32::new(5),
        exception_every: std::num::NonZeroU32::new(7)
            .map(|n| (n, simulator::modbus::Exception::ServerDeviceBusy)),
        ..Faults::none()
    };
    let sim = Simulator::builder(&map)
        .faults(faults)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let units = map.units();
    let mut client = client_for(&map, &units, &sim);
    for _ in 0..3 {
        let snapshot = read_all(&map, &units, &mut client).await;
        assert_examples(&map, &snapshot);
    }
    assert!(
        client.connections_opened() > 1,
        "reconnected after drops and garbage"
    );
}

#[tokio::test]
async fn every_shipped_modbus_tcp_map_reads_its_examples() {
    let registry = Registry::built_in().unwrap();
    let mut maps = 0;
    for map in registry.maps() {
        if map.connection.transport != device_maps::Transport::ModbusTcp {
            continue;
        }
        let sim = Simulator::builder(map).bind("127.0.0.1:0").await.unwrap();
        let units = map.units();
        let mut client = client_for(map, &units, &sim);
        let snapshot = read_all(map, &units, &mut client).await;
        assert_examples(map, &snapshot);
        assert_eq!(sim.log().len(), snapshot.requests, "{}", map.id);
        maps += 1;
    }
    assert!(maps >= 5, "alfen, vestel, pm8000, sdm630, sunspec");
}

/// Captures formatted tracing output for one test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_map_that_wrongly_spans_gaps_is_rescued_by_hole_learning() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // The shipped vestel-evc04 map reads through gaps (as ilia92's script does on real
    // chargers); this device, a firmware that refuses such reads, is simulated from a copy of the
    // parsed map whose connection says so (as loading `span_gaps: false` would: no gap bridged).
    let map = built_in("vestel-evc04");
    assert!(map.connection.span_gaps);
    let mut strict = DeviceMap::clone(&map);
    strict.connection.span_gaps = false;
    strict.connection.max_gap = 0;
    let device = Arc::new(strict);
    let sim = Simulator::builder(&device)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let units = map.units();
    let mut client = client_for(&map, &units, &sim);

    // A request the device refuses is one that covers an address the real device lacks.
    let layout = Layout::from_map(&device, &units);
    let refused = |entries: &[simulator::modbus::LogEntry]| {
        entries
            .iter()
            .filter(|e| {
                let table = match e.function {
                    3 => Table::Holding,
                    _ => Table::Input,
                };
                !layout.gaps(e.unit, table, e.address, e.count).is_empty()
            })
            .count()
    };

    let first = read_all(&map, &units, &mut client).await;
    assert_examples(&device, &first);
    let first_log = sim.log().entries();
    let refused_first = refused(&first_log);
    assert!(refused_first > 0, "some planned request spanned a hole");

    sim.log().clear();
    let second = read_all(&map, &units, &mut client).await;
    assert_examples(&device, &second);
    let second_log = sim.log().entries();
    // The second read goes around the learned holes straight away: the same pieces, none refused.
    assert_eq!(refused(&second_log), 0);
    assert_eq!(second_log.len(), first_log.len() - refused_first);

    let log = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    // Said once per unit and table, never again on the second read.
    assert_eq!(
        log.matches("refuses reads across unmapped addresses")
            .count(),
        2,
        "{log}"
    );
    assert_eq!(log.matches("table=input").count(), 1, "{log}");
    assert_eq!(
        log.matches("table=holding holes=2001\n").count(),
        1,
        "{log}"
    );
}

#[tokio::test]
async fn a_map_behind_an_rtu_gateway() {
    // The shipped map with the transport a gateway needs, set on the parsed connection.
    let shipped = built_in("vestel-evc04");
    assert_eq!(
        shipped.connection.transport,
        device_maps::Transport::ModbusTcp
    );
    let mut gatewayed = DeviceMap::clone(&shipped);
    gatewayed.connection.transport = device_maps::Transport::RtuOverTcp;
    let map = Arc::new(gatewayed);
    let sim = Simulator::builder(&map).bind("127.0.0.1:0").await.unwrap();
    let units = map.units();
    let mut client = client_for(&map, &units, &sim);
    assert_eq!(
        client.endpoint().transport,
        modbus_client::Transport::RtuOverTcp
    );
    let snapshot = read_all(&map, &units, &mut client).await;
    assert_examples(&map, &snapshot);
    assert_eq!(sim.log().len(), snapshot.requests);
}
