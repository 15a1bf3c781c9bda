//! The client against the simulator over loopback: every fault gives its documented error or
//! recovers within timeout × retries.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use modbus_client::{
    ClientOptions, Endpoint, Error, Exception, Layout, ModbusClient, Operation, Pool,
};
use modbus_core::Table;
use simulator::modbus::{
    Access, Exception as SimException, Faults, Framing, GapPolicy, RegisterBank, Simulator,
    SimulatorHandle,
};

/// Every test's outer bound: generous against a loaded machine, never reached when things work.
const WAIT: Duration = Duration::from_secs(20);

fn bank() -> RegisterBank {
    let mut bank = RegisterBank::new();
    bank.insert(
        1,
        Table::Holding,
        1210,
        &[0x4120, 0x0000],
        Access::ReadWrite,
    )
    .unwrap();
    bank.insert(1, Table::Holding, 1215, &[3], Access::ReadWrite)
        .unwrap();
    bank.insert(1, Table::Holding, 100, &[0x4148], Access::Read)
        .unwrap();
    bank.insert(1, Table::Coil, 0, &[1, 0], Access::ReadWrite)
        .unwrap();
    bank.insert(1, Table::Discrete, 0, &[0, 1], Access::Read)
        .unwrap();
    // Vestel-like input registers with a hole the device refuses to span.
    bank.insert(255, Table::Input, 1000, &[2; 38], Access::Read)
        .unwrap();
    bank.insert(
        255,
        Table::Input,
        1100,
        &[6, 0, 32, 0, 0, 0, 1],
        Access::Read,
    )
    .unwrap();
    bank.insert(200, Table::Holding, 1100, &[1], Access::Read)
        .unwrap();
    bank.add_unit(200, GapPolicy::Fill(0xFFFF));
    bank
}

fn options() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        retries: 2,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        ..ClientOptions::default()
    }
}

async fn serve(faults: Faults) -> SimulatorHandle {
    Simulator::from_bank(bank())
        .faults(faults)
        .bind("127.0.0.1:0")
        .await
        .unwrap()
}

fn client(sim: &SimulatorHandle) -> ModbusClient {
    client_with(sim, options())
}

fn client_with(sim: &SimulatorHandle, options: ClientOptions) -> ModbusClient {
    ModbusClient::new(Endpoint::tcp(sim.local_addr().to_string()), options)
}

async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(WAIT, future)
        .await
        .expect("the client gave up within timeout × retries")
}

/// A read the device must answer, within the test's bound.
async fn read_ok(
    client: &ModbusClient,
    unit: u8,
    table: Table,
    address: u16,
    count: u16,
) -> Vec<u16> {
    within(client.read(unit, table, address, count))
        .await
        .unwrap()
}

/// A read that must fail, within the test's bound.
async fn read_err(
    client: &ModbusClient,
    unit: u8,
    table: Table,
    address: u16,
    count: u16,
) -> Error {
    within(client.read(unit, table, address, count))
        .await
        .unwrap_err()
}

/// A write the device must accept, within the test's bound.
async fn write_ok(client: &ModbusClient, unit: u8, table: Table, address: u16, words: &[u16]) {
    within(client.write(unit, table, address, words))
        .await
        .unwrap();
}

/// A write that must fail, within the test's bound.
async fn write_err(
    client: &ModbusClient,
    unit: u8,
    table: Table,
    address: u16,
    words: &[u16],
) -> Error {
    within(client.write(unit, table, address, words))
        .await
        .unwrap_err()
}

/// The (address, count) of every request the simulator logged.
fn logged_requests(sim: &SimulatorHandle) -> Vec<(u16, u16)> {
    sim.log()
        .entries()
        .iter()
        .map(|e| (e.address, e.count))
        .collect()
}

fn every(n: u32) -> Option<NonZeroU32> {
    NonZeroU32::new(n)
}

