//! The read, write, action and heartbeat paths over an in-memory device.

use std::sync::Arc;
use std::time::Duration;

use device_maps::modbus_core::{Table, Value};
use device_maps::{DeviceMap, MemoryDevice, Missing, Request, block_on, load_file};

fn fixture(name: &str) -> Arc<DeviceMap> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.yaml"));
    Arc::new(load_file(&path).unwrap_or_else(|e| panic!("{e}")))
}

fn reads(device: &MemoryDevice) -> Vec<String> {
    device
        .log
        .iter()
        .filter_map(|r| match r {
            Request::Read {
                unit,
                table,
                address,
                count,
            } => Some(format!("{unit} {table} {address}x{count}")),
            Request::Write { .. } => None,
        })
        .collect()
}

fn writes(device: &MemoryDevice) -> Vec<String> {
    device
        .log
        .iter()
        .filter_map(|r| match r {
            Request::Write {
                unit,
                table,
                address,
                values,
            } => Some(format!("{unit} {table} {address} {values:04x?}")),
            Request::Read { .. } => None,
        })
        .collect()
}

#[test]
fn a_full_station_read_takes_six_requests() {
    let map = fixture("station");
    let mut device = MemoryDevice::with_examples(&map);
    let plan = map
        .plan_read(&map.select::<&str>(&[]).unwrap(), &map.units())
        .unwrap();
    let snapshot = block_on(plan.execute(&mut device));
    assert_eq!(
        reads(&device),
        [
            "1 holding 300x78",
            "1 holding 422x4",
            "1 holding 1200x16",
            "200 holding 100x79",
            "200 holding 1100x6",
            "200 holding 1400x32"
        ]
    );
    assert_eq!(snapshot.requests, 6);
    assert_eq!(snapshot.readings.len(), map.registers.len());
    let v = |name: &str| snapshot.value(name).cloned();
    assert_eq!(v("c_name"), Some(Value::Text("ALF_1000".into())));
    assert_eq!(
        v("voltage_phase_L1N").and_then(|v| v.as_f64()),
        Some(f64::from(238.19f32))
    );
    assert_eq!(v("c_uptime"), Some(Value::Float(125689.398)));
    let availability = snapshot.get("availability").unwrap();
    assert_eq!(availability.label.as_deref(), Some("Operable"));
    assert_eq!(availability.unit_id, 1);
    let meter = snapshot.get("meter_state").unwrap();
    assert_eq!(meter.flags, ["Initialised", "Updated"]);
    assert_eq!(
        snapshot.get("voltage_phase_L1N").unwrap().title,
        "Voltage Phase L1N"
    );
    assert_eq!(snapshot.get("c_time_zone").unwrap().title, "C time zone");
    assert!(snapshot.readings.iter().all(|r| r.read_at.is_some()));
}

#[test]
fn unit_override_reads_the_second_socket_with_the_same_registers() {
    let map = fixture("station");
    let mut units = map.units();
    units.apply("2").unwrap();
    let mut device = MemoryDevice::new();
    device.set(2, Table::Holding, 1200, &[1]);
    let selection = map
        .select(&["availability", "c_modbus_table_version"])
        .unwrap();
    let plan = map.plan_read(&selection, &units).unwrap();
    let snapshot = block_on(plan.execute(&mut device));
    assert_eq!(reads(&device), ["2 holding 1200x1", "200 holding 122x1"]);
    assert_eq!(snapshot.get("availability").unwrap().unit_id, 2);
    assert_eq!(
        snapshot.get("availability").unwrap().label.as_deref(),
        Some("Operable")
    );
    assert!(units.apply("stations=3").is_err());
    assert!(units.apply("socket=300").is_err());
}

