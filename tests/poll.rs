//! `evctl poll`: repeated reads over one connection, heartbeats kept, stale values marked.

use modbus_core::Table;
use simulator::modbus::{Exception, Faults};

use crate::util::{Sim, TestEnv, run};

#[test]
fn polls_over_one_connection_and_keeps_the_heartbeat() {
    let env = TestEnv::new();
    let sim = Sim::start("vestel-evc04");
    // failsafe_timeout is 2 s in this simulator: the alive heartbeat is due every 1 s.
    sim.modbus().set_registers(255, Table::Holding, 2002, &[2]);
    let (code, stdout, stderr) = run(env.evctl().args([
        "poll",
        "vestel-evc04",
        "--host",
        "127.0.0.1",
        "--port",
        &sim.port().to_string(),
        "--interval",
        "700ms",
        "--count",
        "4",
        "--format",
        "influx",
        "chargepoint_state",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    let log = sim.modbus().log().entries();
    assert!(
        log.iter().all(|e| e.connection == 1),
        "one connection: {log:?}"
    );
    let alive = log
        .iter()
        .filter(|e| e.function == 6 && e.address == 6000)
        .count();
    assert!(
        alive >= 2,
        "the alive register is written while polling: {log:?}"
    );
}

#[test]
fn failed_reads_show_stale_values_marked_stale() {
    let env = TestEnv::new();
    // Every second request fails with a non-transient exception.
    let faults = Faults {
        exception_every: Some((
            std::num::NonZeroU32::new(2).expect("non-zero"),
            Exception::IllegalDataAddress,
        )),
        ..Faults::none()
    };
    let sim = Sim::start_with("eastron-sdm630", faults);
    let (code, stdout, stderr) = run(env.evctl().args([
        "poll",
        "eastron-sdm630",
        "--host",
        "127.0.0.1",
        "--port",
        &sim.port().to_string(),
        "--interval",
        "100ms",
        "--count",
        "2",
        "--unit",
        "1",
        // The map's checks (frequency) take a second request, which this fault would fail
        // on every poll; stale marking is what this test is about.
        "--no-verify",
        "voltage_l1",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("stale: 1 value(s) from an earlier read"),
        "{stdout}"
    );
    assert!(stderr.contains("illegal data address"), "{stderr}");
}

#[test]
fn reconnects_after_dropped_connections() {
    let env = TestEnv::new();
    let faults = Faults {
        drop_every: std::num::NonZeroU32::new(3),
        ..Faults::none()
    };
    let sim = Sim::start_with("vestel-evc04", faults);
    let (code, stdout, stderr) = run(env.evctl().args([
        "poll",
        "vestel-evc04",
        "--host",
        "127.0.0.1",
        "--port",
        &sim.port().to_string(),
        "--interval",
        "50ms",
        "--count",
        "5",
        "--format",
        "json",
        "chargepoint_state",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.matches("\"chargepoint_state\": 2").count(),
        5,
        "{stdout}"
    );
    assert!(!stdout.contains("stale"), "every read recovered: {stdout}");
    let connections = sim.modbus().stats().accepted;
    assert!(
        connections >= 2,
        "the client reconnected ({connections} connections)"
    );
}

#[test]
fn refresh_heartbeat_keeps_a_setpoint_alive() {
    let env = TestEnv::new();
    env.write(
        "maps/setpoint-box.yaml",
        "manufacturer: Example\nmodel: Setpoint box\n\
         connection: {unit_ids: {box: 1}, address_base: 0}\n\
         registers:\n\
         \x20 - {name: setpoint, address: 10, table: holding, type: uint16, unit: A, kind: setting, access: rw, write: {min: 0, max: 32}, example: 6}\n\
         \x20 - {name: applied, address: 20, table: holding, type: uint16, unit: A, example: 6}\n\
         heartbeats:\n\
         \x20 - {name: refresh, refresh: setpoint, every: 200ms}\n",
    );
    let map =
        device_maps::load_file(&env.path().join("maps/setpoint-box.yaml")).expect("map loads");
    let sim = Sim::start_map(&map, Faults::none());
    let (code, _stdout, stderr) = run(env
        .evctl()
        .args([
            "--maps",
            "maps",
            "poll",
            "setpoint-box",
            "--host",
            "127.0.0.1",
            "--port",
        ])
        .arg(sim.port().to_string())
        .args([
            "--set",
            "setpoint=10",
            "--interval",
            "400ms",
            "--count",
            "3",
            "applied",
        ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr.matches("sent FC6").count(), 1, "{stderr}");
    // The first write, then refreshes every 200 ms while the three reads take 800 ms.
    let writes: Vec<_> = sim
        .modbus()
        .log()
        .entries()
        .into_iter()
        .filter(|e| e.function == 6 && e.address == 10)
        .collect();
    assert!(writes.len() >= 3, "the setpoint is refreshed: {writes:?}");
    assert_eq!(sim.modbus().registers(1, Table::Holding, 10, 1), [Some(10)]);
}

#[test]
fn ctrl_c_ends_cleanly() {
    use std::io::BufRead as _;
    let env = TestEnv::new();
    let sim = Sim::start("eastron-sdm630");
    let mut child = env
        .evctl()
        .args(["poll", "eastron-sdm630", "--host", "127.0.0.1", "--port"])
        .arg(sim.port().to_string())
        .args(["--interval", "1h", "--format", "influx", "voltage_l1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start evctl poll");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("piped"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("first reading");
    assert!(first.starts_with("eastron-sdm630,"), "{first}");
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("send SIGINT");
    assert!(status.success());
    // Ends at once (the test harness's own timeout guards a hang).
    let status = child.wait().expect("evctl poll ends");
    assert_eq!(status.code(), Some(0));
}

/// Polls `voltage_l1` and `voltage_l2` three times in `format`, stopping the simulator once the
/// first poll's first line is out; returns (exit code, whole stdout, stderr).
fn poll_with_the_device_gone(format: &str) -> (Option<i32>, String, String) {
    use std::io::{BufRead as _, Read as _};
    let env = TestEnv::new();
    let sim = Sim::start("eastron-sdm630");
    let mut child = env
        .evctl()
        .args(["poll", "eastron-sdm630", "--host", "127.0.0.1", "--port"])
        .arg(sim.port().to_string())
        .args(["--interval", "1s", "--count", "3", "--timeout", "500ms"])
        .args(["--format", format, "voltage_l1", "voltage_l2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start evctl poll");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("piped"));
    let mut text = String::new();
    stdout.read_line(&mut text).expect("first poll");
    // The device goes away (its connections close) before the second poll.
    drop(sim);
    stdout.read_to_string(&mut text).expect("the other polls");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut stderr)
        .expect("stderr");
    let status = child.wait().expect("evctl poll ends");
    (status.code(), text, stderr)
}

#[test]
fn influx_and_prometheus_leave_stale_values_out() {
    for format in ["influx", "prometheus"] {
        let (code, stdout, stderr) = poll_with_the_device_gone(format);
        assert_eq!(code, Some(0), "{format}: {stderr}");
        assert!(stderr.contains("stale: 2 value(s)"), "{format}: {stderr}");
        let samples = stdout
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains("voltage"))
            .count();
        // Two values from the first poll (influx: one line with two fields).
        let expected = if format == "influx" { 1 } else { 2 };
        assert_eq!(
            samples, expected,
            "{format}: only the first poll's values: {stdout}"
        );
    }
}

#[test]
fn json_names_stale_values() {
    let (code, stdout, stderr) = poll_with_the_device_gone("json");
    assert_eq!(code, Some(0), "{stderr}");
    let polls: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&stdout)
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("three JSON objects");
    assert_eq!(polls.len(), 3, "{stdout}");
    assert_eq!(polls[0].get("stale"), None, "the first poll is fresh");
    for poll in &polls[1..] {
        assert_eq!(
            poll["stale"],
            serde_json::json!(["voltage_l1", "voltage_l2"]),
            "{stdout}"
        );
        assert!(poll["voltage_l1"].is_number(), "the last value is kept");
    }
}
