//! A new meter is one YAML file: simulate it and read it with no Rust and no rebuild.

use crate::util::{SimProcess, TestEnv, run};

const METER: &str = r#"manufacturer: Example
model: Three-phase meter
description: A meter that exists only in this test.
connection: {unit_ids: {meter: 7}, address_base: 30001, max_registers: 40}
defaults: {table: input}
registers:
  - {name: voltage_l1, title: Voltage L1, address: 30001, type: float32, unit: V, group: voltage, example: 231.5}
  - {name: voltage_l2, title: Voltage L2, address: 30003, type: float32, unit: V, group: voltage, example: 229.75}
  - {name: power_total, title: Total power, address: 30053, type: float32, unit: W, group: power, example: 4321}
  - {name: energy_import, title: Imported energy, address: 30073, type: float32, unit: kWh, kind: counter, group: energy, example: 12345.5}
"#;

#[test]
fn yaml_file_in_a_folder_is_simulated_and_read() {
    let env = TestEnv::new();
    env.write("my-maps/example-meter.yaml", METER);
    let sim = SimProcess::start(&env, &["--maps", "my-maps", "example-meter"]);
    let port = sim.port_arg();
    crate::assert_evctl_snapshot!(&mut env.evctl().args([
        "--maps",
        "my-maps",
        "read",
        "example-meter",
        "--host",
        "127.0.0.1",
        "--port",
        &port
    ]));
    // The same through EVCTL_MAPS, in Prometheus format.
    let (code, stdout, stderr) = run(env
        .evctl()
        .env("EVCTL_MAPS", env.path().join("my-maps"))
        .args([
            "read",
            "example-meter",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "-f",
            "prometheus",
        ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("example_meter_energy_import"), "{stdout}");
    // It is listed as a user map.
    let (code, stdout, _) = run(env.evctl().args(["--maps", "my-maps", "list"]));
    assert_eq!(code, 0);
    assert!(stdout.contains("example-meter"), "{stdout}");
}

#[test]
fn a_broken_map_is_a_usage_error_naming_line_and_column() {
    let env = TestEnv::new();
    env.write(
        "my-maps/example-meter.yaml",
        &METER.replace("unit: W,", "unit: W, scael: 2,"),
    );
    crate::assert_evctl_snapshot!(&mut env.evctl().args([
        "--maps",
        "my-maps",
        "read",
        "example-meter",
        "--simulated"
    ]));
}

#[test]
fn a_wrong_word_order_gets_a_hint() {
    let env = TestEnv::new();
    env.write("sim/example-meter.yaml", METER);
    // The same meter, but the copy evctl reads with swaps the words of every float.
    env.write(
        "read/example-meter.yaml",
        &METER.replace(
            "connection: {unit_ids: {meter: 7},",
            "connection: {order: CDAB, unit_ids: {meter: 7},",
        ),
    );
    let sim = SimProcess::start(&env, &["--maps", "sim", "example-meter"]);
    let (code, _stdout, stderr) = run(env
        .evctl()
        .args([
            "--maps",
            "read",
            "read",
            "example-meter",
            "--host",
            "127.0.0.1",
            "--port",
        ])
        .arg(sim.port_arg()));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.starts_with("warning: "), "{stderr}");
    assert!(
        stderr.contains("order its words differently from the map (CDAB)"),
        "{stderr}"
    );
}