#[test]
fn missing_values_say_why() {
    let map = fixture("station");
    let mut device = MemoryDevice::with_examples(&map);
    // Not available: a 0xFFFF sentinel, a NaN float, an all-ones string.
    device.set(1, Table::Holding, 1200, &[0xFFFF]);
    device.set(1, Table::Holding, 306, &[0x7FC0, 0x0000]);
    device.set(200, Table::Holding, 100, &[0xFFFF; 17]);
    let selection = map.select::<&str>(&[]).unwrap();
    let plan = map.plan_read(&selection, &map.units()).unwrap();
    let mut broken = MemoryDevice::new().strict();
    let snapshot = block_on(plan.execute(&mut device));
    let a = &snapshot.get("availability").unwrap().value;
    assert!(matches!(a, Err(Missing::Sentinel)), "{a:?}");
    assert!(matches!(
        snapshot.get("voltage_phase_L1N").unwrap().value,
        Err(Missing::Sentinel)
    ));
    assert!(matches!(
        snapshot.get("c_name").unwrap().value,
        Err(Missing::Sentinel)
    ));
    assert_eq!(snapshot.missing().count(), 3);

    // A device that answers nothing: every reading says the read failed, none is zero.
    let snapshot = block_on(plan.execute(&mut broken));
    assert_eq!(broken.log.len(), 6, "every request is still tried");
    let first = &snapshot.readings[0];
    match &first.value {
        Err(Missing::ReadFailed(e)) => assert!(e.to_string().contains("illegal data address")),
        other => panic!("expected a read failure, got {other:?}"),
    }
    assert!(first.read_at.is_none());
    assert_eq!(snapshot.missing().count(), snapshot.readings.len());
}

