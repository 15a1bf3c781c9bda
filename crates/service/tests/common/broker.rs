//! An MQTT broker (rumqttd) in the test process, on 127.0.0.1 and free ports, with one user.
//! Shared by the service's MQTT tests and the `evctl serve` end-to-end tests (`#[path]`).

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A free port on loopback: bind port 0, read the port, let it go.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local address").port()
}

/// Starts rumqttd accepting `user` with `password` on a plain listener and, with `tls`
/// (certificate and key files), a second one speaking TLS; returns both addresses once they
/// accept connections (waiting at most `wait`). The broker lives as long as the process.
pub fn start(
    user: &str,
    password: &str,
    tls: Option<(String, String)>,
    wait: Duration,
) -> (SocketAddr, Option<SocketAddr>) {
    use rumqttd::{Config, RouterConfig, TlsConfig};
    let plain: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let auth = HashMap::from([(user.to_owned(), password.to_owned())]);
    let mut servers = HashMap::from([("plain".to_owned(), listener(plain, None, &auth))]);
    let secure = tls.map(|(certpath, keypath)| {
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let tls = TlsConfig::Rustls {
            capath: None,
            certpath,
            keypath,
        };
        servers.insert("tls".to_owned(), listener(addr, Some(tls), &auth));
        addr
    });
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections: 100,
            max_outgoing_packet_count: 1000,
            max_segment_size: 1 << 20,
            max_segment_count: 10,
            ..RouterConfig::default()
        },
        v4: Some(servers),
        ..Config::default()
    };
    std::thread::spawn(move || {
        let mut broker = rumqttd::Broker::new(config);
        if let Err(e) = broker.start() {
            eprintln!("rumqttd stopped: {e}");
        }
    });
    let deadline = Instant::now() + wait;
    for addr in std::iter::once(plain).chain(secure) {
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "rumqttd did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    (plain, secure)
}

fn listener(
    addr: SocketAddr,
    tls: Option<rumqttd::TlsConfig>,
    auth: &HashMap<String, String>,
) -> rumqttd::ServerSettings {
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 5000,
        max_payload_size: 1 << 20,
        max_inflight_count: 100,
        auth: Some(auth.clone()),
        external_auth: None,
        dynamic_filters: true,
    };
    rumqttd::ServerSettings {
        name: addr.to_string(),
        listen: addr,
        tls,
        next_connection_delay_ms: 1,
        connections,
    }
}
