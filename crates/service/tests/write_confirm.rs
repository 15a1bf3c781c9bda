//! Commands through the service read back within the map's `write_confirm` window (or the
//! site file's `confirm_within`), against a dongle simulator that applies writes a moment
//! after acknowledging them.

mod common;

use std::time::Duration;

use common::{start, wait_available};
use simulator::dongle::{DongleSimulator, DongleSimulatorHandle, DongleSimulatorOptions};
use simulator::modbus::Simulator;

async fn inverter(apply_after: Duration) -> DongleSimulatorHandle {
    let map = common::map("givenergy-hybrid");
    let bank = Simulator::builder(&map).bank().expect("bank");
    DongleSimulator::builder(bank)
        .options(DongleSimulatorOptions {
            apply_writes_after: Some(apply_after),
            ..DongleSimulatorOptions::default()
        })
        .bind("127.0.0.1:0")
        .await
        .expect("dongle simulator binds")
}

fn slot_params() -> Vec<(String, String)> {
    [
        ("start", "0030"),
        ("finish", "0430"),
        ("chargeToPercent", "77"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_applied_late_is_confirmed_within_the_maps_window() {
    let sim = inverter(Duration::from_secs(1)).await;
    let config = format!(
        "devices:\n  inverter: {{map: givenergy-hybrid, host: 127.0.0.1, port: {}, interval: 10s, timeout: 3s}}\n",
        sim.local_addr().port()
    );
    let (service, _) = start(&config);
    wait_available(&service, &["inverter"]).await;
    let report = service
        .action("inverter", "setChargeSlot1", &slot_params())
        .await
        .expect("the action runs");
    assert!(!report.confirmations.is_empty());
    for c in &report.confirmations {
        assert!(c.confirmed, "{c:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirm_within_of_the_site_file_bounds_the_wait() {
    let sim = inverter(Duration::from_secs(60)).await;
    let config = format!(
        "devices:\n  inverter: {{map: givenergy-hybrid, host: 127.0.0.1, port: {}, interval: 10s, timeout: 3s, confirm_within: 500ms}}\n",
        sim.local_addr().port()
    );
    let (service, _) = start(&config);
    wait_available(&service, &["inverter"]).await;
    let report = service
        .action("inverter", "setChargeSlot1", &slot_params())
        .await
        .expect("the action runs");
    let end = report
        .confirmations
        .iter()
        .find(|c| c.read_register == "Charge_end_time_slot_1")
        .expect("slot end read back");
    assert!(!end.confirmed, "{end:?}");
    assert_eq!(
        end.read.as_deref(),
        Some("530"),
        "the value before the write"
    );
}
