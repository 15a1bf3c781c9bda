//! `evctl scan` over loopback simulators only: several ports of 127.0.0.1, a closed one among
//! them, and the site config it writes read back by `evctl read`.

use crate::util::{Sim, TestEnv, built_in_map, run};

#[test]
fn a_scan_finds_every_simulated_device_and_writes_a_usable_site_config() {
    let env = TestEnv::new();
    let sims: Vec<(&str, Sim)> = ["alfen-eve", "sunspec-inverter", "vestel-evc04"]
        .into_iter()
        .map(|id| (id, Sim::start(id)))
        .collect();
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut ports: Vec<String> = sims.iter().map(|(_, s)| s.port().to_string()).collect();
    ports.push(closed.to_string());
    let config = env.path().join("found.yaml");
    let (code, stdout, stderr) = run(env.evctl().args([
        "scan",
        "127.0.0.1",
        "--ports",
        &ports.join(","),
        "--format",
        "json",
        "--write-config",
        config.to_str().expect("utf-8 path"),
    ]));
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let devices = json["devices"].as_array().expect("devices");
    assert_eq!(devices.len(), sims.len(), "{json:#}");
    for (id, sim) in &sims {
        let device = devices
            .iter()
            .find(|d| d["port"] == sim.port())
            .unwrap_or_else(|| panic!("{id} not found: {json:#}"));
        assert_eq!(device["map"], *id);
        assert_eq!(device["host"], "127.0.0.1");
    }
    // Serial numbers come from the identified map.
    let alfen = devices
        .iter()
        .find(|d| d["map"] == "alfen-eve")
        .expect("alfen");
    let serial = built_in_map("alfen-eve")
        .register("c_station_serial_number")
        .map(|r| r.example.to_string())
        .expect("serial register");
    assert_eq!(alfen["serial"], serial.as_str());
    assert_eq!(json["addresses"], ports.len());

    // The written site config names them, and a device of it reads.
    let text = std::fs::read_to_string(&config).expect("config written");
    assert!(text.contains("sunspec-inverter-1:"), "{text}");
    let (code, stdout, stderr) = run(env.evctl().args([
        "--config",
        config.to_str().expect("utf-8 path"),
        "read",
        "sunspec-inverter-1",
        "--format",
        "json",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("\"sunspec_id\": \"SunS\""), "{stdout}");

    // It writes a new file only.
    let (code, _, stderr) = run(env.evctl().args([
        "scan",
        "127.0.0.1",
        "--ports",
        &ports[0],
        "--write-config",
        config.to_str().expect("utf-8 path"),
    ]));
    assert_eq!(code, 2);
    assert!(stderr.contains("exists"), "{stderr}");
}

#[test]
fn a_scan_of_more_than_1024_addresses_needs_force_and_sends_nothing() {
    let env = TestEnv::new();
    // Refused before any connection: no traffic leaves loopback.
    let (code, _, stderr) = run(env.evctl().args(["scan", "10.0.0.0/16"]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("65534 addresses") && stderr.contains("--force"),
        "{stderr}"
    );
    let (code, _, stderr) =
        run(env
            .evctl()
            .args(["scan", "127.0.0.0/24", "--ports", "502,503,504,505,506"]));
    assert_eq!(code, 2, "{stderr}");
}
