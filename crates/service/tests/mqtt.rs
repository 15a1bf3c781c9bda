//! MQTT against a real broker: rumqttd, started in this process on 127.0.0.1 and a free port,
//! with simulated Modbus devices (simulator crate) behind the service. A rumqttc client in the
//! test plays Home Assistant and the user.
//!
//! Every wait is bounded ([`WAIT`]); nothing here measures time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use device_maps::{DeviceMap, parse_map};
use modbus_core::Table;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use service::mqtt::{MqttConfig, MqttHandle, MqttTls};
use service::{DeviceSpec, Service, ServiceOptions};
use simulator::modbus::{Simulator, SimulatorHandle};
use tokio::sync::mpsc;

/// The longest any single wait may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);
const USER: &str = "evctl";
const PASSWORD: &str = "broker-s3cret";

const WALLBOX: &str = r#"
manufacturer: Demo
model: Wallbox
connection: {unit_ids: {main: 1}, address_base: 0, max_registers: 60}
registers:
  - {name: voltage, title: Voltage, address: 0, table: input, type: float32, unit: V, example: 230.5}
  - {name: energy, title: Energy, address: 2, table: input, type: uint32, scale: 0.1, unit: kWh,
     kind: counter, example: 1234.5}
  - {name: current_limit, title: Current Limit, address: 100, table: holding, type: uint16, unit: A,
     kind: setting, access: rw, write: {min: 6, max: 32, also: [0]}, example: 10}
  - {name: mode, title: Mode, address: 101, table: holding, type: uint16, kind: setting, access: rw,
     enum: {0: Off, 1: Solar, 2: Fast}, example: 1}
actions:
  boost:
    params:
      current: {type: int, min: 6, max: 32}
    writes:
      - set: {mode: 2, current_limit: current}
"#;

fn wallbox() -> Arc<DeviceMap> {
    Arc::new(parse_map("demo-wallbox", WALLBOX).expect("the test map is valid"))
}

#[path = "common/broker.rs"]
mod broker;

/// Starts rumqttd on 127.0.0.1 with user `USER` and password `PASSWORD`; returns its address
/// once it accepts connections. The broker lives as long as the test process.
fn start_broker() -> SocketAddr {
    start_brokers(false).0
}

/// Starts rumqttd with a plain listener and, if `tls`, a second one speaking TLS with the
/// certificate of `tests/mqtt_tls/server.pem` (signed by `ca.pem`); returns both addresses.
fn start_brokers(tls: bool) -> (SocketAddr, Option<SocketAddr>) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mqtt_tls");
    let files = tls.then(|| (format!("{dir}/server.pem"), format!("{dir}/server.key")));
    broker::start(USER, PASSWORD, files, WAIT)
}

/// A message seen by the watcher.
#[derive(Debug, Clone)]
struct Seen {
    topic: String,
    payload: String,
    retain: bool,
}

/// A plain MQTT client that records everything it receives on its subscriptions.
struct Watcher {
    client: AsyncClient,
    incoming: mpsc::UnboundedReceiver<Seen>,
    history: Vec<Seen>,
}

impl Watcher {
    async fn connect(broker: SocketAddr, id: &str, filters: &[&str]) -> Watcher {
        let mut options = MqttOptions::new(id, broker.ip().to_string(), broker.port());
        options.set_credentials(USER, PASSWORD);
        options.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut eventloop) = AsyncClient::new(options, 256);
        let (tx, incoming) = mpsc::unbounded_channel();
        let (acks_tx, mut acks) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let seen = Seen {
                            topic: p.topic.clone(),
                            payload: String::from_utf8_lossy(&p.payload).into_owned(),
                            retain: p.retain,
                        };
                        if tx.send(seen).is_err() {
                            return;
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = acks_tx.send(());
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        for filter in filters {
            client
                .subscribe(*filter, QoS::AtLeastOnce)
                .await
                .expect("subscribe");
        }
        for _ in filters {
            tokio::time::timeout(WAIT, acks.recv())
                .await
                .expect("SUBACK in time")
                .expect("watcher running");
        }
        Watcher {
            client,
            incoming,
            history: Vec::new(),
        }
    }

