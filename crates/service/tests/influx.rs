//! The InfluxDB output against a small recording HTTP server on loopback that can fail on
//! demand: 1.x and 2.x endpoints and authentication, batching, retries, the bounded buffer.

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
