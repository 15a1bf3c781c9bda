//! The proxy between tokio-modbus clients and the simulator, over loopback sockets: one upstream
//! connection for many clients, answers never crossed, coalescing, caching, write checks,
//! faults, limits and malformed input. No test asserts on timing.

mod common;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use modbus_core::Table;
use simulator::modbus::{Exception as SimException, Faults, Framing, Simulator};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_modbus::prelude::{Reader as _, Writer as _};

fn every(n: u32) -> Option<NonZeroU32> {
    NonZeroU32::new(n)
}

#[tokio::test]
async fn twenty_clients_share_the_devices_only_connection() {
    let sim = simulator(Faults {
        max_connections: Some(1),
        ..Faults::none()
    })
    .await;
    let proxy = proxy_for(&sim, |_| {}).await;
    let addr = proxy.local_addr();
    let clients: Vec<_> = (0..20u16)
        .map(|i| {
            tokio::spawn(async move {
                let mut ctx = connect(addr, 1).await;
                for round in 0..25u16 {
                    // Each client reads its own register and a block every client shares.
                    let own = read_holding(&mut ctx, 100 + i, 1).await.unwrap();
                    assert_eq!(own, [value_of(i)], "client {i} round {round}");
                    let shared = read_holding(&mut ctx, 100, 20).await.unwrap();
                    let expected: Vec<u16> = (0..20).map(value_of).collect();
                    assert_eq!(shared, expected, "client {i} round {round}");
                    let input = within(ctx.read_input_registers(i, 1))
                        .await
                        .unwrap()
                        .unwrap();
                    assert_eq!(input, [value_of(i) ^ 0xFF]);
                }
            })
        })
        .collect();
    for client in clients {
        within(client).await.unwrap();
    }
    let stats = sim.stats();
    assert_eq!(stats.accepted, 1, "{stats:?}");
    assert_eq!(stats.refused, 0, "{stats:?}");
    let connections: Vec<u64> = sim.log().entries().iter().map(|e| e.connection).collect();
    assert!(connections.iter().all(|c| *c == 1));
    // 20 clients x 25 rounds x 3 reads; coalescing can only make the upstream count smaller.
    assert!(sim.log().len() <= 1500, "{}", sim.log().len());
}

#[tokio::test]
async fn identical_reads_in_flight_become_one_request() {
    // The latency keeps the first read in flight while the others arrive.
    let sim = simulator(Faults {
        latency: Duration::from_millis(400),
        ..Faults::none()
    })
    .await;
    let proxy = proxy_for(&sim, |_| {}).await;
    let addr = proxy.local_addr();
    let mut contexts = Vec::new();
    for _ in 0..10 {
        contexts.push(connect(addr, 1).await);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let tasks: Vec<_> = contexts
        .into_iter()
        .map(|mut ctx| {
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                read_holding(&mut ctx, 100, 4).await
            })
        })
        .collect();
    for task in tasks {
        let words = within(task).await.unwrap().unwrap();
        assert_eq!(words, (0..4).map(value_of).collect::<Vec<_>>());
    }
    let upstream = sim.log().len();
    assert!(
        upstream < 10,
        "{upstream} upstream requests for 10 identical reads"
    );
    let metrics = proxy.metrics();
    let coalesced = metric(&metrics, "evctl_proxy_coalesced_total{");
    assert_eq!(coalesced as usize + upstream, 10, "{metrics}");
}

/// The value of the first sample line starting with `prefix`.
fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
}

#[tokio::test]
async fn ten_clients_polling_every_second_cost_about_one_request_per_second() {
    let sim = simulator(Faults::none()).await;
    let proxy = proxy_for(&sim, |o| o.cache = "input=1s,holding=10s".parse().unwrap()).await;
    let addr = proxy.local_addr();
    let rounds = 6u32;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            tokio::spawn(async move {
                let mut ctx = connect(addr, 1).await;
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                for _ in 0..rounds {
                    tick.tick().await;
                    let words = within(ctx.read_input_registers(0, 8))
                        .await
                        .unwrap()
                        .unwrap();
                    let expected: Vec<u16> = (0..8).map(|i| value_of(i) ^ 0xFF).collect();
                    assert_eq!(words, expected);
                }
            })
        })
        .collect();
    for task in tasks {
        within(task).await.unwrap();
    }
    let upstream = sim.log().len() as u32;
    // 60 reads over about 5 seconds: one per max age, give or take a boundary; without the
    // cache it would be 60. Polls exactly one max age apart find the entry just fresh or just
    // expired, so as few as every other round may go upstream.
    println!("10 clients x {rounds} polls: {upstream} upstream requests");
    assert!(
        (rounds / 2..=rounds * 2).contains(&upstream),
        "{upstream} upstream requests for {rounds} rounds"
    );
    // Every other read was a cache hit, or joined a read in flight (the clients tick together).
    let metrics = proxy.metrics();
    let hits = metric(&metrics, "evctl_proxy_cache_hits_total{");
    let coalesced = metric(&metrics, "evctl_proxy_coalesced_total{");
    assert_eq!(
        hits as u32 + coalesced as u32 + upstream,
        10 * rounds,
        "{metrics}"
    );
}

