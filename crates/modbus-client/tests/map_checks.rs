//! Every shipped map's `checks:` both ways, over loopback: the map's own simulator passes them,
//! the simulator of any other map fails them with a mismatch naming the register, and a failed
//! check withholds every value and stops a write before anything is sent.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use device_maps::{DeviceMap, ExecuteError, Missing, Registry, Snapshot, Transport, load_file};
use modbus_client::dongle::{DongleClient, DongleOptions};
use modbus_client::{ModbusClient, Pool};
use simulator::dongle::DongleSimulator;
use simulator::modbus::Simulator;

/// Every shipped map read over Modbus TCP (the simulator serves it), in id order.
fn modbus_maps() -> Vec<String> {
    shipped(|t| t != Transport::GivenergyDongle)
}

/// Every shipped map read through a GivEnergy dongle.
fn dongle_maps() -> Vec<String> {
    shipped(|t| t == Transport::GivenergyDongle)
}

fn shipped(transport: impl Fn(Transport) -> bool) -> Vec<String> {
    let registry = Registry::built_in().expect("built-in maps load");
    registry
        .maps()
        .filter(|m| transport(m.connection.transport))
        .map(|m| m.id.clone())
        .collect()
}

/// The first map of `id`'s `extends:` chain: maps of one family share their documented
/// registers (the SDM meters, an OEM charger and its original), so their checks cannot tell
/// them apart.
/// The built-in maps, loaded once: every map is read from every other's simulator.
fn registry() -> &'static Registry {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| Registry::built_in().expect("built-in maps load"))
}

fn family_root(id: &str) -> String {
    let registry = registry();
    let mut id = id.to_owned();
    while let Some(base) = registry.get(&id).and_then(|m| m.extends.clone()) {
        id = base;
    }
    id
}

const WAIT: Duration = Duration::from_secs(30);

fn built_in(id: &str) -> Arc<DeviceMap> {
    let map = registry().get(id).unwrap_or_else(|| panic!("map {id}"));
    // A unit the other simulator does not serve answers nothing: fail it fast (loopback
    // answers within microseconds; 25 maps read from each other's simulators add up).
    let mut map = (**map).clone();
    map.connection.timeout = Duration::from_millis(100);
    // A device's pacing (Growatt asks for a second between commands) protects a serial bus;
    // the simulators answer at once, and every map is read from every other's simulator.
    map.connection.pacing = Duration::ZERO;
    map.connection.pacing = Duration::ZERO;
    Arc::new(map)
}

fn modbus_client(map: &DeviceMap, port: u16) -> ModbusClient {
    Pool::new()
        .client_for_map(map, &map.units(), "127.0.0.1", Some(port))
        .expect("client")
}

async fn read_all<I: device_maps::RegisterIo>(map: &Arc<DeviceMap>, io: &mut I) -> Snapshot {
    let selection = map.select::<&str>(&[]).expect("select all");
    let plan = map.plan_read(&selection, &map.units()).expect("plan");
    tokio::time::timeout(WAIT, plan.execute(io))
        .await
        .expect("the read finished")
}

/// The snapshot failed a check of `map`: it says so, and no value is left in it. A device that
/// refuses the check's request (an exception) leaves the check inconclusive: still no value.
fn assert_refused(map: &DeviceMap, snapshot: &Snapshot, served: &str) {
    let Some(mismatch) = snapshot.mismatch.as_ref() else {
        assert!(
            snapshot.readings.iter().all(|r| matches!(
                r.value,
                Err(Missing::Unverified { .. } | Missing::ReadFailed(_))
            )),
            "{} read from a {served} simulator passed its checks",
            map.id
        );
        return;
    };
    assert_eq!(mismatch.map, map.id);
    assert!(
        map.checks.iter().any(|c| c.register == mismatch.register),
        "{mismatch}"
    );
    let text = mismatch.to_string();
    assert!(
        text.contains(&mismatch.register) && text.contains("should be"),
        "{text}"
    );
    for reading in &snapshot.readings {
        assert!(
            matches!(reading.value, Err(Missing::Unverified { .. })),
            "{} of {} from a {served} simulator: {:?}",
            reading.name,
            map.id,
            reading.value
        );
    }
}