#[test]
fn selection_by_name_and_group() {
    let map = fixture("station");
    let names = |sel: Vec<usize>| -> Vec<String> {
        sel.into_iter()
            .map(|i| map.registers[i].name.clone())
            .collect()
    };
    assert_eq!(
        names(map.select(&["meter"]).unwrap()),
        [
            "meter_state",
            "voltage_phase_L1N",
            "real_power_sum",
            "real_energy_delivered_sum",
            "reactive_energy_sum"
        ]
    );
    assert_eq!(
        names(map.select(&["meter/voltage", "c_name"]).unwrap()),
        ["c_name", "voltage_phase_L1N"]
    );
    let err = map.select(&["availabilty"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`availabilty` is neither a register nor a group of map `station`; did you mean `availability`?"
    );
    let charger = fixture("charger");
    assert_eq!(
        charger.select(&["alive_register"]).unwrap_err().to_string(),
        "register `alive_register` of map `charger` is write-only and cannot be read"
    );
}

#[test]
fn float_setpoint_goes_in_one_request_and_is_read_back() {
    let map = fixture("station");
    let mut device = MemoryDevice::with_examples(&map);
    let plan = map
        .plan_writes(&["modbus_slave_max_current=10"], &map.units())
        .unwrap();
    assert_eq!(plan.needs(), ["station_active_max_current"]);
    // Dry run: nothing read, the dynamic bound listed as unchecked.
    let dry = plan.resolve(None).unwrap();
    assert_eq!(
        dry.requests[0].to_string(),
        "FC16 write multiple registers: unit 1, address 1210, 2 words 0x4120 0x0000"
    );
    assert_eq!(
        dry.unchecked,
        ["modbus_slave_max_current max = `station_active_max_current` (read at run time)"]
    );
    // The device applies the setpoint at 1206, as an Alfen does.
    device.set(1, Table::Holding, 1206, &[0x4120, 0x0000]);
    let report = block_on(plan.execute(&mut device)).unwrap();
    assert_eq!(writes(&device), ["1 holding 1210 [4120, 0000]"]);
    assert_eq!(report.confirmations.len(), 1);
    assert_eq!(
        report.confirmations[0].read_register,
        "actual_applied_max_current"
    );
    assert!(report.all_confirmed());
}

#[test]
fn writes_are_checked_before_anything_is_sent() {
    let map = fixture("station");
    let units = map.units();
    let err = |a: &str| map.plan_writes(&[a], &units).unwrap_err().to_string();
    assert_eq!(
        err("modbus_slave_max_current=3"),
        "3 for `modbus_slave_max_current` is below the minimum 6 (allowed: 6 to `station_active_max_current` or 0 A)"
    );
    assert_eq!(
        err("charge_using_1_or_3_phases=2"),
        "2 for `charge_using_1_or_3_phases` is not a value of its enumeration (allowed: One phase (1), Three phases (3))"
    );
    assert_eq!(
        err("availability=1"),
        "register `availability` is read-only (writable registers: modbus_slave_max_current, charge_using_1_or_3_phases)"
    );
    assert_eq!(
        err("modbus_slave_max_curent=6"),
        "map `station` has no register `modbus_slave_max_curent`; did you mean `modbus_slave_max_current`?"
    );
    assert_eq!(
        err("modbus_slave_max_current"),
        "`modbus_slave_max_current` is not NAME=VALUE"
    );
    assert_eq!(
        err("modbus_slave_max_current=lots"),
        "`lots` is not a value for `modbus_slave_max_current` (allowed: 6 to `station_active_max_current` or 0 A)"
    );
    // An enumeration label works, and the pause value 0 is allowed outside the range.
    let plan = map
        .plan_writes(
            &[
                "charge_using_1_or_3_phases=One phase",
                "modbus_slave_max_current=0",
            ],
            &units,
        )
        .unwrap();
    let resolved = plan.resolve(None).unwrap();
    assert_eq!(
        resolved.requests[0].to_string(),
        "FC6 write single register: unit 1, address 1215, 1 word 0x0001"
    );
    assert_eq!(resolved.requests[1].words, [0, 0]);
    assert!(
        resolved.unchecked.is_empty(),
        "0 is allowed by `also`, no bound to check"
    );

    // A bound read from the device: the station allows at most 25 A.
    let mut device = MemoryDevice::with_examples(&map);
    let plan = map
        .plan_writes(&["modbus_slave_max_current=30"], &units)
        .unwrap();
    let err = block_on(plan.execute(&mut device)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the write was refused before sending anything"
    );
    assert_eq!(
        std::error::Error::source(&err).unwrap().to_string(),
        "30 for `modbus_slave_max_current` is above the maximum `station_active_max_current` = 25 (allowed: 6 to `station_active_max_current` or 0)"
    );
    assert!(writes(&device).is_empty());
    assert_eq!(reads(&device), ["200 holding 1100x2"]);
}

#[test]
fn charger_current_is_bounded_by_the_charger_and_heartbeat_follows_the_timeout() {
    let map = fixture("charger");
    let mut device = MemoryDevice::with_examples(&map);
    let plan = map
        .plan_writes(&["charging_current=16"], &map.units())
        .unwrap();
    let report = block_on(plan.execute(&mut device)).unwrap();
    assert_eq!(writes(&device), ["255 holding 5004 [0010]"]);
    assert!(report.confirmations.is_empty(), "read_back: false");
    let plan = map
        .plan_writes(&["charging_current=5"], &map.units())
        .unwrap();
    let err = block_on(plan.execute(&mut device)).unwrap_err();
    assert!(
        std::error::Error::source(&err)
            .unwrap()
            .to_string()
            .contains("below the minimum `evse_min_current` = 6")
    );

    let alive = &map.heartbeats[0];
    assert_eq!(alive.interval_register(), Some("failsafe_timeout"));
    assert_eq!(alive.interval(Some(20.0)), Duration::from_secs(10));
    assert_eq!(
        alive.interval(Some(1.0)),
        Duration::from_secs(1),
        "never below min"
    );
    assert_eq!(
        alive.interval(Some(0.0)),
        Duration::from_secs(5),
        "fallback"
    );
    assert_eq!(alive.interval(None), Duration::from_secs(5));
    let plan = map
        .plan_heartbeat(alive, &map.units(), |_| None)
        .unwrap()
        .unwrap();
    assert_eq!(
        plan.resolve(None).unwrap().requests[0].to_string(),
        "FC6 write single register: unit 255, address 6000, 1 word 0x0001"
    );

    // Strings of one character per register.
    let snapshot = block_on(
        map.plan_read(&map.select(&["identity"]).unwrap(), &map.units())
            .unwrap()
            .execute(&mut device),
    );
    assert_eq!(
        snapshot.value("serial_number"),
        Some(&Value::Text("VESTEL123".into()))
    );
}

#[test]
fn refresh_heartbeat_rewrites_the_last_value() {
    let map = fixture("station");
    let refresh = &map.heartbeats[0];
    assert_eq!(refresh.interval(None), Duration::from_secs(25));
    assert!(
        map.plan_heartbeat(refresh, &map.units(), |_| None)
            .unwrap()
            .is_none()
    );
    let plan = map
        .plan_heartbeat(refresh, &map.units(), |name| {
            (name == "modbus_slave_max_current").then_some(Value::Float(16.0))
        })
        .unwrap()
        .unwrap();
    assert_eq!(plan.writes[0].register, "modbus_slave_max_current");
}

#[test]
fn scale_factor_registers_apply_both_ways() {
    let map = fixture("inverter");
    let mut device = MemoryDevice::with_examples(&map);
    let plan = map
        .plan_read(
            &map.select(&["ac_current", "ac_power"]).unwrap(),
            &map.units(),
        )
        .unwrap();
    let snapshot = block_on(plan.execute(&mut device));
    assert_eq!(
        snapshot.readings.len(),
        2,
        "scale factors are read but not reported"
    );
    assert_eq!(snapshot.value("ac_current"), Some(&Value::Float(12.3)));
    assert_eq!(snapshot.value("ac_power"), Some(&Value::Float(4500.0)));
    assert_eq!(device.get(1, Table::Holding, 40071), Some(123));
    assert_eq!(device.get(1, Table::Holding, 40083), Some(450));
    // A "not implemented" scale factor makes the value missing, not wrong.
    device.set(1, Table::Holding, 40075, &[0x8000]);
    let snapshot = block_on(plan.execute(&mut device));
    let current = snapshot.get("ac_current").unwrap();
    assert_eq!(
        current.value.as_ref().unwrap_err().to_string(),
        "scale factor `ac_current_sf` unusable: not available (the device reports no value)"
    );
    // Writing needs the scale factor: read first, then encode.
    let plan = map
        .plan_writes(&["power_limit=3000"], &map.units())
        .unwrap();
    assert!(plan.resolve(None).is_err());
    device.log.clear();
    block_on(plan.execute(&mut device)).unwrap();
    assert_eq!(writes(&device), ["1 holding 40199 [012c]"]);
}

#[test]
fn actions_compute_and_check_every_write() {
    let map = fixture("inverter");
    let units = map.units();
    let requests = |args: &[&str], action: &str| -> Vec<String> {
        let plan = map.plan_action(action, args, &units).unwrap();
        plan.resolve(None)
            .unwrap()
            .requests
            .iter()
            .map(|r| format!("{}={}", r.register, r.words[0]))
            .collect()
    };
    assert_eq!(
        requests(
            &["start=0100", "finish=0400", "chargeToPercent=55"],
            "setChargeSlot1"
        ),
        [
            "enable_charge_target=1",
            "charge_target_soc=55",
            "charge_slot_1_start=100",
            "charge_slot_1_end=400"
        ]
    );
    assert_eq!(
        requests(
            &["start=23:30", "finish=05:30", "chargeToPercent=100"],
            "setChargeSlot1"
        ),
        [
            "enable_charge_target=0",
            "charge_target_soc=100",
            "charge_slot_1_start=2330",
            "charge_slot_1_end=530"
        ]
    );
    assert_eq!(
        requests(&["start=0100", "finish=0400"], "setChargeSlot1"),
        ["charge_slot_1_start=100", "charge_slot_1_end=400"]
    );
    assert_eq!(
        requests(&["dateTime=13/07/2026 23:22:19"], "setDateTime"),
        [
            "system_time_year=26",
            "system_time_month=7",
            "system_time_day=13",
            "system_time_hour=23",
            "system_time_minute=22",
            "system_time_second=19"
        ]
    );
    assert_eq!(
        requests(&["mode=2"], "setBatteryMode"),
        [
            "battery_power_mode=1",
            "battery_soc_reserve=100",
            "enable_discharge=1"
        ]
    );
    assert_eq!(
        requests(&["mode=export"], "setEcoMode"),
        ["battery_power_mode=0"]
    );
    assert_eq!(requests(&[], "pauseChargeSchedule"), ["relay=0"]);

    let err = |args: &[&str], action: &str| {
        map.plan_action(action, args, &units)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(&["start=0100", "finish=0460"], "setChargeSlot1"),
        "`0460` is not a valid `finish` for action `setChargeSlot1` (allowed: a time of day: 0100, 01:00, 23:30)"
    );
    assert_eq!(
        err(
            &["start=0100", "finish=0400", "chargeToPercent=3"],
            "setChargeSlot1"
        ),
        "`3` is not a valid `chargeToPercent` for action `setChargeSlot1` (allowed: a percentage, 4 to 100)"
    );
    assert_eq!(
        err(&["finish=0400"], "setChargeSlot1"),
        "action `setChargeSlot1` needs parameter `start` (a time of day: 0100, 01:00, 23:30)"
    );
    assert_eq!(
        err(&["mode=5"], "setBatteryMode"),
        "`5` is not a valid `mode` for action `setBatteryMode` (allowed: a whole number, 1 to 4)"
    );
    assert_eq!(
        err(&["mood=1"], "setBatteryMode"),
        "action `setBatteryMode` has no parameter `mood` (parameters: mode)"
    );
    assert_eq!(
        err(&["dateTime=31/02/2026 10:00:00"], "setDateTime"),
        "`31/02/2026 10:00:00` is not a valid `dateTime` for action `setDateTime` (allowed: a date and time: dd/mm/yyyy hh:mm:ss)"
    );
    assert_eq!(
        err(&[], "setChargeSlot9"),
        "map `inverter` has no action `setChargeSlot9` (actions: setChargeSlot1, setBatteryMode, setDateTime, setEcoMode, pauseChargeSchedule)"
    );
    // A computed value outside a register's range is refused.
    let err = map
        .plan_action("setDateTime", &["dateTime=13/07/2126 23:22:19"], &units)
        .unwrap_err();
    assert_eq!(err.to_string(), "action `setDateTime`");
    assert_eq!(
        std::error::Error::source(&err).unwrap().to_string(),
        "126 for `system_time_year` is above the maximum 99 (allowed: 0 to 99)"
    );
    // Executing writes in order, coils included.
    let mut device = MemoryDevice::with_examples(&map);
    let plan = map
        .plan_action("pauseChargeSchedule", &[] as &[&str], &units)
        .unwrap();
    let report = block_on(plan.execute(&mut device)).unwrap();
    assert_eq!(writes(&device), ["1 coil 10 [0000]"]);
    assert_eq!(report.sent[0].function_code(), 5);
    assert!(report.all_confirmed());
}

#[test]
fn repeated_blocks_give_each_unit_its_registers() {
    let map = fixture("packs");
    let names: Vec<&str> = map.registers.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "SOC",
            "Battery_1_Cell_1_Voltage",
            "Battery_1_SOC",
            "battery_1_serial",
            "Battery_2_Cell_1_Voltage",
            "Battery_2_SOC",
            "battery_2_serial"
        ]
    );
    let soc2 = map.register("Battery_2_SOC").unwrap();
    assert_eq!(soc2.title, "Battery 2 SOC");
    assert_eq!(soc2.group.as_deref(), Some("Battery_Details/Battery_2"));
    let mut device = MemoryDevice::with_examples(&map);
    let plan = map
        .plan_read(&map.select(&["Battery_Details"]).unwrap(), &map.units())
        .unwrap();
    let snapshot = block_on(plan.execute(&mut device));
    assert_eq!(reads(&device), ["50 input 60x55", "51 input 60x55"]);
    assert_eq!(snapshot.get("Battery_2_SOC").unwrap().unit_id, 51);
    assert_eq!(
        snapshot.value("battery_1_serial"),
        Some(&Value::Text("DF2244G000".into()))
    );
}

