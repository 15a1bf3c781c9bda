//! `evctl list` and `evctl describe`: what the maps hold, without any device.

use crate::util::TestEnv;

#[test]
fn list_shows_every_built_in_map() {
    let env = TestEnv::new();
    crate::assert_evctl_snapshot!(&mut env.evctl().arg("list"));
}

#[test]
fn describe_a_map_and_a_register() {
    let env = TestEnv::new();
    crate::assert_evctl_snapshot!(&mut env.evctl().args(["describe", "vestel-evc04"]));
    crate::assert_evctl_snapshot!(&mut env.evctl().args([
        "describe",
        "alfen-eve",
        "modbus_slave_max_current"
    ]));
    crate::assert_evctl_snapshot!(&mut env.evctl().args(["describe", "alfen-eve", "mode_3_state"]));
    crate::assert_evctl_snapshot!(&mut env.evctl().args([
        "describe",
        "givenergy-hybrid",
        "setChargeSlot1"
    ]));
}

#[test]
fn unknown_map_suggests_the_closest() {
    let env = TestEnv::new();
    crate::assert_evctl_snapshot!(&mut env.evctl().args(["describe", "alfen-evee"]));
    crate::assert_evctl_snapshot!(&mut env.evctl().args([
        "describe",
        "alfen-eve",
        "voltage_phase_L1"
    ]));
}

/// A broken user map is a warning naming its file, line and column for `list` and for a read of
/// another map; only reading the broken map itself is a usage error.
#[test]
fn a_broken_user_map_warns_unless_it_is_the_one_asked_for() {
    let env = TestEnv::new();
    env.write(
        "maps/my-meter.yaml",
        "manufacturer: Acme\nmodel: M1\nregisters:\n  - {name: x\n",
    );
    let warning = "maps/my-meter.yaml:";
    let (code, stdout, stderr) = crate::util::run(env.evctl().args(["--maps", "maps", "list"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("alfen-eve"), "{stdout}");
    assert!(
        stderr.contains("warning: skipping a broken map"),
        "{stderr}"
    );
    assert!(stderr.contains(warning), "names the file: {stderr}");
    let (code, _stdout, stderr) = crate::util::run(env.evctl().args([
        "--maps",
        "maps",
        "read",
        "alfen-eve",
        "--simulated",
        "--format",
        "json",
        "c_manufacturer",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr.matches(warning).count(), 1, "warned once: {stderr}");
    let (code, _stdout, stderr) =
        crate::util::run(
            env.evctl()
                .args(["--maps", "maps", "read", "my-meter", "--simulated"]),
        );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(warning), "{stderr}");
    assert!(
        !stderr.contains("skipping"),
        "an error, not a warning: {stderr}"
    );
}

/// `describe MAP ACTION` lists each step's register writes with their conditions, aligned.
#[test]
fn describe_an_action_shows_its_writes() {
    let env = TestEnv::new();
    let (code, stdout, stderr) =
        crate::util::run(
            env.evctl()
                .args(["describe", "givenergy-hybrid", "setChargeSlot1"]),
        );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("step 2 (only when chargeToPercent < 100)"),
        "{stdout}"
    );
    let writes: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("    ") && l.contains(" = "))
        .collect();
    assert!(
        writes.iter().any(|l| l.contains("Target_SOC")
            && l.contains("= chargeToPercent")
            && l.ends_with("# holding 116")),
        "{stdout}"
    );
    assert_eq!(writes.len(), 6, "{stdout}");
    for column in [" = ", "  # "] {
        let at: Vec<Option<usize>> = writes.iter().map(|l| l.find(column)).collect();
        assert!(
            at.windows(2).all(|w| w[0] == w[1]),
            "`{column}` aligned: {stdout}"
        );
    }
    let params: Vec<&str> = stdout
        .lines()
        .skip_while(|l| *l != "parameters")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(params.len(), 3, "{stdout}");
    let at: Vec<Option<usize>> = params.iter().map(|l| l.find("  a ")).collect();
    assert!(at.windows(2).all(|w| w[0] == w[1]), "aligned: {stdout}");
}
