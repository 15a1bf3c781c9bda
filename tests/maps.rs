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