    /// How many messages have been seen so far (to wait for newer ones only).
    fn mark(&mut self) -> usize {
        while let Ok(seen) = self.incoming.try_recv() {
            self.history.push(seen);
        }
        self.history.len()
    }

    /// The first message on `topic` since `mark` whose payload satisfies `check`.
    async fn wait_since(&mut self, mark: usize, topic: &str, check: impl Fn(&str) -> bool) -> Seen {
        let found = |h: &[Seen]| {
            h.iter()
                .skip(mark)
                .find(|s| s.topic == topic && check(&s.payload))
                .cloned()
        };
        if let Some(seen) = found(&self.history) {
            return seen;
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let next = tokio::time::timeout_at(deadline, self.incoming.recv()).await;
            let Ok(Some(seen)) = next else {
                let topics: Vec<&str> = self.history.iter().map(|s| s.topic.as_str()).collect();
                panic!("no matching message on {topic} in time; seen: {topics:?}");
            };
            self.history.push(seen);
            if let Some(seen) = found(&self.history) {
                return seen;
            }
        }
    }

    async fn wait(&mut self, topic: &str, check: impl Fn(&str) -> bool) -> Seen {
        self.wait_since(0, topic, check).await
    }

    async fn publish(&self, topic: &str, payload: &str) {
        self.client
            .publish(
                topic,
                QoS::AtLeastOnce,
                false,
                Bytes::from(payload.to_owned()),
            )
            .await
            .expect("publish");
    }
}

impl Watcher {
    /// The first response of device topic `device` (`evctl/wallbox1`) since `mark`, as JSON.
    async fn response_since(&mut self, mark: usize, device: &str) -> serde_json::Value {
        let topic = format!("{device}/response");
        json(&self.wait_since(mark, &topic, |_| true).await.payload)
    }

    /// Publishes a command (`evctl/<device>/set/<name>` or `.../action/<name>`) and returns
    /// the device's response to it, as JSON.
    async fn command(&mut self, topic: &str, payload: &str) -> serde_json::Value {
        let device: Vec<&str> = topic.splitn(3, '/').take(2).collect();
        let response = format!("{}/response", device.join("/"));
        let mark = self.mark();
        self.publish(topic, payload).await;
        json(
            &self
                .wait_since(mark, &response, |p| json(p)["topic"] == topic)
                .await
                .payload,
        )
    }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A simulated wallbox and the spec that polls it.
async fn device(id: &str, map: &Arc<DeviceMap>) -> (SimulatorHandle, DeviceSpec) {
    let sim = Simulator::builder(map)
        .bind("127.0.0.1:0")
        .await
        .expect("simulator binds");
    let spec = DeviceSpec {
        id: id.to_owned(),
        map: Arc::clone(map),
        host: "127.0.0.1".to_owned(),
        port: Some(sim.local_addr().port()),
        units: map.units(),
        interval: Duration::from_millis(200),
        timeout: Duration::from_secs(2),
        verify: true,
        confirm: map.connection.write_confirm,
    };
    (sim, spec)
}

fn password_file() -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), format!("{PASSWORD}\n")).expect("write password");
    file
}

fn mqtt_config(
    broker: SocketAddr,
    client_id: &str,
    password: &tempfile::NamedTempFile,
) -> MqttConfig {
    MqttConfig {
        host: broker.ip().to_string(),
        port: broker.port(),
        username: Some(USER.to_owned()),
        password_file: Some(password.path().to_path_buf()),
        client_id: Some(client_id.to_owned()),
        min_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(500),
        keep_alive: Duration::from_secs(5),
        ..MqttConfig::default()
    }
}

fn writes(sim: &SimulatorHandle) -> usize {
    sim.log()
        .entries()
        .iter()
        .filter(|e| matches!(e.function, 5 | 6 | 15 | 16))
        .count()
}

fn holding(sim: &SimulatorHandle, address: u16) -> Option<u16> {
    sim.registers(1, Table::Holding, address, 1)
        .first()
        .copied()
        .flatten()
}

struct Site {
    service: Service,
    mqtt: MqttHandle,
}

