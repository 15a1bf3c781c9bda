//! The seed device maps keep the promises of the device-maps issue: units, request counts,
//! writes (function, address, words), heartbeats, sentinels and scale factors. The maps are
//! data; these tests read them through device-maps exactly as the CLI does.

use std::sync::Arc;
use std::time::Duration;

use device_maps::modbus_core::{Table, Value};
use device_maps::{DeviceMap, MemoryDevice, Missing, Registry, Snapshot, block_on};

fn map(id: &str) -> Arc<DeviceMap> {
    let registry = Registry::built_in().expect("the shipped maps load");
    Arc::clone(registry.get(id).expect("a shipped map"))
}

fn read_all(map: &Arc<DeviceMap>, device: &mut MemoryDevice, unit: Option<&str>) -> Snapshot {
    let mut units = map.units();
    if let Some(unit) = unit {
        units.apply(unit).expect("a valid unit");
    }
    let selection = map.select::<&str>(&[]).expect("select all");
    let plan = map.plan_read(&selection, &units).expect("plannable");
    block_on(plan.execute(device))
}

fn request_count(map: &Arc<DeviceMap>) -> usize {
    let selection = map.select::<&str>(&[]).expect("select all");
    map.plan_read(&selection, &map.units())
        .expect("plannable")
        .requests()
        .len()
}

/// A write request as (function code, unit, wire address, words).
type Sent = (u8, u8, u16, Vec<u16>);

/// Plans `assignment` and resolves it against a read of the example device.
fn write(map: &Arc<DeviceMap>, assignment: &str) -> Result<Vec<Sent>, String> {
    let plan = map
        .plan_writes(&[assignment], &map.units())
        .map_err(|e| e.to_string())?;
    let context = read_all(map, &mut MemoryDevice::with_examples(map), None);
    let resolved = plan.resolve(Some(&context)).map_err(|e| e.to_string())?;
    Ok(resolved
        .requests
        .iter()
        .map(|r| (r.function_code(), r.unit, r.address, r.words.clone()))
        .collect())
}

#[test]
fn alfen_has_89_registers_in_six_requests_over_units_200_and_1() {
    let map = map("alfen-eve");
    assert_eq!(map.registers.len(), 89);
    assert_eq!(
        map.connection.unit_ids,
        [("station".to_owned(), 200), ("socket".to_owned(), 1)]
    );
    assert_eq!(map.connection.max_connections, 2);
    assert_eq!(map.connection.idle_timeout, Some(Duration::from_secs(60)));
    assert_eq!(request_count(&map), 6);
    let snapshot = read_all(&map, &mut MemoryDevice::with_examples(&map), None);
    assert_eq!(snapshot.get("c_name").map(|r| r.unit_id), Some(200));
    assert_eq!(
        snapshot.get("voltage_phase_L1N").map(|r| r.unit_id),
        Some(1)
    );
}

#[test]
fn alfen_second_socket_is_unit_2_with_the_same_map() {
    let map = map("alfen-eve");
    let mut device = MemoryDevice::with_examples(&map);
    for address in 300..1216 {
        if let Some(word) = device.get(1, Table::Holding, address) {
            device.set(2, Table::Holding, address, &[word]);
        }
    }
    let snapshot = read_all(&map, &mut device, Some("2"));
    assert_eq!(snapshot.get("c_name").map(|r| r.unit_id), Some(200));
    assert_eq!(snapshot.get("real_power_sum").map(|r| r.unit_id), Some(2));
    assert!(snapshot.missing().next().is_none());
}

#[test]
fn alfen_0xffff_registers_are_missing_values() {
    let map = map("alfen-eve");
    let mut device = MemoryDevice::with_examples(&map);
    device.set(1, Table::Holding, 305, &[0xFFFF]); // meter_type, uint16
    device.set(1, Table::Holding, 312, &[0xFFFF, 0xFFFF]); // voltage_phase_L1L2, float32
    device.set(1, Table::Holding, 362, &[0xFFFF; 4]); // energy L1, float64
    device.set(1, Table::Holding, 301, &[0xFFFF; 4]); // meter age, uint64
    device.set(200, Table::Holding, 1400, &[0xFFFF; 4]); // scn_name: empty, not an error
    let snapshot = read_all(&map, &mut device, None);
    for name in [
        "meter_type",
        "voltage_phase_L1L2",
        "real_energy_delivered_phase_L1",
        "meter_last_value_timestamp",
    ] {
        let reading = snapshot.get(name).expect(name);
        assert!(
            matches!(reading.value, Err(Missing::Sentinel)),
            "{name}: {:?}",
            reading.value
        );
    }
    assert_eq!(
        snapshot.value("scn_name"),
        Some(&Value::Text(String::new()))
    );
}