#[tokio::test]
async fn a_write_is_seen_by_every_clients_next_read() {
    let sim = simulator(Faults::none()).await;
    let proxy = proxy_for(&sim, |o| o.cache = "holding=1h,coil=1h".parse().unwrap()).await;
    let addr = proxy.local_addr();
    let mut contexts = Vec::new();
    for _ in 0..5 {
        let mut ctx = connect(addr, 1).await;
        assert_eq!(
            read_holding(&mut ctx, 100, 4).await.unwrap()[1],
            value_of(1)
        );
        contexts.push(ctx);
    }
    // The cache now holds the block; a write through one client must invalidate it.
    within(contexts[0].write_single_register(101, 0xABCD))
        .await
        .unwrap()
        .unwrap();
    for ctx in &mut contexts {
        assert_eq!(read_holding(ctx, 100, 4).await.unwrap()[1], 0xABCD);
    }
    within(contexts[1].write_multiple_registers(102, &[7, 8]))
        .await
        .unwrap()
        .unwrap();
    for ctx in &mut contexts {
        assert_eq!(
            read_holding(ctx, 100, 4).await.unwrap(),
            [value_of(0), 0xABCD, 7, 8]
        );
    }
    // Coils, through functions 5 and 15.
    let before = within(contexts[2].read_coils(0, 4)).await.unwrap().unwrap();
    assert_eq!(before, [true, false, true, true]);
    within(contexts[2].write_single_coil(1, true))
        .await
        .unwrap()
        .unwrap();
    within(contexts[3].write_multiple_coils(2, &[false]))
        .await
        .unwrap()
        .unwrap();
    for ctx in &mut contexts {
        let coils = within(ctx.read_coils(0, 4)).await.unwrap().unwrap();
        assert_eq!(coils, [true, true, false, true]);
    }
    assert_eq!(sim.registers(1, Table::Holding, 101, 1), [Some(0xABCD)]);
    let functions: Vec<u8> = sim.log().entries().iter().map(|e| e.function).collect();
    assert!(functions.contains(&6) && functions.contains(&16));
    assert!(
        functions.contains(&5) && functions.contains(&15),
        "{functions:?}"
    );
}

#[tokio::test]
async fn faults_surface_as_exceptions_never_as_another_clients_data() {
    let faults = [
        Faults {
            drop_every: every(5),
            ..Faults::none()
        },
        Faults {
            garbage_every: every(4),
            ..Faults::none()
        },
        Faults {
            wrong_transaction_id_every: every(3),
            ..Faults::none()
        },
        Faults {
            exception_every: every(4).map(|n| (n, SimException::ServerDeviceFailure)),
            ..Faults::none()
        },
    ];
    for fault in faults {
        let sim = simulator(fault.clone()).await;
        let proxy = proxy_for(&sim, |o| o.client_options.retries = 0).await;
        let addr = proxy.local_addr();
        let tasks: Vec<_> = (0..8u16)
            .map(|i| {
                tokio::spawn(async move {
                    let mut ctx = connect(addr, 1).await;
                    let (mut ok, mut failed) = (0, 0);
                    for _ in 0..20 {
                        match read_holding(&mut ctx, 100 + i, 1).await {
                            Ok(words) => {
                                assert_eq!(words, [value_of(i)], "client {i} got another's data");
                                ok += 1;
                            }
                            Err(err) => {
                                assert!(err.starts_with("exception"), "{err}");
                                failed += 1;
                            }
                        }
                    }
                    (ok, failed)
                })
            })
            .collect();
        let (mut ok, mut failed) = (0, 0);
        for task in tasks {
            let (o, f) = within(task).await.unwrap();
            ok += o;
            failed += f;
        }
        println!("{fault:?}: {ok} ok, {failed} exceptions");
        assert!(ok > 0, "{fault:?}: {ok} ok, {failed} failed");
        // A dropped or garbled connection is reopened and the request sent again by
        // modbus-client, so the clients may never notice; an exception or an answer under a
        // wrong transaction id (with no retries) must reach some of them.
        if fault.exception_every.is_some() || fault.wrong_transaction_id_every.is_some() {
            assert!(failed > 0, "{fault:?}: {ok} ok, {failed} failed");
            let metrics = proxy.metrics();
            assert!(
                metrics.contains("evctl_proxy_errors_total{kind=\"upstream_"),
                "{metrics}"
            );
        }
    }
}

