//! The GivEnergy maps read and controlled through the dongle transport, against the simulated
//! dongle serving the maps' example values over loopback.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use device_maps::{DeviceMap, Registry, Units, WriteError};
use modbus_client::dongle::{DongleClient, DongleOptions};
use modbus_core::Table;
use simulator::dongle::{DongleSimulator, DongleSimulatorHandle, DongleSimulatorOptions};
use simulator::modbus::Simulator;

const MAPS: [&str; 3] = ["givenergy-hybrid", "givenergy-ac", "givenergy-aio"];
const INVERTER: u8 = 0x11;

fn map(id: &str) -> Arc<DeviceMap> {
    let registry = Registry::built_in().expect("built-in maps load");
    Arc::clone(
        registry
            .get(id)
            .unwrap_or_else(|| panic!("map {id} is built in")),
    )
}

/// A simulated dongle serving `map`'s examples; holding registers the map marks read-only are
/// refused on write, as the inverter refuses them.
async fn simulate(map: &DeviceMap, options: DongleSimulatorOptions) -> DongleSimulatorHandle {
    let units = map.units();
    let bank = Simulator::builder(map)
        .gap_fill(0)
        .bank()
        .expect("bank from the map");
    let builder = DongleSimulator::builder(bank)
        .options(options)
        .read_only_from_map(map, &units);
    builder.bind("127.0.0.1:0").await.expect("simulator binds")
}

fn client(sim: &DongleSimulatorHandle) -> DongleClient {
    let options = DongleOptions {
        pacing: Duration::from_millis(2),
        ..DongleOptions::default()
    };
    DongleClient::new(sim.local_addr().to_string(), options)
}

#[tokio::test]
async fn the_full_read_gives_every_example_in_givtcps_groups() {
    for id in MAPS {
        let map = map(id);
        let units = map.units();
        let sim = simulate(&map, DongleSimulatorOptions::default()).await;
        let mut dongle = client(&sim);
        let selection = map.select::<&str>(&[]).expect("select all");
        let plan = map.plan_read(&selection, &units).expect("plan");
        let snapshot = plan.execute(&mut dongle).await;
        let missing: Vec<String> = snapshot
            .missing()
            .map(|r| format!("{}: {:?}", r.name, r.value))
            .collect();
        assert!(missing.is_empty(), "{id}: {missing:?}");
        for r in &map.registers {
            assert_eq!(
                snapshot.value(&r.name),
                Some(&r.example),
                "{id}: {}",
                r.name
            );
        }
        // The groups of GivTCP's runAll tree.
        let tops: BTreeSet<&str> = snapshot
            .readings
            .iter()
            .filter_map(|r| r.group.as_deref())
            .map(|g| g.split('/').next().unwrap_or(g))
            .collect();
        let want: BTreeSet<&str> = [
            "Battery_Details",
            "Control",
            "Energy",
            "Invertor_Details",
            "Power",
            "Timeslots",
        ]
        .into_iter()
        .collect();
        assert_eq!(tops, want, "{id}");
        let groups: BTreeSet<&str> = snapshot
            .readings
            .iter()
            .filter_map(|r| r.group.as_deref())
            .collect();
        for g in ["Energy/Today", "Energy/Total", "Power/Power"] {
            assert!(groups.contains(g), "{id}: no group {g}");
        }
        if id != "givenergy-aio" {
            assert!(
                groups.contains("Battery_Details/Battery_1")
                    && groups.contains("Battery_Details/Battery_2"),
                "{id}"
            );
        }
        // Every request on the wire is a whole 60-register page at a 60-aligned base.
        let log = sim.log();
        assert!(!log.is_empty());
        for e in &log {
            assert_eq!((e.address % 60, e.count_or_value), (0, 60), "{id}: {e:?}");
        }
        let pages: BTreeSet<(u8, u8, u16)> = log
            .iter()
            .map(|e| (e.device, e.function, e.address))
            .collect();
        assert_eq!(pages.len(), log.len(), "{id}: a page was read twice");
        assert_eq!(snapshot.requests, log.len(), "{id}");
    }
}