#[test]
fn alfen_setpoint_is_one_fc16_of_both_registers_and_phases_are_1_or_3() {
    let map = map("alfen-eve");
    // 10.0 as FLOAT32 is 0x4120_0000: both words in one write-multiple request to unit 1.
    assert_eq!(
        write(&map, "modbus_slave_max_current=10"),
        Ok(vec![(16, 1, 1210, vec![0x4120, 0x0000])])
    );
    assert_eq!(
        write(&map, "modbus_slave_max_current=0"),
        Ok(vec![(16, 1, 1210, vec![0, 0])])
    );
    assert!(
        write(&map, "modbus_slave_max_current=3").is_err(),
        "below 6 A and not 0"
    );
    assert!(
        write(&map, "modbus_slave_max_current=40").is_err(),
        "above the station maximum"
    );
    assert_eq!(
        write(&map, "charge_using_1_or_3_phases=1"),
        Ok(vec![(6, 1, 1215, vec![1])])
    );
    assert_eq!(
        write(&map, "charge_using_1_or_3_phases=3"),
        Ok(vec![(6, 1, 1215, vec![3])])
    );
    assert!(write(&map, "charge_using_1_or_3_phases=2").is_err());
    assert!(write(&map, "availability=1").is_err(), "read-only");
}

#[test]
fn alfen_refreshes_its_setpoint_within_the_validity_time() {
    let map = map("alfen-eve");
    let heartbeat = map
        .heartbeats
        .iter()
        .find(|h| h.name == "setpoint_refresh")
        .expect("a setpoint heartbeat");
    assert!(heartbeat.interval(None) < Duration::from_secs(60));
    let units = map.units();
    let nothing_written = map
        .plan_heartbeat(heartbeat, &units, |_| None)
        .expect("plans");
    assert!(
        nothing_written.is_none(),
        "nothing is refreshed before the client wrote"
    );
    let plan = map
        .plan_heartbeat(heartbeat, &units, |name| {
            (name == "modbus_slave_max_current").then_some(Value::Float(16.0))
        })
        .expect("plans")
        .expect("a write");
    let requests = plan.resolve(None).expect("resolves").requests;
    assert_eq!(requests.len(), 1);
    assert_eq!((requests[0].unit, requests[0].address), (1, 1210));
}

#[test]
fn vestel_reads_strings_of_one_character_per_register_from_unit_255() {
    let map = map("vestel-evc04");
    assert_eq!(map.connection.unit_ids, [("charger".to_owned(), 255)]);
    assert_eq!(map.connection.max_connections, 1);
    // Reads go through unused registers as ilia92's script does (IR 1000 x107 through the
    // unused 1038..1099): 8 requests, not 34.
    assert!(map.connection.span_gaps);
    assert_eq!(map.connection.max_gap, 62);
    assert_eq!(request_count(&map), 8);
    let selection = map.select::<&str>(&[]).expect("select all");
    let plan = map.plan_read(&selection, &map.units()).expect("plannable");
    assert!(
        plan.requests()
            .iter()
            .any(|r| (r.table, r.address, r.count) == (Table::Input, 1000, 107)),
        "{:?}",
        plan.requests()
    );
    let mut device = MemoryDevice::with_examples(&map);
    let serial: Vec<u16> = "VEST1234567890".encode_utf16().collect();
    assert_eq!(device.get(255, Table::Input, 100), Some(serial[0]));
    device.set(
        255,
        Table::Input,
        100,
        &"Ünit 7".encode_utf16().chain([0; 19]).collect::<Vec<_>>(),
    );
    let snapshot = read_all(&map, &mut device, None);
    assert_eq!(
        snapshot.value("serial_number"),
        Some(&Value::Text("Ünit 7".into()))
    );
    assert_eq!(snapshot.value("chargepoint_state"), Some(&Value::UInt(2)));
    assert_eq!(
        snapshot
            .get("chargepoint_state")
            .and_then(|r| r.label.as_deref()),
        Some("Charging")
    );
    assert_eq!(
        snapshot.value("current_l1").and_then(Value::as_f64),
        Some(15.23)
    );
    // Groups are the seed tool's sections.
    let groups = map.groups();
    assert_eq!(
        groups,
        ["identity", "states", "electrical", "session", "limits"]
    );
}

