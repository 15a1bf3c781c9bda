//! `extends:`: a map written as the differences from another, in the same folder or built in.

use device_maps::{MapError, Registry, load_file};

const BASE: &str = r#"manufacturer: Demo
model: Three-phase meter
connection: {unit_ids: {meter: 1}, address_base: 0, max_registers: 40}
defaults: {table: input}
checks:
  - {register: frequency, min: 45, max: 65}
registers:
  - {name: voltage_l1, address: 0, type: float32, unit: V, example: 230.5}
  - {name: voltage_l2, address: 2, type: float32, unit: V, example: 231.5}
  - {name: frequency, address: 10, type: float32, unit: Hz, example: 50.0}
  - {name: energy, address: 20, type: float32, unit: kWh, kind: counter, example: 12.5}
"#;

fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    dir
}

#[test]
fn a_variant_removes_replaces_and_adds_and_keeps_the_rest() {
    let dir = folder(&[
        ("demo-3p.yaml", BASE),
        (
            "demo-1p.yaml",
            "extends: demo-3p\nmodel: Single-phase meter\ndocuments: [the single-phase sheet]\nconnection: {max_registers: 20}\nremove: [voltage_l2]\nregisters:\n  - {name: energy, address: 24, table: input, type: float32, unit: kWh, kind: counter, example: 7.5}\n  - {name: power, address: 30, table: input, type: float32, unit: W, example: 1150}\n",
        ),
    ]);
    let map = load_file(&dir.path().join("demo-1p.yaml")).expect("the variant loads");
    assert_eq!(map.extends.as_deref(), Some("demo-3p"));
    assert_eq!(map.manufacturer, "Demo");
    assert_eq!(map.model, "Single-phase meter");
    assert_eq!(map.connection.max_registers, 20);
    let names: Vec<&str> = map.registers.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["voltage_l1", "frequency", "energy", "power"]);
    assert_eq!(map.register("energy").expect("energy").address, 24);
    assert_eq!(map.checks.len(), 1, "the base's checks are inherited");
}

#[test]
fn mistakes_of_a_variant_point_into_its_own_file() {
    let dir = folder(&[
        ("demo-3p.yaml", BASE),
        ("bad-base.yaml", "extends: demo-4p\nmodel: x\n"),
        (
            "bad-remove.yaml",
            "extends: demo-3p\nremove: [voltage_l9]\n",
        ),
        (
            "bad-register.yaml",
            "extends: demo-3p\nregisters:\n  - {name: power, address: 2, table: input, type: float32, example: 1}\n",
        ),
        ("unknown-key.yaml", "extends: demo-3p\nmodle: x\n"),
    ]);
    let err = |name: &str| {
        load_file(&dir.path().join(name))
            .expect_err(name)
            .to_string()
    };
    let base = err("bad-base.yaml");
    assert!(
        base.contains("bad-base.yaml:1:10") && base.contains("`demo-4p` is neither"),
        "{base}"
    );
    let remove = err("bad-remove.yaml");
    assert!(
        remove.contains("bad-remove.yaml:2:10") && remove.contains("did you mean `voltage_l1`"),
        "{remove}"
    );
    // `power` at address 2 overlaps the inherited voltage_l2: the error is at the new register.
    let overlap = err("bad-register.yaml");
    assert!(
        overlap.contains("bad-register.yaml:3:") && overlap.contains("overlap"),
        "{overlap}"
    );
    let key = err("unknown-key.yaml");
    assert!(key.contains("unknown key `modle`"), "{key}");
}

#[test]
fn a_circle_of_variants_is_an_error_not_a_hang() {
    let dir = folder(&[
        ("loop-a.yaml", "extends: loop-b\n"),
        ("loop-b.yaml", "extends: loop-a\n"),
    ]);
    let err = load_file(&dir.path().join("loop-a.yaml")).expect_err("a circle");
    assert!(matches!(err, MapError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("deep (or in a circle)"), "{err}");
}

#[test]
fn the_built_in_single_phase_sdm_is_the_sdm630_less_two_phases() {
    let registry = Registry::built_in().expect("built-in maps load");
    let sdm230 = registry.get("eastron-sdm230").expect("built in");
    let sdm630 = registry.get("eastron-sdm630").expect("built in");
    assert_eq!(sdm230.extends.as_deref(), Some("eastron-sdm630"));
    for r in &sdm230.registers {
        if let Some(base) = sdm630.register(&r.name) {
            assert_eq!(r.address, base.address, "{}", r.name);
        }
        assert!(
            !r.name.ends_with("_l2") && !r.name.ends_with("_l3"),
            "{}",
            r.name
        );
    }
    assert!(sdm230.documents.len() > sdm630.documents.len());
}