#[tokio::test]
async fn every_table_and_unit_over_one_connection() {
    let sim = serve(Faults::none()).await;
    let client = client(&sim);
    assert_eq!(
        read_ok(&client, 1, Table::Holding, 1210, 2).await,
        [0x4120, 0]
    );
    assert_eq!(read_ok(&client, 1, Table::Coil, 0, 2).await, [1, 0]);
    assert_eq!(read_ok(&client, 1, Table::Discrete, 0, 2).await, [0, 1]);
    assert_eq!(
        read_ok(&client, 255, Table::Input, 1100, 3).await,
        [6, 0, 32]
    );
    assert_eq!(
        read_ok(&client, 200, Table::Holding, 1099, 2).await,
        [0xFFFF, 1]
    );
    assert_eq!(client.connections_opened(), 1);
    assert_eq!(sim.stats().accepted, 1);
    let units: Vec<u8> = sim.log().entries().iter().map(|e| e.unit).collect();
    assert_eq!(units, [1, 1, 1, 255, 200]);
}

#[tokio::test]
async fn write_then_read_back() {
    let sim = serve(Faults::none()).await;
    let client = client(&sim);
    write_ok(&client, 1, Table::Holding, 1210, &[0x4140, 0]).await;
    write_ok(&client, 1, Table::Holding, 1215, &[1]).await;
    write_ok(&client, 1, Table::Coil, 1, &[1]).await;
    write_ok(&client, 1, Table::Coil, 0, &[0, 0]).await;
    assert_eq!(
        read_ok(&client, 1, Table::Holding, 1210, 2).await,
        [0x4140, 0]
    );
    assert_eq!(read_ok(&client, 1, Table::Holding, 1215, 1).await, [1]);
    assert_eq!(read_ok(&client, 1, Table::Coil, 0, 2).await, [0, 0]);
    let functions: Vec<u8> = sim.log().entries().iter().map(|e| e.function).collect();
    assert_eq!(functions, [16, 6, 5, 15, 3, 3, 1]);
}

#[tokio::test]
async fn write_multiple_keeps_the_multiple_functions_for_one_word() {
    let sim = serve(Faults::none()).await;
    let client = client(&sim);
    within(client.write_multiple(1, Table::Holding, 1215, &[2]))
        .await
        .unwrap();
    within(client.write_multiple(1, Table::Coil, 1, &[1]))
        .await
        .unwrap();
    assert_eq!(read_ok(&client, 1, Table::Holding, 1215, 1).await, [2]);
    assert_eq!(read_ok(&client, 1, Table::Coil, 1, 1).await, [1]);
    let functions: Vec<u8> = sim.log().entries().iter().map(|e| e.function).collect();
    assert_eq!(functions, [16, 15, 3, 1]);
}

#[tokio::test]
async fn exceptions_are_named_and_not_retried() {
    let sim = serve(Faults::none()).await;
    let client = client(&sim);
    let err = read_err(&client, 1, Table::Holding, 5000, 2).await;
    assert_eq!(err.exception(), Some(Exception::IllegalDataAddress));
    assert!(!err.is_transport());
    assert_eq!(err.attempts(), 1);
    let target = err.target();
    assert_eq!(
        (
            target.endpoint.as_str(),
            target.unit,
            target.operation,
            target.table,
            target.address,
            target.count
        ),
        (
            sim.local_addr().to_string().as_str(),
            1,
            Operation::Read,
            Table::Holding,
            5000,
            2
        )
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{} unit 1: reading 2 holding registers at address 5000: device answered illegal data address (0x02)",
            sim.local_addr()
        )
    );
    let err = write_err(&client, 1, Table::Holding, 100, &[1]).await;
    assert_eq!(err.exception(), Some(Exception::IllegalFunction));
    let err = read_err(&client, 9, Table::Holding, 1210, 2).await;
    assert_eq!(err.exception(), Some(Exception::GatewayTargetDevice));
    assert_eq!(
        sim.log().len(),
        3,
        "exceptions are the device's answer: no retries"
    );
}