/// Runs `action` with `args` through the dongle and returns the frames the simulator received.
async fn call(
    map: &Arc<DeviceMap>,
    dongle: &mut DongleClient,
    action: &str,
    args: &[&str],
) -> Result<(), String> {
    let units = map.units();
    let plan = map
        .plan_action(action, args, &units)
        .map_err(|e| e.to_string())?;
    let report = plan
        .execute(dongle)
        .await
        .map_err(|e| format!("{e}: {:?}", std::error::Error::source(&e)))?;
    assert!(
        report.all_confirmed(),
        "{action}: {:?}",
        report.confirmations
    );
    Ok(())
}

fn holding(sim: &DongleSimulatorHandle, register: u16) -> u16 {
    sim.registers(INVERTER, Table::Holding, register, 1)[0].expect("mapped")
}

#[tokio::test]
async fn every_action_writes_what_the_spec_says() {
    for id in MAPS {
        let map = map(id);
        let sim = simulate(&map, DongleSimulatorOptions::default()).await;
        let mut dongle = client(&sim);
        let slot2 = if id == "givenergy-aio" {
            (243, 244)
        } else {
            (31, 32)
        };
        let h = |r| holding(&sim, r);

        call(&map, &mut dongle, "enableChargeTarget", &[])
            .await
            .unwrap();
        assert_eq!(h(20), 1, "{id}");
        call(&map, &mut dongle, "disableChargeTarget", &[])
            .await
            .unwrap();
        assert_eq!((h(20), h(116)), (0, 100), "{id}");
        call(&map, &mut dongle, "pauseChargeSchedule", &[])
            .await
            .unwrap();
        assert_eq!(h(96), 0, "{id}");
        call(&map, &mut dongle, "resumeChargeSchedule", &[])
            .await
            .unwrap();
        assert_eq!(h(96), 1, "{id}");
        // Not inverted: pausing the discharge schedule clears HR59.
        call(&map, &mut dongle, "pauseDischargeSchedule", &[])
            .await
            .unwrap();
        assert_eq!(h(59), 0, "{id}");
        call(&map, &mut dongle, "resumeDischargeSchedule", &[])
            .await
            .unwrap();
        assert_eq!(h(59), 1, "{id}");
        call(
            &map,
            &mut dongle,
            "setChargeTarget",
            &["chargeToPercent=80"],
        )
        .await
        .unwrap();
        assert_eq!((h(20), h(116)), (1, 80), "{id}");
        call(
            &map,
            &mut dongle,
            "setChargeTarget",
            &["chargeToPercent=100"],
        )
        .await
        .unwrap();
        assert_eq!((h(20), h(116)), (0, 100), "{id}");
        call(
            &map,
            &mut dongle,
            "setBatteryReserve",
            &["dischargeToPercent=20"],
        )
        .await
        .unwrap();
        assert_eq!(h(110), 20, "{id}");
        call(
            &map,
            &mut dongle,
            "setBatteryReserve",
            &["dischargeToPercent=2"],
        )
        .await
        .unwrap();
        assert_eq!(h(110), 4, "{id}: values below 4 are raised to 4");
        call(
            &map,
            &mut dongle,
            "setChargeSlot1",
            &["start=0100", "finish=0400", "chargeToPercent=55"],
        )
        .await
        .unwrap();
        assert_eq!((h(94), h(95), h(20), h(116)), (100, 400, 1, 55), "{id}");
        call(
            &map,
            &mut dongle,
            "setChargeSlot2",
            &["start=2330", "finish=0530"],
        )
        .await
        .unwrap();
        assert_eq!((h(slot2.0), h(slot2.1), h(116)), (2330, 530, 55), "{id}");
        call(
            &map,
            &mut dongle,
            "setDischargeSlot1",
            &["start=1600", "finish=1900", "dischargeToPercent=30"],
        )
        .await
        .unwrap();
        assert_eq!((h(56), h(57), h(110)), (1600, 1900, 30), "{id}");
        call(
            &map,
            &mut dongle,
            "setDischargeSlot2",
            &["start=02:00", "finish=03:15"],
        )
        .await
        .unwrap();
        assert_eq!((h(44), h(45), h(110)), (200, 315, 30), "{id}");
        // Every battery mode writes its registers.
        call(&map, &mut dongle, "setBatteryMode", &["mode=1"])
            .await
            .unwrap();
        assert_eq!((h(27), h(110), h(59)), (1, 4, 0), "{id}");
        call(&map, &mut dongle, "setBatteryMode", &["mode=2"])
            .await
            .unwrap();
        assert_eq!(
            (h(27), h(110), h(59), h(56), h(57), h(44), h(45)),
            (1, 100, 1, 1600, 700, 0, 0),
            "{id}"
        );
        call(&map, &mut dongle, "setBatteryMode", &["mode=1"])
            .await
            .unwrap();
        call(&map, &mut dongle, "setBatteryMode", &["mode=3"])
            .await
            .unwrap();
        assert_eq!(
            (h(27), h(110), h(59), h(56), h(57)),
            (0, 100, 1, 1600, 700),
            "{id}"
        );
        call(&map, &mut dongle, "setBatteryMode", &["mode=1"])
            .await
            .unwrap();
        call(&map, &mut dongle, "setBatteryMode", &["mode=4"])
            .await
            .unwrap();
        assert_eq!((h(27), h(110), h(59)), (0, 100, 1), "{id}");
        // The clock holds the year minus 2000, never the full year.
        call(
            &map,
            &mut dongle,
            "setDateTime",
            &["dateTime=29/02/2028 07:08:09"],
        )
        .await
        .unwrap();
        let clock: Vec<u16> = (35..=40).map(h).collect();
        assert_eq!(clock, [28, 2, 29, 7, 8, 9], "{id}");
        // Nothing but single-register writes to the inverter went out.
        assert!(
            sim.log()
                .iter()
                .filter(|e| e.function != 3 && e.function != 4)
                .all(|e| e.function == 6 && e.device == INVERTER)
        );
    }
}

