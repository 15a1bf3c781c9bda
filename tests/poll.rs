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
        "voltage_l1",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("stale: 1 value(s) from an earlier read"),
        "{stdout}"
    );
    assert!(stderr.contains("illegal data address"), "{stderr}");
}