#[test]
fn every_shipped_map_has_checks() {
    let registry = Registry::built_in().expect("built-in maps load");
    for id in modbus_maps().iter().chain(&dongle_maps()) {
        let map = registry.get(id).expect("map");
        assert!(!map.checks.is_empty(), "{id} has no checks");
    }
    assert_eq!(
        registry.ids().count(),
        modbus_maps().len() + dongle_maps().len(),
        "every map is read over Modbus TCP or a dongle"
    );
}

#[tokio::test]
async fn modbus_maps_pass_their_own_simulator_and_fail_every_other() {
    let maps = modbus_maps();
    for id in &maps {
        let id = id.as_str();
        let map = built_in(id);
        let sim = Simulator::builder(&map)
            .bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = sim.local_addr().port();
        let own = read_all(&map, &mut modbus_client(&map, port)).await;
        assert!(own.mismatch.is_none(), "{id}: {:?}", own.mismatch);
        assert!(own.readings.iter().any(|r| r.value.is_ok()), "{id}");
        for other in maps.iter().filter(|o| o.as_str() != id) {
            let reader = built_in(other);
            // A variant and its base (or two variants of one base) share their documented
            // registers and checks.
            if family_root(other) == family_root(id) {
                continue;
            }
            // The generic SunSpec map fits every SunSpec device by design (it walks the
            // device's chain before reading; tests/sunspec.rs).
            let sunspec_device = map.checks.iter().any(|c| c.register == "sunspec_id");
            if reader.sunspec.is_some() && sunspec_device {
                continue;
            }
            let snapshot = read_all(&reader, &mut modbus_client(&reader, port)).await;
            assert_refused(&reader, &snapshot, id);
        }
    }
}

#[tokio::test]
async fn dongle_maps_pass_their_own_simulator_and_fail_the_others() {
    let maps = dongle_maps();
    for id in &maps {
        let id = id.as_str();
        let map = built_in(id);
        let bank = Simulator::builder(&map).gap_fill(0).bank().expect("bank");
        let sim = DongleSimulator::builder(bank)
            .bind("127.0.0.1:0")
            .await
            .expect("bind");
        let options = DongleOptions {
            pacing: Duration::from_millis(2),
            ..DongleOptions::default()
        };
        let mut dongle = DongleClient::new(sim.local_addr().to_string(), options);
        let own = read_all(&map, &mut dongle).await;
        assert!(own.mismatch.is_none(), "{id}: {:?}", own.mismatch);
        for other in maps.iter().filter(|o| o.as_str() != id) {
            let reader = built_in(other);
            let snapshot = read_all(&reader, &mut dongle).await;
            assert_refused(&reader, &snapshot, id);
            let mismatch = snapshot.mismatch.as_ref().expect("mismatch");
            assert_eq!(mismatch.register, "Device_Type_Code");
        }
    }
}

#[tokio::test]
async fn sunspec_common_model_65_reads_and_66_is_refused_naming_the_length() {
    let map = built_in("sunspec-inverter");
    // 65: the layout the map is written for.
    let sim = Simulator::builder(&map)
        .bind("127.0.0.1:0")
        .await
        .expect("bind");
    let snapshot = read_all(&map, &mut modbus_client(&map, sim.local_addr().port())).await;
    assert!(snapshot.mismatch.is_none(), "{:?}", snapshot.mismatch);
    assert_eq!(
        snapshot.value("ac_current").and_then(|v| v.as_f64()),
        Some(14.53)
    );

    // 66: the inverter model starts one register later; nothing may be shown.
    let device = Arc::new(
        load_file(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sunspec-common-66.yaml"),
        )
        .expect("fixture map"),
    );
    let sim = Simulator::builder(&device)
        .gap_fill(0)
        .bind("127.0.0.1:0")
        .await
        .expect("bind");
    let snapshot = read_all(&map, &mut modbus_client(&map, sim.local_addr().port())).await;
    assert_refused(&map, &snapshot, "66-register common model");
    let mismatch = snapshot.mismatch.expect("mismatch");
    assert_eq!(mismatch.register, "common_length");
    assert_eq!(mismatch.found, "66");
    assert_eq!(mismatch.expected, "65");
    assert!(
        mismatch.to_string().contains("holding register 40004"),
        "{mismatch}"
    );
}

