//! End-to-end tests of `evctl em` against the simulated EVSEMaster charger over loopback UDP.
//!
//! The client side is the real `evctl` binary; the charger is either `evctl em simulate` (a
//! child process) or the in-process simulator from the `simulator` crate. Every socket is on
//! 127.0.0.1: the client's port is a free port found by binding port 0 (never 28376), and the
//! simulator announces to it. State goes to a temporary directory. Nothing here measures time:
//! waits are bounded by timeouts and the assertions are about outcomes.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use emproto::driver::{Driver, DriverConfig, DriverEvent};
use emproto::model::MetaState;
use emproto::session::{Change, SessionConfig};
use emproto::wire::{Password, Serial};
use simulator::em::{EmCharger, EmChargerConfig};

const SERIAL: &str = "0123456789abcdef";

/// A UDP port that was free a moment ago (the OS picks it).
fn free_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind port 0");
    s.local_addr().expect("local addr").port()
}

struct Client {
    port: u16,
    state: tempfile::TempDir,
}

impl Client {
    fn new() -> Self {
        Self {
            port: free_port(),
            state: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `evctl em <args>` on the test's port and state directory, with a clean environment.
    fn em(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_evctl"));
        cmd.env_clear()
            .env("HOME", self.state.path())
            .env("RUST_LOG", "warn")
            .arg("em")
            .args(args)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--state-dir")
            .arg(self.state.path())
            .args(["--wait", "15s"]);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.em(args)
            .stdin(Stdio::null())
            .output()
            .expect("run evctl")
    }

    fn state_file(&self) -> std::path::PathBuf {
        self.state.path().join("em-chargers.json")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn json(out: &Output, what: &str) -> serde_json::Value {
    serde_json::from_str(&assert_ok(out, what)).unwrap_or_else(|e| panic!("{what}: not JSON: {e}"))
}

/// `evctl em simulate` as a child process, killed on drop.
struct SimProcess(Child);

impl SimProcess {
    fn start(client: &Client, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_evctl"))
            .env_clear()
            .args([
                "em",
                "simulate",
                "--target",
                &client.target(),
                "--serial",
                SERIAL,
            ])
            .args([
                "--announce-every",
                "200ms",
                "--status-every",
                "500ms",
                "--duration",
                "300s",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn evctl em simulate");
        // The first line says where it listens; reading it means the socket is bound.
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("simulator banner");
        assert!(line.contains("simulated charger"), "{line}");
        assert!(
            !line.contains("123456\n") && !line.contains("654321"),
            "password printed: {line}"
        );
        Self(child)
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn file_mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .expect("state file")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn discover_login_status_config_start_stop_against_evctl_em_simulate() {
    let client = Client::new();
    let _sim = SimProcess::start(&client, &[]);

    // discover: the announcement reaches our port.
    let list = json(
        &client.run(&["discover", "--seconds", "2", "-f", "json"]),
        "discover",
    );
    let found = list
        .as_array()
        .expect("array")
        .iter()
        .find(|c| c["serial"] == SERIAL)
        .expect("listed");
    assert_eq!(found["online"], true);
    assert_eq!(found["brand"], "EVCTL");
    assert_eq!(found["has_password"], false);

    // login: by a part of the model, password from an environment variable; saved 0600.
    let out = client
        .em(&["login", "sim-1", "--password-env", "EM_TEST_PW"])
        .env("EM_TEST_PW", "123456")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    let stdout = assert_ok(&out, "login");
    assert!(stdout.contains("logged in to 0123456789abcdef"), "{stdout}");
    assert!(!stdout.contains("123456\n") && !text(&out.stderr).contains("123456 "));
    assert_eq!(file_mode(&client.state_file()), 0o600);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(client.state_file()).expect("read"))
            .expect("json");
    assert_eq!(saved["chargers"][0]["serial"], SERIAL);
    assert!(saved["chargers"][0]["password"].is_string());

    // status: logs in again with the saved password, the car is plugged in.
    let st = json(&client.run(&["status", "evctl", "-f", "json"]), "status");
    assert_eq!(st["serial"], SERIAL);
    assert_eq!(st["meta_state"], "plugged_in");
    assert_eq!(st["logged_in"], true);
    assert_eq!(st["info"]["max_current_a"], 32);
    let prom = assert_ok(
        &client.run(&["status", SERIAL, "-f", "prometheus"]),
        "status prometheus",
    );
    assert!(
        prom.contains(&format!(
            "evctl_em_online{{serial=\"{SERIAL}\",brand=\"EVCTL\",model=\"SIM-1P\"}} 1"
        )),
        "{prom}"
    );
    let influx = assert_ok(&client.run(&["status", "-f", "influx"]), "status influx");
    assert!(
        influx.starts_with(&format!(
            "evctl_em,serial={SERIAL},brand=EVCTL,model=SIM-1P online=true"
        )),
        "{influx}"
    );

    // config set, then config get reads the new values back from the charger.
    let out = client.run(&[
        "config",
        "set",
        "--name",
        "Garage",
        "--max-current",
        "10",
        "--temperature-unit",
        "fahrenheit",
    ]);
    let stdout = assert_ok(&out, "config set");
    assert!(
        stdout.contains("name \"Garage\"") && stdout.contains("max current 10 A"),
        "{stdout}"
    );
    let cfg = json(&client.run(&["config", "get", "-f", "json"]), "config get");
    assert_eq!(cfg["name"], "Garage");
    assert_eq!(cfg["max_current_a"], 10);
    assert_eq!(cfg["temperature_unit"], 2);

    // A current outside 6..max is refused before anything is sent: usage error.
    let out = client.run(&["start", "--amps", "40"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("40 A is outside"),
        "{}",
        text(&out.stderr)
    );

    // start: charging at the asked current.
    let stdout = assert_ok(
        &client.run(&["start", "--amps", "12", "--user", "tester"]),
        "start",
    );
    assert!(stdout.contains("charging started at 12 A"), "{stdout}");
    // Without a charger name, status lists every known charger.
    let all = json(
        &client.run(&["status", "-f", "json"]),
        "status while charging",
    );
    let st = &all[0];
    assert_eq!(st["meta_state"], "charging");
    assert!(
        st["state"]["power_w"].as_f64().expect("power") > 2000.0,
        "{st}"
    );

    // stop right after the start: the rate limit, remembered across runs, refuses it.
    let out = client.run(&["stop"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("wait"), "{}", text(&out.stderr));
    // --force overrides it, with a warning about wear.
    let out = client.run(&["stop", "--force"]);
    assert_ok(&out, "stop --force");
    assert!(text(&out.stderr).contains("contactors"));
    let st = json(
        &client.run(&["status", "0123", "-f", "json"]),
        "status after stop",
    );
    assert_eq!(st["meta_state"], "plugged_in");

    // A planned start two hours ahead (local time) is a reservation; stop cancels it.
    let at = jiff::Zoned::now()
        .checked_add(jiff::SignedDuration::from_hours(2))
        .expect("time")
        .strftime("%Y-%m-%dT%H:%M")
        .to_string();
    let stdout = assert_ok(
        &client.run(&["start", "--amps", "8", "--at", &at, "--force"]),
        "start --at",
    );
    assert!(stdout.contains("session planned"), "{stdout}");
    assert_ok(&client.run(&["stop", "--force"]), "stop a planned session");

    // watch prints the known charger, then its changes as they arrive.
    let out = client.run(&["watch", "sim", "--duration", "2s", "-f", "json"]);
    let stdout = assert_ok(&out, "watch");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines[0]["event"], "known");
    assert!(
        lines
            .iter()
            .any(|l| l["event"] == "changed" && l["charger"]["logged_in"] == true),
        "{stdout}"
    );

    // --dump shows the datagrams with the password masked.
    let out = client.run(&["status", "sim", "--dump", "-f", "json"]);
    assert_ok(&out, "status --dump");
    let dump = text(&out.stderr);
    assert!(
        dump.contains("-> 127.0.0.1:") && dump.contains("xxxxxxxxxxxx"),
        "{dump}"
    );
    assert!(
        !dump.contains("313233343536"),
        "password bytes leaked: {dump}"
    );
}

#[test]
fn starting_without_a_car_is_refused_by_the_charger() {
    let client = Client::new();
    let _sim = SimProcess::start(&client, &["--no-car"]);
    // The password piped on stdin (no terminal, no file, no variable).
    let mut child = client
        .em(&["login", SERIAL])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"123456\n")
        .expect("write");
    let out = child.wait_with_output().expect("run");
    assert_ok(&out, "login with the password on stdin");
    let human = assert_ok(&client.run(&["status", "sim"]), "status");
    insta::with_settings!({filters => vec![(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]")]}, {
        insta::assert_snapshot!("em_status_human_no_car", human);
    });
    let out = client.run(&["start", "--amps", "16"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not plugged in"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_wrong_password_is_a_clear_error_with_exit_status_1() {
    let client = Client::new();
    let _sim = SimProcess::start(&client, &["--password", "654321"]);
    let pw_file = client.state.path().join("pw.txt");
    std::fs::write(&pw_file, "123456\n").expect("write");
    let out = client
        .em(&["login", "0123"])
        .arg("--password-file")
        .arg(&pw_file)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "stdout: {}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("rejected the password"), "{stderr}");
    assert!(
        !stderr.contains("123456 ") && !stderr.contains("654321"),
        "{stderr}"
    );
    // Nothing wrong is saved as a password.
    let saved = std::fs::read_to_string(client.state_file()).unwrap_or_default();
    assert!(!saved.contains("\"password\""), "{saved}");
}

#[test]
fn usage_errors_exit_with_status_2() {
    let client = Client::new();
    let out = client
        .em(&["login", "x", "--password-env", "PW"])
        .env("PW", "12345")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = client.run(&["config", "set"]);
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_evctl"))
        .args([
            "em",
            "simulate",
            "--target",
            "192.0.2.1:28376",
            "--duration",
            "1s",
        ])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(2),
        "the simulator never leaves loopback"
    );
}

/// In-process client and charger over real UDP with shortened timers: a charger that goes
/// silent turns offline. (The exact 11 s of the spec are checked with a fake clock in the
/// session tests.)
#[tokio::test]
async fn a_silent_charger_turns_offline() {
    let state = tempfile::tempdir().expect("temp dir");
    let driver = Driver::start(DriverConfig {
        bind: "127.0.0.1:0".parse().expect("addr"),
        session: SessionConfig {
            offline_after: Duration::from_millis(800),
            logged_in_for: Duration::from_millis(1500),
            tick: Duration::from_millis(200),
            ..SessionConfig::default()
        },
        state_dir: Some(state.path().to_path_buf()),
        dump: false,
        min_switch_interval: Duration::from_secs(60),
    })
    .await
    .expect("driver");
    let mut cfg = EmChargerConfig::new(driver.local_addr());
    cfg.announce_every = Duration::from_millis(100);
    cfg.heading_every = Duration::from_millis(200);
    cfg.status_every = Duration::from_millis(200);
    let sim = EmCharger::start(cfg.clone()).await.expect("simulator");
    let serial: Serial = SERIAL.parse().expect("serial");
    let mut events = driver.subscribe();

    let wait = Duration::from_secs(10);
    driver
        .wait_for("announcement", wait, |v| {
            v.iter().any(|c| c.serial == serial).then_some(())
        })
        .await
        .expect("heard");
    driver
        .login(serial, Password::new("123456").expect("pw"))
        .await
        .expect("login");
    let view = driver
        .wait_for("status", wait, |v| {
            v.iter()
                .find(|c| c.serial == serial && c.state.is_some())
                .cloned()
        })
        .await
        .expect("status");
    assert_eq!(view.meta_state, MetaState::PluggedIn);
    assert!(sim.snapshot().client.is_some(), "the charger registered us");

    sim.set_silent(true);
    let view = driver
        .wait_for("offline", wait, |v| {
            v.iter().find(|c| c.serial == serial && !c.online).cloned()
        })
        .await
        .expect("goes offline");
    assert_eq!(view.meta_state, MetaState::Offline);
    assert!(!view.logged_in);
    let mut saw_offline = false;
    while let Ok(e) = events.try_recv() {
        if let DriverEvent::Changed(v, Change::Online(false)) = e {
            saw_offline |= v.serial == serial;
        }
    }
    assert!(saw_offline, "an Online(false) change event was sent");

    // It comes back when the charger speaks again.
    sim.set_silent(false);
    driver
        .wait_for("back online", wait, |v| {
            v.iter()
                .find(|c| c.serial == serial && c.logged_in)
                .cloned()
        })
        .await
        .expect("logged in again");
    driver.shutdown().await.expect("shutdown");
}

/// Two chargers at once, selected by a unique part of the serial; an ambiguous part is a usage
/// error.
#[tokio::test]
async fn several_chargers_are_selected_by_any_unique_part() {
    let client = Client::new();
    let target: SocketAddr = client.target().parse().expect("addr");
    let mut a = EmChargerConfig::new(target);
    a.announce_every = Duration::from_millis(200);
    a.status_every = Duration::from_millis(500);
    let mut b = a.clone();
    b.serial = "0123456789abff00".parse().expect("serial");
    b.model = "SIM-3P".into();
    b.phases = 3;
    let _sa = EmCharger::start(a).await.expect("sim a");
    let _sb = EmCharger::start(b).await.expect("sim b");

    let out = tokio::task::spawn_blocking({
        let cmd = client.em(&["discover", "--seconds", "2", "-f", "json"]);
        move || run_cmd(cmd)
    })
    .await
    .expect("join");
    let list: serde_json::Value = serde_json::from_str(&assert_ok(&out, "discover")).expect("json");
    assert_eq!(list.as_array().expect("array").len(), 2);
    let three = list
        .as_array()
        .expect("array")
        .iter()
        .find(|c| c["model"] == "SIM-3P")
        .expect("3P");
    assert_eq!(three["phases"], 3);

    for (pattern, code) in [("0123456789ab", Some(2)), ("sim-3", Some(0))] {
        let mut cmd = client.em(&["login", pattern, "--password-env", "PW"]);
        cmd.env("PW", "123456");
        let out = tokio::task::spawn_blocking(move || run_cmd(cmd))
            .await
            .expect("join");
        assert_eq!(out.status.code(), code, "{pattern}: {}", text(&out.stderr));
    }
}

fn run_cmd(mut cmd: Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run evctl")
}

/// The GetVersionResponse datagram in `--dump` output: its total length (header field).
fn version_reply_length(dump: &str) -> Option<usize> {
    dump.lines()
        .filter(|l| l.starts_with("<- "))
        .filter_map(|l| l.rsplit(' ').next())
        .find(|hex| hex.len() >= 42 && &hex[38..42] == "0106")
        .and_then(|hex| usize::from_str_radix(&hex[4..8], 16).ok())
}

/// Both firmware profiles of `evctl em simulate` work end to end (discover, login, status,
/// config): the BS20 sends a 36-byte version payload (a 61-byte datagram), the SQW49 37 bytes
/// with its supportNew byte (62), and the client accepts both.
#[test]
fn both_firmware_profiles_discover_login_status_and_config() {
    for (profile, datagram_len, support_new) in [
        ("bs20", 61, serde_json::Value::Null),
        ("sqw49", 62, serde_json::json!(1)),
    ] {
        let client = Client::new();
        let _sim = SimProcess::start(&client, &["--profile", profile]);
        let list = json(
            &client.run(&["discover", "--seconds", "2", "-f", "json"]),
            "discover",
        );
        assert!(
            list.as_array()
                .expect("array")
                .iter()
                .any(|c| c["serial"] == SERIAL && c["online"] == true),
            "{profile}: {list}"
        );
        let out = client
            .em(&["login", SERIAL, "--password-env", "EM_TEST_PW"])
            .env("EM_TEST_PW", "123456")
            .stdin(Stdio::null())
            .output()
            .expect("run");
        assert_ok(&out, "login");
        let st = json(&client.run(&["status", SERIAL, "-f", "json"]), "status");
        assert_eq!(st["logged_in"], true, "{profile}: {st}");
        assert_eq!(st["meta_state"], "plugged_in", "{profile}: {st}");

        let out = client.run(&["config", "get", "--dump", "-f", "json"]);
        let cfg = json(&out, "config get");
        assert_eq!(cfg["name"], "Simulated", "{profile}: {cfg}");
        assert_eq!(cfg["max_current_a"], 16, "{profile}: {cfg}");
        assert_eq!(
            version_reply_length(&text(&out.stderr)),
            Some(datagram_len),
            "{profile}: the version reply on the wire\n{}",
            text(&out.stderr)
        );
        let st = json(
            &client.run(&["status", SERIAL, "-f", "json"]),
            "status after config",
        );
        assert_eq!(st["info"]["support_new"], support_new, "{profile}: {st}");
        assert_eq!(
            st["info"]["software_version"], "evctl-sim-1",
            "{profile}: {st}"
        );
    }
}
