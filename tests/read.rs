//! `evctl read` against a simulator of every shipped map, in every format.

use crate::util::{Sim, TestEnv, run, shipped_maps};

const FORMATS: [&str; 4] = ["human", "json", "prometheus", "influx"];

#[test]
fn every_shipped_map_in_every_format() {
    let env = TestEnv::new();
    let maps = shipped_maps();
    assert!(maps.len() >= 5, "the shipped maps are found: {maps:?}");
    for id in &maps {
        let sim = Sim::start(id);
        let port = sim.port().to_string();
        for format in FORMATS {
            let (code, stdout, stderr) = run(env.evctl().args([
                "read",
                id,
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "--format",
                format,
            ]));
            assert_eq!(code, 0, "{id} {format}: {stderr}");
            // A SunSpec map says which chain it walked, and nothing else.
            let stderr: String = stderr
                .lines()
                .filter(|l| !(id == "sunspec" && l.contains(": SunSpec chain of 8 model(s)")))
                .collect();
            assert_eq!(stderr, "", "{id} {format} prints no warning");
            insta::assert_snapshot!(format!("read-{id}-{format}"), stdout);
        }
    }
}

#[test]
fn nested_json_follows_the_map_groups() {
    let env = TestEnv::new();
    for id in ["vestel-evc04", "givenergy-hybrid"] {
        let (code, stdout, stderr) =
            run(env
                .evctl()
                .args(["read", id, "--simulated", "--format", "json", "--nested"]));
        assert_eq!(code, 0, "{stderr}");
        let value: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
        assert!(value.is_object());
        insta::assert_snapshot!(format!("read-{id}-json-nested"), stdout);
    }
}

#[test]
fn full_alfen_eve_read_is_six_requests() {
    let env = TestEnv::new();
    let sim = Sim::start("alfen-eve");
    let (code, stdout, stderr) = run(env.evctl().args([
        "read",
        "alfen-eve",
        "--host",
        "127.0.0.1",
        "--port",
        &sim.port().to_string(),
        "--format",
        "json",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let value: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
    assert_eq!(value["c_manufacturer"], "Alfen NV");
    assert_eq!(sim.requests(), 6, "{:#?}", sim.modbus().log().entries());
}

#[test]
fn a_device_that_stops_answering_costs_one_request_not_six() {
    let env = TestEnv::new();
    let faults = simulator::modbus::Faults {
        latency: std::time::Duration::from_secs(2),
        ..simulator::modbus::Faults::none()
    };
    let sim = Sim::start_with("alfen-eve", faults);
    let port = sim.port().to_string();
    let (code, _stdout, stderr) = run(env.evctl().args([
        "read",
        "alfen-eve",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--timeout",
        "200ms",
    ]));
    assert_eq!(code, 1, "{stderr}");
    // The full read plans six requests; after the first one times out (with its retries) the
    // other five are not sent.
    let log = sim.modbus().log().entries();
    let attempts = modbus_client::ClientOptions::default().retries as usize + 1;
    assert!(
        !log.is_empty() && log.len() <= attempts,
        "only the first request's {attempts} attempts reach the device: {log:#?}"
    );
    assert!(
        stderr.contains(&format!("alfen-eve at 127.0.0.1:{port}, unit ")),
        "the error names device, address and unit: {stderr}"
    );
    assert!(stderr.contains("no response within 200ms"), "{stderr}");
    assert!(
        !stderr.contains("not sent"),
        "the cause, not a skipped request: {stderr}"
    );
}

#[test]
fn a_failed_request_is_reported_once_not_per_register() {
    let env = TestEnv::new();
    let sim = Sim::start("alfen-eve");
    // Unit 7 is not there: the socket's requests fail, the station's succeed.
    let (code, stdout, stderr) = run(env.evctl().args([
        "read",
        "alfen-eve",
        "--host",
        "127.0.0.1",
        "--port",
        &sim.port().to_string(),
        "--unit",
        "7",
    ]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.contains("Manufacturer:"), "{stdout}");
    let failed: Vec<&str> = stdout.lines().filter(|l| l.contains("n/a")).collect();
    assert!(failed.len() > 10, "{stdout}");
    assert!(
        failed.iter().all(|l| l.ends_with("n/a (read failed)")),
        "each register only says its read failed: {failed:#?}"
    );
    assert!(!stdout.contains("0x0B"), "{stdout}");
    assert_eq!(
        stderr.matches("0x0B").count(),
        1,
        "the error once: {stderr}"
    );
}

#[test]
fn named_registers_and_groups() {
    let env = TestEnv::new();
    let sim = Sim::start("alfen-eve");
    let port = sim.port().to_string();
    crate::assert_evctl_snapshot!(&mut env.evctl().args([
        "read",
        "alfen-eve",
        "-H",
        "127.0.0.1",
        "-p",
        &port,
        "c_manufacturer",
        "voltage_phase_L1N",
        "--format",
        "json"
    ]));
    assert_eq!(sim.requests(), 2, "one request per unit");
    crate::assert_evctl_snapshot!(&mut env.evctl().args([
        "read",
        "alfen-eve",
        "-H",
        "127.0.0.1",
        "-p",
        &port,
        "socket/meter",
        "--format",
        "human"
    ]));
}

#[test]
fn unknown_register_is_a_usage_error_and_sends_nothing() {
    let env = TestEnv::new();
    let sim = Sim::start("alfen-eve");
    crate::assert_evctl_snapshot!(&mut env.evctl().args([
        "read",
        "alfen-eve",
        "--host",
        "127.0.0.1",
        "--port",
        &sim.port().to_string(),
        "voltage_phase_L1",
    ]));
    assert_eq!(sim.requests(), 0);
}

#[test]
fn simulated_read_needs_no_device() {
    let env = TestEnv::new();
    let (code, stdout, stderr) =
        run(env
            .evctl()
            .args(["read", "alfen-eve", "--simulated", "--format", "json"]));
    assert_eq!(code, 0, "{stderr}");
    let value: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
    assert_eq!(value["c_name"], "ALF_1000");
    assert_eq!(value["c_manufacturer"], "Alfen NV");
}

#[test]
fn a_device_of_the_site_config() {
    let env = TestEnv::new();
    let sim = Sim::start("vestel-evc04");
    env.write(
        "site.yaml",
        &format!(
            "devices:\n  driveway:\n    map: vestel-evc04\n    host: 127.0.0.1\n    port: {}\n    timeout: 2s\n",
            sim.port()
        ),
    );
    crate::assert_evctl_snapshot!(&mut env.evctl().args([
        "--config",
        "site.yaml",
        "read",
        "driveway",
        "chargepoint_state",
        "serial_number",
    ]));
    // The default location is used when no --config is given.
    env.write(
        ".config/evctl/site.yaml",
        &std::fs::read_to_string(env.path().join("site.yaml")).expect("written above"),
    );
    let (code, stdout, stderr) = run(env.evctl().args(["read", "driveway", "chargepoint_state"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Charging"), "{stdout}");
}
