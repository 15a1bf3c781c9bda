//! The dongle transport against the simulated dongle over loopback.

use std::time::Duration;

use givenergy_dongle::{Frame, Framer, ReadFunction, ReadResponse, Serial};
use modbus_client::dongle::{DongleClient, DongleError, DongleOptions};
use modbus_core::Table;
use simulator::dongle::{DongleSimulator, DongleSimulatorHandle, DongleSimulatorOptions};
use simulator::modbus::{Access, RegisterBank};

const INVERTER: u8 = 0x11;
const PACK: u8 = 0x32;

/// Inverter: IR 0..59 = 1000 + n, IR 180..183, HR 0..59 = 2000 + n (HR0 read-only),
/// HR 60..119 = n; battery pack 1: IR 60..119 = 3000 + n.
fn bank() -> RegisterBank {
    let mut bank = RegisterBank::new();
    let words =
        |base: u16, from: u16, n: u16| (from..from + n).map(|i| base + i).collect::<Vec<u16>>();
    bank.insert(INVERTER, Table::Input, 0, &words(1000, 0, 60), Access::Read)
        .unwrap();
    bank.insert(
        INVERTER,
        Table::Input,
        180,
        &words(1180, 0, 4),
        Access::Read,
    )
    .unwrap();
    bank.insert(
        INVERTER,
        Table::Holding,
        0,
        &words(2000, 0, 60),
        Access::ReadWrite,
    )
    .unwrap();
    bank.insert(
        INVERTER,
        Table::Holding,
        60,
        &words(0, 60, 60),
        Access::ReadWrite,
    )
    .unwrap();
    bank.insert(PACK, Table::Input, 60, &words(3000, 60, 60), Access::Read)
        .unwrap();
    bank
}

async fn simulator(options: DongleSimulatorOptions) -> DongleSimulatorHandle {
    DongleSimulator::builder(bank())
        .read_only(INVERTER, 0, 1)
        .options(options)
        .bind("127.0.0.1:0")
        .await
        .unwrap()
}

fn fast() -> DongleOptions {
    DongleOptions {
        pacing: Duration::from_millis(5),
        retry_wait: Duration::from_millis(20),
        request_timeout: Duration::from_millis(500),
        ..DongleOptions::default()
    }
}

fn client(sim: &DongleSimulatorHandle, options: DongleOptions) -> DongleClient {
    DongleClient::new(sim.local_addr().to_string(), options)
}

/// Polls `check` until it holds, giving up after 5 s (no timing assertion: only an upper bound).
async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn reads_whole_aligned_pages_and_slices_them() {
    let sim = simulator(DongleSimulatorOptions::default()).await;
    let dongle = client(&sim, fast());
    assert_eq!(
        dongle.read(INVERTER, Table::Input, 59, 1).await.unwrap(),
        [1059]
    );
    let words = dongle.read(INVERTER, Table::Holding, 55, 10).await.unwrap();
    assert_eq!(words, [2055, 2056, 2057, 2058, 2059, 60, 61, 62, 63, 64]);
    assert_eq!(
        dongle.read(PACK, Table::Input, 100, 2).await.unwrap(),
        [3100, 3101]
    );
    // Every request on the wire is a 60-register page at a 60-aligned base.
    let log = sim.log();
    let shapes: Vec<(u8, u8, u16, u16)> = log
        .iter()
        .map(|e| (e.device, e.function, e.address, e.count_or_value))
        .collect();
    assert_eq!(
        shapes,
        [
            (0x11, 4, 0, 60),
            (0x11, 3, 0, 60),
            (0x11, 3, 60, 60),
            (0x32, 4, 60, 60)
        ]
    );
}

#[tokio::test]
async fn exact_reads_when_pages_are_off() {
    let sim = simulator(DongleSimulatorOptions::default()).await;
    let dongle = client(
        &sim,
        DongleOptions {
            full_pages: false,
            ..fast()
        },
    );
    assert_eq!(
        dongle.read(INVERTER, Table::Input, 180, 4).await.unwrap(),
        [1180, 1181, 1182, 1183]
    );
    assert_eq!(sim.log()[0].address, 180);
    assert_eq!(sim.log()[0].count_or_value, 4);
}

