//! The InfluxDB output against a small recording HTTP server on loopback that can fail on
//! demand: 1.x and 2.x endpoints and authentication, batching, retries, the bounded buffer,
//! and the same server behind TLS with a throwaway CA (`tests/mqtt_tls/`) for `https://`.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use service::InfluxConfig;
use service::influx::Influx;
use tokio::sync::watch;

#[derive(Debug, Clone)]
struct Received {
    uri: String,
    authorization: Option<String>,
    body: String,
}

#[derive(Clone, Default)]
struct Db {
    received: Arc<Mutex<Vec<Received>>>,
    failing: Arc<AtomicBool>,
}

impl Db {
    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }
    fn lines(&self) -> Vec<String> {
        self.received()
            .iter()
            .flat_map(|r| r.body.lines().map(str::to_owned).collect::<Vec<_>>())
            .collect()
    }
}

async fn record(State(db): State<Db>, uri: Uri, headers: HeaderMap, body: String) -> StatusCode {
    if db.failing.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    db.received.lock().expect("lock").push(Received {
        uri: uri.to_string(),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body,
    });
    StatusCode::NO_CONTENT
}

async fn database() -> (Db, SocketAddr) {
    let db = Db::default();
    let app = Router::new().fallback(record).with_state(db.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (db, addr)
}

/// The recording server behind TLS: rustls with the test certificate for 127.0.0.1.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, peer)) = self.tcp.accept().await else {
                continue;
            };
            // A client that refuses our certificate ends the handshake: wait for the next.
            if let Ok(Ok(tls)) = tokio::time::timeout(common::WAIT, self.acceptor.accept(tcp)).await
            {
                return (tls, peer);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

fn tls_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/mqtt_tls")
        .join(name)
}

async fn tls_database() -> (Db, SocketAddr) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(tls_file("server.pem"))
        .expect("server.pem")
        .collect::<Result<_, _>>()
        .expect("certificates");
    let key = PrivateKeyDer::from_pem_file(tls_file("server.key")).expect("server.key");
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server certificate");
    let db = Db::default();
    let app = Router::new().fallback(record).with_state(db.clone());
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = tcp.local_addr().expect("addr");
    let listener = TlsListener {
        tcp,
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
    };
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (db, addr)
}

