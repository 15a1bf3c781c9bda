//! Shared helpers: a simulator bank with a distinct value per client, a proxy in front of it,
//! and tokio-modbus clients. Everything is on 127.0.0.1 with port 0.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use modbus_client::{ClientOptions, Pool};
use modbus_core::Table;
use modbus_proxy::{Proxy, ProxyHandle, ProxyOptions, RouteTable};
use simulator::modbus::{Access, Faults, RegisterBank, Simulator, SimulatorHandle};
use tokio_modbus::client::Context;
use tokio_modbus::prelude::{Reader as _, Slave};

/// Every test's outer bound: generous on a loaded machine, never reached when things work.
pub const WAIT: Duration = Duration::from_secs(30);

/// The word client `i` finds at holding register `100 + i` of unit 1 (and input register `i`).
pub fn value_of(i: u16) -> u16 {
    0x1000 + i * 7
}

/// Unit 1: holding 100..164 (one per client, read-write), input 0..64, coils 0..16.
pub fn bank() -> RegisterBank {
    let mut bank = RegisterBank::new();
    for i in 0..64u16 {
        bank.insert(
            1,
            Table::Holding,
            100 + i,
            &[value_of(i)],
            Access::ReadWrite,
        )
        .unwrap();
        bank.insert(1, Table::Input, i, &[value_of(i) ^ 0xFF], Access::Read)
            .unwrap();
    }
    bank.insert(
        1,
        Table::Coil,
        0,
        &[1, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1],
        Access::ReadWrite,
    )
    .unwrap();
    bank
}

pub async fn simulator(faults: Faults) -> SimulatorHandle {
    Simulator::from_bank(bank())
        .faults(faults)
        .bind("127.0.0.1:0")
        .await
        .unwrap()
}

pub fn upstream_options() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        retries: 2,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        ..ClientOptions::default()
    }
}

/// A proxy forwarding every unit to `sim`, with `tweak` applied to its options.
pub async fn proxy_for(
    sim: &SimulatorHandle,
    tweak: impl FnOnce(&mut ProxyOptions),
) -> ProxyHandle {
    let route = format!("tcp://{}", sim.local_addr());
    proxy_with(&[route], tweak).await
}

pub async fn proxy_with(routes: &[String], tweak: impl FnOnce(&mut ProxyOptions)) -> ProxyHandle {
    let routes = RouteTable::parse(routes).unwrap();
    let mut options = ProxyOptions::new("127.0.0.1:0", routes);
    options.client_options = upstream_options();
    // Every test client comes from 127.0.0.1.
    options.limits.max_connections_per_client = 64;
    tweak(&mut options);
    Proxy::start(options, &Pool::new()).await.unwrap()
}

pub async fn connect(addr: SocketAddr, unit: u8) -> Context {
    within(tokio_modbus::client::tcp::connect_slave(addr, Slave(unit)))
        .await
        .unwrap()
}

pub async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(WAIT, future)
        .await
        .expect("the test's outer time limit passed")
}

/// Reads holding registers, flattening the two result layers into words or an exception code.
pub async fn read_holding(ctx: &mut Context, address: u16, count: u16) -> Result<Vec<u16>, String> {
    match within(ctx.read_holding_registers(address, count)).await {
        Ok(Ok(words)) => Ok(words),
        Ok(Err(code)) => Err(format!("exception {:#04x}", u8::from(code))),
        Err(err) => Err(format!("transport: {err}")),
    }
}