/// `enum` on a text register labels the texts the device sends; an unknown text has no label.
#[test]
fn text_registers_take_labels_for_their_texts() {
    let text = r#"
manufacturer: Demo
model: Socket
connection: {unit_ids: {socket: 1}, address_base: 0}
registers:
  - {name: state, address: 0, type: string, count: 2, enum: {A: Idle, C2: Charging}, example: C2}
"#;
    let map = Arc::new(device_maps::parse_map("socket", text).unwrap_or_else(|e| panic!("{e}")));
    let r = map.register("state").expect("declared");
    assert_eq!(r.kind, device_maps::Kind::State);
    assert_eq!(r.text_label("C2"), Some("Charging"));
    let plan = map
        .plan_read(&map.select::<&str>(&[]).expect("all"), &map.units())
        .expect("plannable");
    let mut device = MemoryDevice::with_examples(&map);
    let snapshot = block_on(plan.execute(&mut device));
    let reading = snapshot.get("state").expect("read");
    assert_eq!(reading.value, Ok(Value::Text("C2".into())));
    assert_eq!(reading.label.as_deref(), Some("Charging"));
    device.set(1, Table::Holding, 0, &[0x4239, 0]); // "B9"
    let snapshot = block_on(plan.execute(&mut device));
    assert_eq!(snapshot.get("state").and_then(|r| r.label.clone()), None);

    let padded = text.replace("{A: Idle", "{' A': Idle");
    let err = device_maps::parse_map("socket", &padded).expect_err("a padded key");
    assert!(
        err.to_string().starts_with("socket:6:"),
        "names the line: {err}"
    );
}