#[tokio::test]
async fn an_empty_battery_slot_reads_as_zeros_and_a_missing_bank_is_refused() {
    let sim = simulator(DongleSimulatorOptions::default()).await;
    let dongle = client(&sim, fast());
    assert_eq!(dongle.read(0x33, Table::Input, 100, 1).await.unwrap(), [0]);
    let error = dongle
        .read(INVERTER, Table::Holding, 1100, 60)
        .await
        .unwrap_err();
    assert!(
        matches!(error, DongleError::Refused { function: 0x83, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("refused")
            && message.contains("1080")
            && message.contains("gives no reason"),
        "{message}"
    );
}

#[tokio::test]
async fn writes_change_state_and_are_checked() {
    let sim = simulator(DongleSimulatorOptions::default()).await;
    let dongle = client(&sim, fast());
    dongle
        .write(INVERTER, Table::Holding, 94, &[100])
        .await
        .unwrap();
    dongle.write_register(INVERTER, 95, 400).await.unwrap();
    assert_eq!(
        sim.registers(INVERTER, Table::Holding, 94, 2),
        [Some(100), Some(400)]
    );
    assert_eq!(
        dongle.read(INVERTER, Table::Holding, 94, 2).await.unwrap(),
        [100, 400]
    );
    // One single-register write per word.
    let writes: Vec<(u16, u16)> = sim
        .log()
        .iter()
        .filter(|e| e.function == 6)
        .map(|e| (e.address, e.count_or_value))
        .collect();
    assert_eq!(writes, [(94, 100), (95, 400)]);
    let refused = dongle
        .write(INVERTER, Table::Holding, 0, &[1])
        .await
        .unwrap_err();
    assert!(
        matches!(refused, DongleError::Refused { function: 0x86, .. }),
        "{refused:?}"
    );
    assert_eq!(sim.registers(INVERTER, Table::Holding, 0, 1), [Some(2000)]);
}

#[tokio::test]
async fn invalid_requests_send_nothing() {
    let sim = simulator(DongleSimulatorOptions::default()).await;
    let dongle = client(&sim, fast());
    for error in [
        dongle
            .write(INVERTER, Table::Input, 0, &[1])
            .await
            .unwrap_err(),
        dongle.read(INVERTER, Table::Coil, 0, 1).await.unwrap_err(),
        dongle
            .read(INVERTER, Table::Holding, 65535, 2)
            .await
            .unwrap_err(),
        dongle
            .read(INVERTER, Table::Holding, 0, 0)
            .await
            .unwrap_err(),
        dongle
            .write(INVERTER, Table::Holding, 0, &[])
            .await
            .unwrap_err(),
        dongle
            .write(INVERTER, Table::Holding, 94, &[1, 2])
            .await
            .unwrap_err(),
    ] {
        assert!(
            matches!(error, DongleError::InvalidRequest { .. }),
            "{error:?}"
        );
    }
    assert!(sim.log().is_empty());
    assert_eq!(dongle.stats().connections, 0);
}

#[tokio::test]
async fn heartbeats_are_answered_with_the_type_echoed() {
    let sim = simulator(DongleSimulatorOptions {
        heartbeat_interval: Duration::from_millis(30),
        ..Default::default()
    })
    .await;
    let dongle = client(&sim, fast());
    dongle.read(INVERTER, Table::Input, 0, 1).await.unwrap();
    assert!(
        eventually(|| sim.stats().heartbeat_replies >= 2).await,
        "{:?}",
        sim.stats()
    );
    assert!(dongle.stats().heartbeats_answered >= 2);
    // Reads keep working between heartbeats.
    assert_eq!(
        dongle.read(INVERTER, Table::Input, 1, 1).await.unwrap(),
        [1001]
    );
}

#[tokio::test]
async fn heartbeat_replies_can_be_switched_off() {
    let sim = simulator(DongleSimulatorOptions {
        heartbeat_interval: Duration::from_millis(20),
        ..Default::default()
    })
    .await;
    let dongle = client(
        &sim,
        DongleOptions {
            answer_heartbeats: false,
            ..fast()
        },
    );
    dongle.read(INVERTER, Table::Input, 0, 1).await.unwrap();
    assert!(eventually(|| dongle.stats().heartbeats_received >= 3).await);
    assert_eq!(dongle.stats().heartbeats_answered, 0);
    assert_eq!(sim.stats().heartbeat_replies, 0);
}

#[tokio::test]
async fn two_clients_get_their_own_answers_despite_the_fan_out() {
    let sim = simulator(DongleSimulatorOptions::default()).await;
    let a = client(&sim, fast());
    let b = client(
        &sim,
        DongleOptions {
            adapter_serial: Serial::new("AB1234G567").unwrap(),
            ..fast()
        },
    );
    let reads_a = async {
        for i in 0..20_u16 {
            let at = i % 60;
            assert_eq!(
                a.read(INVERTER, Table::Input, at, 1).await.unwrap(),
                [1000 + at]
            );
            assert_eq!(
                a.read(PACK, Table::Input, 60 + at, 1).await.unwrap(),
                [3060 + at]
            );
        }
    };
    let reads_b = async {
        for i in 0..20_u16 {
            let at = i % 60;
            assert_eq!(
                b.read(INVERTER, Table::Holding, 60 + at, 1).await.unwrap(),
                [60 + at]
            );
            // The same shape as the other client's requests: either reply is right.
            assert_eq!(
                b.read(INVERTER, Table::Input, at, 1).await.unwrap(),
                [1000 + at]
            );
        }
    };
    tokio::join!(reads_a, reads_b);
    // Each saw replies meant for the other.
    assert!(a.stats().unsolicited > 0, "{:?}", a.stats());
    assert!(b.stats().unsolicited > 0, "{:?}", b.stats());
    // ...and kept them: a page only b asked for is in a's cache.
    assert_eq!(
        a.cached(INVERTER, Table::Holding, 60, 60)
            .map(|p| p.values[0]),
        Some(60)
    );
}

#[tokio::test]
async fn a_connection_dropped_mid_read_recovers() {
    let sim = simulator(DongleSimulatorOptions {
        drop_after_requests: Some(2),
        ..Default::default()
    })
    .await;
    let dongle = client(&sim, fast());
    assert_eq!(
        dongle.read(INVERTER, Table::Input, 5, 1).await.unwrap(),
        [1005]
    );
    // The second request's reply is cut in half and the socket closed; the read retries on a
    // new connection.
    assert_eq!(
        dongle.read(INVERTER, Table::Holding, 5, 1).await.unwrap(),
        [2005]
    );
    assert_eq!(dongle.stats().connections, 2);
    assert_eq!(sim.stats().connections, 2);
    assert_eq!(
        dongle.read(PACK, Table::Input, 60, 1).await.unwrap(),
        [3060]
    );
}

#[tokio::test]
async fn unsolicited_pages_are_cached_and_garbage_is_skipped() {
    let sim = simulator(DongleSimulatorOptions::default()).await;
    let dongle = client(&sim, fast());
    dongle.read(INVERTER, Table::Input, 0, 1).await.unwrap();
    let page = Frame::ReadResponse(ReadResponse {
        adapter: Serial::new("WF0000G000").unwrap(),
        device: 0x33,
        function: ReadFunction::Input,
        inverter: Serial::new("SA0000G000").unwrap(),
        base: 60,
        values: (0..60).collect(),
    })
    .encode()
    .unwrap();
    let mut bad_crc = page.clone();
    let last = bad_crc.len() - 1;
    bad_crc[last] ^= 0xff;
    let mut noise = vec![0x00, 0x59, 0x59, 0x13];
    noise.extend_from_slice(&bad_crc);
    noise.extend_from_slice(&page);
    sim.broadcast(noise);
    assert!(eventually(|| dongle.cached(0x33, Table::Input, 60, 60).is_some()).await);
    assert_eq!(
        dongle.cached(0x33, Table::Input, 60, 60).unwrap().values[59],
        59
    );
    assert!(dongle.stats().bad_frames >= 1);
    assert_eq!(
        dongle.read(INVERTER, Table::Input, 2, 1).await.unwrap(),
        [1002]
    );
}

#[tokio::test]
async fn a_silent_device_times_out_with_attempts_counted() {
    // A peer that accepts and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    });
    let dongle = DongleClient::new(
        address,
        DongleOptions {
            request_timeout: Duration::from_millis(100),
            retries: 1,
            ..fast()
        },
    );
    let error = dongle
        .read(INVERTER, Table::Input, 0, 60)
        .await
        .unwrap_err();
    assert!(
        matches!(error, DongleError::Timeout { attempts: 2, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("no matching reply"), "{error}");
    hold.abort();
}

#[tokio::test]
async fn a_dead_address_fails_to_connect() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let dongle = DongleClient::new(
        address,
        DongleOptions {
            retries: 0,
            ..fast()
        },
    );
    let error = dongle.read(INVERTER, Table::Input, 0, 1).await.unwrap_err();
    assert!(
        matches!(
            error,
            DongleError::Connect { .. } | DongleError::ConnectTimeout { .. }
        ),
        "{error:?}"
    );
    assert!(error.is_transport());
}

/// A scripted dongle: accepts one connection, and for each request frame it receives sends the
/// frames `answer` returns.
async fn scripted(
    answer: impl Fn(&Frame) -> Vec<Frame> + Send + 'static,
) -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let mut framer = Framer::new();
        let mut buf = [0_u8; 512];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
            framer.push(&buf[..n]);
            while let Some(raw) = framer.next_frame() {
                let Ok(request) = raw.decode() else { continue };
                let mut out = Vec::new();
                for frame in answer(&request) {
                    out.extend(frame.encode().unwrap());
                }
                // Everything in one write: the reply arrives joined to the frames before it.
                if stream.write_all(&out).await.is_err() {
                    return;
                }
            }
        }
    });
    (address, task)
}

