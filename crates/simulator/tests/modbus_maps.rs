//! The simulator serving device maps: examples, values files, units, access and gaps, checked
//! with an independent client (tokio-modbus) over loopback.

mod common;

use std::path::{Path, PathBuf};

use device_maps::{DeviceMap, load_file};
use modbus_core::Table;
use simulator::modbus::{Error, MapError, RegisterBank, Simulator, Values};
use tokio::net::TcpStream;
use tokio_modbus::prelude::*;

use common::{read_holding, read_input, within};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn map(name: &str) -> DeviceMap {
    load_file(&fixture(name)).unwrap()
}

/// The bank of `map` with the values file at `path`, which must be readable and parse.
fn bank_with_values_file(map: &DeviceMap, path: &Path) -> Result<RegisterBank, Error> {
    Simulator::builder(map).values_file(path).unwrap().bank()
}

async fn connect(addr: std::net::SocketAddr, unit: u8) -> client::Context {
    let stream = within(TcpStream::connect(addr)).await.unwrap();
    tcp::attach_slave(stream, Slave(unit))
}

#[tokio::test]
async fn serves_the_examples_at_the_maps_unit() {
    let map = map("charger.yaml");
    let sim = Simulator::builder(&map).bind("127.0.0.1:0").await.unwrap();
    let mut ctx = connect(sim.local_addr(), 255).await;
    assert_eq!(read_input(&mut ctx, 100, 4).await, [0x41, 0x42, 0x31, 0x32]);
    assert_eq!(read_input(&mut ctx, 1000, 1).await, [2], "Charging is 2");
    assert_eq!(read_input(&mut ctx, 1036, 2).await, [0, 12345]);
    // Write-only registers read as zero words.
    assert_eq!(read_holding(&mut ctx, 6000, 1).await, [0]);
    // span_gaps: false, so a read across unmapped addresses is refused.
    let refused = within(ctx.read_input_registers(1000, 38)).await.unwrap();
    assert_eq!(refused, Err(ExceptionCode::IllegalDataAddress));
    // Unit 1 is not the charger.
    ctx.set_slave(Slave(1));
    let refused = within(ctx.read_input_registers(1000, 1)).await.unwrap();
    assert_eq!(refused, Err(ExceptionCode::GatewayTargetDevice));
}