const DERIVED_MAP: &str = r#"
manufacturer: Demo
model: Inverter
connection: {unit_ids: {inverter: 17}, address_base: 0}
defaults: {table: input}
registers:
  - {name: pv_1, address: 18, type: uint16, unit: W, group: Power, example: 1200}
  - {name: pv_2, address: 20, type: uint16, unit: W, group: Power, example: 800}
  - {name: grid, address: 30, type: int16, unit: W, group: Power, sentinels: [0x8000], example: -250}
  - {name: load, address: 42, type: uint16, unit: W, group: Power, example: 2100}
  - {name: today_1, address: 17, type: uint16, scale: 0.1, unit: kWh, example: 12.2}
  - {name: today_2, address: 19, type: uint16, scale: 0.1, unit: kWh, example: 12.3}
derived:
  - {name: pv, group: Power, unit: W, expr: "pv_1 + pv_2"}
  - {name: import, group: Power/Flows, unit: W, expr: "max(-grid, 0)"}
  - {name: solar_to_house, group: Power/Flows, unit: W, expr: "min(pv, load)"}
  - {name: pv_today, unit: kWh, kind: counter, expr: "today_1 + today_2"}
  - {name: state, kind: state, expr: "if(grid < 0, 1, 2)", enum: {1: Importing, 2: Exporting}}
