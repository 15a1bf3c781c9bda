//! The InfluxDB output against a real InfluxDB, Debian's `influxdb` package (1.x), started on
//! loopback with https on and the throwaway certificate of `tests/mqtt_tls/`: a polled meter's
//! values are written over TLS and read back with InfluxQL. Without `influxd` on the PATH the
//! test says so and passes; `.ci/run` installs the package.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use service::InfluxConfig;
use service::influx::Influx;
use service::tls::{TlsFiles, client_config};

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

fn tls_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/mqtt_tls")
        .join(name)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// influxd, stopped when dropped.
struct Influxd {
    child: Child,
    log: PathBuf,
}

impl Drop for Influxd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_influxd(dir: &Path) -> Option<(Influxd, u16)> {
    if Command::new("influxd")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!(
            "SKIPPED: influxd is not installed (Debian package `influxdb`); the https test against a real InfluxDB did not run"
        );
        return None;
    }
    let http = free_port();
    let rpc = free_port();
    let d = dir.display();
    // Usage reporting off: nothing may leave loopback.
    let config = format!(
        "reporting-disabled = true\n\
         bind-address = \"127.0.0.1:{rpc}\"\n\
         [meta]\n  dir = \"{d}/meta\"\n\
         [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
         [http]\n  enabled = true\n  bind-address = \"127.0.0.1:{http}\"\n  log-enabled = false\n  \
         https-enabled = true\n  https-certificate = \"{}\"\n  https-private-key = \"{}\"\n\
         [monitor]\n  store-enabled = false\n\
         [continuous_queries]\n  enabled = false\n",
        tls_file("server.pem").display(),
        tls_file("server.key").display(),
    );
    let conf = dir.join("influxdb.conf");
    std::fs::write(&conf, config).expect("write influxdb.conf");
    let log = dir.join("influxd.log");
    let child = Command::new("influxd")
        .arg("-config")
        .arg(&conf)
        .stdout(Stdio::from(std::fs::File::create(&log).expect("log file")))
        .stderr(Stdio::from(
            std::fs::File::options()
                .append(true)
                .open(&log)
                .expect("log file"),
        ))
        .spawn()
        .expect("start influxd");
    Some((Influxd { child, log }, http))
}

fn https_client() -> HttpsClient {
    let files = TlsFiles {
        ca_file: Some(tls_file("ca.pem")),
        ..TlsFiles::default()
    };
    let tls = client_config(&files, "test").expect("the test CA");
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

/// One request; `None` while influxd does not answer yet.
async fn call(client: &HttpsClient, method: Method, url: &str) -> Option<(u16, String)> {
    let request = Request::builder()
        .method(method)
        .uri(url)
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = tokio::time::timeout(Duration::from_secs(5), client.request(request))
        .await
        .ok()?
        .ok()?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.ok()?.to_bytes();
    Some((status, String::from_utf8_lossy(&body).into_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polled_meter_reaches_a_real_influxdb_over_https() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some((influxd, port)) = start_influxd(dir.path()) else {
        return;
    };
    let base = format!("https://127.0.0.1:{port}");
    let client = https_client();
    let log = || std::fs::read_to_string(&influxd.log).unwrap_or_default();
    let ready = tokio::time::timeout(common::WAIT, async {
        loop {
            if let Some((204, _)) = call(&client, Method::GET, &format!("{base}/ping")).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        ready.is_ok(),
        "influxd did not answer /ping over https:\n{}",
        log()
    );
    let created = call(
        &client,
        Method::POST,
        &format!("{base}/query?q=CREATE%20DATABASE%20home"),
    )
    .await;
    assert!(matches!(created, Some((200, _))), "{created:?}\n{}", log());

    let meter = common::modbus_simulator("eastron-sdm630", "127.0.0.1:0").await;
    let (service, _) = common::start(&format!(
        "devices:\n  meter: {{map: eastron-sdm630, host: 127.0.0.1, port: {}, interval: 100ms}}\n",
        meter.local_addr().port()
    ));
    let config: InfluxConfig = serde_yaml::from_str(&format!(
        "{{url: '{base}', version: 1, database: home, flush_interval: 100ms, tls: {{ca_file: '{}'}}}}",
        tls_file("ca.pem").display()
    ))
    .expect("influx config");
    let influx = Influx::new(&config).expect("writer");
    let _follow = influx.follow(&service);
    let _writer = influx.spawn(service.stopping());

    // The meter's example voltage, as InfluxDB stored it.
    let query = format!(
        "{base}/query?db=home&q=SELECT%20last(voltage_l1)%20FROM%20%22eastron-sdm630%22%20WHERE%20device%3D%27meter%27"
    );
    let found = tokio::time::timeout(common::WAIT, async {
        loop {
            if let Some((200, body)) = call(&client, Method::GET, &query).await
                && body.contains("\"values\"")
            {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let body = found.unwrap_or_else(|_| {
        panic!(
            "no voltage in InfluxDB; writer: {:?}, {:?}\n{}",
            influx.stats(),
            influx.last_error(),
            log()
        )
    });
    let json: serde_json::Value = serde_json::from_str(&body).expect("InfluxQL answer");
    let value = &json["results"][0]["series"][0]["values"][0][1];
    let volts = value.as_f64().expect("a number");
    assert!((volts - 231.2).abs() < 0.01, "{body}");
    assert_eq!(influx.last_error(), None);
    assert_eq!(influx.stats().rejected, 0);
    service.shutdown().await;
}