#[tokio::test]
async fn busy_device_is_retried_until_it_answers() {
    let faults = Faults {
        exception_every: Some((
            NonZeroU32::MIN.saturating_add(1),
            SimException::ServerDeviceBusy,
        )),
        ..Faults::none()
    };
    let sim = serve(faults).await;
    let client = client(&sim);
    for _ in 0..3 {
        assert_eq!(read_ok(&client, 1, Table::Holding, 1215, 1).await, [3]);
    }
    // Requests 2 and 4 were refused as busy and retried.
    assert_eq!(sim.log().len(), 5);
}

#[tokio::test]
async fn always_busy_gives_the_named_exception_after_all_attempts() {
    let faults = Faults {
        exception_every: Some((NonZeroU32::MIN, SimException::ServerDeviceBusy)),
        ..Faults::none()
    };
    let sim = serve(faults).await;
    let client = client(&sim);
    let err = read_err(&client, 1, Table::Holding, 1215, 1).await;
    assert_eq!(err.exception(), Some(Exception::ServerDeviceBusy));
    assert_eq!(err.attempts(), 3);
    assert!(
        err.to_string()
            .ends_with("device answered server device busy (0x06) (after 3 attempts)"),
        "{err}"
    );
    assert_eq!(sim.log().len(), 3);
}

#[tokio::test]
async fn dropped_connections_are_reopened() {
    let sim = serve(Faults {
        drop_every: every(2),
        ..Faults::none()
    })
    .await;
    let client = client(&sim);
    for _ in 0..4 {
        assert_eq!(read_ok(&client, 1, Table::Holding, 1215, 1).await, [3]);
    }
    assert!(
        client.connections_opened() >= 2,
        "reconnected after the drop"
    );
    assert_eq!(sim.stats().accepted, client.connections_opened());
}

