//! Every map in the workspace's `devices/` folder loads, is compiled in, and decodes its own
//! example values: one insta snapshot per map.

use std::sync::Arc;

use device_maps::{MemoryDevice, Registry, block_on, load_file};

#[test]
fn every_shipped_map_loads() {
    let registry = Registry::built_in().unwrap_or_else(|e| panic!("{e}"));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../devices");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).expect("devices/ exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().is_some_and(|x| x == "yaml") {
            files += 1;
            let map = load_file(&path).unwrap_or_else(|e| panic!("{e}"));
            let single = Registry::built_in_map(&map.id)
                .expect("compiled in")
                .unwrap_or_else(|e| panic!("{e}"));
            // Compared as text: a "not available" example is NaN, which equals nothing.
            assert_eq!(
                format!("{:?}", single.registers),
                format!("{:?}", map.registers)
            );
            assert!(
                registry.get(&map.id).is_some(),
                "{} is not compiled in: rebuild",
                path.display()
            );
        }
    }
    assert_eq!(
        files,
        registry.len(),
        "devices/ and the built-in maps differ"
    );
}

/// Reads each map's example values back through the planner and decoder.
#[test]
fn examples_decode() {
    insta::glob!("../../../devices", "*.yaml", |path| {
        let map = Arc::new(load_file(path).unwrap_or_else(|e| panic!("{e}")));
        let mut device = MemoryDevice::with_examples(&map);
        let selection = map.select::<&str>(&[]).expect("every register");
        let plan = map.plan_read(&selection, &map.units()).expect("plannable");
        let snapshot = block_on(plan.execute(&mut device));
        let mut out = format!(
            "{} {}: {} registers read in {} requests\n",
            map.manufacturer,
            map.model,
            snapshot.readings.len(),
            snapshot.requests
        );
        for req in plan.requests() {
            out.push_str(&format!("  {req}\n"));
        }
        for reading in &snapshot.readings {
            let Some(r) = map.register(&reading.name) else {
                let d = map
                    .derived(&reading.name)
                    .expect("a register or a derived value");
                let value = match &reading.value {
                    Ok(v) => format!("{v:?}"),
                    Err(m) => format!("MISSING ({m})"),
                };
                let unit = reading.unit.as_deref().unwrap_or("");
                let label = reading
                    .label
                    .as_ref()
                    .map(|l| format!(" [{l}]"))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "{} = {value} {unit}{label}   (derived: {})\n",
                    reading.name, d.expr_text
                ));
                continue;
            };
            let value = match &reading.value {
                Ok(v) => format!("{v:?}"),
                Err(m) => format!("MISSING ({m})"),
            };
            let mut line = format!("{} = {value}", reading.name);
            if let Some(unit) = &reading.unit {
                line.push_str(&format!(" {unit}"));
            }
            if let Some(label) = &reading.label {
                line.push_str(&format!(" [{label}]"));
            }
            if !reading.flags.is_empty() {
                line.push_str(&format!(" {{{}}}", reading.flags.join(", ")));
            }
            let agrees = match (&reading.value, r.example.as_f64()) {
                (Ok(v), Some(e)) => v
                    .as_f64()
                    .is_some_and(|v| (v - e).abs() <= 1e-6 * e.abs().max(1.0)),
                (Ok(v), None) => *v == r.example,
                (Err(_), _) => false,
            };
            if !agrees {
                line.push_str(&format!("   <-- example was {:?}", r.example));
            }
            out.push_str(&line);
            out.push('\n');
        }
        insta::assert_snapshot!(out);
    });
}

/// Every shipped map says what kind of device it is and where its facts come from (the
/// generated device table prints both).
#[test]
fn every_shipped_map_has_a_category_and_a_source() {
    let registry = Registry::built_in().unwrap_or_else(|e| panic!("{e}"));
    for map in registry.maps() {
        assert!(map.category.is_some(), "{} has no `category:`", map.id);
        assert!(!map.documents.is_empty(), "{} names no document", map.id);
        if let Some(base) = map.extends.as_deref() {
            let base = registry.get(base).expect("base is built in");
            assert!(
                map.documents.len() > base.documents.len(),
                "{} names no document of its own",
                map.id
            );
        }
    }
}