fn config(yaml: &str) -> InfluxConfig {
    serde_yaml::from_str(yaml).expect("influx config")
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    tokio::time::timeout(common::WAIT, async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_reach_influxdb_2_with_the_token() {
    let (db, addr) = database().await;
    let meter = common::modbus_simulator("eastron-sdm630", "127.0.0.1:0").await;
    let (service, _) = common::start(&format!(
        "devices:\n  meter: {{map: eastron-sdm630, host: 127.0.0.1, port: {}, interval: 100ms}}\n",
        meter.local_addr().port()
    ));
    let influx = Influx::new(&config(&format!(
        "{{url: 'http://{addr}', org: 'my org', bucket: energy, token: influx-secret, flush_interval: 100ms}}"
    )))
    .expect("writer");
    assert!(!format!("{influx:?}").contains("influx-secret"));
    let _follow = influx.follow(&service);
    let _writer = influx.spawn(service.stopping());
    eventually("three polls written", || db.lines().len() >= 3).await;
    let first = &db.received()[0];
    assert_eq!(
        first.uri,
        "/api/v2/write?org=my%20org&bucket=energy&precision=ns"
    );
    assert_eq!(first.authorization.as_deref(), Some("Token influx-secret"));
    let line = &db.lines()[0];
    assert!(line.starts_with("eastron-sdm630,device=meter"), "{line}");
    // Nanosecond time stamp at the end.
    let stamp = line.rsplit(' ').next().expect("time stamp");
    assert!(
        stamp.len() >= 19 && stamp.bytes().all(|b| b.is_ascii_digit()),
        "{line}"
    );
    assert!(influx.stats().written >= 3);
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influxdb_1_gets_database_and_basic_auth() {
    let (db, addr) = database().await;
    let influx = Influx::new(&config(&format!(
        "{{url: 'http://{addr}/', version: 1, database: home, retention_policy: autogen, username: evctl, password: pa55, flush_interval: 50ms}}"
    )))
    .expect("writer");
    let (_stop_tx, stop) = watch::channel(false);
    let _writer = influx.spawn(stop);
    influx.push_lines("m,device=x v=1 1\nm,device=x v=2 2\n");
    eventually("two lines", || db.lines().len() == 2).await;
    let first = &db.received()[0];
    assert_eq!(first.uri, "/write?db=home&precision=ns&rp=autogen");
    // base64("evctl:pa55")
    assert_eq!(
        first.authorization.as_deref(),
        Some("Basic ZXZjdGw6cGE1NQ==")
    );
    assert_eq!(db.lines(), ["m,device=x v=1 1", "m,device=x v=2 2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_bounded_by_batch_lines() {
    let (db, addr) = database().await;
    let influx = Influx::new(&config(&format!(
        "{{url: 'http://{addr}', org: o, bucket: b, batch_lines: 4, flush_interval: 10s}}"
    )))
    .expect("writer");
    let (_stop_tx, stop) = watch::channel(false);
    let _writer = influx.spawn(stop);
    let text: String = (0..10).map(|i| format!("m v={i} {i}\n")).collect();
    influx.push_lines(&text);
    // A full batch is sent without waiting for the 10 s flush interval, and what remains
    // follows at once, never more than 4 lines to a request.
    eventually("two full batches", || db.received().len() >= 2).await;
    let sizes: Vec<usize> = db
        .received()
        .iter()
        .map(|r| r.body.lines().count())
        .collect();
    assert_eq!(&sizes[..2], &[4, 4]);
    assert!(sizes.iter().all(|&n| n <= 4), "{sizes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_retried_and_the_oldest_lines_dropped() {
    let (db, addr) = database().await;
    db.failing.store(true, Ordering::SeqCst);
    let influx = Influx::new(&config(&format!(
        "{{url: 'http://{addr}', org: o, bucket: b, buffer_lines: 5, flush_interval: 50ms, max_backoff: 1s}}"
    )))
    .expect("writer");
    let (_stop_tx, stop) = watch::channel(false);
    let _writer = influx.spawn(stop);
    influx.push_lines("m v=1 1\nm v=2 2\nm v=3 3\n");
    eventually("a failed write", || influx.stats().failed_requests >= 1).await;
    influx.push_lines("m v=4 4\nm v=5 5\nm v=6 6\nm v=7 7\n");
    let stats = influx.stats();
    assert_eq!(stats.dropped, 2);
    assert_eq!(stats.buffered, 5);
    assert!(db.received().is_empty());

    db.failing.store(false, Ordering::SeqCst);
    eventually("the buffer written after recovery", || {
        influx.stats().buffered == 0
    })
    .await;
    // The newest five survived, in order; the two oldest were dropped and counted.
    assert_eq!(
        db.lines(),
        ["m v=3 3", "m v=4 4", "m v=5 5", "m v=6 6", "m v=7 7"]
    );
    let stats = influx.stats();
    assert_eq!((stats.written, stats.dropped), (5, 2));
    assert!(
        influx
            .metrics()
            .contains("evctl_influx_lines_dropped_total 2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_the_sites_ca_is_written_over_tls() {
    let (db, addr) = tls_database().await;
    let influx = Influx::new(&config(&format!(
        "{{url: 'https://{addr}', org: o, bucket: b, token: tls-secret, flush_interval: 50ms, tls: {{ca_file: '{}'}}}}",
        tls_file("ca.pem").display()
    )))
    .expect("writer");
    let (_stop_tx, stop) = watch::channel(false);
    let _writer = influx.spawn(stop);
    influx.push_lines("m,device=x v=1 1\nm,device=x v=2 2\n");
    eventually("two lines over TLS", || db.lines().len() == 2).await;
    let first = &db.received()[0];
    assert_eq!(first.uri, "/api/v2/write?org=o&bucket=b&precision=ns");
    assert_eq!(first.authorization.as_deref(), Some("Token tls-secret"));
    assert_eq!(influx.last_error(), None);
    assert_eq!(influx.stats().failed_requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_a_server_another_ca_signed_is_refused_and_says_why() {
    let (db, addr) = tls_database().await;
    let influx = Influx::new(&config(&format!(
        "{{url: 'https://{addr}', org: o, bucket: b, token: tls-secret, flush_interval: 50ms, max_backoff: 1s, tls: {{ca_file: '{}'}}}}",
        tls_file("other-ca.pem").display()
    )))
    .expect("writer");
    let (_stop_tx, stop) = watch::channel(false);
    let _writer = influx.spawn(stop);
    influx.push_lines("m,device=x v=1 1\n");
    eventually("a refused write", || influx.stats().failed_requests >= 1).await;
    let why = influx.last_error().expect("the failure is kept");
    assert!(why.contains("cannot reach InfluxDB"), "{why}");
    assert!(why.contains("certificate"), "{why}");
    assert!(!why.contains("tls-secret"), "{why}");
    // Nothing reached the server, and the line waits for a fixed certificate.
    assert!(db.received().is_empty());
    assert_eq!(influx.stats().buffered, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_the_tls_server_never_gets_an_answer_it_trusts() {
    let (db, addr) = tls_database().await;
    let influx = Influx::new(&config(&format!(
        "{{url: 'http://{addr}', org: o, bucket: b, flush_interval: 50ms, max_backoff: 1s, timeout: 1s}}"
    )))
    .expect("writer");
    let (_stop_tx, stop) = watch::channel(false);
    let _writer = influx.spawn(stop);
    influx.push_lines("m v=1 1\n");
    eventually("a failed write", || influx.stats().failed_requests >= 1).await;
    assert!(db.received().is_empty());
    assert_eq!(influx.stats().written, 0);
}

#[test]
fn bad_tls_settings_fail_at_start_with_the_file() {
    let missing = Influx::new(&config(
        "{url: 'https://127.0.0.1:8086', org: o, bucket: b, tls: {ca_file: /nonexistent/ca.pem}}",
    ))
    .expect_err("refused");
    let text = service::error_chain(&missing);
    assert!(text.starts_with("influx.tls: "), "{text}");
    assert!(text.contains("/nonexistent/ca.pem"), "{text}");
    let plain = Influx::new(&config(&format!(
        "{{url: 'http://127.0.0.1:8086', org: o, bucket: b, tls: {{ca_file: '{}'}}}}",
        tls_file("ca.pem").display()
    )))
    .expect_err("refused");
    assert!(plain.to_string().contains("write https://"), "{plain}");
}