#[tokio::test]
async fn exceptions_of_the_device_reach_the_client_unchanged() {
    let sim = simulator(Faults {
        exception_every: every(1).map(|n| (n, SimException::IllegalDataValue)),
        ..Faults::none()
    })
    .await;
    let proxy = proxy_for(&sim, |_| {}).await;
    let mut ctx = connect(proxy.local_addr(), 1).await;
    assert_eq!(
        read_holding(&mut ctx, 100, 1).await,
        Err("exception 0x03".into())
    );
    // Unmapped addresses are the device's illegal data address.
    let plain = simulator(Faults::none()).await;
    let proxy = proxy_for(&plain, |_| {}).await;
    let mut ctx = connect(proxy.local_addr(), 1).await;
    assert_eq!(
        read_holding(&mut ctx, 5000, 1).await,
        Err("exception 0x02".into())
    );
}

#[tokio::test]
async fn a_slow_device_times_out_as_gateway_target_failed_and_then_recovers() {
    let sim = simulator(Faults {
        latency: Duration::from_millis(600),
        ..Faults::none()
    })
    .await;
    let proxy = proxy_for(&sim, |o| {
        o.client_options.request_timeout = Duration::from_millis(200);
        o.client_options.retries = 0;
    })
    .await;
    let mut ctx = connect(proxy.local_addr(), 1).await;
    assert_eq!(
        read_holding(&mut ctx, 100, 1).await,
        Err("exception 0x0b".into())
    );
    assert_eq!(
        read_holding(&mut ctx, 101, 1).await,
        Err("exception 0x0b".into())
    );
    let metrics = proxy.metrics();
    assert!(
        metrics.contains("evctl_proxy_errors_total{kind=\"upstream_timeout\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_device_that_is_gone_is_gateway_path_unavailable() {
    // A port that was free a moment ago: nothing listens there.
    let unused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let proxy = proxy_with(&[format!("tcp://{unused}")], |o| {
        o.client_options.retries = 0
    })
    .await;
    let mut ctx = connect(proxy.local_addr(), 1).await;
    assert_eq!(
        read_holding(&mut ctx, 100, 1).await,
        Err("exception 0x0a".into())
    );
}

#[tokio::test]
async fn a_client_leaving_mid_request_does_not_poison_the_upstream() {
    let sim = simulator(Faults {
        latency: Duration::from_millis(300),
        ..Faults::none()
    })
    .await;
    let proxy = proxy_for(&sim, |_| {}).await;
    let addr = proxy.local_addr();
    // A raw client sends a read of register 100 and hangs up without waiting.
    let mut raw = TcpStream::connect(addr).await.unwrap();
    raw.write_all(&[0, 1, 0, 0, 0, 6, 1, 3, 0, 100, 0, 1])
        .await
        .unwrap();
    drop(raw);
    // The next client asks for another register and must get exactly its own.
    let mut ctx = connect(addr, 1).await;
    assert_eq!(read_holding(&mut ctx, 105, 1).await.unwrap(), [value_of(5)]);
    assert_eq!(read_holding(&mut ctx, 106, 1).await.unwrap(), [value_of(6)]);
    assert_eq!(sim.stats().accepted, 1);
}

#[tokio::test]
async fn malformed_input_gets_an_exception_or_a_clean_close() {
    let sim = simulator(Faults::none()).await;
    let proxy = proxy_with(&[format!("1-5=tcp://{}", sim.local_addr())], |_| {}).await;
    let addr = proxy.local_addr();
    let exchange = |request: Vec<u8>| async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&request).await.unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 64];
        // Read one frame, or until the proxy closes.
        loop {
            let n = within(stream.read(&mut buf)).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            if answer.len() >= 7 && answer.len() >= 6 + usize::from(answer[5]) {
                break;
            }
        }
        answer
    };
    // Read with a PDU one byte short: illegal data value, under the client's transaction id.
    assert_eq!(
        exchange(vec![0xAB, 0xCD, 0, 0, 0, 5, 1, 3, 0, 100, 0]).await,
        [0xAB, 0xCD, 0, 0, 0, 3, 1, 0x83, 0x03]
    );
    // An unknown function: illegal function.
    assert_eq!(
        exchange(vec![0, 7, 0, 0, 0, 3, 1, 43, 14]).await,
        [0, 7, 0, 0, 0, 3, 1, 43 | 0x80, 0x01]
    );
    // A unit no route names: gateway path unavailable.
    assert_eq!(
        exchange(vec![0, 8, 0, 0, 0, 6, 9, 3, 0, 100, 0, 1]).await,
        [0, 8, 0, 0, 0, 3, 9, 0x83, 0x0A]
    );
    // Not Modbus TCP at all (protocol id 0xBEEF): the connection is closed without an answer.
    assert!(
        exchange(vec![0xDE, 0xAD, 0xBE, 0xEF, 0, 6, 1, 3, 0, 0, 0, 1])
            .await
            .is_empty()
    );
    // A length field of 0: closed as well.
    assert!(exchange(vec![0, 1, 0, 0, 0, 0, 1]).await.is_empty());
    // And the proxy still serves everyone else.
    let mut ctx = connect(addr, 1).await;
    assert_eq!(read_holding(&mut ctx, 100, 1).await.unwrap(), [value_of(0)]);
    let metrics = proxy.metrics();
    assert!(
        metrics.contains("evctl_proxy_errors_total{kind=\"malformed_frame\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("evctl_proxy_errors_total{kind=\"unknown_unit\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("evctl_proxy_errors_total{kind=\"bad_request\"} 2"),
        "{metrics}"
    );
    // None of the refused requests reached the device.
    assert_eq!(sim.log().len(), 1);
}

#[tokio::test]
async fn units_route_to_their_own_upstreams_over_both_framings() {
    let tcp = simulator(Faults::none()).await;
    // The RTU gateway's device answers as unit 2.
    let mut rtu_bank = simulator::modbus::RegisterBank::new();
    rtu_bank
        .insert(
            2,
            Table::Holding,
            100,
            &[0x2222],
            simulator::modbus::Access::ReadWrite,
        )
        .unwrap();
    let rtu = Simulator::from_bank(rtu_bank)
        .framing(Framing::RtuOverTcp)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let proxy = proxy_with(
        &[
            format!("1=tcp://{}", tcp.local_addr()),
            format!("2-3=rtu+tcp://{}", rtu.local_addr()),
        ],
        |_| {},
    )
    .await;
    let mut one = connect(proxy.local_addr(), 1).await;
    let mut two = connect(proxy.local_addr(), 2).await;
    assert_eq!(read_holding(&mut one, 100, 1).await.unwrap(), [value_of(0)]);
    assert_eq!(read_holding(&mut two, 100, 1).await.unwrap(), [0x2222]);
    within(two.write_single_register(100, 0x3333))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rtu.registers(2, Table::Holding, 100, 1), [Some(0x3333)]);
    assert_eq!((tcp.log().len(), rtu.log().len()), (1, 2));
}