#[test]
fn vestel_charging_current_is_0_or_between_the_chargers_limits() {
    let map = map("vestel-evc04");
    assert_eq!(
        write(&map, "charging_current=0"),
        Ok(vec![(6, 255, 5004, vec![0])])
    );
    assert_eq!(
        write(&map, "charging_current=16"),
        Ok(vec![(6, 255, 5004, vec![16])])
    );
    assert!(
        write(&map, "charging_current=3").is_err(),
        "below evse_min_current (6)"
    );
    assert!(
        write(&map, "charging_current=40").is_err(),
        "above evse_max_current (32)"
    );
    assert_eq!(
        write(&map, "failsafe_current=10"),
        Ok(vec![(6, 255, 2000, vec![10])])
    );
    assert_eq!(
        write(&map, "failsafe_timeout=60"),
        Ok(vec![(6, 255, 2002, vec![60])])
    );
    assert!(write(&map, "meter_reading=1").is_err(), "an input register");
}

#[test]
fn vestel_alive_heartbeat_runs_at_half_the_failsafe_timeout() {
    let map = map("vestel-evc04");
    let heartbeat = map
        .heartbeats
        .iter()
        .find(|h| h.name == "alive")
        .expect("alive");
    assert_eq!(heartbeat.interval_register(), Some("failsafe_timeout"));
    assert_eq!(heartbeat.interval(Some(20.0)), Duration::from_secs(10));
    assert_eq!(heartbeat.interval(Some(0.0)), Duration::from_secs(5));
    let plan = map
        .plan_heartbeat(heartbeat, &map.units(), |_| None)
        .expect("plans")
        .expect("a fixed write");
    let requests = plan.resolve(None).expect("resolves").requests;
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (
            requests[0].function_code(),
            requests[0].address,
            requests[0].words.as_slice()
        ),
        (6, 6000, &[1][..])
    );
}

#[test]
fn pm8000_uses_the_documents_1_based_numbers() {
    let map = map("schneider-pm8000");
    let current = map.register("current_phase_a").expect("register");
    assert_eq!((current.address, current.wire_address), (3000, 2999));
    let energy = map.register("active_energy_import").expect("register");
    assert_eq!(
        (energy.address, energy.wire_address, energy.count),
        (3204, 3203, 4)
    );
    let snapshot = read_all(&map, &mut MemoryDevice::with_examples(&map), None);
    assert_eq!(
        snapshot.value("active_energy_import"),
        Some(&Value::Int(18_234_567))
    );
    // The 25 registers of the seed example, and the meter model its checks identify it by.
    assert_eq!(map.registers.len(), 26);
}

#[test]
fn sdm630_reads_input_registers_at_most_50_at_a_time() {
    let map = map("eastron-sdm630");
    let voltage = map.register("voltage_l1").expect("register");
    assert_eq!(
        (voltage.address, voltage.wire_address, voltage.table),
        (30001, 0, Table::Input)
    );
    let selection = map.select::<&str>(&[]).expect("select all");
    let plan = map.plan_read(&selection, &map.units()).expect("plannable");
    let input: Vec<_> = plan
        .requests()
        .iter()
        .filter(|r| r.table == Table::Input)
        .collect();
    assert!(input.iter().all(|r| r.count <= 50));
    // Gaps of at most 6 registers are read through: 3 input requests, not 7; and one for the
    // meter code (holding FC02h).
    assert_eq!(input.len(), 3);
    assert_eq!(plan.requests().len(), 4);
    let snapshot = block_on(plan.execute(&mut MemoryDevice::with_examples(&map)));
    assert_eq!(
        snapshot
            .value("total_energy")
            .and_then(Value::as_f64)
            .map(|v| v as f32),
        Some(10580.1)
    );
}

#[test]
fn sunspec_applies_scale_factors_and_sentinels() {
    let map = map("sunspec-inverter");
    let marker = map.register("sunspec_id").expect("register");
    assert_eq!((marker.address, marker.wire_address), (40001, 40000));
    assert_eq!(
        map.register("inverter_model_id").map(|r| r.wire_address),
        Some(40069)
    );

    let mut device = MemoryDevice::with_examples(&map);
    assert_eq!(device.get(1, Table::Holding, 40000), Some(0x5375)); // "Su"
    // ac_current raw 1453 with A_SF -2.
    assert_eq!(device.get(1, Table::Holding, 40071), Some(1453));
    let snapshot = read_all(&map, &mut device, None);
    assert_eq!(
        snapshot.value("ac_current").and_then(Value::as_f64),
        Some(14.53)
    );
    assert_eq!(
        snapshot.value("sunspec_id"),
        Some(&Value::Text("SunS".into()))
    );

    device.set(1, Table::Holding, 40083, &[0x8000]); // ac_power: not implemented
    device.set(1, Table::Holding, 40075, &[0x8000]); // A_SF: not implemented
    let snapshot = read_all(&map, &mut device, None);
    assert!(matches!(
        snapshot.get("ac_power").map(|r| &r.value),
        Some(Err(Missing::Sentinel))
    ));
    assert!(matches!(
        snapshot.get("ac_current_a").map(|r| &r.value),
        Some(Err(Missing::ScaleFactor { .. }))
    ));
}