"#;

/// Derived values are computed after the read from the registers' scaled values; selecting
/// one reads its inputs without reporting them; a missing input makes it missing, with why.
#[test]
fn derived_values_are_computed_after_a_read() {
    let map =
        Arc::new(device_maps::parse_map("inverter", DERIVED_MAP).unwrap_or_else(|e| panic!("{e}")));
    let mut device = MemoryDevice::with_examples(&map);
    let all = map
        .plan_read(&map.select::<&str>(&[]).expect("all"), &map.units())
        .expect("plannable");
    let snapshot = block_on(all.execute(&mut device));
    assert_eq!(snapshot.value("pv"), Some(&Value::Int(2000)));
    assert_eq!(snapshot.value("import"), Some(&Value::Int(250)));
    assert_eq!(snapshot.value("solar_to_house"), Some(&Value::Int(2000)));
    assert_eq!(snapshot.value("pv_today"), Some(&Value::Float(24.5)));
    let state = snapshot.get("state").expect("reported");
    assert_eq!(state.label.as_deref(), Some("Importing"));
    assert_eq!(state.kind, device_maps::Kind::State);
    assert_eq!(state.unit_id, 17);
    assert!(state.read_at.is_some());
    assert_eq!(
        snapshot.get("import").and_then(|r| r.group.as_deref()),
        Some("Power/Flows")
    );

    // One derived value by name: its inputs (and the derived values it uses) are read, only it
    // is reported.
    let plan = map
        .plan_read(
            &map.select(&["solar_to_house"]).expect("known"),
            &map.units(),
        )
        .expect("plannable");
    let snapshot = block_on(plan.execute(&mut device));
    let names: Vec<&str> = snapshot.readings.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["solar_to_house"]);
    assert_eq!(snapshot.value("solar_to_house"), Some(&Value::Int(2000)));

    // A group selects its derived values too.
    let flows = map.select(&["Power/Flows"]).expect("a group");
    assert_eq!(flows.len(), 2);

    // A missing input: the derived value is missing and says which input and why.
    device.set(17, Table::Input, 30, &[0x8000]);
    let snapshot = block_on(all.execute(&mut device));
    let import = snapshot.get("import").expect("reported");
    let reason = import.value.clone().expect_err("missing").to_string();
    assert_eq!(
        reason,
        "input `grid` is missing: not available (the device reports no value)"
    );
    assert!(
        snapshot.value("pv").is_some(),
        "other values still computed"
    );
    assert!(
        snapshot.value("state").is_none(),
        "a derived value over a missing input is missing"
    );
}

