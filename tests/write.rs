//! `evctl write` and `evctl call`: checked before anything is sent, `--dry-run` sends nothing,
//! and a real write is read back.

use modbus_core::Table;

use crate::util::{Sim, SimProcess, TestEnv, run};

fn alfen(env: &TestEnv, sim: &Sim) -> std::process::Command {
    let mut cmd = env.evctl();
    cmd.args(["write", "alfen-eve", "--host", "127.0.0.1", "--port"])
        .arg(sim.port().to_string());
    cmd
}

#[test]
fn write_then_read_back() {
    let env = TestEnv::new();
    let sim = Sim::start("alfen-eve");
    crate::assert_evctl_snapshot!(&mut alfen(&env, &sim).arg("modbus_slave_max_current=10"));
    // FLOAT32 10.0 is 0x4120 0x0000, both registers in one request (FC16).
    assert_eq!(
        sim.modbus().registers(1, Table::Holding, 1210, 2),
        [Some(0x4120), Some(0x0000)]
    );
    let writes: Vec<_> = sim
        .modbus()
        .log()
        .entries()
        .into_iter()
        .filter(|e| e.function == 16)
        .collect();
    assert_eq!(writes.len(), 1);
    assert_eq!(
        (writes[0].unit, writes[0].address, writes[0].count),
        (1, 1210, 2)
    );
    let (code, stdout, stderr) = run(env.evctl().args([
        "read",
        "alfen-eve",
        "--host",
        "127.0.0.1",
        "--port",
        &sim.port().to_string(),
        "modbus_slave_max_current",
        "--format",
        "json",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "{\n  \"modbus_slave_max_current\": 10.0\n}");
}

#[test]
fn write_is_confirmed_by_reading_the_register_back() {
    let env = TestEnv::new();
    let sim = Sim::start("vestel-evc04");
    crate::assert_evctl_snapshot!(&mut env.evctl().args([
        "write",
        "vestel-evc04",
        "--host",
        "127.0.0.1",
        "--port",
        &sim.port().to_string(),
        "failsafe_timeout=30",
        "failsafe_current=8",
    ]));
    assert_eq!(
        sim.modbus().registers(255, Table::Holding, 2000, 1),
        [Some(8)]
    );
    assert_eq!(
        sim.modbus().registers(255, Table::Holding, 2002, 1),
        [Some(30)]
    );
}

#[test]
fn dry_run_sends_nothing() {
    let env = TestEnv::new();
    let sim = Sim::start("alfen-eve");
    crate::assert_evctl_snapshot!(&mut alfen(&env, &sim).args([
        "modbus_slave_max_current=16",
        "charge_using_1_or_3_phases=1",
        "--dry-run"
    ]));
    assert_eq!(sim.requests(), 0, "the simulator's request log stays empty");
    assert_eq!(sim.modbus().stats().accepted, 0, "not even a connection");
}

#[test]
fn out_of_range_is_refused_before_any_request() {
    let env = TestEnv::new();
    let sim = Sim::start("alfen-eve");
    crate::assert_evctl_snapshot!(&mut alfen(&env, &sim).arg("charge_using_1_or_3_phases=2"));
    crate::assert_evctl_snapshot!(&mut alfen(&env, &sim).arg("c_name=GARAGE"));
    crate::assert_evctl_snapshot!(&mut alfen(&env, &sim).arg("modbus_slave_max_curent=10"));
    assert_eq!(sim.requests(), 0);
}

#[test]
fn a_huge_number_is_quoted_as_typed() {
    let env = TestEnv::new();
    let sim = Sim::start("alfen-eve");
    for typed in ["99999999999999999999", "-99999999999999999999"] {
        let (code, _stdout, stderr) =
            run(alfen(&env, &sim).arg(format!("charge_using_1_or_3_phases={typed}")));
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains(&format!("{typed} for `charge_using_1_or_3_phases` is ")),
            "{stderr}"
        );
        assert!(
            !stderr.contains("18446744073709551615") && !stderr.contains("9223372036854775808"),
            "no saturated number: {stderr}"
        );
    }
    assert_eq!(sim.requests(), 0);
}

#[test]
fn dynamic_bound_is_read_from_the_device_first() {
    let env = TestEnv::new();
    let sim = Sim::start("vestel-evc04");
    let port = sim.port().to_string();
    // The maximum is the charger's evse_max_current, read before writing; 99 A is above it.
    let (code, _stdout, stderr) = run(env.evctl().args([
        "write",
        "vestel-evc04",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "charging_current=99",
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("evse_max_current"), "{stderr}");
    let log = sim.modbus().log().entries();
    assert!(
        log.iter().all(|e| e.function == 3 || e.function == 4),
        "only reads: {log:?}"
    );
}

#[test]
fn call_an_action_over_the_dongle() {
    let env = TestEnv::new();
    let sim = Sim::start("givenergy-hybrid");
    let port = sim.port().to_string();
    let args = [
        "call",
        "givenergy-hybrid",
        "setChargeSlot1",
        "start=0100",
        "finish=0400",
        "chargeToPercent=55",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
    ];
    crate::assert_evctl_snapshot!(&mut env.evctl().args(args).arg("--dry-run"));
    assert_eq!(sim.requests(), 0);
    crate::assert_evctl_snapshot!(&mut env.evctl().args(args));
    // An invalid parameter sends nothing.
    let before = sim.requests();
    crate::assert_evctl_snapshot!(&mut env.evctl().args([
        "call",
        "givenergy-hybrid",
        "setChargeSlot1",
        "start=2500",
        "finish=0400",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
    ]));
    assert_eq!(sim.requests(), before);
}

/// `evctl simulate --apply-writes-after` on a Modbus map: the write shows within the map's
/// default read-back window and is confirmed; with `--confirm-within 0` (one read) it is not,
/// and the error names the wait and the value read.
#[test]
fn read_back_waits_for_a_write_the_device_applies_late() {
    let env = TestEnv::new();
    let sim = SimProcess::start(&env, &["vestel-evc04", "--apply-writes-after", "300ms"]);
    let write = |extra: &[&str]| {
        let mut cmd = env.evctl();
        cmd.args(["write", "vestel-evc04", "--host", "127.0.0.1", "--port"])
            .arg(sim.port_arg())
            .args(extra);
        run(&mut cmd)
    };
    let (code, stdout, stderr) = write(&["failsafe_current=8"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("confirmed failsafe_current = 8"),
        "{stdout}"
    );
    let (code, stdout, stderr) = write(&["failsafe_current=10", "--confirm-within", "0"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("did not show the value written within 0s")
            && stderr.contains("failsafe_current (read 8, expected 10)"),
        "{stderr}"
    );
}
