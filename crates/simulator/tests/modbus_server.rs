//! The simulator's Modbus server against an independent client (tokio-modbus) and raw sockets
//! on loopback.

mod common;

use std::num::NonZeroU32;
use std::time::Duration;

use modbus_core::Table;
use simulator::modbus::{
    Access, Exception, Faults, Framing, GapPolicy, LogEntry, RegisterBank, Simulator,
    SimulatorHandle,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_modbus::prelude::*;

use common::{WAIT, read_holding, read_input, within};

fn bank() -> RegisterBank {
    let mut bank = RegisterBank::new();
    bank.insert(1, Table::Holding, 100, &[0x4148, 0x4C46], Access::Read)
        .unwrap();
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
    bank.insert(1, Table::Input, 1000, &[2], Access::Read)
        .unwrap();
    bank.insert(1, Table::Input, 1100, &[6, 0, 32], Access::Read)
        .unwrap();
    bank.insert(1, Table::Coil, 0, &[1, 0, 1], Access::ReadWrite)
        .unwrap();
    bank.insert(1, Table::Discrete, 0, &[0, 1], Access::Read)
        .unwrap();
    bank.insert(200, Table::Holding, 1100, &[1], Access::Read)
        .unwrap();
    bank.add_unit(200, GapPolicy::Fill(0xFFFF));
    bank
}

async fn connect(addr: std::net::SocketAddr, unit: u8) -> client::Context {
    tokio::time::timeout(WAIT, tcp::connect_slave(addr, Slave(unit)))
        .await
        .unwrap()
        .unwrap()
}

/// The simulator on the test bank, without faults, on a loopback port.
async fn start() -> SimulatorHandle {
    Simulator::from_bank(bank())
        .bind("127.0.0.1:0")
        .await
        .unwrap()
}

/// The simulator on the test bank with `faults`, on a loopback port.
async fn start_with(faults: Faults) -> SimulatorHandle {
    Simulator::from_bank(bank())
        .faults(faults)
        .bind("127.0.0.1:0")
        .await
        .unwrap()
}

#[tokio::test]
async fn serves_every_table_and_logs_each_request() {
    let sim = start().await;
    let mut ctx = connect(sim.local_addr(), 1).await;
    assert_eq!(read_holding(&mut ctx, 1210, 2).await, [0x4120, 0]);
    assert_eq!(read_input(&mut ctx, 1100, 3).await, [6, 0, 32]);
    assert_eq!(
        within(ctx.read_coils(0, 3)).await.unwrap().unwrap(),
        [true, false, true]
    );
    assert_eq!(
        within(ctx.read_discrete_inputs(0, 2))
            .await
            .unwrap()
            .unwrap(),
        [false, true]
    );
    ctx.set_slave(Slave(200));
    // Unit 200 fills unmapped addresses with 0xFFFF.
    assert_eq!(read_holding(&mut ctx, 1099, 3).await, [0xFFFF, 1, 0xFFFF]);
    let log = sim.log().entries();
    let expected = [
        LogEntry {
            connection: 1,
            unit: 1,
            function: 3,
            address: 1210,
            count: 2,
        },
        LogEntry {
            connection: 1,
            unit: 1,
            function: 4,
            address: 1100,
            count: 3,
        },
        LogEntry {
            connection: 1,
            unit: 1,
            function: 1,
            address: 0,
            count: 3,
        },
        LogEntry {
            connection: 1,
            unit: 1,
            function: 2,
            address: 0,
            count: 2,
        },
        LogEntry {
            connection: 1,
            unit: 200,
            function: 3,
            address: 1099,
            count: 3,
        },
    ];
    assert_eq!(log, expected);
    sim.shutdown().await;
}

#[tokio::test]
async fn writes_change_state_and_refusals_are_named() {
    let sim = start().await;
    let mut ctx = connect(sim.local_addr(), 1).await;
    within(ctx.write_multiple_registers(1210, &[0x4140, 0]))
        .await
        .unwrap()
        .unwrap();
    within(ctx.write_single_register(1215, 1))
        .await
        .unwrap()
        .unwrap();
    within(ctx.write_single_coil(1, true))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read_holding(&mut ctx, 1210, 2).await, [0x4140, 0]);
    assert_eq!(sim.registers(1, Table::Holding, 1215, 1), [Some(1)]);
    assert_eq!(sim.registers(1, Table::Coil, 1, 1), [Some(1)]);

    // Read-only register, unmapped address, half of a FLOAT32, gap on a unit without fill.
    let refused = within(ctx.write_single_register(100, 1)).await.unwrap();
    assert_eq!(refused, Err(ExceptionCode::IllegalFunction));
    let refused = within(ctx.write_single_register(5000, 1)).await.unwrap();
    assert_eq!(refused, Err(ExceptionCode::IllegalDataAddress));
    let refused = within(ctx.write_single_register(1210, 1)).await.unwrap();
    assert_eq!(refused, Err(ExceptionCode::IllegalDataValue));
    let refused = within(ctx.read_input_registers(1000, 101)).await.unwrap();
    assert_eq!(refused, Err(ExceptionCode::IllegalDataAddress));
    // A unit the device does not answer.
    ctx.set_slave(Slave(7));
    let refused = within(ctx.read_holding_registers(1210, 2)).await.unwrap();
    assert_eq!(refused, Err(ExceptionCode::GatewayTargetDevice));
    // Nothing refused changed anything.
    assert_eq!(
        sim.registers(1, Table::Holding, 1210, 2),
        [Some(0x4140), Some(0)]
    );
}