#[tokio::test]
async fn a_write_to_a_device_that_fails_its_checks_sends_nothing() {
    // A Vestel write pointed at an Alfen charger.
    let alfen = built_in("alfen-eve");
    let sim = Simulator::builder(&alfen)
        .bind("127.0.0.1:0")
        .await
        .expect("bind");
    let vestel = built_in("vestel-evc04");
    let plan = vestel
        .plan_writes(&["charging_current=10"], &vestel.units())
        .expect("plan");
    let mut client = modbus_client(&vestel, sim.local_addr().port());
    let err = plan.execute(&mut client).await.expect_err("refused");
    // The Alfen simulator has no unit 255: the check cannot be read, which refuses the write
    // as surely as a wrong value does.
    let register = match &err {
        ExecuteError::Mismatch(m) => m.register.clone(),
        ExecuteError::Unverified { register, .. } => register.clone(),
        other => panic!("not refused by the checks: {other}"),
    };
    assert_eq!(register, "model");
    assert!(err.to_string().starts_with("nothing was written"), "{err}");
    let log = sim.log();
    let writes = log
        .entries()
        .iter()
        .filter(|e| matches!(e.function, 5 | 6 | 15 | 16))
        .count();
    assert_eq!(writes, 0, "{log:?}");
    assert!(!log.entries().is_empty(), "the checks were read");

    // --no-verify: the same plan goes out (and is the user's responsibility).
    let own = Simulator::builder(&vestel)
        .bind("127.0.0.1:0")
        .await
        .expect("bind");
    let plan = vestel
        .plan_writes(&["charging_current=10"], &vestel.units())
        .expect("plan");
    assert!(plan.verifies());
    let mut client = modbus_client(&vestel, own.local_addr().port());
    let report = plan.execute(&mut client).await.expect("written");
    assert_eq!(report.sent.len(), 1);
    let unverified = vestel
        .plan_writes(&["charging_current=10"], &vestel.units())
        .expect("plan")
        .without_verification();
    assert!(!unverified.verifies());
}

#[tokio::test]
async fn scale_factors_outside_the_standard_range_make_values_missing_with_the_reason() {
    let map = built_in("sunspec-inverter");
    let mut values = simulator::modbus::Values::new();
    values.set("ac_current_sf", "-12");
    // The same raw currents (1453, 485, ...) under the impossible scale factor.
    for (name, value) in [
        ("ac_current", "1.453e-9"),
        ("ac_current_a", "4.85e-10"),
        ("ac_current_b", "4.83e-10"),
        ("ac_current_c", "4.85e-10"),
    ] {
        values.set(name, value);
    }
    let sim = Simulator::builder(&map)
        .values(values)
        .bind("127.0.0.1:0")
        .await
        .expect("bind");
    let snapshot = read_all(&map, &mut modbus_client(&map, sim.local_addr().port())).await;
    assert!(snapshot.mismatch.is_none());
    let current = snapshot.get("ac_current").expect("ac_current");
    let reason = current.value.as_ref().expect_err("missing").to_string();
    assert!(
        reason.contains("ac_current_sf") && reason.contains("-10..10"),
        "{reason}"
    );
    let sf = snapshot.get("ac_current_sf").expect("sf");
    assert!(
        matches!(sf.value, Err(Missing::Invalid { .. })),
        "{:?}",
        sf.value
    );
    // Values with a usable scale factor are still there.
    assert!(snapshot.value("voltage_an").is_some());
}
