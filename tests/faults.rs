//! Each fault option of `evctl simulate` gives the documented error or recovery.
//!
//! The simulator runs as an `evctl simulate` child process with the fault options, exactly as a
//! user would start it; `evctl read` talks to it over loopback.

use crate::util::{SimProcess, TestEnv, run};

fn read(env: &TestEnv, sim: &SimProcess, extra: &[&str]) -> (i32, String, String) {
    run(env
        .evctl()
        .args(["read", "vestel-evc04", "--host", "127.0.0.1", "--port"])
        .arg(sim.port_arg())
        .args(["--format", "json"])
        .args(extra))
}

#[test]
fn dropped_connections_are_retried() {
    let env = TestEnv::new();
    let sim = SimProcess::start(&env, &["vestel-evc04", "--drop-every", "2"]);
    let (code, stdout, stderr) = read(&env, &sim, &[]);
    assert_eq!(code, 0, "the client reconnects and retries: {stderr}");
    assert!(stdout.contains("\"serial_number\""), "{stdout}");
}

#[test]
fn garbage_and_wrong_transaction_ids_are_retried() {
    let env = TestEnv::new();
    for fault in ["--garbage-every", "--wrong-transaction-id-every"] {
        let sim = SimProcess::start(&env, &["vestel-evc04", fault, "3"]);
        let (code, stdout, stderr) = read(&env, &sim, &[]);
        assert_eq!(code, 0, "{fault}: {stderr}");
        assert!(
            stdout.contains("\"chargepoint_state\""),
            "{fault}: {stdout}"
        );
    }
}

#[test]
fn busy_device_is_retried() {
    let env = TestEnv::new();
    let sim = SimProcess::start(&env, &["vestel-evc04", "--exception-every", "2"]);
    let (code, _stdout, stderr) = read(&env, &sim, &[]);
    assert_eq!(code, 0, "server device busy is transient: {stderr}");
}

#[test]
fn illegal_address_is_reported_with_a_unit_hint() {
    let env = TestEnv::new();
    let sim = SimProcess::start(
        &env,
        &[
            "vestel-evc04",
            "--exception-every",
            "1",
            "--exception",
            "illegal-address",
        ],
    );
    let (code, stdout, stderr) = read(&env, &sim, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stdout, "", "nothing could be read, nothing is printed");
    // vestel-evc04 reads through gaps, so the client first warns that it learns holes.
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("error: cannot read vestel-evc04 at 127.0.0.1:")),
        "{stderr}"
    );
    assert!(stderr.contains("illegal data address (0x02)"), "{stderr}");
    assert!(
        stderr.contains("hint: unit 255 does not serve that address"),
        "{stderr}"
    );
}

#[test]
fn latency_beyond_the_timeout_is_a_timeout() {
    let env = TestEnv::new();
    let sim = SimProcess::start(&env, &["vestel-evc04", "--latency", "2s"]);
    let (code, _stdout, stderr) = read(&env, &sim, &["--timeout", "200ms", "serial_number"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no response within 200ms"), "{stderr}");
    assert!(
        stderr.contains("hint: the device took the connection but did not answer"),
        "{stderr}"
    );
}

#[test]
fn latency_within_the_timeout_is_fine() {
    let env = TestEnv::new();
    let sim = SimProcess::start(&env, &["vestel-evc04", "--latency", "20ms"]);
    let (code, _stdout, stderr) = read(&env, &sim, &["--timeout", "2s", "serial_number"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn read_only_device_refuses_writes() {
    let env = TestEnv::new();
    let sim = SimProcess::start(&env, &["vestel-evc04", "--read-only"]);
    let (code, _stdout, stderr) = run(env
        .evctl()
        .args(["write", "vestel-evc04", "--host", "127.0.0.1", "--port"])
        .arg(sim.port_arg())
        .arg("failsafe_timeout=30"));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("illegal function (0x01)"), "{stderr}");
    assert!(
        stderr.contains("hint: the device refused the function"),
        "{stderr}"
    );
}

#[test]
fn connection_limit_names_the_other_client() {
    let env = TestEnv::new();
    let sim = SimProcess::start(&env, &["vestel-evc04", "--max-connections", "1"]);
    // Another client holds the only connection.
    let _holder = std::net::TcpStream::connect(("127.0.0.1", sim.port)).expect("connect");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (code, _stdout, stderr) = read(&env, &sim, &["--timeout", "1s", "serial_number"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("another"),
        "the hint names another client: {stderr}"
    );
}