#[tokio::test]
async fn read_only_device_refuses_every_write() {
    let faults = Faults {
        read_only: true,
        ..Faults::none()
    };
    let sim = start_with(faults).await;
    let mut ctx = connect(sim.local_addr(), 1).await;
    let refused = within(ctx.write_multiple_registers(1210, &[0x4140, 0]))
        .await
        .unwrap();
    assert_eq!(refused, Err(ExceptionCode::IllegalFunction));
    assert_eq!(read_holding(&mut ctx, 1210, 2).await, [0x4120, 0]);
}

#[tokio::test]
async fn exception_fault_hits_every_nth_request() {
    let faults = Faults {
        exception_every: Some((NonZeroU32::new(3).unwrap(), Exception::ServerDeviceBusy)),
        ..Faults::none()
    };
    let sim = start_with(faults).await;
    let mut ctx = connect(sim.local_addr(), 1).await;
    let mut answers = Vec::new();
    for _ in 0..6 {
        answers.push(
            within(ctx.read_holding_registers(1215, 1))
                .await
                .unwrap()
                .is_ok(),
        );
    }
    assert_eq!(answers, [true, true, false, true, true, false]);
}

#[tokio::test]
async fn drop_fault_closes_the_connection_and_the_next_one_works() {
    let faults = Faults {
        drop_every: NonZeroU32::new(2),
        ..Faults::none()
    };
    let sim = start_with(faults).await;
    let mut ctx = connect(sim.local_addr(), 1).await;
    read_holding(&mut ctx, 1215, 1).await;
    assert!(
        within(ctx.read_holding_registers(1215, 1)).await.is_err(),
        "request 2 is dropped"
    );
    let mut ctx = connect(sim.local_addr(), 1).await;
    read_holding(&mut ctx, 1215, 1).await;
    assert_eq!(sim.stats().accepted, 2);
}

