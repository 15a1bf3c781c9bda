//! The dashboard in a real browser: headless Chromium driven through WebDriver (chromedriver,
//! from Debian's `chromium` and `chromium-driver` packages) loads the page of `evctl serve` over
//! simulated devices on loopback, sees the devices and their values, watches a value change on
//! the simulator appear without a reload, writes a setting with the token and sees it read
//! back, and sees the error of a write the map refuses. Without chromium or chromedriver the
//! test says SKIPPED and passes; `.ci/run` installs both.
//!
//! `EVCTL_SCREENSHOTS=DIR` saves the page at phone and desktop width as PNG files in DIR
//! (`docs/` holds the ones the README shows).

mod util;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use device_maps::modbus_core::Table;
use fantoccini::{Client, ClientBuilder, Locator};
use util::{Sim, TestEnv};

const WAIT: Duration = Duration::from_secs(30);
const TOKEN: &str = "dashboard-test-token-4711";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_port(addr: SocketAddr, what: &str) {
    let start = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(start.elapsed() < WAIT, "{what} did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn find_program(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find(|name| {
            Command::new(name)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(|name| (*name).to_owned())
}

async fn text_of(client: &Client, css: &str) -> String {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no element `{css}`: {e}"))
        .text()
        .await
        .expect("text")
}

async fn click(client: &Client, css: &str) {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no element `{css}`: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
}

/// Waits until the text of `css` satisfies `pred`; returns it.
async fn wait_text(client: &Client, css: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let text = text_of(client, css).await;
        if pred(&text) {
            return text;
        }
        assert!(
            start.elapsed() < WAIT,
            "{what}: `{css}` still shows {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn the_dashboard_shows_live_values_and_writes_with_the_token() {
    let (Some(chromedriver), Some(chromium)) = (
        find_program(&["chromedriver"]),
        find_program(&["chromium", "chromium-browser", "google-chrome"]),
    ) else {
        eprintln!(
            "SKIPPED: chromium and chromedriver are not installed (Debian packages `chromium` and `chromium-driver`); the dashboard's browser test did not run"
        );
        return;
    };
    let env = TestEnv::new();
    let charger = Sim::start("vestel-evc04");
    let meter = Sim::start("eastron-sdm630");
    let http_port = free_port();
    let config = env.write(
        "site.yaml",
        &format!(
            "http: {{listen: '127.0.0.1:{http_port}', token: {TOKEN}}}\n\
             poll: {{interval: 500ms}}\n\
             devices:\n  \
               charger: {{map: vestel-evc04, host: 127.0.0.1, port: {}}}\n  \
               grid: {{map: eastron-sdm630, host: 127.0.0.1, port: {}}}\n",
            charger.port(),
            meter.port()
        ),
    );
    let serve = Killed(
        env.evctl()
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start evctl serve"),
    );
    let base = format!("http://127.0.0.1:{http_port}");
    wait_for_port(
        format!("127.0.0.1:{http_port}").parse().expect("addr"),
        "evctl serve",
    );
    let driver_port = free_port();
    let driver = Killed(
        Command::new(&chromedriver)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    wait_for_port(
        format!("127.0.0.1:{driver_port}").parse().expect("addr"),
        "chromedriver",
    );
    let profile = env.path().join("chromium-profile");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut caps = serde_json::Map::new();
        let binary = which(&chromium).unwrap_or(chromium.clone());
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": binary,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--lang=en-US",
                    "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{driver_port}"))
            .await
            .expect("a WebDriver session");
        client
            .goto(&format!("{base}/"))
            .await
            .expect("load the page");
        client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css("html[data-ready='true'] #device-grid"))
            .await
            .expect("the page draws the devices");

        // The devices and their values, as the simulators serve them.
        wait_text(&client, "#device-charger .state", "charger online", |t| {
            t == "online"
        })
        .await;
        let power = "#device-charger dl.key [data-register='active_power_total']";
        wait_text(&client, power, "example power", |t| t == "10,530 W").await;
        let title = text_of(&client, "#device-grid .model").await;
        assert!(
            title.contains("Eastron") && title.contains("eastron-sdm630"),
            "{title}"
        );
        // The site overview adds the roles.
        wait_text(
            &client,
            "#site-totals [data-role='charging_power'] dd",
            "site total",
            |t| t == "10,530 W",
        )
        .await;

        // A value changed on the device appears without a reload.
        assert!(
            charger
                .modbus()
                .set_registers(255, Table::Input, 1020, &[0, 7400])
        );
        wait_text(&client, power, "the new power", |t| t == "7,400 W").await;

        if let Ok(dir) = std::env::var("EVCTL_SCREENSHOTS") {
            let dir = Path::new(&dir);
            client
                .set_window_size(1280, 1100)
                .await
                .expect("desktop width");
            tokio::time::sleep(Duration::from_millis(300)).await;
            std::fs::write(
                dir.join("dashboard-desktop.png"),
                client.screenshot().await.expect("shot"),
            )
            .expect("save");
            client
                .set_window_size(360, 1400)
                .await
                .expect("phone width");
            tokio::time::sleep(Duration::from_millis(300)).await;
            std::fs::write(
                dir.join("dashboard-phone.png"),
                client.screenshot().await.expect("shot"),
            )
            .expect("save");
            client.set_window_size(1280, 1000).await.expect("back");
        }
        let paint = client
            .execute(
                "const p = performance.getEntriesByName('first-contentful-paint')[0]; \
                 return p ? p.startTime : null;",
                vec![],
            )
            .await
            .expect("script");
        eprintln!("dashboard: first contentful paint {paint} ms after navigation");

        // A write with the token: the form asks for it once, the value is read back.
        click(&client, "#device-charger details.controls summary").await;
        let form = "#device-charger form[data-write='charging_current']";
        let input = client
            .find(Locator::Css(&format!("{form} input")))
            .await
            .expect("the current input");
        input.clear().await.expect("clear");
        input.send_keys("10").await.expect("type");
        click(&client, &format!("{form} button")).await;
        let token = client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css("#token-input"))
            .await
            .expect("the token dialog");
        token.send_keys(TOKEN).await.expect("type the token");
        click(&client, "#token-ok").await;
        wait_text(&client, &format!("{form} .result"), "write done", |t| {
            t.starts_with("done")
        })
        .await;
        click(&client, "#device-charger details:not(.controls) summary").await;
        wait_text(
            &client,
            "#device-charger td[data-register='charging_current']",
            "the written current read back",
            |t| t == "10 A",
        )
        .await;

        // A value the map refuses: the error says why, nothing is written.
        charger.modbus().log().clear();
        input.clear().await.expect("clear");
        input.send_keys("99").await.expect("type");
        // The browser's own range check would stop the form; ask the server as a script would.
        client
            .execute(
                "document.querySelector(arguments[0]).noValidate = true;",
                vec![serde_json::json!(form)],
            )
            .await
            .expect("script");
        click(&client, &format!("{form} button")).await;
        let error = wait_text(&client, &format!("{form} .result"), "refusal", |t| {
            t.contains("charging_current") || t.contains("99")
        })
        .await;
        assert!(error.contains("32"), "the error names the limit: {error}");
        let written = charger
            .modbus()
            .log()
            .entries()
            .iter()
            .filter(|r| r.function == 6 || r.function == 16)
            .filter(|r| r.address == 5004)
            .count();
        assert_eq!(written, 0, "a refused value reached the charger");
        client.close().await.expect("end the session");
    });
    drop(driver);
    drop(serve);
}

fn which(program: &str) -> Option<String> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
            .map(|p| p.display().to_string())
    })
}
