//! The HTTP API against simulated devices over loopback: every endpoint, the token rules and
//! the validation errors.

mod common;

use std::net::SocketAddr;

use common::{http, json, modbus_simulator, start, wait_available};
use modbus_core::Table;
use service::{Secret, Service};
use simulator::dongle::{DongleSimulator, DongleSimulatorHandle};
use simulator::modbus::{Simulator, SimulatorHandle};

const TOKEN: &str = "s3cret-token-for-tests";

struct Site {
    service: Service,
    addr: SocketAddr,
    charger: SimulatorHandle,
    _meter: SimulatorHandle,
    inverter: DongleSimulatorHandle,
}

async fn site(token: Option<&str>) -> Site {
    let charger = modbus_simulator("vestel-evc04", "127.0.0.1:0").await;
    let meter = modbus_simulator("eastron-sdm630", "127.0.0.1:0").await;
    let inverter_map = common::map("givenergy-hybrid");
    let bank = Simulator::builder(&inverter_map).bank().expect("bank");
    let inverter = DongleSimulator::builder(bank)
        .read_only_from_map(&inverter_map, &inverter_map.units())
        .bind("127.0.0.1:0")
        .await
        .expect("dongle simulator binds");
    let config = format!(
        "devices:\n  charger: {{map: vestel-evc04, host: 127.0.0.1, port: {}, interval: 200ms, timeout: 2s}}\n  meter: {{map: eastron-sdm630, host: 127.0.0.1, port: {}, interval: 200ms, timeout: 2s}}\n  inverter: {{map: givenergy-hybrid, host: 127.0.0.1, port: {}, interval: 500ms, timeout: 3s}}\n",
        charger.local_addr().port(),
        meter.local_addr().port(),
        inverter.local_addr().port(),
    );
    let (service, _) = start(&config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = service::http::router(
        service.clone(),
        token.map(Secret::new),
        service::http::Extras::default(),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    wait_available(&service, &["charger", "meter", "inverter"]).await;
    Site {
        service,
        addr,
        charger,
        _meter: meter,
        inverter,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_endpoints_serve_every_device() {
    let site = site(None).await;

    let (status, body) = http(site.addr, "GET", "/healthz", None, None).await;
    assert_eq!(status, 200, "{body}");
    let health = json(&body);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["devices"], 3);

    let (status, body) = http(site.addr, "GET", "/devices", None, None).await;
    assert_eq!(status, 200, "{body}");
    let list = json(&body);
    let ids: Vec<&str> = list["devices"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    assert_eq!(ids, ["charger", "inverter", "meter"]);
    assert_eq!(list["devices"][2]["map"], "eastron-sdm630");
    assert_eq!(list["devices"][2]["available"], true);

    let (status, body) = http(site.addr, "GET", "/devices/meter", None, None).await;
    assert_eq!(status, 200, "{body}");
    let meter = json(&body);
    assert_eq!(meter["id"], "meter");
    assert_eq!(meter["available"], true);
    assert!(
        meter["read_at"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{meter}"
    );
    assert!(
        meter["age_seconds"].as_f64().is_some_and(|a| a >= 0.0),
        "{meter}"
    );
    assert_eq!(meter["stale"], serde_json::json!([]));
    let values = meter["values"].as_object().expect("values object");
    assert!(values.len() > 10, "{meter}");

    let (status, body) = http(
        site.addr,
        "GET",
        "/devices/inverter?nested=true",
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(json(&body)["values"].is_object());

    let (status, body) = http(site.addr, "GET", "/metrics", None, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("device=\"meter\""), "{body}");
    assert!(body.contains("device=\"charger\""), "{body}");
    assert!(body.contains("evctl_device_up{device=\"meter\",map=\"eastron-sdm630\"} 1"));
    // Every family's HELP once, however many devices share it.
    let mut helps: Vec<&str> = body.lines().filter(|l| l.starts_with("# HELP ")).collect();
    let total = helps.len();
    helps.sort_unstable();
    helps.dedup();
    assert_eq!(helps.len(), total, "duplicate HELP lines");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_things_are_404_json_and_an_unknown_register_is_400() {
    let site = site(Some(TOKEN)).await;
    for (method, path, body) in [
        ("GET", "/devices/nope", None),
        ("GET", "/nothing/here", None),
        (
            "POST",
            "/devices/nope/registers",
            Some("{\"charging_current\": 16}"),
        ),
        ("POST", "/devices/inverter/actions/noSuchAction", Some("{}")),
    ] {
        let (status, text) = http(site.addr, method, path, Some(TOKEN), body).await;
        assert_eq!(status, 404, "{method} {path}: {text}");
        assert!(json(&text)["error"].as_str().is_some(), "{text}");
    }
    // A register is part of the body, not the URL: an unknown one fails validation.
    let (status, text) = http(
        site.addr,
        "POST",
        "/devices/charger/registers",
        Some(TOKEN),
        Some("{\"no_such_register\": 1}"),
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains("no register `no_such_register`"),
        "the cause names the register: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_off_without_a_configured_token() {
    let site = site(None).await;
    let (status, body) = http(
        site.addr,
        "POST",
        "/devices/charger/registers",
        Some("anything"),
        Some("{\"charging_current\": 16}"),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        json(&body)["error"]
            .as_str()
            .is_some_and(|e| e.contains("token"))
    );
    let (status, _) = http(
        site.addr,
        "POST",
        "/devices/inverter/actions/enableChargeTarget",
        None,
        None,
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_need_the_right_token() {
    let site = site(Some(TOKEN)).await;
    let path = "/devices/charger/registers";
    let body = Some("{\"charging_current\": 10}");
    let (status, text) = http(site.addr, "POST", path, None, body).await;
    assert_eq!(status, 401, "{text}");
    let (status, text) = http(site.addr, "POST", path, Some("wrong-token"), body).await;
    assert_eq!(status, 401, "{text}");
    assert!(!text.contains(TOKEN));
    let (status, text) = http(site.addr, "POST", path, Some(&TOKEN[..5]), body).await;
    assert_eq!(status, 401, "{text}");
    // Nothing was written by the refused requests.
    assert!(
        site.charger
            .log()
            .entries()
            .iter()
            .all(|e| e.address != 5004 || !matches!(e.function, 6 | 16)),
        "a refused request reached the device"
    );

    let (status, text) = http(site.addr, "POST", path, Some(TOKEN), body).await;
    assert_eq!(status, 200, "{text}");
    let report = json(&text);
    assert_eq!(report["device"], "charger");
    assert_eq!(report["sent"].as_array().map(Vec::len), Some(1), "{text}");
    let unit = common::map("vestel-evc04").units().main_id();
    assert_eq!(
        site.charger.registers(unit, Table::Holding, 5004, 1),
        [Some(10)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_errors_are_400_and_send_nothing() {
    let site = site(Some(TOKEN)).await;
    let before = site.charger.log().len();
    for body in [
        "{\"charging_current\": 99}",    // above evse_max_current
        "{\"charging_current\": \"x\"}", // not a number
        "{\"charging_current\": [1]}",   // not a value
        "{\"serial_number\": \"x\"}",    // read-only (or unknown: 400/404 both refuse)
        "not json",
        "",
    ] {
        let (status, text) = http(
            site.addr,
            "POST",
            "/devices/charger/registers",
            Some(TOKEN),
            Some(body),
        )
        .await;
        assert!(
            status == 400 || (status == 404 && body.contains("serial")),
            "{body}: {status} {text}"
        );
        let error = json(&text);
        assert!(error["error"].as_str().is_some(), "{text}");
    }
    let (status, text) = http(
        site.addr,
        "POST",
        "/devices/charger/registers",
        Some(TOKEN),
        Some("{\"charging_current\": 99}"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(text.contains("charging_current"), "{text}");
    // The checks may read bounds (evse_max_current), but write nothing.
    let writes = site.charger.log().entries()[before..]
        .iter()
        .filter(|e| matches!(e.function, 5 | 6 | 15 | 16))
        .count();
    assert_eq!(writes, 0);

    let (status, text) = http(
        site.addr,
        "POST",
        "/devices/inverter/actions/setChargeTarget",
        Some(TOKEN),
        Some("{\"chargeToPercent\": 2}"),
    )
    .await;
    assert_eq!(status, 400, "{text}");
    let (status, text) = http(
        site.addr,
        "POST",
        "/devices/inverter/actions/setChargeTarget",
        Some(TOKEN),
        Some("{\"bogus\": 2}"),
    )
    .await;
    assert_eq!(status, 400, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_changes_the_device() {
    let site = site(Some(TOKEN)).await;
    let (status, text) = http(
        site.addr,
        "POST",
        "/devices/inverter/actions/setChargeTarget",
        Some(TOKEN),
        Some("{\"chargeToPercent\": 80}"),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let unit = common::map("givenergy-hybrid").units().main_id();
    assert_eq!(
        site.inverter.registers(unit, Table::Holding, 116, 1),
        [Some(80)]
    );
    assert_eq!(
        site.inverter.registers(unit, Table::Holding, 20, 1),
        [Some(1)]
    );
    // The service polls again after a command, so the new value shows.
    let mut updates = site.service.subscribe();
    common::wait_for(&mut updates, "Target_SOC 80", |u| {
        &*u.id == "inverter"
            && u.snapshot
                .value("Target_SOC")
                .and_then(|v| v.as_f64())
                .is_some_and(|v| (v - 80.0).abs() < 1e-9)
    })
    .await;
}

/// The error bodies users see, pinned: what was refused and what is allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_bodies() {
    let site = site(Some(TOKEN)).await;
    let cases: &[(&str, &str, Option<&str>, Option<&str>)] = &[
        ("GET", "/devices/nope", None, None),
        ("GET", "/devices/meter?nested=maybe", None, None),
        (
            "POST",
            "/devices/charger/registers",
            None,
            Some("{\"charging_current\": 10}"),
        ),
        (
            "POST",
            "/devices/charger/registers",
            Some("wrong"),
            Some("{\"charging_current\": 10}"),
        ),
        (
            "POST",
            "/devices/charger/registers",
            Some(TOKEN),
            Some("{\"charging_current\": 99}"),
        ),
        (
            "POST",
            "/devices/charger/registers",
            Some(TOKEN),
            Some("{\"serial_number\": \"x\"}"),
        ),
        (
            "POST",
            "/devices/charger/registers",
            Some(TOKEN),
            Some("{\"chargin_current\": 10}"),
        ),
        (
            "POST",
            "/devices/charger/registers",
            Some(TOKEN),
            Some("{}"),
        ),
        (
            "POST",
            "/devices/charger/registers",
            Some(TOKEN),
            Some("[1, 2]"),
        ),
        (
            "POST",
            "/devices/inverter/actions/setChargeTarget",
            Some(TOKEN),
            Some("{}"),
        ),
        (
            "POST",
            "/devices/inverter/actions/setChargeTarget",
            Some(TOKEN),
            Some("{\"chargeToPercent\": 101}"),
        ),
        (
            "POST",
            "/devices/inverter/actions/launchRocket",
            Some(TOKEN),
            None,
        ),
    ];
    let mut answers = Vec::new();
    for (method, path, token, body) in cases {
        let (status, text) = http(site.addr, method, path, *token, *body).await;
        answers.push(serde_json::json!({
            "request": format!("{method} {path} {}", body.unwrap_or("")),
            "token": token.map(|t| if t == TOKEN { "right" } else { "wrong" }),
            "status": status,
            "body": json(&text),
        }));
    }
    insta::assert_yaml_snapshot!(answers);
}