/// One simulated wallbox `wallbox1`, served with MQTT client id `evctl-one`.
async fn one_device_site(
    broker: SocketAddr,
    password: &tempfile::NamedTempFile,
) -> (Site, SimulatorHandle) {
    let map = wallbox();
    let (sim, spec) = device("wallbox1", &map).await;
    let service = Service::start(vec![spec], ServiceOptions::default()).expect("service starts");
    let mqtt = service::mqtt::start(&service, &mqtt_config(broker, "evctl-one", password), None)
        .expect("mqtt starts");
    (Site { service, mqtt }, sim)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_and_state_reach_a_subscriber() {
    let broker = start_broker();
    let password = password_file();
    let mut watcher = Watcher::connect(broker, "watcher-1", &["homeassistant/#", "evctl/#"]).await;
    let (site, _sim) = one_device_site(broker, &password).await;
    assert_eq!(site.mqtt.client_id(), "evctl-one");

    watcher
        .wait("evctl/bridge/evctl-one/status", |p| p == "online")
        .await;
    let voltage = watcher
        .wait("homeassistant/sensor/evctl_wallbox1/voltage/config", |_| {
            true
        })
        .await;
    let config = json(&voltage.payload);
    assert_eq!(config["unique_id"], "evctl_wallbox1_voltage");
    assert_eq!(config["device_class"], "voltage");
    assert_eq!(config["state_class"], "measurement");
    assert_eq!(config["unit_of_measurement"], "V");
    assert_eq!(config["state_topic"], "evctl/wallbox1/state/voltage");
    assert_eq!(config["device"]["identifiers"][0], "evctl_wallbox1");
    assert_eq!(config["device"]["manufacturer"], "Demo");
    assert_eq!(config["device"]["model"], "Wallbox");
    assert_eq!(
        config["availability"][0]["topic"],
        "evctl/bridge/evctl-one/status"
    );
    assert_eq!(
        config["availability"][1]["topic"],
        "evctl/wallbox1/availability"
    );

    let energy = json(
        &watcher
            .wait("homeassistant/sensor/evctl_wallbox1/energy/config", |_| {
                true
            })
            .await
            .payload,
    );
    assert_eq!(energy["device_class"], "energy");
    assert_eq!(energy["state_class"], "total_increasing");
    assert_eq!(energy["unit_of_measurement"], "kWh");

    let limit = json(
        &watcher
            .wait(
                "homeassistant/number/evctl_wallbox1/current_limit/config",
                |_| true,
            )
            .await
            .payload,
    );
    assert_eq!(limit["command_topic"], "evctl/wallbox1/set/current_limit");
    assert_eq!(limit["min"], 0.0);
    assert_eq!(limit["max"], 32.0);
    assert_eq!(limit["step"], 1.0);

    let mode = json(
        &watcher
            .wait("homeassistant/select/evctl_wallbox1/mode/config", |_| true)
            .await
            .payload,
    );
    assert_eq!(mode["options"], serde_json::json!(["Off", "Solar", "Fast"]));

    let state = json(&watcher.wait("evctl/wallbox1/state", |_| true).await.payload);
    assert_eq!(state["voltage"], 230.5);
    assert_eq!(state["current_limit"], 10);
    watcher
        .wait("evctl/wallbox1/state/voltage", |p| p == "230.5")
        .await;
    watcher
        .wait("evctl/wallbox1/state/energy", |p| p == "1234.5")
        .await;
    watcher
        .wait("evctl/wallbox1/state/mode", |p| p == "Solar")
        .await;
    watcher
        .wait("evctl/wallbox1/availability", |p| p == "online")
        .await;

    // Discovery, state, values and availability are retained: a subscriber that comes later
    // (Home Assistant after a restart) gets them at once.
    let mut late = Watcher::connect(broker, "watcher-late", &["homeassistant/#", "evctl/#"]).await;
    for topic in [
        "homeassistant/sensor/evctl_wallbox1/voltage/config",
        "evctl/wallbox1/state",
        "evctl/wallbox1/state/voltage",
        "evctl/wallbox1/availability",
        "evctl/bridge/evctl-one/status",
    ] {
        assert!(
            late.wait(topic, |_| true).await.retain,
            "{topic} is retained"
        );
    }

    // A clean shutdown says goodbye: the bridge and its devices go offline.
    let mark = watcher.mark();
    site.mqtt.shutdown().await;
    watcher
        .wait_since(mark, "evctl/bridge/evctl-one/status", |p| p == "offline")
        .await;
    watcher
        .wait_since(mark, "evctl/wallbox1/availability", |p| p == "offline")
        .await;
    site.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_changes_the_simulated_device_and_is_read_back() {
    let broker = start_broker();
    let password = password_file();
    let mut watcher = Watcher::connect(broker, "watcher-2", &["evctl/#"]).await;
    let (site, sim) = one_device_site(broker, &password).await;
    watcher
        .wait("evctl/wallbox1/state/current_limit", |p| p == "10")
        .await;

    let mark = watcher.mark();
    let response = watcher
        .command("evctl/wallbox1/set/current_limit", "16")
        .await;
    assert_eq!(response["ok"], true, "{response}");
    assert_eq!(response["command"], "set");
    assert_eq!(response["name"], "current_limit");
    assert_eq!(response["topic"], "evctl/wallbox1/set/current_limit");
    assert_eq!(holding(&sim, 100), Some(16));
    // The service polls again after a command: the new value comes back on the state topics.
    watcher
        .wait_since(mark, "evctl/wallbox1/state/current_limit", |p| p == "16")
        .await;
    watcher
        .wait_since(mark, "evctl/wallbox1/state", |p| {
            json(p)["current_limit"] == 16
        })
        .await;

    // A select sends the label.
    let mark = watcher.mark();
    let response = watcher.command("evctl/wallbox1/set/mode", "Fast").await;
    assert_eq!(response["ok"], true, "{response}");
    assert_eq!(holding(&sim, 101), Some(2));
    watcher
        .wait_since(mark, "evctl/wallbox1/state/mode", |p| p == "Fast")
        .await;

    // An action takes its parameters as a JSON object.
    let response = watcher
        .command("evctl/wallbox1/action/boost", r#"{"current": 24}"#)
        .await;
    assert_eq!(response["ok"], true, "{response}");
    assert_eq!(response["command"], "action");
    assert_eq!(holding(&sim, 100), Some(24));
    assert_eq!(holding(&sim, 101), Some(2));

    site.mqtt.shutdown().await;
    site.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_command_gets_an_error_and_nothing_is_written() {
    let broker = start_broker();
    let password = password_file();
    let mut watcher = Watcher::connect(broker, "watcher-3", &["evctl/#"]).await;
    let (site, sim) = one_device_site(broker, &password).await;
    watcher
        .wait("evctl/wallbox1/availability", |p| p == "online")
        .await;

    let cases = [
        // Out of range (6..=32, or 0).
        ("evctl/wallbox1/set/current_limit", "99", "invalid", "99"),
        ("evctl/wallbox1/set/current_limit", "3", "invalid", "3"),
        // Not a value of the enumeration.
        ("evctl/wallbox1/set/mode", "Turbo", "invalid", "Turbo"),
        // Read-only register.
        ("evctl/wallbox1/set/voltage", "240", "invalid", "voltage"),
        // No such register.
        (
            "evctl/wallbox1/set/no_such_register",
            "1",
            "not_found",
            "no_such_register",
        ),
        // Empty payload.
        ("evctl/wallbox1/set/current_limit", "", "invalid", "empty"),
        // A parameter out of range, a payload that is not an object, an unknown action.
        (
            "evctl/wallbox1/action/boost",
            r#"{"current": 40}"#,
            "invalid",
            "current",
        ),
        (
            "evctl/wallbox1/action/boost",
            "current=16",
            "invalid",
            "JSON object",
        ),
        ("evctl/wallbox1/action/warp", "{}", "not_found", "warp"),
    ];
    for (topic, payload, reason, mentions) in cases {
        let response = watcher.command(topic, payload).await;
        assert_eq!(response["ok"], false, "{topic} {payload}: {response}");
        assert_eq!(response["reason"], reason, "{topic} {payload}: {response}");
        let error = response["error"].as_str().unwrap_or_default();
        assert!(error.contains(mentions), "{topic} {payload}: {error}");
    }
    // Every response has arrived, so every command has been handled: none wrote anything.
    assert_eq!(writes(&sim), 0, "{:?}", sim.log().entries());
    assert_eq!(holding(&sim, 100), Some(10));
    assert_eq!(holding(&sim, 101), Some(1));

    site.mqtt.shutdown().await;
    site.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_share_one_broker_and_commands_reach_only_the_owner() {
    let broker = start_broker();
    let password = password_file();
    let map = wallbox();
    let mut watcher = Watcher::connect(broker, "watcher-4", &["homeassistant/#", "evctl/#"]).await;

    // Two processes' worth of service: each serves one device of the site, with its own
    // client id, as `evctl serve --shard 0/2` and `--shard 1/2` would.
    let (sim_a, spec_a) = device("north", &map).await;
    let (sim_b, spec_b) = device("south", &map).await;
    let service_a = Service::start(vec![spec_a], ServiceOptions::default()).expect("start a");
    let service_b = Service::start(vec![spec_b], ServiceOptions::default()).expect("start b");
    let mqtt_a = service::mqtt::start(&service_a, &mqtt_config(broker, "evctl-a", &password), None)
        .expect("mqtt a");
    let mqtt_b = service::mqtt::start(&service_b, &mqtt_config(broker, "evctl-b", &password), None)
        .expect("mqtt b");

    // Each device is discovered with the availability of the process that owns it.
    for (device, owner) in [("north", "evctl-a"), ("south", "evctl-b")] {
        let topic = format!("homeassistant/number/evctl_{device}/current_limit/config");
        let config = json(&watcher.wait(&topic, |_| true).await.payload);
        assert_eq!(
            config["availability"][0]["topic"],
            format!("evctl/bridge/{owner}/status")
        );
        assert_eq!(
            config["command_topic"],
            format!("evctl/{device}/set/current_limit")
        );
        watcher
            .wait(&format!("evctl/{device}/state/current_limit"), |p| {
                p == "10"
            })
            .await;
    }
    // Neither process publishes the other's device: every discovery message of a device
    // names its owner's bridge.
    for (device, owner) in [("north", "evctl-a"), ("south", "evctl-b")] {
        let bridge = format!("evctl/bridge/{owner}/status");
        for entity in ["sensor/{}/voltage", "sensor/{}/energy", "select/{}/mode"] {
            let topic = format!(
                "homeassistant/{}/config",
                entity.replace("{}", &format!("evctl_{device}"))
            );
            watcher.wait(&topic, |_| true).await;
        }
        let node = format!("/evctl_{device}/");
        watcher.mark();
        let configs: Vec<&Seen> = watcher
            .history
            .iter()
            .filter(|s| s.topic.starts_with("homeassistant/") && s.topic.contains(&node))
            .collect();
        assert!(configs.len() >= 4, "{configs:?}");
        for seen in configs {
            assert_eq!(
                json(&seen.payload)["availability"][0]["topic"],
                bridge,
                "{seen:?}"
            );
        }
    }

    // A command for `north` is carried out by process a alone: only north's device is written.
    let response = watcher.command("evctl/north/set/current_limit", "16").await;
    assert_eq!(response["ok"], true, "{response}");
    // And one for `south` by process b alone.
    let response = watcher.command("evctl/south/set/current_limit", "20").await;
    assert_eq!(response["ok"], true, "{response}");
    assert_eq!(holding(&sim_a, 100), Some(16));
    assert_eq!(holding(&sim_b, 100), Some(20));
    assert_eq!(writes(&sim_a), 1, "{:?}", sim_a.log().entries());
    assert_eq!(writes(&sim_b), 1, "{:?}", sim_b.log().entries());
    let responses = |device: &str| {
        let topic = format!("evctl/{device}/response");
        watcher.history.iter().filter(|s| s.topic == topic).count()
    };
    assert_eq!((responses("north"), responses("south")), (1, 1));

    // When process b goes away, only its bridge goes offline; a stays online.
    let mark = watcher.mark();
    mqtt_b.shutdown().await;
    watcher
        .wait_since(mark, "evctl/bridge/evctl-b/status", |p| p == "offline")
        .await;
    assert!(mqtt_a.is_connected());
    assert!(
        !watcher.history[mark..]
            .iter()
            .any(|s| s.topic == "evctl/bridge/evctl-a/status" && s.payload == "offline")
    );

    mqtt_a.shutdown().await;
    service_a.shutdown().await;
    service_b.shutdown().await;
}

/// A TCP relay between the bridge and the broker that the test can cut and restore, to play
/// a network outage.
struct Relay {
    addr: SocketAddr,
    up: Arc<std::sync::atomic::AtomicBool>,
    links: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Relay {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind relay");
        let addr = listener.local_addr().expect("relay address");
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let links = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (up2, links2) = (Arc::clone(&up), Arc::clone(&links));
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound); // Refused: the network is down.
                    continue;
                }
                let link = tokio::spawn(async move {
                    let connect = tokio::net::TcpStream::connect(upstream);
                    if let Ok(Ok(mut outbound)) = tokio::time::timeout(WAIT, connect).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                links2.lock().expect("links").push(link);
            }
        });
        Relay { addr, up, links }
    }

    /// Drops every connection and refuses new ones.
    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().expect("links").drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_sent_during_an_outage_runs_after_the_reconnection() {
    let broker = start_broker();
    let password = password_file();
    let relay = Relay::start(broker).await;
    let mut watcher = Watcher::connect(broker, "watcher-5", &["evctl/#"]).await;
    let map = wallbox();
    let (sim, spec) = device("wallbox1", &map).await;
    let service = Service::start(vec![spec], ServiceOptions::default()).expect("service starts");
    // The bridge reaches the broker through the relay; the watcher directly.
    let mqtt = service::mqtt::start(
        &service,
        &mqtt_config(relay.addr, "evctl-outage", &password),
        None,
    )
    .expect("mqtt starts");
    watcher
        .wait("evctl/bridge/evctl-outage/status", |p| p == "online")
        .await;
    watcher
        .wait("evctl/wallbox1/state/current_limit", |p| p == "10")
        .await;

    // The network goes down: the broker publishes the bridge's last will.
    let mark = watcher.mark();
    relay.cut();
    watcher
        .wait_since(mark, "evctl/bridge/evctl-outage/status", |p| p == "offline")
        .await;

    // A command published now waits in the bridge's persistent session on the broker.
    watcher
        .publish("evctl/wallbox1/set/current_limit", "20")
        .await;
    // The watcher is subscribed to it too: once it comes back, the broker has routed it while
    // the bridge was away.
    watcher
        .wait_since(mark, "evctl/wallbox1/set/current_limit", |p| p == "20")
        .await;

    // The network comes back: the bridge reconnects, says it is online, and the queued
    // command is delivered and carried out.
    relay.restore();
    watcher
        .wait_since(mark, "evctl/bridge/evctl-outage/status", |p| p == "online")
        .await;
    let response = watcher.response_since(mark, "evctl/wallbox1").await;
    assert_eq!(response["ok"], true, "{response}");
    assert_eq!(holding(&sim, 100), Some(20));
    watcher
        .wait_since(mark, "evctl/wallbox1/state/current_limit", |p| p == "20")
        .await;

    mqtt.shutdown().await;
    service.shutdown().await;
}

/// Waits, at most [`WAIT`], until `condition` holds.
async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn tls_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/mqtt_tls")
        .join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_ca_file_and_refusal_of_a_broker_it_did_not_sign() {
    let (plain, secure) = start_brokers(true);
    let secure = secure.expect("a TLS listener");
    let password = password_file();
    let mut watcher = Watcher::connect(plain, "watcher-6", &["evctl/#"]).await;
    let map = wallbox();
    let (sim, spec) = device("wallbox1", &map).await;
    let service = Service::start(vec![spec], ServiceOptions::default()).expect("service starts");

    let mut config = mqtt_config(secure, "evctl-tls", &password);
    config.tls = Some(MqttTls {
        ca_file: Some(tls_file("ca.pem")),
        ..MqttTls::default()
    });
    let mqtt = service::mqtt::start(&service, &config, None).expect("mqtt starts");
    watcher
        .wait("evctl/bridge/evctl-tls/status", |p| p == "online")
        .await;
    watcher
        .wait("evctl/wallbox1/state/voltage", |p| p == "230.5")
        .await;
    let response = watcher
        .command("evctl/wallbox1/set/current_limit", "16")
        .await;
    assert_eq!(response["ok"], true, "{response}");
    assert_eq!(holding(&sim, 100), Some(16));
    mqtt.shutdown().await;

    // The same broker, but trusting only a CA that did not sign its certificate: refused.
    let mut config = mqtt_config(secure, "evctl-tls-other-ca", &password);
    config.tls = Some(MqttTls {
        ca_file: Some(tls_file("other-ca.pem")),
        ..MqttTls::default()
    });
    let mqtt = service::mqtt::start(&service, &config, None).expect("mqtt starts");
    wait_until("a TLS error", || mqtt.last_error().is_some()).await;
    let error = mqtt.last_error().unwrap_or_default();
    assert!(
        error.contains("TLS") && error.contains("certificate"),
        "{error}"
    );
    assert!(!mqtt.is_connected());
    mqtt.shutdown().await;
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_and_never_shown() {
    let broker = start_broker();
    let map = wallbox();
    let (_sim, spec) = device("wallbox1", &map).await;
    let service = Service::start(vec![spec], ServiceOptions::default()).expect("service starts");
    let config = MqttConfig {
        host: broker.ip().to_string(),
        port: broker.port(),
        username: Some(USER.to_owned()),
        password: Some(service::Secret::new("not-the-Password-42")),
        client_id: Some("evctl-wrong".to_owned()),
        min_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        ..MqttConfig::default()
    };
    assert!(!format!("{config:?}").contains("not-the-Password-42"));
    let mqtt = service::mqtt::start(&service, &config, None).expect("mqtt starts");
    assert!(!format!("{mqtt:?}").contains("not-the-Password-42"));
    wait_until("a refusal", || mqtt.last_error().is_some()).await;
    let error = mqtt.last_error().unwrap_or_default();
    assert!(!error.contains("not-the-Password-42"), "{error}");
    assert!(!mqtt.is_connected());
    mqtt.shutdown().await;
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_resharding_a_kept_session_serves_the_new_devices() {
    let broker = start_broker();
    let password = password_file();
    let map = wallbox();
    let mut watcher = Watcher::connect(broker, "watcher-7", &["evctl/#"]).await;
    let (sim_a, spec_a) = device("east", &map).await;
    let (sim_b, spec_b) = device("west", &map).await;

    // First run: the process serves `east` only; its session stays on the broker afterwards.
    let service = Service::start(vec![spec_a], ServiceOptions::default()).expect("start");
    let config = mqtt_config(broker, "evctl-reshard", &password);
    let mqtt = service::mqtt::start(&service, &config, None).expect("mqtt");
    watcher
        .wait("evctl/east/state/current_limit", |p| p == "10")
        .await;
    mqtt.shutdown().await;
    service.shutdown().await;

    // Second run, same client id (the broker resumes the session): `west` moved here, `east`
    // moved elsewhere.
    let mark = watcher.mark();
    let service = Service::start(vec![spec_b], ServiceOptions::default()).expect("start");
    let mqtt = service::mqtt::start(&service, &config, None).expect("mqtt");
    watcher
        .wait_since(mark, "evctl/west/state/current_limit", |p| p == "10")
        .await;
    watcher.publish("evctl/east/set/current_limit", "12").await;
    watcher.publish("evctl/west/set/current_limit", "14").await;
    let response = watcher.response_since(mark, "evctl/west").await;
    assert_eq!(response["ok"], true, "{response}");
    assert_eq!(holding(&sim_b, 100), Some(14));
    // `east` is not this process's any more: the old session may still deliver its command,
    // but nothing answers it and nothing is written.
    assert_eq!(writes(&sim_a), 0, "{:?}", sim_a.log().entries());
    assert!(
        !watcher.history[mark..]
            .iter()
            .any(|s| s.topic == "evctl/east/response")
    );
    mqtt.shutdown().await;
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_outage_shows_as_offline_and_recovers() {
    let broker = start_broker();
    let password = password_file();
    let mut watcher = Watcher::connect(broker, "watcher-8", &["evctl/#"]).await;
    let map = wallbox();
    let (sim, mut spec) = device("wallbox1", &map).await;
    spec.timeout = Duration::from_millis(300);
    let port = sim.local_addr().port();
    let service = Service::start(vec![spec], ServiceOptions::default()).expect("service starts");
    let mqtt = service::mqtt::start(&service, &mqtt_config(broker, "evctl-out", &password), None)
        .expect("mqtt starts");
    watcher
        .wait("evctl/wallbox1/availability", |p| p == "online")
        .await;
    watcher
        .wait("evctl/wallbox1/state/voltage", |p| p == "230.5")
        .await;

    // The device goes away: it is marked offline, and its values are never replaced by zeros.
    let mark = watcher.mark();
    sim.shutdown().await;
    watcher
        .wait_since(mark, "evctl/wallbox1/availability", |p| p == "offline")
        .await;
    watcher.mark();
    assert!(
        watcher.history[mark..]
            .iter()
            .filter(|s| s.topic == "evctl/wallbox1/state/voltage")
            .all(|s| s.payload == "230.5")
    );

    // It comes back on the same port: online again, by itself.
    let mark = watcher.mark();
    let mut again = None;
    for _ in 0..50 {
        match Simulator::builder(&map)
            .bind(&format!("127.0.0.1:{port}"))
            .await
        {
            Ok(handle) => {
                again = Some(handle);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let _again = again.expect("the port can be bound again");
    watcher
        .wait_since(mark, "evctl/wallbox1/availability", |p| p == "online")
        .await;
    mqtt.shutdown().await;
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_of_removed_devices_and_registers_is_deleted_on_the_next_start() {
    let broker = start_broker();
    let password = password_file();
    let mut watcher = Watcher::connect(broker, "watcher-cleanup", &["homeassistant/#"]).await;
    // Left over from an earlier site config: a device no longer configured, a register the
    // map no longer has, and another program's entity, which must stay.
    let stale_device = "homeassistant/sensor/evctl_oldmeter/voltage/config";
    let stale_register = "homeassistant/sensor/evctl_wallbox1/frequency/config";
    let foreign = "homeassistant/sensor/shelly_plug/power/config";
    for topic in [stale_device, stale_register, foreign] {
        watcher
            .client
            .publish(
                topic,
                QoS::AtLeastOnce,
                true,
                Bytes::from_static(b"{\"name\":\"x\"}"),
            )
            .await
            .expect("publish");
    }
    for topic in [stale_device, stale_register, foreign] {
        watcher.wait(topic, |p| !p.is_empty()).await;
    }
    let mark = watcher.mark();
    let (site, _sim) = one_device_site(broker, &password).await;
    watcher.wait_since(mark, stale_device, str::is_empty).await;
    watcher
        .wait_since(mark, stale_register, str::is_empty)
        .await;
    // The action with a parameter is a text entity taking a JSON object.
    let boost = json(
        &watcher
            .wait("homeassistant/text/evctl_wallbox1/boost/config", |_| true)
            .await
            .payload,
    );
    assert_eq!(boost["command_topic"], "evctl/wallbox1/action/boost");
    assert_eq!(boost["mode"], "text");
    site.mqtt.shutdown().await;
    site.service.shutdown().await;

    // A fresh subscriber sees what is retained now: the foreign entity and ours, no stale one.
    let mut fresh = Watcher::connect(broker, "watcher-fresh", &["homeassistant/#"]).await;
    fresh.wait(foreign, |p| !p.is_empty()).await;
    fresh
        .wait("homeassistant/sensor/evctl_wallbox1/voltage/config", |p| {
            !p.is_empty()
        })
        .await;
    let retained: Vec<String> = {
        fresh.mark();
        fresh
            .history
            .iter()
            .filter(|s| s.retain && !s.payload.is_empty())
            .map(|s| s.topic.clone())
            .collect()
    };
    assert!(
        !retained
            .iter()
            .any(|t| t == stale_device || t == stale_register),
        "{retained:?}"
    );
}
