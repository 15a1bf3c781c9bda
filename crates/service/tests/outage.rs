//! Outages over loopback: a device that stops answering is marked unavailable within its
//! timeout while the others keep being polled, and recovers by itself when it returns.
//! Heartbeats are kept while polling.

mod common;

use std::time::Duration;

use common::{modbus_simulator, start, wait_for};
use tokio::net::TcpListener;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_device_does_not_stop_the_others_and_recovers() {
    let meter_a = modbus_simulator("eastron-sdm630", "127.0.0.1:0").await;
    let meter_b = modbus_simulator("eastron-sdm630", "127.0.0.1:0").await;
    let port_b = meter_b.local_addr().port();
    let config = format!(
        "poll: {{max_backoff: 400ms}}\ndevices:\n  a: {{map: eastron-sdm630, host: 127.0.0.1, port: {}, interval: 100ms, timeout: 300ms}}\n  b: {{map: eastron-sdm630, host: 127.0.0.1, port: {port_b}, interval: 100ms, timeout: 300ms}}\n",
        meter_a.local_addr().port(),
    );
    let (service, _) = start(&config);
    let mut updates = service.subscribe();
    common::wait_available(&service, &["a", "b"]).await;

    // 1. b's simulator goes away: connections are refused.
    meter_b.shutdown().await;
    let down = wait_for(&mut updates, "b unavailable (refused)", |u| {
        &*u.id == "b" && !u.available
    })
    .await;
    assert!(down.availability_changed);
    assert!(down.error.is_some());
    let b = service.device("b").expect("b");
    assert!(!b.status().available);
    // Its last readings are kept, all marked stale, never zeroed.
    assert!(b.status().snapshot.is_some());
    assert!(!down.stale.is_empty());
    for name in down.stale.iter() {
        let reading = down.snapshot.get(name).expect("stale reading present");
        assert!(
            reading.value.is_ok(),
            "stale `{name}` must hold its last value"
        );
        assert!(
            reading.read_at.is_some(),
            "stale `{name}` keeps its read time"
        );
    }

    // a keeps being polled meanwhile: several fresh answers after b went down.
    let polls_before = service.device("a").expect("a").status().polls;
    for _ in 0..3 {
        wait_for(&mut updates, "a polled", |u| &*u.id == "a" && u.available).await;
    }
    assert!(service.device("a").expect("a").status().polls >= polls_before + 3);

    // 2. Something listens on b's port but never answers: the request timeout applies.
    let silent = TcpListener::bind(("127.0.0.1", port_b))
        .await
        .expect("rebind b's port");
    let hold = common::SilentDevice::start(silent);
    hold.wait_for_a_client("the poller connects to the silent listener")
        .await;
    // A poll that reached the silent listener ends in a timeout, and b stays unavailable.
    let failures_before = b.status().failures;
    wait_for(&mut updates, "b timed out while silent", |u| {
        &*u.id == "b" && !u.available
    })
    .await;
    tokio::time::timeout(common::WAIT, async {
        while b.status().failures <= failures_before {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a failed poll against the silent listener");
    assert!(!b.status().available);
    assert!(
        b.status()
            .last_error
            .is_some_and(|e| e.contains("no response")
                || e.contains("timed out")
                || e.contains("did not finish")),
        "{:?}",
        b.status().last_error
    );
    for _ in 0..3 {
        wait_for(&mut updates, "a polled while b hangs", |u| {
            &*u.id == "a" && u.available
        })
        .await;
    }
    hold.stop().await;

    // 3. b comes back on the same port: it recovers by itself.
    let meter_b = bind_again(port_b).await;
    let up = wait_for(&mut updates, "b available again", |u| {
        &*u.id == "b" && u.available
    })
    .await;
    assert!(up.availability_changed);
    assert!(up.stale.is_empty());
    assert!(b.status().available);
    assert_eq!(b.status().consecutive_failures, 0);
    drop(meter_b);
    service.shutdown().await;
}

/// The number of attempts a request error reports ("... (after 2 attempts)"; none said: one).
fn attempts_in(error: &str) -> usize {
    error
        .split_once("(after ")
        .and_then(|(_, rest)| rest.split_once(" attempts)"))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_device_is_unavailable_after_its_attempts_and_the_others_stay_on_time() {
    let meter = modbus_simulator("eastron-sdm630", "127.0.0.1:0").await;
    let silent = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let silent_port = silent.local_addr().expect("addr").port();
    let hold = common::SilentDevice::start(silent);
    // The silent device's interval is long, so its second poll cannot have begun when its
    // first one is reported.
    let healthy_interval = Duration::from_millis(200);
    let config = format!(
        "devices:\n  healthy: {{map: eastron-sdm630, host: 127.0.0.1, port: {}, interval: 200ms, timeout: 2s}}\n  silent: {{map: eastron-sdm630, host: 127.0.0.1, port: {silent_port}, interval: 5s, timeout: 300ms}}\n",
        meter.local_addr().port(),
    );
    let (service, _) = start(&config);
    let mut updates = service.subscribe();

    // The silent device's first poll: unavailable after its attempts, each one a request that
    // reached the device and waited out the request timeout, and nothing more.
    let down = wait_for(&mut updates, "silent device unavailable", |u| {
        &*u.id == "silent"
    })
    .await;
    let requests_seen = hold.requests();
    assert!(!down.available);
    assert!(down.availability_changed);
    let error = down.error.as_deref().expect("the failure is reported");
    assert!(
        error.contains("no response within 300ms"),
        "the request timeout ended the poll, not the poll's safety net: {error}"
    );
    let attempts = attempts_in(error);
    assert!(
        (1..=2).contains(&attempts),
        "one retry at most, so unavailable within 2 timeouts: {error}"
    );
    assert_eq!(
        requests_seen, attempts,
        "every attempt reached the device, and no other request did"
    );
    let silent_status = service.device("silent").expect("silent").status();
    assert_eq!(silent_status.polls, 1, "one poll decided it");
    assert_eq!(silent_status.consecutive_failures, 1);
    assert!(!silent_status.available);

    // Meanwhile, and after, the healthy device is polled on its schedule: the service's own
    // lag figure for each scheduled poll stays below its interval.
    for _ in 0..5 {
        let update = wait_for(&mut updates, "healthy polled", |u| &*u.id == "healthy").await;
        assert!(update.available, "{:?}", update.error);
        assert!(
            update.lag < healthy_interval,
            "a poll started {:?} late",
            update.lag
        );
    }
    let healthy = service.device("healthy").expect("healthy").status();
    assert!(
        healthy.last_lag < healthy_interval,
        "{:?}",
        healthy.last_lag
    );
    assert_eq!(healthy.failures, 0);
    hold.stop().await;
    service.shutdown().await;
}

/// Binds the simulator on a port just released (retrying briefly while the OS frees it).
async fn bind_again(port: u16) -> simulator::modbus::SimulatorHandle {
    let map = common::map("eastron-sdm630");
    for _ in 0..50 {
        match simulator::modbus::Simulator::builder(&map)
            .bind(&format!("127.0.0.1:{port}"))
            .await
        {
            Ok(handle) => return handle,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("cannot bind port {port} again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_are_kept_while_polling() {
    let charger = modbus_simulator("vestel-evc04", "127.0.0.1:0").await;
    let config = format!(
        "devices:\n  charger: {{map: vestel-evc04, host: 127.0.0.1, port: {}, interval: 200ms, timeout: 2s}}\n",
        charger.local_addr().port()
    );
    let (service, _) = start(&config);
    let map = common::map("vestel-evc04");
    let alive = map
        .registers
        .iter()
        .find(|r| r.name == "alive_register")
        .expect("alive register")
        .wire_address;
    let written = tokio::time::timeout(common::WAIT, async {
        loop {
            let writes = charger
                .log()
                .entries()
                .iter()
                .filter(|e| e.address == alive && matches!(e.function, 6 | 16))
                .count();
            if writes >= 1 {
                return writes;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the alive heartbeat is written");
    assert!(written >= 1);
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_behind_one_gateway_share_its_connection() {
    // Three meters behind one Modbus TCP gateway (unit ids 1, 2, 3 on one listener).
    let gateway = simulator::modbus::Simulator::builder(&common::map("eastron-sdm630"))
        .also_main_units(&[2, 3])
        .bind("127.0.0.1:0")
        .await
        .expect("simulator binds");
    let port = gateway.local_addr().port();
    let config = format!(
        "devices:\n  m1: {{map: eastron-sdm630, host: 127.0.0.1, port: {port}, unit: 1, interval: 100ms}}\n  m2: {{map: eastron-sdm630, host: 127.0.0.1, port: {port}, unit: 2, interval: 100ms}}\n  m3: {{map: eastron-sdm630, host: 127.0.0.1, port: {port}, unit: 3, interval: 100ms}}\n"
    );
    let (service, _) = start(&config);
    let mut updates = service.subscribe();
    for _ in 0..3 {
        for id in ["m1", "m2", "m3"] {
            wait_for(&mut updates, id, |u| &*u.id == id && u.available).await;
        }
    }
    // The map allows one connection: the three devices' polls all went through it.
    assert_eq!(gateway.stats().accepted, 1);
    let units: std::collections::BTreeSet<u8> =
        gateway.log().entries().iter().map(|e| e.unit).collect();
    assert_eq!(units.into_iter().collect::<Vec<_>>(), [1, 2, 3]);
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_wait_for_a_hanging_device() {
    // A device that accepts connections and never answers, with a long request timeout.
    let silent = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let hold = common::SilentDevice::start(silent);
    let (service, _) = start(&format!(
        "devices:\n  stuck: {{map: eastron-sdm630, host: 127.0.0.1, port: {port}, interval: 100ms, timeout: 600s}}\n"
    ));
    hold.wait_for_a_client("the poll reaches the device").await;
    // The poll is now waiting on a 600 s timeout; stopping must not.
    tokio::time::timeout(common::WAIT, service.shutdown())
        .await
        .expect("shutdown ends while the device hangs");
    hold.stop().await;
}
