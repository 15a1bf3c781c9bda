//! The complete maps shown in the documentation load, so the docs never teach a broken map.

use std::sync::Arc;

use device_maps::{MemoryDevice, block_on, parse_map};

fn yaml_blocks(doc: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```yaml") => current = Some(String::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn complete_maps_in_the_docs_load_and_read() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let mut checked = 0;
    for doc in ["map-format.md", "adding-a-device.md"] {
        let text = std::fs::read_to_string(root.join(doc)).expect("doc exists");
        for block in yaml_blocks(&text) {
            if !block.contains("manufacturer:") {
                continue;
            }
            let map = Arc::new(parse_map(doc, &block).unwrap_or_else(|e| panic!("{e}\n{block}")));
            let mut device = MemoryDevice::with_examples(&map);
            let plan = map
                .plan_read(&map.select::<&str>(&[]).unwrap(), &map.units())
                .unwrap();
            let snapshot = block_on(plan.execute(&mut device));
            assert_eq!(snapshot.missing().count(), 0, "{doc}: {snapshot:?}");
            checked += 1;
        }
    }
    assert_eq!(checked, 2);
}

#[test]
fn the_format_docs_snippets_load_inside_a_map() {
    // The actions example of map-format.md, with the registers it names.
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/map-format.md"),
    )
    .expect("doc exists");
    let actions = yaml_blocks(&text)
        .into_iter()
        .find(|b| b.starts_with("actions:"))
        .expect("an actions example");
    let registers: String = [
        "enable_charge_target",
        "charge_target_soc",
        "charge_slot_1_start",
        "charge_slot_1_end",
        "battery_power_mode",
        "battery_soc_reserve",
        "enable_discharge",
        "discharge_slot_1_start",
        "discharge_slot_1_end",
        "discharge_slot_2_start",
        "discharge_slot_2_end",
        "system_time_year",
        "system_time_month",
        "system_time_day",
        "system_time_hour",
        "system_time_minute",
        "system_time_second",
        "enable_charge",
    ]
    .iter()
    .enumerate()
    .map(|(i, n)| {
        format!("  - {{name: {n}, address: {i}, type: uint16, access: rw, example: 1}}\n")
    })
    .collect();
    let map = format!(
        "manufacturer: Demo\nmodel: Inverter\nconnection: {{unit_ids: {{inverter: 17}}, address_base: 0}}\nregisters:\n{registers}{actions}"
    );
    let map = Arc::new(parse_map("actions", &map).unwrap_or_else(|e| panic!("{e}")));
    let plan = map
        .plan_action(
            "setChargeSlot1",
            &["start=0100", "finish=0400", "chargeToPercent=55"],
            &map.units(),
        )
        .unwrap();
    assert_eq!(plan.writes.len(), 4);
    let plan = map
        .plan_action("setBatteryMode", &["mode=2"], &map.units())
        .unwrap();
    assert_eq!(plan.writes.len(), 7);
}
