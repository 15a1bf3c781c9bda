//! The `sunspec` map: one map for any SunSpec device, whose chain of models is walked over the
//! socket before anything is read, written or polled.

use crate::util::{Sim, TestEnv, run};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

fn json(stdout: &str, stderr: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"))
}

#[test]
fn the_simulated_sunspec_device_is_walked_through_eight_models() {
    let env = TestEnv::new();
    let (code, stdout, stderr) =
        run(env
            .evctl()
            .args(["read", "sunspec", "--simulated", "--format", "json"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(
            "SunSpec chain of 8 model(s) at unit 1, base 40000: 1 common (66), \
             103 inverter_three_phase (50), 120 nameplate (26), 121 settings (30), \
             122 status (44), 123 controls (24), 160 mppt (48), 124 storage_basic (24)"
        ),
        "{stderr}"
    );
    let j = json(&stdout, &stderr);
    assert_eq!(j["common_Mn"], "Fronius");
    // Scale factors applied: 1212 × 10^-2, 5001 × 10^-2.
    assert_eq!(j["inverter_A"], 12.12);
    assert_eq!(j["inverter_Hz"], 50.01);
    assert_eq!(j["inverter_St"], 4); // MPPT
    // Not implemented (0x8000 in an int16): missing, not -32768.
    assert_eq!(j["inverter_VAr"], serde_json::Value::Null);
    assert_eq!(j["mppt_2_DCW"], 1295.0);
    assert_eq!(j["storage_ChaState"], 63.5);
}

#[test]
fn an_unusual_chain_is_walked_where_the_device_has_it() {
    let env = TestEnv::new();
    let map = device_maps::load_file(&fixture("sunspec-odd-chain.yaml")).expect("fixture loads");
    let sim = Sim::start_map(&map, simulator::modbus::Faults::none());
    let port = sim.port().to_string();
    let args = [
        "read",
        "sunspec",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--format",
        "json",
    ];
    let (code, stdout, stderr) = run(env.evctl().args(args));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(
            "SunSpec chain of 5 model(s) at unit 1, base 50000: 1 common (65), \
             64001 (12, no definition), 160 mppt (68), 201 ac_meter_an_or_ab (105), 802 battery (62)"
        ),
        "{stderr}"
    );
    // The block a map of this chain needs for `evctl serve`, which does not walk.
    assert!(
        stderr.contains(
            "sunspec: {base: 50000, models: [{id: 1, length: 65}, {id: 64001, length: 12}, \
             {id: 160, repeats: 3}, 201, 802]}"
        ),
        "{stderr}"
    );
    let j = json(&stdout, &stderr);
    assert_eq!(j["common_Mn"], "Acme Solar");
    // The 65-register common model of older devices has no room for the pad.
    assert!(j.get("common_Pad").is_none());
    // A model without definition: its header only.
    assert_eq!(j["model_64001_ID"], 64001);
    assert_eq!(j["model_64001_L"], 12);
    // Three modules of model 160, scaled by the fixed block's SF (10^1 and 10^-1).
    assert_eq!(j["mppt_N"], 3);
    assert_eq!(j["mppt_3_DCW"], 410.0);
    assert_eq!(j["mppt_3_DCV"], 312.4);
    assert!(j.get("mppt_4_DCW").is_none());
    assert_eq!(j["meter_W"], -1532.0);
    assert_eq!(j["meter_Hz"], 49.98);
    assert_eq!(j["meter_TotWhImp"], 5123400.0);
    assert_eq!(j["battery_SoC"], 76.5);
    assert_eq!(j["battery_W"], -2500.0);
    // Every read went to the chain's own addresses: 40000 and 0 were tried for the marker
    // (refused), then everything read lies at 50000 or above.
    let log = sim.modbus().log();
    assert!(
        log.entries().iter().skip(2).all(|r| r.address >= 50000),
        "{log:?}"
    );
}

#[test]
fn writes_go_to_the_walked_address() {
    let env = TestEnv::new();
    let map = device_maps::load_file(&fixture("sunspec-odd-chain.yaml")).expect("fixture loads");
    let sim = Sim::start_map(&map, simulator::modbus::Faults::none());
    let port = sim.port().to_string();
    // 802's SoCRsvMin (writable; SoCMax is not), ninth point of the battery model, which this
    // chain puts after common 65, vendor model 12, MPPT 68 and meter 105 (plus headers).
    let args = [
        "write",
        "sunspec",
        "battery_SoCRsvMin=15",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
    ];
    let (code, stdout, stderr) = run(env.evctl().args(args));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let expected = 50002 + 67 + 14 + 70 + 107 + 2 + 8;
    assert!(stdout.contains(&format!("address {expected}")), "{stdout}");
}

#[test]
fn a_device_without_the_marker_is_refused_with_every_base_named() {
    let env = TestEnv::new();
    let sim = Sim::start("carlo-gavazzi-em340");
    let port = sim.port().to_string();
    let (code, _, stderr) =
        run(env
            .evctl()
            .args(["read", "sunspec", "--host", "127.0.0.1", "--port", &port]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("cannot walk the SunSpec chain"), "{stderr}");
    for base in ["40000:", "0:", "50000:"] {
        assert!(stderr.contains(base), "{stderr}");
    }
}

#[test]
fn a_chain_model_without_definition_needs_its_length() {
    let env = TestEnv::new();
    let text = std::fs::read_to_string(fixture("sunspec-odd-chain.yaml")).expect("fixture");
    let broken = text.replace("{id: 64001, length: 12}", "64001");
    env.write("maps/odd.yaml", &broken);
    let (code, _, stderr) = run(env.evctl().args(["--maps", "maps", "describe", "odd"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("odd.yaml:12:"), "{stderr}");
    assert!(
        stderr.contains("no definition of SunSpec model 64001"),
        "{stderr}"
    );
    let broken = text.replace("battery_SoC: 76.5", "battery_SOC: 76.5");
    env.write("maps/odd.yaml", &broken);
    let (code, _, stderr) = run(env.evctl().args(["--maps", "maps", "describe", "odd"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("battery_SOC"), "{stderr}");
    assert!(
        stderr.contains("no register of the example chain"),
        "{stderr}"
    );
}
