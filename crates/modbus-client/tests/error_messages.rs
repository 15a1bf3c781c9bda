//! What a user reads when a request fails: one line per error and each of its causes, for every
//! kind of failure the simulator can provoke. Snapshotted so a change of wording is reviewed.

use std::error::Error as _;
use std::fmt::Write as _;
use std::num::NonZeroU32;
use std::time::Duration;

use modbus_client::{ClientOptions, Endpoint, ModbusClient};
use modbus_core::Table;
use simulator::modbus::{Access, Exception, Faults, RegisterBank, Simulator};

fn bank() -> RegisterBank {
    let mut bank = RegisterBank::new();
    bank.insert(1, Table::Holding, 1210, &[0x4120, 0], Access::ReadWrite)
        .unwrap();
    bank.insert(1, Table::Holding, 100, &[1], Access::Read)
        .unwrap();
    bank
}

fn options() -> ClientOptions {
    ClientOptions {
        request_timeout: Duration::from_millis(200),
        retries: 1,
        backoff: Duration::from_millis(5),
        ..ClientOptions::default()
    }
}

fn chain(err: &modbus_client::Error) -> String {
    let mut text = format!("error: {err}");
    let mut source = err.source();
    while let Some(cause) = source {
        let _ = write!(text, "\n  caused by: {cause}");
        source = cause.source();
    }
    text
}

async fn failure(faults: Faults, write: bool) -> String {
    let sim = Simulator::from_bank(bank())
        .faults(faults)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let client = ModbusClient::new(Endpoint::tcp(sim.local_addr().to_string()), options());
    let result = tokio::time::timeout(Duration::from_secs(20), async {
        if write {
            client.write(1, Table::Holding, 100, &[7]).await
        } else {
            client.read(1, Table::Holding, 1210, 2).await.map(drop)
        }
    })
    .await
    .expect("gave up within timeout × retries");
    chain(&result.unwrap_err()).replace(&sim.local_addr().to_string(), "127.0.0.1:[PORT]")
}

#[tokio::test]
async fn error_messages() {
    let every = |n| NonZeroU32::new(n);
    let mut report = String::new();
    let cases = [
        ("write to a read-only register", Faults::none(), true),
        (
            "always busy",
            Faults {
                exception_every: every(1).map(|n| (n, Exception::ServerDeviceBusy)),
                ..Faults::none()
            },
            false,
        ),
        (
            "connection dropped",
            Faults {
                drop_every: every(1),
                ..Faults::none()
            },
            false,
        ),
        (
            "garbage bytes",
            Faults {
                garbage_every: every(1),
                ..Faults::none()
            },
            false,
        ),
        (
            "wrong transaction id",
            Faults {
                wrong_transaction_id_every: every(1),
                ..Faults::none()
            },
            false,
        ),
        (
            "too slow",
            Faults {
                latency: Duration::from_secs(5),
                ..Faults::none()
            },
            false,
        ),
        (
            "read-only device",
            Faults {
                read_only: true,
                ..Faults::none()
            },
            true,
        ),
    ];
    for (name, faults, write) in cases {
        let _ = writeln!(report, "## {name}\n{}\n", failure(faults, write).await);
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = ModbusClient::new(Endpoint::tcp(addr.to_string()), options());
    let err = client.read(1, Table::Holding, 1210, 2).await.unwrap_err();
    let text = chain(&err).replace(&addr.to_string(), "127.0.0.1:[PORT]");
    let _ = writeln!(report, "## nothing listening\n{text}");
    insta::assert_snapshot!(report);
}
