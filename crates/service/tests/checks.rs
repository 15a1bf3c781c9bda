//! `evctl serve` and the maps' checks: a device that is not what its map describes is
//! unavailable with the mismatch as its error, publishes no value and gets no command; with
//! `verify: false` it is polled as it comes.

mod common;

use std::sync::Arc;

use common::{start, wait_for};
use modbus_core::Value;
use service::CommandError;
use simulator::modbus::{Simulator, SimulatorHandle};

/// Another charger answering Alfen's registers: everything is Alfen's but the manufacturer.
async fn not_an_alfen() -> SimulatorHandle {
    let mut map = (*common::map("alfen-eve")).clone();
    let manufacturer = map
        .registers
        .iter_mut()
        .find(|r| r.name == "c_manufacturer")
        .expect("c_manufacturer");
    manufacturer.example = Value::Text("Bender".into());
    Simulator::builder(&Arc::new(map))
        .bind("127.0.0.1:0")
        .await
        .expect("simulator binds")
}

fn writes(sim: &SimulatorHandle) -> usize {
    sim.log()
        .entries()
        .iter()
        .filter(|e| matches!(e.function, 5 | 6 | 15 | 16))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_fails_its_checks_is_unavailable_and_gets_no_command() {
    let sim = not_an_alfen().await;
    let port = sim.local_addr().port();
    let config = format!(
        "devices:\n  wrong: {{map: alfen-eve, host: 127.0.0.1, port: {port}, interval: 100ms}}\n  trusted: {{map: alfen-eve, host: 127.0.0.1, port: {port}, interval: 100ms, verify: false}}\n"
    );
    let (service, _) = start(&config);
    let mut updates = service.subscribe();
    let update = wait_for(&mut updates, "wrong polled", |u| &*u.id == "wrong").await;
    assert!(!update.available);
    let error = update.error.as_deref().unwrap_or_default();
    assert!(
        error.contains("does not match map `alfen-eve`") && error.contains("c_manufacturer"),
        "{error}"
    );
    assert!(error.contains("\"Bender\""), "{error}");
    // Nothing of it is published as a value.
    assert!(
        update.snapshot.readings.iter().all(|r| r.value.is_err()),
        "a value was published"
    );

    // A command is refused before anything is written.
    let err = service
        .write(
            "wrong",
            &[("modbus_slave_max_current".to_owned(), "10".to_owned())],
        )
        .await
        .expect_err("refused");
    assert!(matches!(err, CommandError::Mismatch { .. }), "{err}");
    assert_eq!(writes(&sim), 0);

    // verify: false polls the same device as it comes.
    common::wait_available(&service, &["trusted"]).await;
    let trusted = service.device("trusted").expect("trusted").status();
    assert!(trusted.available);
    assert!(
        trusted
            .snapshot
            .expect("snapshot")
            .value("c_manufacturer")
            .is_some()
    );
    service.shutdown().await;
}
