//! `evctl simulate`: values files, the printed address, a clean end on Ctrl-C.

use std::io::BufRead as _;

use crate::util::{SimProcess, TestEnv, run};

#[test]
fn values_file_replaces_the_examples() {
    let env = TestEnv::new();
    env.write(
        "values.yaml",
        "chargepoint_state: Available\nserial_number: GARAGE-1\nmeter_reading: 4321.5\n",
    );
    let sim = SimProcess::start(&env, &["vestel-evc04", "--values", "values.yaml"]);
    let (code, stdout, stderr) = run(env
        .evctl()
        .args(["read", "vestel-evc04", "--host", "127.0.0.1", "--port"])
        .arg(sim.port_arg())
        .args([
            "chargepoint_state",
            "serial_number",
            "meter_reading",
            "-f",
            "json",
        ]));
    assert_eq!(code, 0, "{stderr}");
    let value: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(value["chargepoint_state"], 0);
    assert_eq!(value["serial_number"], "GARAGE-1");
    assert_eq!(value["meter_reading"], 4321.5);
}

#[test]
fn bad_values_file_is_a_usage_error() {
    let env = TestEnv::new();
    env.write("values.yaml", "chargepoint_state: Flying\n");
    let (code, _stdout, stderr) = run(env.evctl().args([
        "simulate",
        "vestel-evc04",
        "--values",
        "values.yaml",
        "--listen",
        "127.0.0.1:0",
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("chargepoint_state"), "{stderr}");
}

#[test]
fn prints_its_address_and_stops_on_ctrl_c() {
    let env = TestEnv::new();
    let mut child = env
        .evctl()
        .args(["simulate", "alfen-eve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start evctl simulate");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("piped"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("address line");
    assert!(first.starts_with("listening on 127.0.0.1:"), "{first}");
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("send SIGINT");
    assert!(status.success());
    let output = child.wait_with_output().expect("evctl simulate ends");
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stderr).contains("stopped after 0 request(s)"));
}
