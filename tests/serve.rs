//! End-to-end tests of `evctl serve`: the real binary against simulated devices on loopback,
//! its HTTP API reached over a real socket, a token from a file, a clean stop on SIGTERM.
//! Nothing here measures time: every wait is bounded and the assertions are about outcomes.

mod util;

#[path = "../crates/service/tests/common/broker.rs"]
mod broker;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use util::{Sim, TestEnv};

const WAIT: Duration = Duration::from_secs(30);

/// One HTTP/1.1 exchange over a fresh connection: status and body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, WAIT).expect("connect to evctl serve");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream.set_write_timeout(Some(WAIT)).expect("timeout");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read response");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// `evctl serve` running in the background, with its stderr collected.
struct Served {
    child: Child,
    addr: SocketAddr,
    log: mpsc::Receiver<String>,
}

impl Served {
    fn start(env: &TestEnv, config: &std::path::Path) -> Served {
        Served::start_with(env, config, &[])
    }

    /// As [`Served::start`], with more `serve` arguments (`--shard 0/2`).
    fn start_with(env: &TestEnv, config: &std::path::Path, extra: &[&str]) -> Served {
        let mut command = env.evctl();
        command
            .args(["serve", "--config"])
            .arg(config)
            .args(extra)
            .args(["--listen", "127.0.0.1:0"])
            .env("EVCTL_LOG", "debug");
        Served::spawn(command)
    }

    /// Starts `command` (an `evctl serve`) and waits for its start line, which names the HTTP
    /// address the OS chose.
    fn spawn(mut command: std::process::Command) -> Served {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start evctl serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + WAIT;
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("evctl serve logs its start line");
            if let Some(rest) = line.split("http=").nth(1) {
                let addr = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_matches('"');
                break addr.parse().unwrap_or_else(|_| panic!("address in {line}"));
            }
        };
        Served {
            child,
            addr,
            log: rx,
        }
    }

    /// Polls `GET path` until `pred` holds on the JSON body.
    fn wait_json(&self, path: &str, what: &str, pred: impl Fn(&serde_json::Value) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            let (status, body) = http(self.addr, "GET", path, None, "");
            if status == 200
                && serde_json::from_str::<serde_json::Value>(&body).is_ok_and(|j| pred(&j))
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {body}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then the exit status and everything logged.
    fn stop(mut self) -> (Option<i32>, Vec<String>) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let deadline = Instant::now() + WAIT;
        let code = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("evctl serve did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // Everything it wrote, up to the end of its stderr.
        let mut log = Vec::new();
        while let Ok(line) = self.log.recv_timeout(WAIT) {
            log.push(line);
        }
        (code, log)
    }
}

#[test]
fn serve_polls_serves_http_and_stops_on_sigterm() {
    let env = TestEnv::new();
    let charger = Sim::start("vestel-evc04");
    let meter = Sim::start("eastron-sdm630");
    env.write("token", "file-token-123\n");
    let config = env.write(
        "site.yaml",
        &format!(
            "http:\n  token_file: token\n\
             devices:\n  charger: {{map: vestel-evc04, host: 127.0.0.1, port: {}, interval: 200ms, timeout: 2s}}\n  meter: {{map: eastron-sdm630, host: 127.0.0.1, port: {}, interval: 200ms, timeout: 2s}}\n",
            charger.port(),
            meter.port()
        ),
    );
    // The token file is relative to the working directory (the test folder).
    let served = Served::start(&env, &config);
    served.wait_json("/healthz", "both devices available", |j| {
        j["available"] == 2
    });
    let (status, body) = http(served.addr, "GET", "/metrics", None, "");
    assert_eq!(status, 200);
    assert!(
        body.contains("evctl_device_up{device=\"charger\",map=\"vestel-evc04\"} 1"),
        "{body}"
    );
    assert!(body.contains("device=\"meter\""));

    let path = "/devices/charger/registers";
    let (status, body) = http(
        served.addr,
        "POST",
        path,
        Some("nope"),
        "{\"charging_current\": 12}",
    );
    assert_eq!(status, 401, "{body}");
    let (status, body) = http(
        served.addr,
        "POST",
        path,
        Some("file-token-123"),
        "{\"charging_current\": 12}",
    );
    assert_eq!(status, 200, "{body}");
    served.wait_json("/devices/charger", "the new setpoint read back", |j| {
        j["values"]["charging_current"] == 12
    });

    let (code, log) = served.stop();
    assert_eq!(code, Some(0), "{log:#?}");
    let all = log.join("\n");
    // The requests that carried the token are in the (debug) log; the token is not.
    assert!(all.contains("/devices/charger/registers"), "{all}");
    assert!(
        !all.contains("file-token-123"),
        "the token reached the log:\n{all}"
    );
}

