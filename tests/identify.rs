//! `evctl identify` as a confusion matrix over every shipped map, and the map checks as a user
//! meets them through `read`, `write` and `--no-verify`.

use crate::util::{Sim, TestEnv, built_in_map, run, shipped_maps};

fn identify(env: &TestEnv, sim: &Sim, dongle: bool) -> (i32, serde_json::Value, String) {
    let port = sim.port().to_string();
    let mut args = vec![
        "identify",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--format",
        "json",
    ];
    if dongle {
        args.extend(["--transport", "givenergy-dongle"]);
    }
    let (code, stdout, stderr) = run(env.evctl().args(&args));
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    (code, json, stderr)
}

#[test]
fn every_simulated_map_is_identified_as_itself_and_nothing_else() {
    let env = TestEnv::new();
    let mut budget = Vec::new();
    for id in shipped_maps() {
        let map = built_in_map(&id);
        let dongle = map.connection.transport == device_maps::Transport::GivenergyDongle;
        let sim = Sim::start(&id);
        let (code, json, stderr) = identify(&env, &sim, dongle);
        assert_eq!(code, 0, "{id}: {stderr}\n{json:#}");
        let matches: Vec<&str> = json["matches"]
            .as_array()
            .expect("matches")
            .iter()
            .map(|m| m["map"].as_str().expect("map"))
            .collect();
        // The map itself, or maps of its family (a variant and its base) that the documented
        // registers cannot tell apart; never another device's map.
        let family = |other: &str| family_root(other) == family_root(&id);
        // The generic SunSpec walker fits every SunSpec device; it may match besides a map
        // written for the device, and ranks after it.
        let sunspec_device = map.checks.iter().any(|c| c.register == "sunspec_id");
        let generic = |other: &str| other == "sunspec" && sunspec_device;
        assert!(matches.contains(&id.as_str()), "{id}: {json:#}");
        assert!(
            matches.iter().all(|m| family(m) || generic(m)),
            "{id}: {json:#}"
        );
        assert!(
            family(json["identified"].as_str().expect("identified")),
            "{json:#}"
        );
        // A map with `identify:` hints is named by them on its own simulator: the best match
        // is the map itself, not a relative, with every hint among what was found.
        if !map.identify.is_empty() {
            assert_eq!(json["identified"].as_str(), Some(id.as_str()), "{json:#}");
            let found = json["matches"][0]["found"].as_array().expect("found");
            let hints = found.iter().filter(|f| f["hint"] == true).count();
            assert_eq!(hints, map.identify.len(), "{id}: {json:#}");
        }
        let requests = json["requests"].as_u64().expect("requests");
        let elapsed = json["elapsed_ms"].as_u64().expect("elapsed_ms");
        // Counted at the simulator, not only as reported.
        assert_eq!(requests as usize, sim.requests(), "{id}");
        // Issue 17's budget: at most 10 requests for any device against the whole library.
        // Answers are shared between candidates, failed reads are not repeated, a refusal
        // rules out every candidate declaring the read (a shared read rules out several at
        // once), a unit that is gone is not asked again, and after a match only candidates
        // that could be the device as well are probed.
        assert!(requests <= 10, "{id}: {requests} requests\n{json:#}");
        budget.push((id, requests, elapsed));
    }
    budget.sort_by_key(|(_, r, _)| *r);
    eprintln!("identify (map, requests, ms) per simulated map: {budget:?}");
}

