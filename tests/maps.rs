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
