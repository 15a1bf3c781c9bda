//! `address_base: modicon`: documents that print 0xxxx coils, 1xxxx discrete inputs, 3xxxx input
//! and 4xxxx holding registers side by side can be copied as printed.

use device_maps::modbus_core::Table;
use device_maps::{AddressBase, MemoryDevice, Registry, block_on, parse_map};

const MIXED: &str = "manufacturer: Test
model: Mixed
connection: {unit_ids: {meter: 1}, address_base: modicon}
registers:
  - {name: voltage, address: 30001, type: float32, unit: V, example: 230.1}
  - {name: current, address: 30010, table: input, type: float32, unit: A, example: 5.2}
  - {name: demand_period, address: 40001, type: uint16, unit: min, access: rw, example: 15}
  - {name: relay, address: 17, example: true}
  - {name: door_open, address: 10003, example: false}
  - {name: energy, address: 300343, type: float32, unit: kWh, example: 12.5}
  - {name: reset, address: 465535, type: uint16, access: rw, example: 0}
";

#[test]
fn the_leading_digit_picks_the_table_and_the_base() {
    let map = parse_map("mixed", MIXED).unwrap();
    assert_eq!(map.connection.address_base, AddressBase::Modicon);
    let placed: Vec<(&str, Table, u16)> = map
        .registers
        .iter()
        .map(|r| (r.name.as_str(), r.table, r.wire_address))
        .collect();
    assert_eq!(
        placed,
        [
            ("voltage", Table::Input, 0),
            ("current", Table::Input, 9),
            ("demand_period", Table::Holding, 0),
            ("relay", Table::Coil, 16),
            ("door_open", Table::Discrete, 2),
            ("energy", Table::Input, 342),
            ("reset", Table::Holding, 65534),
        ]
    );
    // The example values come back through the planner and decoder from those addresses.
    let map = std::sync::Arc::new(map);
    let mut device = MemoryDevice::with_examples(&map);
    let plan = map
        .plan_read(&map.select::<&str>(&[]).unwrap(), &map.units())
        .unwrap();
    let snapshot = block_on(plan.execute(&mut device));
    assert_eq!(snapshot.readings.len(), 7);
    assert!(snapshot.readings.iter().all(|r| r.value.is_ok()));
}

/// The defect this answers: with one numeric base, a document mixing 3xxxx and 4xxxx numbers
/// cannot be copied as printed.
#[test]
fn a_numeric_base_cannot_mix_3xxxx_and_4xxxx() {
    let numeric = MIXED.replace("address_base: modicon", "address_base: 40001");
    let err = parse_map("mixed", &numeric).unwrap_err();
    assert!(
        err.to_string()
            .contains("below the map's address_base 40001"),
        "{err}"
    );
}

#[test]
fn a_table_that_contradicts_the_digit_is_named() {
    let text = MIXED.replace("table: input", "table: holding");
    let err = parse_map("mixed", &text).unwrap_err();
    assert_eq!(err.register(), Some("current"));
    assert!(
        err.to_string().contains(
            "`table: holding` contradicts address 30010, which `address_base: modicon` puts in the input table"
        ),
        "{err}"
    );
    let text = MIXED.replace(
        "address_base: modicon}",
        "address_base: modicon}\ndefaults: {table: input}",
    );
    let err = parse_map("mixed", &text).unwrap_err();
    assert_eq!(err.register(), Some("demand_period"));
    assert!(
        err.to_string().contains("`defaults.table` is input"),
        "{err}"
    );
    let text = MIXED.replace("address_base: modicon", "address_base: modbus");
    let err = parse_map("mixed", &text).unwrap_err();
    assert!(
        err.to_string().contains("`modbus` is not an address base"),
        "{err}"
    );
}

#[test]
fn modicon_ranges() {
    for (address, want) in [
        (0, None),
        (1, Some((Table::Coil, 0))),
        (9_999, Some((Table::Coil, 9_998))),
        (10_000, None),
        (10_001, Some((Table::Discrete, 0))),
        (19_999, Some((Table::Discrete, 9_998))),
        (20_001, None),
        (30_000, None),
        (30_001, Some((Table::Input, 0))),
        (39_999, Some((Table::Input, 9_998))),
        (40_001, Some((Table::Holding, 0))),
        (49_999, Some((Table::Holding, 9_998))),
        (50_001, None),
        (100_001, Some((Table::Discrete, 0))),
        (165_536, Some((Table::Discrete, 65_535))),
        (165_537, None),
        (300_001, Some((Table::Input, 0))),
        (365_536, Some((Table::Input, 65_535))),
        (400_001, Some((Table::Holding, 0))),
        (465_536, Some((Table::Holding, 65_535))),
        (465_537, None),
    ] {
        assert_eq!(AddressBase::modicon(address), want, "{address}");
    }
}

/// The shipped Eastron map uses Modicon numbering: its values are input registers at their
/// printed number minus 30001, as they were with `address_base: 30001`, and the meter code is
/// the six-digit holding register 464515, wire address FC02h.
#[test]
fn eastron_reads_the_same_input_registers() {
    let registry = Registry::built_in().unwrap();
    let map = registry.get("eastron-sdm630").unwrap();
    assert_eq!(map.connection.address_base, AddressBase::Modicon);
    for r in &map.registers {
        if r.name == "meter_code" {
            assert_eq!((r.table, r.wire_address), (Table::Holding, 0xFC02));
            continue;
        }
        assert_eq!(r.table, Table::Input, "{}", r.name);
        assert_eq!(u32::from(r.wire_address), r.address - 30_001, "{}", r.name);
    }
}