/// The error of the first read on a fresh connection to a simulator with `faults`.
async fn first_read_error(faults: Faults) -> tokio_modbus::Error {
    let sim = start_with(faults).await;
    let mut ctx = connect(sim.local_addr(), 1).await;
    within(ctx.read_holding_registers(1215, 1))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn garbage_and_wrong_transaction_ids_break_the_framing() {
    let err = first_read_error(Faults {
        garbage_every: NonZeroU32::new(1),
        ..Faults::none()
    })
    .await;
    assert!(matches!(err, tokio_modbus::Error::Transport(_)), "{err:?}");

    let err = first_read_error(Faults {
        wrong_transaction_id_every: NonZeroU32::new(1),
        ..Faults::none()
    })
    .await;
    assert!(
        matches!(
            err,
            tokio_modbus::Error::Protocol(ProtocolError::HeaderMismatch { .. })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn raw_frames_show_the_garbage_and_the_transaction_id() {
    let faults = Faults {
        wrong_transaction_id_every: NonZeroU32::new(2),
        garbage_every: NonZeroU32::new(3),
        ..Faults::none()
    };
    let sim = start_with(faults).await;
    let mut stream = within(TcpStream::connect(sim.local_addr())).await.unwrap();
    let request = |tid: u8| [0, tid, 0, 0, 0, 6, 1, 3, 0x04, 0xBF, 0, 1];
    let mut answers = Vec::new();
    for tid in 1..=3u8 {
        within(stream.write_all(&request(tid))).await.unwrap();
        let mut answer = vec![0u8; if tid == 3 { 8 } else { 11 }];
        within(stream.read_exact(&mut answer)).await.unwrap();
        answers.push(answer);
    }
    assert_eq!(answers[0], [0, 1, 0, 0, 0, 5, 1, 3, 2, 0, 3]);
    assert_eq!(
        answers[1],
        [1, 3, 0, 0, 0, 5, 1, 3, 2, 0, 3],
        "transaction id 0x0002 + 0x0101"
    );
    assert_eq!(answers[2], [0xDE, 0xAD, 0xBE, 0xEF, 0, 0, 0, 0]);
}

#[tokio::test]
async fn connection_limit_closes_the_extra_connection() {
    let faults = Faults {
        max_connections: Some(1),
        ..Faults::none()
    };
    let sim = start_with(faults).await;
    let mut first = connect(sim.local_addr(), 1).await;
    read_holding(&mut first, 1215, 1).await;
    let mut second = connect(sim.local_addr(), 1).await;
    assert!(
        within(second.read_holding_registers(1215, 1))
            .await
            .is_err()
    );
    read_holding(&mut first, 1215, 1).await;
    assert_eq!(sim.stats().refused, 1);
    drop(first);
    // Once the first connection is gone a new one is served (the server notices the close).
    let served = within(async {
        loop {
            let mut third = connect(sim.local_addr(), 1).await;
            if let Ok(Ok(words)) = third.read_holding_registers(1215, 1).await {
                break words;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(served, [3]);
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let faults = Faults {
        idle_timeout: Some(Duration::from_millis(50)),
        ..Faults::none()
    };
    let sim = start_with(faults).await;
    let mut stream = within(TcpStream::connect(sim.local_addr())).await.unwrap();
    let mut buf = [0u8; 1];
    // The device closes the idle connection: the read sees the end of the stream.
    assert_eq!(within(stream.read(&mut buf)).await.unwrap(), 0);
}

#[tokio::test]
async fn latency_delays_but_answers() {
    let faults = Faults {
        latency: Duration::from_millis(20),
        ..Faults::none()
    };
    let sim = start_with(faults).await;
    let mut ctx = connect(sim.local_addr(), 1).await;
    assert_eq!(read_holding(&mut ctx, 1215, 1).await, [3]);
}

#[tokio::test]
async fn rtu_over_tcp_framing() {
    let sim = Simulator::from_bank(bank())
        .framing(Framing::RtuOverTcp)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let stream = within(TcpStream::connect(sim.local_addr())).await.unwrap();
    let mut ctx = rtu::attach_slave(stream, Slave(1));
    assert_eq!(read_holding(&mut ctx, 1210, 2).await, [0x4120, 0]);
    within(ctx.write_multiple_registers(1210, &[0x4140, 0]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read_holding(&mut ctx, 1210, 2).await, [0x4140, 0]);
    let refused = within(ctx.read_holding_registers(5000, 1)).await.unwrap();
    assert_eq!(refused, Err(ExceptionCode::IllegalDataAddress));
}

#[tokio::test]
async fn shutdown_closes_connections() {
    let sim = start().await;
    let addr = sim.local_addr();
    let mut stream = within(TcpStream::connect(addr)).await.unwrap();
    within(sim.shutdown()).await;
    let mut buf = [0u8; 1];
    let closed = within(stream.read(&mut buf)).await;
    assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
}

#[test]
fn exception_names_parse_for_command_lines() {
    let parsed: Vec<Exception> = [
        "busy",
        "Server Device Busy",
        "illegal_data_address",
        "0x0B",
        "3",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    assert_eq!(
        parsed,
        [
            Exception::ServerDeviceBusy,
            Exception::ServerDeviceBusy,
            Exception::IllegalDataAddress,
            Exception::GatewayTargetDevice,
            Exception::IllegalDataValue
        ]
    );
    let err = "exploded".parse::<Exception>().unwrap_err();
    assert!(
        err.to_string()
            .starts_with("`exploded` is not a Modbus exception"),
        "{err}"
    );
    assert!("7".parse::<Exception>().is_err());
}