#[tokio::test]
async fn always_dropped_gives_a_transport_error() {
    let sim = serve(Faults {
        drop_every: every(1),
        ..Faults::none()
    })
    .await;
    let client = client(&sim);
    let err = read_err(&client, 1, Table::Holding, 1215, 1).await;
    assert!(
        matches!(err, Error::Transport { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(err.is_transport());
    assert_eq!(sim.log().len(), 3);
}

#[tokio::test]
async fn garbage_is_survived_by_reconnecting() {
    let sim = serve(Faults {
        garbage_every: every(2),
        ..Faults::none()
    })
    .await;
    let client = client(&sim);
    for _ in 0..3 {
        assert_eq!(
            read_ok(&client, 1, Table::Holding, 1210, 2).await,
            [0x4120, 0]
        );
    }
    let sim = serve(Faults {
        garbage_every: every(1),
        ..Faults::none()
    })
    .await;
    let client = self::client(&sim);
    let err = read_err(&client, 1, Table::Holding, 1210, 2).await;
    assert!(
        matches!(err, Error::Transport { attempts: 3, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn wrong_transaction_ids_are_protocol_errors_and_retried() {
    let sim = serve(Faults {
        wrong_transaction_id_every: every(2),
        ..Faults::none()
    })
    .await;
    let client = client(&sim);
    for _ in 0..3 {
        assert_eq!(read_ok(&client, 1, Table::Holding, 1215, 1).await, [3]);
    }
    let sim = serve(Faults {
        wrong_transaction_id_every: every(1),
        ..Faults::none()
    })
    .await;
    let client = self::client(&sim);
    let err = read_err(&client, 1, Table::Holding, 1215, 1).await;
    assert!(
        matches!(err, Error::Protocol { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(err.is_transport());
}

#[tokio::test]
async fn slow_device_times_out_and_quick_enough_one_answers() {
    let sim = serve(Faults {
        latency: Duration::from_secs(5),
        ..Faults::none()
    })
    .await;
    let options = ClientOptions {
        request_timeout: Duration::from_millis(100),
        retries: 1,
        ..options()
    };
    let client = client_with(&sim, options);
    let err = read_err(&client, 1, Table::Holding, 1215, 1).await;
    assert!(matches!(err, Error::Timeout { attempts: 2, .. }), "{err:?}");

    let sim = serve(Faults {
        latency: Duration::from_millis(10),
        ..Faults::none()
    })
    .await;
    let client = self::client(&sim);
    assert_eq!(read_ok(&client, 1, Table::Holding, 1215, 1).await, [3]);
}

#[tokio::test]
async fn nothing_listening_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = ModbusClient::new(Endpoint::tcp(addr.to_string()), options());
    let err = read_err(&client, 1, Table::Holding, 1215, 1).await;
    assert!(matches!(err, Error::Connect { attempts: 3, .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("cannot connect (after 3 attempts)"),
        "{err}"
    );
}

#[tokio::test]
async fn pool_never_exceeds_the_connection_limit() {
    let sim = serve(Faults {
        max_connections: Some(1),
        ..Faults::none()
    })
    .await;
    let pool = Pool::new();
    let endpoint = Endpoint::tcp(sim.local_addr().to_string());
    let poller = pool.client(endpoint.clone(), options());
    let heartbeat = pool.client(endpoint, options());
    let mut tasks = Vec::new();
    for i in 0..8u16 {
        let client = if i % 2 == 0 {
            poller.clone()
        } else {
            heartbeat.clone()
        };
        tasks.push(tokio::spawn(async move {
            client.read(1, Table::Holding, 1210, 2).await
        }));
    }
    for task in tasks {
        assert_eq!(within(task).await.unwrap().unwrap(), [0x4120, 0]);
    }
    assert_eq!(sim.stats().refused, 0);
    assert_eq!(sim.stats().accepted, 1);
    assert_eq!(poller.connections_opened(), 1);
}

#[tokio::test]
async fn two_connections_where_the_map_allows_two() {
    let sim = serve(Faults {
        max_connections: Some(2),
        latency: Duration::from_millis(30),
        ..Faults::none()
    })
    .await;
    let options = ClientOptions {
        max_connections: 2,
        ..options()
    };
    let client = client_with(&sim, options);
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client.read(1, Table::Holding, 1215, 1).await
        }));
    }
    for task in tasks {
        assert_eq!(within(task).await.unwrap().unwrap(), [3]);
    }
    assert!(client.connections_opened() <= 2);
    assert_eq!(sim.stats().refused, 0);
}

#[tokio::test]
async fn a_second_master_is_refused_while_the_only_slot_is_taken() {
    let sim = serve(Faults {
        max_connections: Some(1),
        ..Faults::none()
    })
    .await;
    let first = client(&sim);
    read_ok(&first, 1, Table::Holding, 1215, 1).await;
    let second = client(&sim);
    let err = read_err(&second, 1, Table::Holding, 1215, 1).await;
    assert!(err.is_transport(), "{err:?}");
    assert_eq!(sim.stats().refused, 3);
    // The first master keeps its connection.
    assert_eq!(read_ok(&first, 1, Table::Holding, 1215, 1).await, [3]);
    assert_eq!(first.connections_opened(), 1);
}

#[tokio::test]
async fn reconnects_after_the_device_closes_an_idle_connection() {
    let sim = serve(Faults {
        idle_timeout: Some(Duration::from_millis(30)),
        ..Faults::none()
    })
    .await;
    let client = client(&sim);
    read_ok(&client, 1, Table::Holding, 1215, 1).await;
    within(async {
        while sim.stats().active > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(read_ok(&client, 1, Table::Holding, 1215, 1).await, [3]);
    assert_eq!(client.connections_opened(), 2);
    assert_eq!(
        sim.log().len(),
        2,
        "the dead pooled connection cost no request at the device"
    );
}

#[tokio::test]
async fn client_replaces_connections_older_than_the_idle_timeout() {
    let sim = serve(Faults::none()).await;
    let options = ClientOptions {
        idle_timeout: Some(Duration::from_millis(20)),
        ..options()
    };
    let client = client_with(&sim, options);
    read_ok(&client, 1, Table::Holding, 1215, 1).await;
    tokio::time::sleep(Duration::from_millis(40)).await;
    read_ok(&client, 1, Table::Holding, 1215, 1).await;
    assert_eq!(client.connections_opened(), 2);
}

/// Captures formatted tracing output for one test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn learns_holes_and_says_so_once() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sim = serve(Faults::none()).await;
    let mut layout = Layout::new();
    layout
        .insert(255, Table::Input, 1000, 38)
        .insert(255, Table::Input, 1100, 7);
    let client = client(&sim).with_layout(layout);
    let words = read_ok(&client, 255, Table::Input, 1000, 107).await;
    assert_eq!(words.len(), 107);
    assert_eq!(&words[..38], &[2; 38]);
    assert_eq!(
        &words[38..100],
        &[0; 62],
        "hole words belong to no register"
    );
    assert_eq!(&words[100..], &[6, 0, 32, 0, 0, 0, 1]);
    let requests = logged_requests(&sim);
    assert_eq!(requests, [(1000, 107), (1000, 38), (1100, 7)]);

    sim.log().clear();
    read_ok(&client, 255, Table::Input, 1000, 107).await;
    let requests = logged_requests(&sim);
    assert_eq!(requests, [(1000, 38), (1100, 7)], "the hole is remembered");

    let log = captured.text();
    assert_eq!(
        log.matches("refuses reads across unmapped addresses")
            .count(),
        1,
        "{log}"
    );
    assert!(log.contains("holes=1038..1099"), "{log}");

    // A read that itself starts in a hole asks for unmapped addresses: never zeros, the
    // device's refusal stands.
    let err = read_err(&client, 255, Table::Input, 1050, 57).await;
    assert_eq!(err.exception(), Some(Exception::IllegalDataAddress));
    let err = read_err(&client, 255, Table::Input, 1030, 20).await;
    assert_eq!(err.exception(), Some(Exception::IllegalDataAddress));

    // Without a layout there is nothing to split by: the exception stands.
    let bare = self::client(&sim);
    let err = read_err(&bare, 255, Table::Input, 1000, 107).await;
    assert_eq!(err.exception(), Some(Exception::IllegalDataAddress));
}

#[tokio::test]
async fn rtu_over_tcp_gateway() {
    let sim = Simulator::from_bank(bank())
        .framing(Framing::RtuOverTcp)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let client = ModbusClient::new(
        Endpoint::rtu_over_tcp(sim.local_addr().to_string()),
        options(),
    );
    write_ok(&client, 1, Table::Holding, 1210, &[0x4140, 0]).await;
    assert_eq!(
        read_ok(&client, 1, Table::Holding, 1210, 2).await,
        [0x4140, 0]
    );
    let err = read_err(&client, 1, Table::Holding, 5000, 1).await;
    assert_eq!(err.exception(), Some(Exception::IllegalDataAddress));
    assert_eq!(client.connections_opened(), 1);
}

#[tokio::test]
async fn invalid_requests_never_leave() {
    let sim = serve(Faults::none()).await;
    let client = client(&sim);
    for err in [
        read_err(&client, 1, Table::Holding, 0, 0).await,
        read_err(&client, 1, Table::Holding, 0, 126).await,
        read_err(&client, 1, Table::Holding, 65535, 2).await,
        write_err(&client, 1, Table::Input, 0, &[1]).await,
        write_err(&client, 1, Table::Holding, 0, &[]).await,
    ] {
        assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");
    }
    assert!(sim.log().is_empty());
}