#[test]
fn serve_check_lists_the_shard_and_a_typo_is_a_usage_error() {
    let env = TestEnv::new();
    let devices: String = (0..6)
        .map(|i| format!("  meter{i}: {{map: eastron-sdm630, host: 127.0.0.1, port: 1502}}\n"))
        .collect();
    let config = env.write("site.yaml", &format!("devices:\n{devices}"));
    let mut served_ids = Vec::new();
    for shard in ["0/2", "1/2"] {
        let output = env
            .evctl()
            .args(["serve", "--check", "--shard", shard, "--config"])
            .arg(&config)
            .output()
            .expect("run evctl serve --check");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        served_ids.extend(
            stdout
                .lines()
                .skip(1)
                .filter_map(|l| l.split_whitespace().next().map(str::to_owned)),
        );
    }
    served_ids.sort();
    let expected: Vec<String> = (0..6).map(|i| format!("meter{i}")).collect();
    assert_eq!(
        served_ids, expected,
        "the two shards split the site exactly"
    );

    let typo = env.write("typo.yaml", "htp:\n  listen: 127.0.0.1:0\n");
    let output = env
        .evctl()
        .args(["serve", "--check", "--config"])
        .arg(&typo)
        .output()
        .expect("run evctl serve");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown field `htp`"), "{stderr}");
}

#[test]
fn the_sample_serve_config_is_also_a_cli_site_config() {
    let env = TestEnv::new();
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/site-serve.yaml"
    );
    // The CLI's own parser accepts the file (it ignores the sections only serve reads)...
    let output = env
        .evctl()
        .args(["--config", sample, "describe", "garage"])
        .output()
        .expect("run evctl describe");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // ... and serve's: --check lists what it would serve, then names every missing secret
    // file (not only the first), and exits 2 because serve would not start without them.
    let output = env
        .evctl()
        .args(["--config", sample, "serve", "--check"])
        .output()
        .expect("run evctl serve --check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stdout}{stderr}");
    let served: Vec<&str> = stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        served,
        ["battery", "driveway", "garage", "main-meter"],
        "{stdout}"
    );
    for secret in [
        "/etc/evctl/http-token",
        "/etc/evctl/influx-token",
        "/etc/evctl/mqtt-password",
    ] {
        assert!(stderr.contains(secret), "{secret} not reported:\n{stderr}");
    }
    assert!(stderr.contains("3 problem(s)"), "{stderr}");
}

/// Everything an MQTT subscriber sees, collected by a thread: (topic, payload).
struct MqttWatcher {
    client: rumqttc::Client,
    seen: mpsc::Receiver<(String, String)>,
    history: Vec<(String, String)>,
}

impl MqttWatcher {
    fn connect(broker: SocketAddr, user: &str, password: &str, filters: &[&str]) -> MqttWatcher {
        let mut options =
            rumqttc::MqttOptions::new("e2e-watcher", broker.ip().to_string(), broker.port());
        options.set_credentials(user, password);
        options.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut connection) = rumqttc::Client::new(options, 256);
        let (tx, seen) = mpsc::channel();
        let (acks_tx, acks) = mpsc::channel();
        std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                        let message = (
                            p.topic.clone(),
                            String::from_utf8_lossy(&p.payload).into_owned(),
                        );
                        if tx.send(message).is_err() {
                            return;
                        }
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => {
                        let _ = acks_tx.send(());
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        for filter in filters {
            client
                .subscribe(*filter, rumqttc::QoS::AtLeastOnce)
                .expect("subscribe");
        }
        for _ in filters {
            acks.recv_timeout(WAIT).expect("SUBACK in time");
        }
        MqttWatcher {
            client,
            seen,
            history: Vec::new(),
        }
    }

    /// Waits (at most [`WAIT`]) until `done` holds on everything seen so far.
    fn wait_until(&mut self, what: &str, done: impl Fn(&[(String, String)]) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(&self.history) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.seen.recv_timeout(left) {
                Ok(message) => self.history.push(message),
                Err(_) => panic!("timed out waiting for {what}"),
            }
        }
    }

    /// Collects what has arrived, without waiting.
    fn drain(&mut self) {
        while let Ok(message) = self.seen.try_recv() {
            self.history.push(message);
        }
    }
}

