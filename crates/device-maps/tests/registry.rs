//! The registry: built-in maps, and user maps dropped into folders without any Rust change.

use std::fs;
use std::path::PathBuf;

use device_maps::{Registry, Source, UserFolders, Warning, block_on};

const METER: &str = "\
manufacturer: Acme
model: Power Meter 3
connection: {unit_ids: {meter: 7}, address_base: 30001, max_registers: 50}
defaults: {table: input}
registers:
  - {name: voltage, address: 30001, type: float32, unit: V, example: 229.5}
  - {name: total_energy, address: 30343, type: float32, unit: kWh, kind: counter, example: 1520.25}
";

#[test]
fn a_new_yaml_file_in_a_user_folder_is_served() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("acme-pm3.yaml"), METER).unwrap();
    let folders = UserFolders::from_values(Some(dir.path().to_owned()), None, None, None);
    let (registry, warnings) = Registry::load(&folders).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let map = registry
        .get("acme-pm3")
        .expect("the dropped-in map is served");
    assert_eq!(map.source, Source::File(dir.path().join("acme-pm3.yaml")));
    assert_eq!(map.connection.unit_ids, [("meter".to_owned(), 7)]);
    // And it reads, through the same path as a built-in map.
    let mut device = device_maps::MemoryDevice::with_examples(map);
    let plan = map
        .plan_read(&map.select::<&str>(&[]).unwrap(), &map.units())
        .unwrap();
    let snapshot = block_on(plan.execute(&mut device));
    assert_eq!(
        plan.requests().len(),
        2,
        "30001 and 30343 are 342 registers apart, max 50"
    );
    assert_eq!(
        snapshot.value("total_energy").and_then(|v| v.as_f64()),
        Some(1520.25)
    );
    // Every built-in map is there too.
    for id in Registry::built_in().unwrap().ids() {
        assert!(registry.get(id).is_some());
    }
}

#[test]
fn environment_folders_and_the_config_folder_follow_precedence() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join(".config/evctl/devices");
    fs::create_dir_all(&config).unwrap();
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    fs::write(config.join("acme-pm3.yaml"), METER).unwrap();
    fs::write(
        first.path().join("acme-pm3.yaml"),
        METER.replace("Power Meter 3", "From first"),
    )
    .unwrap();
    fs::write(
        second.path().join("acme-pm3.yaml"),
        METER.replace("Power Meter 3", "From second"),
    )
    .unwrap();
    let missing = home.path().join("nowhere");
    let list = std::env::join_paths([
        first.path().to_owned(),
        second.path().to_owned(),
        missing.clone(),
    ])
    .unwrap();
    let folders = UserFolders::from_values(
        None,
        Some(list),
        None,
        Some(home.path().as_os_str().to_owned()),
    );
    assert_eq!(folders.config.as_ref(), Some(&config));
    let (registry, warnings) = Registry::load(&folders).unwrap();
    assert_eq!(
        registry.get("acme-pm3").unwrap().model,
        "From first",
        "the first EVCTL_MAPS folder wins"
    );
    let file = |dir: &std::path::Path| Source::File(dir.join("acme-pm3.yaml"));
    assert_eq!(
        warnings,
        [
            Warning::MissingFolder {
                path: missing.clone()
            },
            Warning::Replaced {
                id: "acme-pm3".into(),
                winner: file(second.path()),
                replaced: file(&config)
            },
            Warning::Replaced {
                id: "acme-pm3".into(),
                winner: file(first.path()),
                replaced: file(second.path())
            },
        ]
    );
    let text = warnings[2].to_string();
    assert!(text.contains(&first.path().join("acme-pm3.yaml").display().to_string()));
    assert!(text.contains(&second.path().join("acme-pm3.yaml").display().to_string()));
}

#[test]
fn a_user_map_replaces_a_built_in_one_with_a_warning() {
    let built_in = Registry::built_in().unwrap();
    let Some(id) = built_in.ids().next().map(str::to_owned) else {
        return; // no built-in maps yet: nothing to replace
    };
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join(format!("{id}.yaml"));
    fs::write(&path, METER).unwrap();
    let folders = UserFolders::from_values(Some(path.clone()), None, None, None);
    let (registry, warnings) = Registry::load(&folders).unwrap();
    assert_eq!(registry.get(&id).unwrap().model, "Power Meter 3");
    assert_eq!(warnings.len(), 1);
    let text = warnings[0].to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(
        text.contains(&format!("devices/{id}.yaml (built in)")),
        "{text}"
    );
}

#[test]
fn a_broken_user_map_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("acme-pm3.yaml"),
        METER.replace("float32, unit: V", "float23, unit: V"),
    )
    .unwrap();
    let folders = UserFolders::from_values(Some(dir.path().to_owned()), None, None, None);
    let err = Registry::load(&folders).unwrap_err().to_string();
    let expected = format!(
        "{}:6:43: register `voltage`: unknown type `float23`; did you mean `float32`?",
        dir.path().join("acme-pm3.yaml").display()
    );
    assert!(err.starts_with(&expected), "{err}");
    // An explicit folder that does not exist is an error too.
    let folders = UserFolders::from_values(Some(dir.path().join("nope")), None, None, None);
    assert!(
        Registry::load(&folders)
            .unwrap_err()
            .to_string()
            .starts_with("cannot list the map folder")
    );
}
