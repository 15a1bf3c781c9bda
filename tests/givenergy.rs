//! End-to-end tests of evctl with GivEnergy maps: the dongle framing on loopback, GivTCP's
//! runAll tree from `read --nested`, actions through `call`, and `simulate` speaking the dongle
//! framing to a raw socket.

#[allow(dead_code)]
mod util;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use modbus_core::Table;
use util::{Sim, SimProcess, TestEnv, run};

const INVERTER: u8 = 0x11;

fn holding(sim: &Sim, register: u16) -> Option<u16> {
    sim.dongle.as_ref().expect("a dongle simulator").registers(
        INVERTER,
        Table::Holding,
        register,
        1,
    )[0]
}

#[test]
fn givenergy_read_nested_json_gives_the_runall_tree() {
    let env = TestEnv::new();
    let (code, stdout, stderr) = run(env.evctl().args([
        "read",
        "givenergy-hybrid",
        "--simulated",
        "--format",
        "json",
        "--nested",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let tree: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let top: Vec<&str> = tree
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "Energy",
        "Power",
        "Invertor_Details",
        "Timeslots",
        "Control",
        "Battery_Details",
    ] {
        assert!(top.contains(&key), "no {key} in {top:?}");
    }
    // Values of the real Gen2 capture the map's examples come from.
    assert_eq!(tree["Energy"]["Today"]["Import_Energy_Today_kWh"], 22.7);
    assert_eq!(
        tree["Energy"]["Total"]["Battery_Throughput_Total_kWh"],
        7397.7
    );
    assert_eq!(tree["Power"]["Power"]["SOC"], 46);
    assert_eq!(tree["Power"]["Power"]["Battery_Power"], 443);
    assert_eq!(
        tree["Invertor_Details"]["Invertor_Serial_Number"],
        "EA2302G000"
    );
    assert_eq!(tree["Timeslots"]["Charge_start_time_slot_1"], "23:30");
    assert_eq!(tree["Control"]["Target_SOC"], 100);
    assert_eq!(
        tree["Battery_Details"]["Battery_1"]["Battery_Cell_1_Voltage"],
        3.265
    );
    assert_eq!(
        tree["Battery_Details"]["Battery_1"]["Battery_Serial_Number"],
        "DF2244G000"
    );
    insta::assert_json_snapshot!("givenergy_hybrid_nested", tree);
}

#[test]
fn givenergy_call_validates_writes_and_reads_back() {
    let env = TestEnv::new();
    let sim = Sim::start("givenergy-hybrid");
    let port = sim.port().to_string();
    let (code, stdout, stderr) = run(env.evctl().args([
        "call",
        "givenergy-hybrid",
        "setChargeSlot1",
        "start=0100",
        "finish=0400",
        "chargeToPercent=55",
        "-H",
        "127.0.0.1",
        "-p",
        &port,
    ]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("confirmed Charge_start_time_slot_1"),
        "{stdout}"
    );
    assert_eq!(
        [
            holding(&sim, 94),
            holding(&sim, 95),
            holding(&sim, 20),
            holding(&sim, 116)
        ],
        [Some(100), Some(400), Some(1), Some(55)]
    );
    let frames = sim.requests();

    // An invalid parameter is a usage error naming it, and no frame leaves.
    let (code, _, stderr) = run(env.evctl().args([
        "call",
        "givenergy-hybrid",
        "setChargeSlot1",
        "start=2500",
        "finish=0400",
        "-H",
        "127.0.0.1",
        "-p",
        &port,
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("start") && stderr.contains("2500"),
        "{stderr}"
    );
    let (code, _, stderr) = run(env.evctl().args([
        "call",
        "givenergy-hybrid",
        "setBatteryMode",
        "mode=7",
        "-H",
        "127.0.0.1",
        "-p",
        &port,
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(sim.requests(), frames, "an invalid call sent frames");

    // The clock gets the year minus 2000.
    let (code, _, stderr) = run(env.evctl().args([
        "call",
        "givenergy-hybrid",
        "setDateTime",
        "dateTime=01/02/2027 03:04:05",
        "-H",
        "127.0.0.1",
        "-p",
        &port,
    ]));
    assert_eq!(code, 0, "{stderr}");
    let clock: Vec<Option<u16>> = (35..=40).map(|r| holding(&sim, r)).collect();
    assert_eq!(
        clock,
        [Some(27), Some(2), Some(1), Some(3), Some(4), Some(5)]
    );
}

#[test]
fn givenergy_every_action_runs_against_the_simulator() {
    let env = TestEnv::new();
    let calls: &[&[&str]] = &[
        &["enableChargeTarget"],
        &["disableChargeTarget"],
        &["pauseChargeSchedule"],
        &["resumeChargeSchedule"],
        &["pauseDischargeSchedule"],
        &["resumeDischargeSchedule"],
        &["setChargeTarget", "chargeToPercent=50"],
        &["setBatteryReserve", "dischargeToPercent=5"],
        &[
            "setChargeSlot1",
            "start=0100",
            "finish=0400",
            "chargeToPercent=55",
        ],
        &["setChargeSlot2", "start=0100", "finish=0400"],
        &[
            "setDischargeSlot1",
            "start=1600",
            "finish=1900",
            "dischargeToPercent=20",
        ],
        &["setDischargeSlot2", "start=0100", "finish=0400"],
        &["setBatteryMode", "mode=1"],
        &["setBatteryMode", "mode=4"],
        &["setDateTime", "dateTime=13/07/2026 23:22:19"],
    ];
    for map in ["givenergy-hybrid", "givenergy-ac", "givenergy-aio"] {
        for call in calls {
            let (code, stdout, stderr) =
                run(env.evctl().args(["call", map, "--simulated"]).args(*call));
            assert_eq!(code, 0, "{map} {call:?}: {stdout}{stderr}");
            assert!(stdout.contains("confirmed"), "{map} {call:?}: {stdout}");
        }
    }
}

#[test]
fn givenergy_simulate_speaks_the_dongle_framing() {
    let env = TestEnv::new();
    let sim = SimProcess::start(&env, &["givenergy-ac"]);
    // The spec's read-holding request for HR 0..59 at 0x11, sent as raw bytes.
    let request: [u8; 34] = [
        0x59, 0x59, 0x00, 0x01, 0x00, 0x1c, 0x01, 0x02, b'A', b'B', b'1', b'2', b'3', b'4', b'G',
        b'0', b'0', b'0', 0, 0, 0, 0, 0, 0, 0, 0x08, 0x11, 0x03, 0x00, 0x00, 0x00, 0x3c, 0x47,
        0x4b,
    ];
    let mut stream = TcpStream::connect(("127.0.0.1", sim.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(&request).expect("send");
    let mut reply = [0_u8; 164];
    stream.read_exact(&mut reply).expect("a 164-byte reply");
    assert_eq!(reply[..8], [0x59, 0x59, 0x00, 0x01, 0x00, 0x9e, 0x01, 0x02]);
    assert_eq!(reply[25], 138, "length-of-rest");
    assert_eq!((reply[26], reply[27]), (0x11, 0x03));
    assert_eq!(reply[38..42], [0, 0, 0, 60], "base and count echoed");
    // HR13..17: the AC capture's (redacted) inverter serial.
    assert_eq!(&reply[42 + 26..42 + 36], b"CE2231G000");
    drop(stream);

    // And evctl reads it through the dongle transport.
    let (code, stdout, stderr) = run(env.evctl().args([
        "read",
        "givenergy-ac",
        "Control",
        "-H",
        "127.0.0.1",
        "-p",
        &sim.port_arg(),
        "--format",
        "json",
        "--nested",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let tree: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert!(
        tree["Control"]["Battery_pause_mode"].is_string(),
        "{stdout}"
    );
}

/// The spec's read-holding request for HR 0..59 at 0x11 (answered with 164 bytes).
const READ_HR_0_59: [u8; 34] = [
    0x59, 0x59, 0x00, 0x01, 0x00, 0x1c, 0x01, 0x02, b'A', b'B', b'1', b'2', b'3', b'4', b'G', b'0',
    b'0', b'0', 0, 0, 0, 0, 0, 0, 0, 0x08, 0x11, 0x03, 0x00, 0x00, 0x00, 0x3c, 0x47, 0x4b,
];

#[test]
fn givenergy_simulate_sends_heartbeats_at_the_interval_asked_for() {
    let env = TestEnv::new();
    let sim = SimProcess::start(&env, &["givenergy-ac", "--heartbeat-every", "200ms"]);
    let mut stream = TcpStream::connect(("127.0.0.1", sim.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    // Nothing is sent: what arrives is the dongle's heartbeat (the default is every 3 minutes).
    let mut header = [0_u8; 8];
    stream.read_exact(&mut header).expect("a heartbeat frame");
    assert_eq!(header[..4], [0x59, 0x59, 0x00, 0x01], "{header:?}");
}

#[test]
fn givenergy_simulate_drops_a_reply_halfway() {
    let env = TestEnv::new();
    let sim = SimProcess::start(&env, &["givenergy-ac", "--drop-after", "1"]);
    let mut stream = TcpStream::connect(("127.0.0.1", sim.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream.write_all(&READ_HR_0_59).expect("send");
    let mut reply = Vec::new();
    stream
        .read_to_end(&mut reply)
        .expect("the connection closes");
    assert!(
        !reply.is_empty() && reply.len() < 164,
        "half a reply, then the connection closes: {} bytes",
        reply.len()
    );
}

#[test]
fn givenergy_simulate_names_the_faults_a_dongle_map_takes() {
    let env = TestEnv::new();
    let (code, _stdout, stderr) = run(env.evctl().args([
        "simulate",
        "givenergy-ac",
        "--listen",
        "127.0.0.1:0",
        "--latency",
        "1s",
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--drop-after") && stderr.contains("--heartbeat-every"),
        "{stderr}"
    );
    let (code, _stdout, stderr) = run(env.evctl().args([
        "simulate",
        "alfen-eve",
        "--listen",
        "127.0.0.1:0",
        "--heartbeat-every",
        "1s",
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("GivEnergy dongle maps"), "{stderr}");
}

/// The call from issue 12 against `evctl simulate` applying writes a second after it
/// acknowledges them, as real inverters do: read-back retries within the map's 3 s window and
/// confirms every register.
#[test]
fn givenergy_call_confirms_writes_the_inverter_applies_late() {
    let env = TestEnv::new();
    let sim = SimProcess::start(&env, &["givenergy-hybrid", "--apply-writes-after", "1s"]);
    let (code, stdout, stderr) = run(env.evctl().args([
        "call",
        "givenergy-hybrid",
        "setChargeSlot1",
        "start=0030",
        "finish=0430",
        "chargeToPercent=77",
        "-H",
        "127.0.0.1",
        "-p",
        &sim.port_arg(),
    ]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    for line in [
        "confirmed Charge_start_time_slot_1 = 30",
        "confirmed Charge_end_time_slot_1 = 430",
        "confirmed Target_SOC = 77",
    ] {
        assert!(stdout.contains(line), "no `{line}` in:\n{stdout}");
    }
}

/// A write the inverter applies later than the read-back window is reported "not
/// confirmed", naming the window waited and the value read last; exit 1.
#[test]
fn givenergy_call_names_the_wait_and_the_last_value_when_a_write_is_not_applied() {
    let env = TestEnv::new();
    let sim = SimProcess::start(&env, &["givenergy-hybrid", "--apply-writes-after", "60s"]);
    let (code, stdout, stderr) = run(env.evctl().args([
        "call",
        "givenergy-hybrid",
        "setChargeSlot1",
        "start=0030",
        "finish=0430",
        "chargeToPercent=77",
        "--confirm-within",
        "1s",
        "-H",
        "127.0.0.1",
        "-p",
        &sim.port_arg(),
    ]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("NOT confirmed: Charge_end_time_slot_1 reads 530, expected 430"),
        "{stdout}"
    );
    assert!(
        stderr.contains("did not show the value written within 1s")
            && stderr.contains("Charge_end_time_slot_1 (read 530, expected 430)"),
        "{stderr}"
    );
}