/// The device ids a running `evctl serve` lists on its HTTP API.
fn served_ids(served: &Served) -> Vec<String> {
    let (status, body) = http(served.addr, "GET", "/devices", None, "");
    assert_eq!(status, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    list["devices"]
        .as_array()
        .expect("a list of devices")
        .iter()
        .filter_map(|d| d["id"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn two_shard_processes_split_the_site_on_one_broker_and_commands_reach_only_the_owner() {
    const USER: &str = "evctl";
    const PASSWORD: &str = "e2e-broker-pw";
    let (broker, _) = broker::start(USER, PASSWORD, None, WAIT);
    let env = TestEnv::new();
    env.write("mqtt-password", &format!("{PASSWORD}\n"));
    let ids = ["c0", "c1", "c2", "c3", "c4", "c5"];
    let sims: Vec<Sim> = ids.iter().map(|_| Sim::start("vestel-evc04")).collect();
    let devices: String = ids
        .iter()
        .zip(&sims)
        .map(|(id, sim)| {
            format!(
                "  {id}: {{map: vestel-evc04, host: 127.0.0.1, port: {}, interval: 200ms, timeout: 2s}}\n",
                sim.port()
            )
        })
        .collect();
    let config = env.write(
        "site.yaml",
        &format!(
            "mqtt: {{host: 127.0.0.1, port: {}, username: {USER}, password_file: mqtt-password, \
             topic_prefix: evctl, discovery_prefix: homeassistant}}\n\
             devices:\n{devices}",
            broker.port()
        ),
    );
    let mut watcher = MqttWatcher::connect(broker, USER, PASSWORD, &["evctl/#", "homeassistant/#"]);
    let shards = [
        Served::start_with(&env, &config, &["--shard", "0/2"]),
        Served::start_with(&env, &config, &["--shard", "1/2"]),
    ];

    // The two processes serve disjoint parts that together are the site.
    let owned: Vec<Vec<String>> = shards.iter().map(served_ids).collect();
    assert!(owned.iter().all(|o| !o.is_empty()), "{owned:?}");
    let mut all: Vec<String> = owned.concat();
    all.sort();
    assert_eq!(all, ids, "each device served exactly once: {owned:?}");
    let owner_of = |id: &str| {
        owned
            .iter()
            .position(|o| o.iter().any(|d| d == id))
            .expect("every device has an owner")
    };

    // Every device's state reaches the broker, and its discovery names one bridge: the same
    // bridge for all devices of one process, a different one for the other process.
    watcher.wait_until("every device's state and discovery", |h| {
        ids.iter().all(|id| {
            h.iter().any(|(t, _)| t == &format!("evctl/{id}/state"))
                && h.iter().any(|(t, _)| {
                    t.starts_with("homeassistant/") && t.contains(&format!("/evctl_{id}/"))
                })
        })
    });
    let mut bridge_of_shard: [Option<String>; 2] = [None, None];
    for id in ids {
        let node = format!("/evctl_{id}/");
        let bridges: std::collections::BTreeSet<String> = watcher
            .history
            .iter()
            .filter(|(t, _)| t.starts_with("homeassistant/") && t.contains(&node))
            .filter_map(|(_, p)| {
                serde_json::from_str::<serde_json::Value>(p).ok()?["availability"][0]["topic"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        assert_eq!(
            bridges.len(),
            1,
            "{id} is announced by one bridge: {bridges:?}"
        );
        let bridge = bridges.into_iter().next().expect("one bridge");
        let shard = owner_of(id);
        match &bridge_of_shard[shard] {
            Some(b) => assert_eq!(b, &bridge, "{id}"),
            None => bridge_of_shard[shard] = Some(bridge),
        }
    }
    assert_ne!(bridge_of_shard[0], bridge_of_shard[1]);

    // A command for each device: carried out once, by its owner alone.
    let map = util::built_in_map("vestel-evc04");
    let current = map
        .registers
        .iter()
        .find(|r| r.name == "charging_current")
        .expect("charging_current")
        .wire_address;
    for id in ids {
        watcher
            .client
            .publish(
                format!("evctl/{id}/set/charging_current"),
                rumqttc::QoS::AtLeastOnce,
                false,
                "12",
            )
            .expect("publish");
    }
    watcher.wait_until("a response for every command", |h| {
        ids.iter()
            .all(|id| h.iter().any(|(t, _)| t == &format!("evctl/{id}/response")))
    });
    // Stopped, neither process can answer later: the counts below are final.
    for served in shards {
        let (code, log) = served.stop();
        assert_eq!(code, Some(0), "{log:#?}");
    }
    watcher.drain();
    for (id, sim) in ids.iter().zip(&sims) {
        let responses: Vec<&String> = watcher
            .history
            .iter()
            .filter(|(t, _)| t == &format!("evctl/{id}/response"))
            .map(|(_, p)| p)
            .collect();
        assert_eq!(responses.len(), 1, "{id}: {responses:?}");
        assert!(responses[0].contains("\"ok\":true"), "{id}: {responses:?}");
        let writes = sim
            .modbus()
            .log()
            .entries()
            .iter()
            .filter(|e| e.address == current && matches!(e.function, 6 | 16))
            .count();
        assert_eq!(writes, 1, "{id} was written once, by its owner");
    }
}

/// `n` processes `evctl serve --shard auto` named `evctl-0` .. as a StatefulSet's pods are.
fn start_auto_shards(env: &TestEnv, config: &std::path::Path, n: usize) -> Vec<Served> {
    (0..n)
        .map(|i| {
            let mut command = env.evctl();
            command
                .args(["serve", "--config"])
                .arg(config)
                .args(["--shard", "auto", "--listen", "127.0.0.1:0"])
                .env("HOSTNAME", format!("evctl-{i}"))
                .env("EVCTL_SHARD_COUNT", n.to_string())
                .env_remove("EVCTL_SHARD_INDEX")
                .env("EVCTL_LOG", "info");
            Served::spawn(command)
        })
        .collect()
}

#[test]
fn four_auto_shards_serve_2000_devices_exactly_once_and_a_fifth_takes_a_fifth() {
    let env = TestEnv::new();
    // 2,000 meters on four simulated gateways (device ids differ, endpoints are shared).
    let sims: Vec<Sim> = (0..4).map(|_| Sim::start("eastron-sdm630")).collect();
    let mut config = String::from("poll: {interval: 60s}\ndevices:\n");
    for i in 0..2000 {
        let port = sims[i % sims.len()].port();
        config.push_str(&format!(
            "  meter-{i:04}: {{map: eastron-sdm630, host: 127.0.0.1, port: {port}}}\n"
        ));
    }
    env.write("big-site.yaml", &config);
    let path = env.path().join("big-site.yaml");

    let owners = |processes: &[Served]| -> std::collections::HashMap<String, usize> {
        let mut owner = std::collections::HashMap::new();
        for (i, served) in processes.iter().enumerate() {
            for id in served_ids(served) {
                if let Some(other) = owner.insert(id.clone(), i) {
                    panic!("{id} is served by evctl-{other} and evctl-{i}");
                }
            }
        }
        owner
    };
    let four = start_auto_shards(&env, &path, 4);
    let before = owners(&four);
    assert_eq!(before.len(), 2000, "every device is served exactly once");
    for served in four {
        served.stop();
    }

    let five = start_auto_shards(&env, &path, 5);
    let after = owners(&five);
    assert_eq!(after.len(), 2000, "every device is served exactly once");
    for served in five {
        served.stop();
    }
    let moved: Vec<&String> = before
        .iter()
        .filter(|(id, i)| after.get(*id) != Some(i))
        .map(|(id, _)| id)
        .collect();
    for id in &moved {
        assert_eq!(after[*id], 4, "{id} moved between old shards");
    }
    let fraction = moved.len() as f64 / 2000.0;
    eprintln!(
        "4 -> 5 auto shards: {} of 2000 devices moved ({fraction:.3})",
        moved.len()
    );
    assert!((fraction - 0.2).abs() < 0.04, "{fraction}");
}

#[test]
fn serve_polls_a_sunspec_device_whose_chain_is_the_maps_and_refuses_another_chain() {
    let env = TestEnv::new();
    // The sunspec map's own chain, and SolarEdge's fixed layout (common model of 65
    // registers): serve does not walk, the model headers are checked on every poll.
    let same = Sim::start("sunspec");
    let other = Sim::start("sunspec-inverter");
    let config = env.write(
        "site.yaml",
        &format!(
            "devices:\n  roof: {{map: sunspec, host: 127.0.0.1, port: {}, interval: 200ms, timeout: 2s}}\n  garage: {{map: sunspec, host: 127.0.0.1, port: {}, interval: 200ms, timeout: 2s}}\n",
            same.port(),
            other.port()
        ),
    );
    let served = Served::start(&env, &config);
    served.wait_json("/devices/roof", "the chain the map was expanded for", |j| {
        j["values"]["inverter_W"] == 2790.0
    });
    served.wait_json("/devices/garage", "another chain refused", |j| {
        j["available"] == false
            && j["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("common_L") && e.contains("66"))
    });
    let (code, log) = served.stop();
    assert_eq!(code, Some(0), "{log:#?}");
}