#[test]
fn a_device_no_map_describes_is_unknown_not_a_guess() {
    let env = TestEnv::new();
    // A meter that exists only in this test: plausible registers, no map of ours.
    let map = device_maps::parse_map(
        "odd-meter",
        r#"
manufacturer: Nobody
model: Odd meter
connection: {unit_ids: {meter: 1}, address_base: 0, span_gaps: true}
registers:
  - {name: a, address: 0, table: holding, type: uint16, example: 7}
  - {name: b, address: 200, table: input, type: uint16, example: 7}
"#,
    )
    .expect("map");
    let sim = Sim::start_map(&map, simulator::modbus::Faults::none());
    let (code, json, stderr) = identify(&env, &sim, false);
    assert_eq!(code, 1, "{json:#}");
    assert!(json["identified"].is_null(), "{json:#}");
    assert!(json["matches"].as_array().expect("matches").is_empty());
    assert!(stderr.contains("unknown device"), "{stderr}");
    // The human form says so in words.
    let port = sim.port().to_string();
    let (code, stdout, _) =
        run(env
            .evctl()
            .args(["identify", "--host", "127.0.0.1", "--port", &port]));
    assert_eq!(code, 1);
    assert!(
        stdout.contains("unknown device (no map matches)"),
        "{stdout}"
    );
    assert!(stdout.contains("not this device:"), "{stdout}");
}

/// The first map of `id`'s `extends:` chain: a variant, its base and the base's other variants
/// share their documented registers, so identification cannot tell them apart.
fn family_root(id: &str) -> String {
    let mut id = id.to_owned();
    while let Some(base) = built_in_map(&id).extends {
        id = base;
    }
    id
}

/// A simulator of built-in map `id` whose register `name` serves `value` instead of its example.
fn sim_with(id: &str, name: &str, value: modbus_core::Value) -> (device_maps::DeviceMap, Sim) {
    let mut map = built_in_map(id);
    let register = map
        .registers
        .iter_mut()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("{id} has {name}"));
    register.example = value;
    let sim = Sim::start_map(&map, simulator::modbus::Faults::none());
    (map, sim)
}

/// A SunSpec device whose common model is 66 registers long (current SunSpec definitions):
/// the simulator serves `sunspec-inverter` with that length.
fn sunspec_66() -> Sim {
    sim_with(
        "sunspec-inverter",
        "common_length",
        modbus_core::Value::UInt(66),
    )
    .1
}

#[test]
fn reading_the_wrong_device_prints_no_value_and_names_the_register() {
    let env = TestEnv::new();
    let sim = sunspec_66();
    let port = sim.port().to_string();
    let (code, stdout, stderr) = run(env.evctl().args([
        "read",
        "sunspec-inverter",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--format",
        "json",
    ]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.is_empty(), "values printed: {stdout}");
    crate::assert_evctl_snapshot!(
        "read_sunspec_common_66",
        &mut env.evctl().args([
            "read",
            "sunspec-inverter",
            "--host",
            "127.0.0.1",
            "--port",
            &port
        ])
    );
    assert!(stderr.contains("evctl identify"), "{stderr}");

    // --no-verify reads anyway, and says so.
    let (code, stdout, stderr) = run(env.evctl().args([
        "read",
        "sunspec-inverter",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--no-verify",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("warning: not checking"), "{stderr}");
    assert!(stdout.contains("Common Model Length"), "{stdout}");
}

#[test]
fn a_write_to_the_wrong_device_sends_nothing() {
    let env = TestEnv::new();
    // Another charger answering Alfen's registers: its manufacturer is not Alfen.
    let (map, sim) = sim_with(
        "alfen-eve",
        "c_manufacturer",
        modbus_core::Value::Text("Bender".into()),
    );
    let port = sim.port().to_string();
    let writable = map
        .registers
        .iter()
        .find(|r| r.write.is_some() && r.name.contains("current"))
        .map(|r| r.name.clone())
        .expect("a writable current");
    let assignment = format!("{writable}=10");
    let (code, stdout, stderr) = run(env.evctl().args([
        "write",
        "alfen-eve",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        &assignment,
    ]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(stderr.contains("c_manufacturer"), "{stderr}");
    let writes = sim
        .modbus()
        .log()
        .entries()
        .iter()
        .filter(|e| matches!(e.function, 5 | 6 | 15 | 16))
        .count();
    assert_eq!(writes, 0);
}
