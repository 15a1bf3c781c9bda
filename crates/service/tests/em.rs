//! An EVSEMaster charger in the service: the simulated charger on loopback UDP announces to the
//! site's driver, is logged in, polled, served over HTTP, and started and stopped by checked
//! writes.

mod common;

use std::time::Duration;

use common::{http, json};
use simulator::em::{EmCharger, EmChargerConfig};

const TOKEN: &str = "em-test-token";
const SERIAL: &str = "0123456789abcdef";

/// The site: the EVSEMaster driver (with its start/stop rate limit and state folder), HTTP with
/// [`TOKEN`], and one charger `carport` of serial [`SERIAL`].
fn site_config(state_dir: &std::path::Path, min_switch_interval: &str) -> service::SiteConfig {
    let config_text = format!(
        "em: {{bind: '127.0.0.1:0', min_switch_interval: {min_switch_interval}, state_dir: '{}'}}\n\
         http: {{listen: '127.0.0.1:0', token: {TOKEN}}}\n\
         devices:\n  carport: {{map: evsemaster, interval: 200ms, timeout: 2s, options: {{serial: '{SERIAL}', password: '123456'}}}}\n",
        state_dir.display()
    );
    service::SiteConfig::parse(&config_text, std::path::Path::new("em.yaml")).expect("valid config")
}

/// Writes `body` (a JSON object of register values) to `carport` with the token.
async fn post_registers(http_addr: std::net::SocketAddr, body: &str) -> (u16, String) {
    http(
        http_addr,
        "POST",
        "/devices/carport/registers",
        Some(TOKEN),
        Some(body),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evsemaster_charger_is_polled_served_and_switched() {
    let state = tempfile::tempdir().expect("temp dir");
    let config = site_config(state.path(), "1ms");
    let (site, charger) = site_with_charger(&config).await;
    let http_addr = site.http_addr.expect("http is on");

    let (status, body) = http(http_addr, "GET", "/devices/carport", None, None).await;
    assert_eq!(status, 200, "{body}");
    let device = json(&body);
    assert_eq!(device["map"], "evsemaster");
    assert_eq!(device["address"], format!("evsemaster {SERIAL}"));
    let values = &device["values"];
    assert!(
        values["voltage_L1"].as_f64().is_some_and(|v| v > 100.0),
        "{device}"
    );
    assert_eq!(
        values["voltage_L2"],
        serde_json::Value::Null,
        "single phase: {device}"
    );
    assert_eq!(values["charging"], 0, "{device}");

    // Checked like any map: out of range is refused before anything is sent.
    let (status, body) = post_registers(http_addr, "{\"max_current\": 40}").await;
    assert_eq!(status, 400, "{body}");

    let (status, body) = post_registers(http_addr, "{\"max_current\": 10}").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(charger.snapshot().max_current_a, 10);

    let (status, body) = post_registers(http_addr, "{\"charging\": 1}").await;
    assert_eq!(status, 200, "{body}");
    assert!(charger.snapshot().charging);
    assert_eq!(charger.snapshot().session_current_a, 10);

    let (status, body) = post_registers(http_addr, "{\"charging\": \"stopped\"}").await;
    assert_eq!(status, 200, "{body}");
    assert!(!charger.snapshot().charging);

    let (_, metrics) = http(http_addr, "GET", "/metrics", None, None).await;
    assert!(
        metrics.contains("evctl_device_up{device=\"carport\",map=\"evsemaster\"} 1"),
        "{metrics}"
    );
    charger.stop();
    site.shutdown().await;
}

/// Starts the site of `config` and a simulated charger announcing to it.
async fn site_with_charger(config: &service::SiteConfig) -> (service::RunningSite, EmCharger) {
    let specs = service::device_specs(config, |_| Ok::<_, std::convert::Infallible>(None))
        .expect("the evsemaster map is built in");
    let site = service::start_site(config, specs)
        .await
        .expect("site starts");
    let mut charger_config = EmChargerConfig::new(site.em_addr.expect("the driver is bound"));
    charger_config.announce_every = Duration::from_millis(100);
    charger_config.heading_every = Duration::from_millis(200);
    charger_config.status_every = Duration::from_millis(200);
    let charger = EmCharger::start(charger_config)
        .await
        .expect("charger starts");
    common::wait_available(&site.service, &["carport"]).await;
    (site, charger)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_stop_rate_limit_survives_a_restart_of_the_service() {
    let state = tempfile::tempdir().expect("temp dir");
    let config = site_config(state.path(), "1h");

    let (site, charger) = site_with_charger(&config).await;
    let http_addr = site.http_addr.expect("http is on");
    let (status, body) = post_registers(http_addr, "{\"charging\": 1}").await;
    assert_eq!(status, 200, "{body}");
    assert!(charger.snapshot().charging);
    site.shutdown().await;

    // A new process on the same state folder (and the charger, still charging, heard again).
    let (site, charger2) = site_with_charger(&config).await;
    charger.stop();
    let http_addr = site.http_addr.expect("http is on");
    let (status, body) = post_registers(http_addr, "{\"charging\": 0}").await;
    assert_ne!(status, 200, "the stop went through: {body}");
    assert!(
        body.contains("a start or stop was sent to charger"),
        "refused by the rate limit: {body}"
    );
    charger2.stop();
    site.shutdown().await;
}