#[tokio::test]
async fn read_only_refuses_every_write_with_illegal_function() {
    let sim = simulator(Faults::none()).await;
    let proxy = proxy_for(&sim, |o| o.read_only = true).await;
    let mut ctx = connect(proxy.local_addr(), 1).await;
    let code = |r: tokio_modbus::Result<()>| r.unwrap().map_err(u8::from);
    assert_eq!(
        code(within(ctx.write_single_register(100, 1)).await),
        Err(1)
    );
    assert_eq!(
        code(within(ctx.write_multiple_registers(100, &[1, 2])).await),
        Err(1)
    );
    assert_eq!(code(within(ctx.write_single_coil(0, false)).await), Err(1));
    assert_eq!(read_holding(&mut ctx, 100, 1).await.unwrap(), [value_of(0)]);
    let functions: Vec<u8> = sim.log().entries().iter().map(|e| e.function).collect();
    assert_eq!(functions, [3]);
}

const CHARGER: &str = r#"
manufacturer: Demo
model: Charger
connection: {unit_ids: {socket: 1}, address_base: 0}
registers:
  - {name: voltage, address: 306, type: float32, unit: V, example: 230}
  - {name: max_current, address: 1210, type: float32, access: rw, unit: A, write: {min: 0, max: 32}, example: 16}
  - {name: phases, address: 1215, type: uint16, access: rw, enum: {1: one, 3: three}, example: 3}
"#;

fn float_words(value: f32) -> [u16; 2] {
    let bits = value.to_bits();
    [(bits >> 16) as u16, bits as u16]
}