#[tokio::test]
async fn invalid_parameters_are_refused_before_any_frame() {
    let map = map("givenergy-hybrid");
    let sim = simulate(&map, DongleSimulatorOptions::default()).await;
    let mut dongle = client(&sim);
    let cases: &[(&str, &[&str])] = &[
        ("setChargeTarget", &["chargeToPercent=3"]),
        ("setChargeTarget", &["chargeToPercent=101"]),
        ("setChargeTarget", &["chargeToPercent=fifty"]),
        ("setChargeTarget", &[]),
        ("setBatteryReserve", &["dischargeToPercent=-1"]),
        ("setBatteryReserve", &["dischargeToPercent=120"]),
        ("setChargeSlot1", &["start=2460", "finish=0400"]),
        ("setChargeSlot1", &["start=0100", "finish=0461"]),
        ("setChargeSlot1", &["start=0100"]),
        (
            "setChargeSlot1",
            &["start=0100", "finish=0400", "chargeToPercent=2"],
        ),
        (
            "setChargeSlot2",
            &["start=0100", "finish=0400", "colour=red"],
        ),
        ("setDischargeSlot1", &["start=9999", "finish=0400"]),
        (
            "setDischargeSlot2",
            &["start=0100", "finish=0400", "dischargeToPercent=101"],
        ),
        ("setBatteryMode", &["mode=0"]),
        ("setBatteryMode", &["mode=5"]),
        ("setBatteryMode", &["mode=Eco"]),
        ("setDateTime", &["dateTime=31/02/2026 10:00:00"]),
        ("setDateTime", &["dateTime=2026-07-13 10:00:00"]),
        ("setDateTime", &["dateTime=13/07/2026 24:00:00"]),
        ("setDateTime", &["dateTime=13/07/2100 10:00:00"]),
        ("pauseChargeSchedule", &["now=1"]),
        ("rebootInverter", &[]),
    ];
    for (action, args) in cases {
        let error = call(&map, &mut dongle, action, args)
            .await
            .expect_err(&format!("{action} {args:?} must be refused"));
        assert!(!error.is_empty());
    }
    assert!(sim.log().is_empty(), "frames were sent: {:?}", sim.log());
    assert_eq!(dongle.stats().requests_sent, 0);
    // And the typed error says which parameter is wrong.
    let units = map.units();
    let e = map
        .plan_action("setChargeTarget", &["chargeToPercent=3"], &units)
        .unwrap_err();
    assert!(e.to_string().contains("chargeToPercent"), "{e}");
    assert!(!matches!(e, WriteError::UnknownAction { .. }));
}

