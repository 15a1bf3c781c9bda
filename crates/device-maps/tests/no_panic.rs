//! No input panics: mangled map files, arbitrary write and action arguments, arbitrary words.

use std::sync::Arc;

use device_maps::modbus_core::Table;
use device_maps::{MemoryDevice, block_on, parse_map};
use proptest::prelude::*;

const STATION: &str = include_str!("fixtures/station.yaml");
const INVERTER: &str = include_str!("fixtures/inverter.yaml");

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// A valid map with a slice replaced by arbitrary text either loads or gives an error
    /// pointing inside the file.
    #[test]
    fn mangled_maps_never_panic(at in 0usize..STATION.len(), len in 0usize..40, junk in ".{0,12}") {
        let mut text: String = STATION.chars().take(at).collect();
        text.push_str(&junk);
        text.extend(STATION.chars().skip(at + len));
        if let Err(e) = parse_map("mangled", &text) {
            let (line, column) = e.location().expect("points into the text");
            prop_assert!(line >= 1 && column >= 1);
            // YAML also breaks lines at a lone `\r`, which `str::lines` does not.
            let breaks = text.chars().filter(|c| *c == '\n' || *c == '\r').count();
            prop_assert!(line <= breaks + 2, "{e}");
        }
    }

    /// Arbitrary `NAME=VALUE` and action arguments are accepted or refused, never a panic.
    #[test]
    fn arbitrary_arguments_never_panic(name in "[a-z_]{0,12}", value in ".{0,16}", action in prop::sample::select(vec!["setChargeSlot1", "setBatteryMode", "setDateTime", "setEcoMode", "nope"])) {
        let map = Arc::new(parse_map("inverter", INVERTER).expect("fixture loads"));
        let units = map.units();
        let _ = map.plan_writes(&[format!("{name}={value}")], &units);
        let _ = map.plan_writes(&[format!("power_limit={value}"), format!("charge_slot_1_start={value}")], &units);
        let _ = map.plan_action(action, &[format!("start={value}"), format!("finish={value}"), format!("mode={value}"), format!("dateTime={value}")], &units);
    }

    /// Arbitrary device answers decode to values or "missing", never a panic.
    #[test]
    fn arbitrary_words_never_panic(words in prop::collection::vec(any::<u16>(), 0..200)) {
        let map = Arc::new(parse_map("station", STATION).expect("fixture loads"));
        let mut device = MemoryDevice::new();
        for (unit, base) in [(1u8, 300u16), (1, 1200), (200, 100), (200, 1100), (200, 1400)] {
            device.set(unit, Table::Holding, base, &words);
        }
        let plan = map.plan_read(&map.select::<&str>(&[]).expect("all"), &map.units()).expect("plannable");
        let snapshot = block_on(plan.execute(&mut device));
        prop_assert_eq!(snapshot.readings.len(), map.registers.len());
    }
}