#[test]
fn derived_values_name_only_earlier_values() {
    let later = DERIVED_MAP.replace("expr: \"pv_1 + pv_2\"", "expr: \"pv_1 + import\"");
    let err = device_maps::parse_map("inverter", &later).expect_err("names a later value");
    assert!(
        err.to_string()
            .contains("`import` is a derived value declared at or after this one"),
        "{err}"
    );
    let text = DERIVED_MAP.replace("{name: import,", "{name: pv_1,");
    let err = device_maps::parse_map("inverter", &text).expect_err("duplicate name");
    assert!(err.to_string().contains("already used"), "{err}");
}

/// `example: null` declares a "not available" example: the register's sentinel (or a NaN
/// float), which the in-memory device serves and the decoder reads as missing.
#[test]
fn null_examples_are_not_available() {
    let text = r#"
manufacturer: Demo
model: Station
connection: {unit_ids: {socket: 1}, address_base: 0}
registers:
  - {name: temperature, address: 0, type: int16, sentinels: [0x8000], example: null}
  - {name: uptime, address: 1, type: uint32, order: CDAB, sentinels: [0xFFFFFFFE], example: null}
  - {name: power, address: 3, type: float32, unit: W, example: null}
  - {name: energy, address: 5, type: float64, sentinels: [all-ones], example: null}
  - {name: phases, address: 9, type: uint16, example: 3}
"#;
    let map = Arc::new(device_maps::parse_map("station", text).unwrap_or_else(|e| panic!("{e}")));
    let words = |name: &str| map.register(name).and_then(|r| r.example_words.clone());
    assert_eq!(words("temperature"), Some(vec![0x8000]));
    assert_eq!(
        words("uptime"),
        Some(vec![0xFFFE, 0xFFFF]),
        "word order applied"
    );
    assert_eq!(words("power"), Some(vec![0x7FC0, 0x0000]));
    assert_eq!(words("energy"), Some(vec![0xFFFF; 4]));
    assert_eq!(words("phases"), None);
    let plan = map
        .plan_read(&map.select::<&str>(&[]).expect("all"), &map.units())
        .expect("plannable");
    let snapshot = block_on(plan.execute(&mut MemoryDevice::with_examples(&map)));
    for name in ["temperature", "uptime", "power", "energy"] {
        assert!(
            matches!(
                snapshot.get(name).map(|r| &r.value),
                Some(Err(Missing::Sentinel))
            ),
            "{name}: {:?}",
            snapshot.get(name)
        );
    }
    assert_eq!(snapshot.value("phases"), Some(&Value::UInt(3)));

    // A register that cannot say "not available" cannot have a null example.
    let err = device_maps::parse_map("station", &text.replace("sentinels: [0x8000], ", ""))
        .expect_err("no sentinel");
    assert!(err.to_string().starts_with("station:6:"), "{err}");
    assert!(err.to_string().contains("sentinels"), "{err}");
}

/// A read of some registers reads through the registers between them that the map declares
/// (they exist on the device), never through undeclared addresses when gaps are not allowed.
#[test]
fn a_subset_read_reads_through_declared_registers() {
    let text = r#"
manufacturer: Demo
model: Meter
connection: {unit_ids: {meter: 1}, address_base: 0, span_gaps: false}
defaults: {table: input}
registers:
  - {name: a, address: 0, type: uint16, example: 1}
  - {name: b, address: 1, type: uint16, example: 2}
  - {name: c, address: 2, type: uint16, example: 3}
  - {name: d, address: 4, type: uint16, example: 4}
  - {name: alive, address: 10, table: holding, type: uint16, access: w, example: 1}
"#;
    let map = Arc::new(device_maps::parse_map("meter", text).unwrap_or_else(|e| panic!("{e}")));
    let plan = |names: &[&str]| {
        map.plan_read(&map.select(names).expect("known"), &map.units())
            .expect("plannable")
    };
    let mut device = MemoryDevice::with_examples(&map).strict();
    // a and c: one request through the declared b.
    let p = plan(&["a", "c"]);
    assert_eq!(p.requests().len(), 1);
    let snapshot = block_on(p.execute(&mut device));
    let names: Vec<&str> = snapshot.readings.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a", "c"], "only what was asked for is reported");
    assert_eq!(snapshot.value("c"), Some(&Value::UInt(3)));
    assert_eq!(reads(&device), ["1 input 0x3"]);
    // c and d: address 3 is not declared, so two requests.
    assert_eq!(plan(&["c", "d"]).requests().len(), 2);
}