#[tokio::test]
async fn with_a_map_writes_outside_it_are_refused_with_2_or_3() {
    let map = Arc::new(device_maps::parse_map("demo-charger", CHARGER).unwrap());
    let sim = Simulator::builder(&map).bind("127.0.0.1:0").await.unwrap();
    let guard = modbus_proxy::WriteGuard::new(Arc::clone(&map));
    let proxy = proxy_for(&sim, |o| o.guard = Some(guard)).await;
    let mut ctx = connect(proxy.local_addr(), 1).await;
    let code = |r: tokio_modbus::Result<()>| r.unwrap().map_err(u8::from);
    // Inside the map: forwarded.
    assert_eq!(
        code(within(ctx.write_multiple_registers(1210, &float_words(10.0))).await),
        Ok(())
    );
    assert_eq!(
        code(within(ctx.write_single_register(1215, 1)).await),
        Ok(())
    );
    // A read-only register, an unmapped address: illegal data address.
    assert_eq!(
        code(within(ctx.write_multiple_registers(306, &[0, 0])).await),
        Err(2)
    );
    assert_eq!(
        code(within(ctx.write_single_register(2000, 1)).await),
        Err(2)
    );
    // Above the maximum, not in the enumeration, half a float: illegal data value.
    assert_eq!(
        code(within(ctx.write_multiple_registers(1210, &float_words(40.0))).await),
        Err(3)
    );
    assert_eq!(
        code(within(ctx.write_single_register(1215, 2)).await),
        Err(3)
    );
    assert_eq!(
        code(within(ctx.write_single_register(1210, 0x4120)).await),
        Err(3)
    );
    // Only the two allowed writes reached the device.
    let writes: Vec<(u8, u16)> = sim
        .log()
        .entries()
        .iter()
        .map(|e| (e.function, e.address))
        .collect();
    assert_eq!(writes, [(16, 1210), (6, 1215)]);
    let metrics = proxy.metrics();
    assert!(
        metrics.contains("evctl_proxy_errors_total{kind=\"write_refused\"} 5"),
        "{metrics}"
    );
}

#[tokio::test]
async fn per_client_limits_refuse_connections_and_excess_requests() {
    let sim = simulator(Faults::none()).await;
    let proxy = proxy_for(&sim, |o| {
        o.limits.max_connections_per_client = 1;
        o.limits.requests_per_second = NonZeroU32::new(3);
    })
    .await;
    let addr = proxy.local_addr();
    let mut first = connect(addr, 1).await;
    // A second connection from the same address is closed at once.
    let mut second = connect(addr, 1).await;
    assert!(
        read_holding(&mut second, 100, 1)
            .await
            .unwrap_err()
            .starts_with("transport")
    );
    // Three requests pass in the first second; a burst of ten meets "server device busy".
    let mut answers = Vec::new();
    for _ in 0..10 {
        answers.push(read_holding(&mut first, 100, 1).await);
    }
    assert!(
        answers
            .iter()
            .any(|a| a == &Err("exception 0x06".to_owned())),
        "{answers:?}"
    );
    assert!(answers.iter().take(3).all(|a| a.is_ok()), "{answers:?}");
    let metrics = proxy.metrics();
    assert!(
        metrics.contains("evctl_proxy_errors_total{kind=\"connection_refused\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("evctl_proxy_errors_total{kind=\"rate_limited\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn metrics_are_served_over_http() {
    let sim = simulator(Faults::none()).await;
    let proxy = proxy_for(&sim, |o| {
        o.metrics_listen = Some("127.0.0.1:0".to_owned());
        o.cache = "holding=1h".parse().unwrap();
        o.read_only = true;
    })
    .await;
    let mut ctx = connect(proxy.local_addr(), 1).await;
    for _ in 0..3 {
        read_holding(&mut ctx, 100, 2).await.unwrap();
    }
    let _ = within(ctx.write_single_register(100, 1)).await;
    let mut http = TcpStream::connect(proxy.metrics_addr().unwrap())
        .await
        .unwrap();
    http.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    within(http.read_to_string(&mut response)).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    let body = response.split_once("\r\n\r\n").unwrap().1;
    // Latency figures vary from run to run; their shape is checked, their values are not.
    assert!(body.contains("evctl_proxy_upstream_latency_seconds_count{upstream="));
    let upstream = format!("tcp://{}", sim.local_addr());
    let stable: String = body
        .lines()
        .filter(|l| !l.starts_with("evctl_proxy_upstream_latency_seconds_"))
        .map(|l| l.replace(&upstream, "tcp://SIMULATOR"))
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!(stable);
    let mut other = TcpStream::connect(proxy.metrics_addr().unwrap())
        .await
        .unwrap();
    other.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    let mut response = String::new();
    within(other.read_to_string(&mut response)).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
}