#[tokio::test]
async fn two_clients_read_the_map_at_once_despite_the_fan_out() {
    let map = map("givenergy-hybrid");
    let units = map.units();
    let sim = simulate(&map, DongleSimulatorOptions::default()).await;
    let (mut a, mut b) = (client(&sim), client(&sim));
    let plan = map
        .plan_read(&map.select::<&str>(&[]).unwrap(), &units)
        .unwrap();
    let battery = map
        .plan_read(&map.select(&["Battery_Details"]).unwrap(), &units)
        .unwrap();
    let (sa, sb) = tokio::join!(plan.execute(&mut a), battery.execute(&mut b));
    assert_eq!(sa.missing().count(), 0);
    assert_eq!(sb.missing().count(), 0);
    for r in &map.registers {
        assert_eq!(sa.value(&r.name), Some(&r.example), "{}", r.name);
    }
    for reading in &sb.readings {
        assert_eq!(
            Some(&reading.value),
            map.register(&reading.name)
                .map(|r| Ok(r.example.clone()))
                .as_ref()
        );
    }
    assert!(a.stats().unsolicited + b.stats().unsolicited > 0);
}

#[tokio::test]
async fn a_read_recovers_from_a_connection_dropped_mid_read() {
    let map = map("givenergy-ac");
    let units = map.units();
    let sim = simulate(
        &map,
        DongleSimulatorOptions {
            drop_after_requests: Some(3),
            ..Default::default()
        },
    )
    .await;
    let mut dongle = client(&sim);
    let plan = map
        .plan_read(&map.select::<&str>(&[]).unwrap(), &units)
        .unwrap();
    let snapshot = plan.execute(&mut dongle).await;
    assert_eq!(snapshot.missing().count(), 0);
    assert_eq!(dongle.stats().connections, 2);
}

#[test]
fn maps_use_the_dongle_transport_with_its_limits() {
    for id in MAPS {
        let map = map(id);
        let c = &map.connection;
        assert_eq!(c.transport, device_maps::Transport::GivenergyDongle, "{id}");
        assert_eq!(
            (c.port, c.max_registers, c.page_size),
            (8899, 60, Some(60)),
            "{id}"
        );
        assert!(c.pacing >= Duration::from_millis(250), "{id}");
        let options = DongleOptions::from_connection(c);
        assert_eq!(
            (options.pacing, options.request_timeout),
            (c.pacing, c.timeout),
            "{id}"
        );
        assert_eq!(
            DongleClient::for_map(&map, "127.0.0.1", None).endpoint(),
            "127.0.0.1:8899"
        );
        assert_eq!(
            DongleClient::for_map(&map, "::1", Some(1)).endpoint(),
            "[::1]:1"
        );
        let units: Units = map.units();
        assert_eq!(units.id("inverter"), Some(0x11), "{id}");
        if id != "givenergy-aio" {
            assert_eq!(
                (units.id("battery_1"), units.id("battery_2")),
                (Some(0x32), Some(0x33)),
                "{id}"
            );
        }
    }
}
