//! The endpoints the dashboard uses, over a real socket against simulated devices: the page and
//! its assets with their headers, a map's description, the history of a register, the site
//! totals from the maps' roles, the event stream, and the history's figures in `/metrics`.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{http, json, modbus_simulator, start, wait_available};
use service::Service;
use service::history::History;
use simulator::modbus::SimulatorHandle;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

struct Site {
    service: Service,
    addr: SocketAddr,
    _sims: Vec<SimulatorHandle>,
}

async fn site(history: bool) -> Site {
    let charger = modbus_simulator("vestel-evc04", "127.0.0.1:0").await;
    let meter = modbus_simulator("eastron-sdm630", "127.0.0.1:0").await;
    let config = format!(
        "devices:\n  charger: {{map: vestel-evc04, host: 127.0.0.1, port: {}, interval: 200ms, timeout: 2s}}\n  meter: {{map: eastron-sdm630, host: 127.0.0.1, port: {}, interval: 200ms, timeout: 2s}}\n",
        charger.local_addr().port(),
        meter.local_addr().port(),
    );
    let (service, _) = start(&config);
    let history = history.then(|| History::new(Duration::from_secs(60)));
    if let Some(history) = &history {
        history.follow(&service);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = service::http::router(
        service.clone(),
        None,
        service::http::Extras {
            influx: None,
            history,
        },
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    wait_available(&service, &["charger", "meter"]).await;
    Site {
        service,
        addr,
        _sims: vec![charger, meter],
    }
}

/// The status line and headers of a GET, lower-cased names, sorted, without the date.
async fn head(addr: SocketAddr, path: &str) -> (String, usize) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("request");
    let mut response = Vec::new();
    tokio::time::timeout(common::WAIT, stream.read_to_end(&mut response))
        .await
        .expect("in time")
        .expect("response");
    let text = String::from_utf8_lossy(&response).into_owned();
    let (headers, body) = text.split_once("\r\n\r\n").expect("headers");
    let mut lines: Vec<String> = headers.lines().map(str::to_owned).collect();
    let status = lines.remove(0);
    let mut kept: Vec<String> = lines
        .into_iter()
        .filter(|l| !l.to_ascii_lowercase().starts_with("date:"))
        .collect();
    kept.sort();
    (format!("{status}\n{}", kept.join("\n")), body.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_assets_come_from_the_binary_with_a_strict_policy() {
    let site = site(true).await;
    let (status, page) = http(site.addr, "GET", "/", None, None).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<script src=\"/dashboard.js\" defer></script>"),
        "{page}"
    );
    assert!(page.contains("href=\"/dashboard.css\""), "{page}");
    // Nothing from another origin: no absolute URL in any asset.
    for path in ["/", "/dashboard.js", "/dashboard.css"] {
        let (_, text) = http(site.addr, "GET", path, None, None).await;
        for line in text.lines() {
            let outside = line.contains("http://") || line.contains("https://");
            assert!(
                !outside || line.contains("http://www.w3.org/2000/svg"),
                "{path}: {line}"
            );
        }
    }
    let mut all = String::new();
    let mut weight = 0;
    for path in ["/", "/dashboard.js", "/dashboard.css"] {
        let (headers, bytes) = head(site.addr, path).await;
        weight += bytes;
        all.push_str(&format!("{path}\n{headers}\n\n"));
    }
    // Content lengths change with every edit of the assets: keep them out of the snapshot.
    let all: String = all
        .lines()
        .filter(|l| !l.starts_with("content-length:"))
        .map(|l| format!("{l}\n"))
        .collect();
    insta::assert_snapshot!(all);
    assert!(weight > 1000, "{weight}");
    site.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_map_is_described_by_group_with_its_write_rules_and_choices() {
    let site = site(true).await;
    let (status, body) = http(site.addr, "GET", "/devices/charger/map", None, None).await;
    assert_eq!(status, 200, "{body}");
    insta::assert_json_snapshot!(json(&body));
    let (status, body) = http(site.addr, "GET", "/devices/nope/map", None, None).await;
    assert_eq!(status, 404, "{body}");
    site.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_keeps_numeric_values_and_explains_what_it_cannot_give() {
    let site = site(true).await;
    let path = "/devices/charger/history?register=active_power_total";
    let points = tokio::time::timeout(common::WAIT, async {
        loop {
            let (status, body) = http(site.addr, "GET", path, None, None).await;
            assert_eq!(status, 200, "{body}");
            let answer = json(&body);
            let points = answer["points"].as_array().cloned().unwrap_or_default();
            if points.len() >= 3 {
                assert_eq!(answer["unit"], "W");
                // One minute at 200 ms: 300 points, one per poll.
                assert_eq!(answer["capacity"], 300);
                assert_eq!(answer["spacing_ms"], 200);
                return points;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("three points");
    for pair in points.windows(2) {
        assert!(pair[0][0].as_u64() <= pair[1][0].as_u64(), "{points:?}");
    }
    assert!(points.iter().all(|p| p[1] == 10530.0), "{points:?}");
    // An enumerated state is not charted.
    let (_, body) = http(
        site.addr,
        "GET",
        "/devices/charger/history?register=phase_switch",
        None,
        None,
    )
    .await;
    assert_eq!(json(&body)["points"], serde_json::json!([]));
    let cases = [
        ("/devices/charger/history", 400, "register=NAME"),
        (
            "/devices/charger/history?register=nope",
            404,
            "no register `nope`",
        ),
        ("/devices/nope/history?register=x", 404, "no device `nope`"),
    ];
    for (path, want, says) in cases {
        let (status, body) = http(site.addr, "GET", path, None, None).await;
        assert_eq!(status, want, "{path}: {body}");
        assert!(
            json(&body)["error"]
                .as_str()
                .is_some_and(|e| e.contains(says)),
            "{body}"
        );
    }
    let (_, metrics) = http(site.addr, "GET", "/metrics", None, None).await;
    let points: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("evctl_history_points "))
        .and_then(|v| v.parse().ok())
        .expect("history points in /metrics");
    assert!(points >= 3, "{metrics}");
    assert!(metrics.contains("evctl_history_bytes "), "{metrics}");
    site.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_history_the_endpoint_says_it_is_off() {
    let site = site(false).await;
    let (status, body) = http(
        site.addr,
        "GET",
        "/devices/charger/history?register=active_power_total",
        None,
        None,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("http.history"), "{body}");
    site.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_site_adds_up_the_roles_the_maps_declare() {
    let site = site(true).await;
    let (status, body) = http(site.addr, "GET", "/site", None, None).await;
    assert_eq!(status, 200, "{body}");
    insta::assert_json_snapshot!(json(&body));
    site.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stream_one_device_event_per_poll() {
    let site = site(true).await;
    let mut stream = tokio::net::TcpStream::connect(site.addr)
        .await
        .expect("connect");
    let request = format!(
        "GET /events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        site.addr
    );
    stream.write_all(request.as_bytes()).await.expect("request");
    let mut seen = String::new();
    let mut devices = std::collections::BTreeSet::new();
    tokio::time::timeout(common::WAIT, async {
        let mut buffer = [0u8; 8192];
        while devices.len() < 2 {
            let n = stream.read(&mut buffer).await.expect("read");
            assert!(n > 0, "the stream ended: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
            for line in seen.lines() {
                if let Some(data) = line.strip_prefix("data: ")
                    && let Ok(event) = serde_json::from_str::<serde_json::Value>(data)
                {
                    assert_eq!(event["available"], true, "{data}");
                    assert!(event["values"].is_object(), "{data}");
                    devices.insert(event["id"].as_str().unwrap_or_default().to_owned());
                }
            }
        }
    })
    .await
    .expect("events of both devices");
    assert!(seen.starts_with("HTTP/1.1 200 OK"), "{seen}");
    assert!(seen.contains("content-type: text/event-stream"), "{seen}");
    assert!(seen.contains("event: device\n"), "{seen}");
    assert_eq!(
        devices.into_iter().collect::<Vec<_>>(),
        ["charger", "meter"]
    );
    // The stream ends when the service stops (the last chunk of the chunked body), so a
    // server shutdown is not held up.
    site.service.shutdown().await;
    let ended = tokio::time::timeout(common::WAIT, async {
        let mut buffer = [0u8; 8192];
        while !seen.ends_with("0\r\n\r\n") {
            let n = stream.read(&mut buffer).await.expect("read");
            if n == 0 {
                break;
            }
            seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    })
    .await;
    assert!(ended.is_ok(), "the event stream outlived the service");
}