#[tokio::test]
async fn writable_registers_change_and_the_others_refuse() {
    let map = map("charger.yaml");
    let sim = Simulator::builder(&map).bind("127.0.0.1:0").await.unwrap();
    let mut ctx = connect(sim.local_addr(), 255).await;
    within(ctx.write_single_register(2002, 60))
        .await
        .unwrap()
        .unwrap();
    within(ctx.write_single_register(6000, 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read_holding(&mut ctx, 2002, 1).await, [60]);
    assert_eq!(sim.registers(255, Table::Holding, 6000, 1), [Some(1)]);
    let refused = within(ctx.write_single_register(2003, 1)).await.unwrap();
    assert_eq!(
        refused,
        Err(ExceptionCode::IllegalDataAddress),
        "outside the map"
    );
}

#[tokio::test]
async fn gaps_between_registers_read_as_0xffff_where_the_map_spans_them_and_units_are_roles() {
    let map = map("station.yaml");
    let sim = Simulator::builder(&map)
        .also_main_units(&[2])
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let mut ctx = connect(sim.local_addr(), 200).await;
    assert_eq!(
        read_holding(&mut ctx, 100, 4).await,
        [0x414C, 0x465F, 0x3130, 0x3030]
    );
    // Past the last register of a table the device refuses, as one without gaps does.
    let refused = within(ctx.read_holding_registers(100, 5)).await.unwrap();
    assert_eq!(refused, Err(ExceptionCode::IllegalDataAddress));
    let refused = within(ctx.read_holding_registers(99, 1)).await.unwrap();
    assert_eq!(refused, Err(ExceptionCode::IllegalDataAddress));
    ctx.set_slave(Slave(1));
    // Between two registers: the gap reads as 0xFFFF.
    let words = read_holding(&mut ctx, 306, 6).await;
    assert_eq!(words, [0x4366, 0x8000, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF]);
    // Socket 2 has its own state: writing socket 1 leaves it alone.
    within(ctx.write_multiple_registers(1210, &[0x4120, 0]))
        .await
        .unwrap()
        .unwrap();
    ctx.set_slave(Slave(2));
    assert_eq!(read_holding(&mut ctx, 1210, 2).await, [0x4180, 0]);
    // A read-only register refuses writes; half a FLOAT32 is refused too.
    let refused = within(ctx.write_single_register(306, 1)).await.unwrap();
    assert_eq!(refused, Err(ExceptionCode::IllegalFunction));
    let refused = within(ctx.write_single_register(1210, 1)).await.unwrap();
    assert_eq!(refused, Err(ExceptionCode::IllegalDataValue));
}

#[tokio::test]
async fn units_can_be_moved_like_the_clients_unit_flag() {
    let map = map("station.yaml");
    let mut units = map.units();
    units.apply("3").unwrap();
    let bank = Simulator::builder(&map).units(units).bank().unwrap();
    assert_eq!(bank.units().collect::<Vec<_>>(), [3, 200]);
    assert_eq!(
        bank.get(3, Table::Holding, 1210, 2),
        [Some(0x4180), Some(0)]
    );
    assert_eq!(bank.get(1, Table::Holding, 1210, 2), [None, None]);
}

#[tokio::test]
async fn values_files_in_yaml_and_json() {
    let map = map("charger.yaml");
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("values.yaml");
    std::fs::write(
        &yaml,
        "chargepoint_state: Faulted\nmeter_reading: 42.5\nserial_number: XY\n",
    )
    .unwrap();
    let json = dir.path().join("values.json");
    std::fs::write(
        &json,
        r#"{"chargepoint_state": 0, "failsafe_timeout": 300}"#,
    )
    .unwrap();

    let bank = bank_with_values_file(&map, &yaml).unwrap();
    assert_eq!(bank.get(255, Table::Input, 1000, 1), [Some(8)]);
    assert_eq!(bank.get(255, Table::Input, 1036, 2), [Some(0), Some(425)]);
    assert_eq!(
        bank.get(255, Table::Input, 100, 4),
        [Some(0x58), Some(0x59), Some(0), Some(0)]
    );

    let sim = Simulator::builder(&map)
        .values_file(&json)
        .unwrap()
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let mut ctx = connect(sim.local_addr(), 255).await;
    assert_eq!(read_input(&mut ctx, 1000, 1).await, [0]);
    assert_eq!(read_holding(&mut ctx, 2002, 1).await, [300]);
}

#[tokio::test]
async fn bad_values_are_named() {
    let map = map("charger.yaml");
    let mut values = Values::new();
    values.set("no_such_register", "1");
    let err = Simulator::builder(&map).values(values).bank().unwrap_err();
    assert!(
        matches!(&err, Error::Map(MapError::UnknownRegister { name, .. }) if name == "no_such_register"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "map `charger` has no register `no_such_register` (given a value to simulate)"
    );

    let mut values = Values::new();
    values.set("chargepoint_state", "Exploded");
    let err = Simulator::builder(&map).values(values).bank().unwrap_err();
    assert!(
        matches!(err, Error::Map(MapError::BadValue { .. })),
        "{err:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("values.yaml");
    std::fs::write(&broken, "chargepoint_state: [1, 2]\n").unwrap();
    let err = Simulator::builder(&map).values_file(&broken).unwrap_err();
    assert!(
        matches!(err, Error::Map(MapError::NotScalar { .. })),
        "{err:?}"
    );
    std::fs::write(&broken, "meter_reading: 1\nchargepoint_state: [1, 2\n").unwrap();
    let err = Simulator::builder(&map).values_file(&broken).unwrap_err();
    let source = std::error::Error::source(&err)
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(matches!(err, Error::Map(MapError::Yaml { .. })), "{err:?}");
    assert!(source.contains("line"), "{source}");
    let missing = dir.path().join("absent.json");
    let err = Simulator::builder(&map).values_file(&missing).unwrap_err();
    assert!(matches!(err, Error::Map(MapError::Read { .. })), "{err:?}");
}

#[test]
fn every_built_in_map_becomes_a_bank_with_its_examples() {
    let registry = device_maps::Registry::built_in().unwrap();
    let mut served = 0;
    for map in registry.maps() {
        let bank = Simulator::builder(map)
            .bank()
            .unwrap_or_else(|err| panic!("{}: {err}", map.id));
        let units = map.units();
        for (register, words) in device_maps::example_words(map) {
            let unit = units.resolve(&register.unit_id);
            let served_words =
                bank.get(unit, register.table, register.wire_address, register.count);
            let expected: Vec<Option<u16>> = words.iter().copied().map(Some).collect();
            assert_eq!(served_words, expected, "{} {}", map.id, register.name);
        }
        served += 1;
    }
    assert!(served > 0, "the registry has built-in maps");
}

/// A map's `connection.extra_unit_ids` are served by default: the shipped Alfen map answers its
/// second socket at unit 2 with its own state, with no builder option.
#[tokio::test]
async fn extra_unit_ids_of_the_map_are_served_by_default() {
    let registry = device_maps::Registry::built_in().unwrap();
    let map = registry.get("alfen-eve").unwrap();
    assert_eq!(map.connection.extra_ids("socket"), [2]);
    let sim = Simulator::builder(map).bind("127.0.0.1:0").await.unwrap();
    let voltage = map.register("voltage_phase_L1N").unwrap().wire_address;
    let mut socket_1 = connect(sim.local_addr(), 1).await;
    let mut socket_2 = connect(sim.local_addr(), 2).await;
    let one = read_holding(&mut socket_1, voltage, 2).await;
    let two = read_holding(&mut socket_2, voltage, 2).await;
    assert_eq!(one, two, "both sockets serve the examples");
    // Each socket has its own state: a write to socket 2 leaves socket 1 alone.
    let setpoint = map
        .register("modbus_slave_max_current")
        .unwrap()
        .wire_address;
    within(socket_2.write_multiple_registers(setpoint, &[0x4120, 0x0000]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        sim.registers(2, Table::Holding, setpoint, 2),
        [Some(0x4120), Some(0)]
    );
    assert_ne!(
        sim.registers(1, Table::Holding, setpoint, 2),
        [Some(0x4120), Some(0)]
    );
    // Station registers stay at unit 200 only.
    let name = map.register("c_name").unwrap().wire_address;
    assert!(sim.registers(200, Table::Holding, name, 1)[0].is_some());
    assert_eq!(sim.registers(2, Table::Holding, name, 1), [None]);
}

/// `example: null` is served as the register's "not available" words; a values file still
/// replaces it.
#[tokio::test]
async fn null_examples_are_served_as_not_available() {
    let map = device_maps::parse_map(
        "station",
        r#"
manufacturer: Demo
model: Station
connection: {unit_ids: {socket: 1}, address_base: 0}
registers:
  - {name: temperature, address: 0, type: int16, sentinels: [0x8000], example: null}
  - {name: power, address: 1, type: float32, unit: W, example: null}
"#,
    )
    .unwrap();
    let sim = Simulator::builder(&map).bind("127.0.0.1:0").await.unwrap();
    assert_eq!(
        sim.registers(1, Table::Holding, 0, 3),
        [Some(0x8000), Some(0x7FC0), Some(0)]
    );
    let mut values = Values::new();
    values.set("temperature", "21");
    let bank = Simulator::builder(&map).values(values).bank().unwrap();
    let sim = Simulator::from_bank(bank)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    assert_eq!(sim.registers(1, Table::Holding, 0, 1), [Some(21)]);
}

/// A values file's `null` (and `.nan` on a float) is served exactly as the map's
/// `example: null`: the first sentinel, else NaN in the register's order; JSON's `null` too.
#[tokio::test]
async fn values_files_say_not_available_with_null() {
    let map = map("missing.yaml");
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("values.yaml");
    std::fs::write(&yaml, "temperature: null\npower: .nan\nenergy: ~\n").unwrap();
    let bank = bank_with_values_file(&map, &yaml).unwrap();
    let words = |address: u16, count: u16| bank.get(1, Table::Holding, address, count);
    assert_eq!(words(10, 1), [Some(0x8000)], "the first sentinel");
    assert_eq!(words(10, 1), words(11, 1));
    assert_eq!(words(20, 2), [Some(0), Some(0x7FC0)], "NaN, words swapped");
    assert_eq!(words(20, 2), words(22, 2));
    assert_eq!(words(30, 2), [Some(0xFFFF), Some(0xFFFF)]);
    assert_eq!(words(30, 2), words(32, 2));
    assert_eq!(words(40, 1), [Some(7)], "untouched");

    // JSON's null, over a real socket: a client reads the sentinel.
    let json = dir.path().join("values.json");
    std::fs::write(&json, r#"{"temperature": null, "power": 230.5}"#).unwrap();
    let sim = Simulator::builder(&map)
        .values_file(&json)
        .unwrap()
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let mut ctx = connect(sim.local_addr(), 1).await;
    assert_eq!(read_holding(&mut ctx, 10, 1).await, [0x8000]);
    assert_eq!(
        read_holding(&mut ctx, 20, 2).await,
        [0x8000, 0x4366],
        "230.5 as a word-swapped float"
    );

    // A value file can also give a value to a register whose map example is `null`.
    let mut values = Values::new();
    values.set("temperature_null", "-3.5").set_missing("energy");
    let bank = Simulator::builder(&map).values(values).bank().unwrap();
    assert_eq!(bank.get(1, Table::Holding, 11, 1), [Some(0xFFDD)]);
    assert_eq!(
        bank.get(1, Table::Holding, 30, 2),
        [Some(0xFFFF), Some(0xFFFF)]
    );
}

/// `null` on a register with no sentinel that is not a float, and `.nan` on an integer, are
/// errors that name the file and the register.
#[test]
fn null_on_a_register_that_cannot_say_so_is_named() {
    let map = map("missing.yaml");
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("values.yaml");
    std::fs::write(&yaml, "temperature: 20\ncounter: null\n").unwrap();
    let err = bank_with_values_file(&map, &yaml).unwrap_err();
    assert!(
        matches!(&err, Error::Map(MapError::CannotBeMissing { name, file: Some(file), .. })
            if name == "counter" && *file == yaml),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "values file {}: register `counter` of map `missing` cannot be served as not \
             available (`null`): it has no sentinel and is not a float; give a value, or add \
             `sentinels:` to the map",
            yaml.display()
        )
    );

    std::fs::write(&yaml, "temperature: .nan\n").unwrap();
    let err = bank_with_values_file(&map, &yaml).unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "values file {}: register `temperature` of map `missing` cannot be served as not \
             available (`.nan`): `.nan` is only for float registers",
            yaml.display()
        )),
        "{err}"
    );
}

/// One listener answers several devices at their own unit ids: banks of different maps, each
/// moved to its own units, absorbed into one; a unit id answered twice is refused.
#[tokio::test]
async fn banks_of_several_devices_share_one_listener_by_unit_id() {
    let registry = device_maps::Registry::built_in().unwrap();
    let meter = registry.get("eastron-sdm630").unwrap();
    let inverter = registry.get("sunspec-inverter").unwrap();
    let bank_at = |map: &DeviceMap, unit: u8| {
        let mut units = map.units();
        units.set_main(unit);
        Simulator::builder(map).units(units).bank().unwrap()
    };
    let mut bank = bank_at(meter, 1);
    bank.absorb(bank_at(meter, 2)).unwrap();
    bank.absorb(bank_at(inverter, 3)).unwrap();
    assert_eq!(bank.units().collect::<Vec<_>>(), [1, 2, 3]);
    let clash = bank.absorb(bank_at(inverter, 2)).unwrap_err();
    assert_eq!(clash.unit, 2);
    assert_eq!(
        bank.units().collect::<Vec<_>>(),
        [1, 2, 3],
        "nothing changed"
    );

    let sim = Simulator::from_bank(bank)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let voltage = meter.register("voltage_l1").unwrap().wire_address;
    let marker = inverter.register("sunspec_id").unwrap().wire_address;
    let mut ctx = connect(sim.local_addr(), 1).await;
    let one = read_input(&mut ctx, voltage, 2).await;
    ctx.set_slave(Slave(2));
    assert_eq!(read_input(&mut ctx, voltage, 2).await, one, "both meters");
    ctx.set_slave(Slave(3));
    assert_eq!(
        read_holding(&mut ctx, marker, 2).await,
        [0x5375, 0x6E53],
        "SunS"
    );
    // The meters' input registers are not the inverter's.
    let refused = within(ctx.read_input_registers(voltage, 2)).await.unwrap();
    assert!(refused.is_err());
    ctx.set_slave(Slave(4));
    let refused = within(ctx.read_input_registers(voltage, 2)).await.unwrap();
    assert_eq!(refused, Err(ExceptionCode::GatewayTargetDevice));
}