fn sim_serial() -> Serial {
    Serial::new("SA0000G000").unwrap()
}

#[tokio::test]
async fn a_reply_is_matched_by_shape_never_by_order() {
    use givenergy_dongle::{ErrorResponse, WriteResponse};
    let (address, task) = scripted(|request| {
        let Frame::ReadRequest(r) = request else {
            return Vec::new();
        };
        let page = |device, function, base: u16, first: u16| {
            Frame::ReadResponse(ReadResponse {
                adapter: sim_serial(),
                device,
                function,
                inverter: sim_serial(),
                base,
                values: (first..first + 60).collect(),
            })
        };
        vec![
            // Other clients' traffic first: another device, another function, another base, an
            // error reply for another base, a write echo.
            page(PACK, r.function, r.base, 7000),
            page(r.device, ReadFunction::Holding, r.base, 8000),
            page(r.device, r.function, r.base + 60, 9000),
            Frame::ErrorResponse(ErrorResponse {
                adapter: sim_serial(),
                device: r.device,
                function: r.function.code(),
                inverter: sim_serial(),
                base: r.base + 60,
                count: 0,
            }),
            Frame::WriteResponse(WriteResponse {
                adapter: sim_serial(),
                device: r.device,
                inverter: sim_serial(),
                register: r.base,
                value: 1,
            }),
            // ...then the answer.
            page(r.device, r.function, r.base, 100),
        ]
    })
    .await;
    let dongle = DongleClient::new(address, fast());
    assert_eq!(
        dongle.read(INVERTER, Table::Input, 61, 2).await.unwrap(),
        [101, 102]
    );
    assert_eq!(dongle.stats().unsolicited, 5);
    // The other pages were kept.
    assert_eq!(
        dongle
            .cached(PACK, Table::Input, 60, 60)
            .map(|p| p.values[0]),
        Some(7000)
    );
    assert_eq!(
        dongle
            .cached(INVERTER, Table::Holding, 60, 60)
            .map(|p| p.values[0]),
        Some(8000)
    );
    task.abort();
}

#[tokio::test]
async fn a_write_echo_that_differs_is_an_error() {
    use givenergy_dongle::WriteResponse;
    let (address, task) = scripted(|request| {
        let Frame::WriteRequest(w) = request else {
            return Vec::new();
        };
        vec![Frame::WriteResponse(WriteResponse {
            adapter: sim_serial(),
            device: w.device,
            inverter: sim_serial(),
            register: w.register,
            value: w.value.wrapping_add(1),
        })]
    })
    .await;
    let dongle = DongleClient::new(address, fast());
    let error = dongle.write_register(INVERTER, 116, 55).await.unwrap_err();
    assert!(
        matches!(
            error,
            DongleError::WriteMismatch {
                written: 55,
                read_back: 56,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("read back 56"), "{error}");
    task.abort();
}
