//! Load test of the proxy on loopback: the latency it adds (p50, p99) over a direct connection
//! to the same simulator, and the requests per second one proxy forwards.
//!
//! ```sh
//! cargo run --release -p modbus-proxy --example proxy_load -- [REQUESTS] [CLIENTS] [SECONDS]
//! ```
//!
//! Latency: one client, REQUESTS sequential reads of one holding register, first straight to
//! the simulator, then through the proxy (whose single upstream connection goes to the same
//! simulator). Throughput: CLIENTS clients reading through the proxy for SECONDS, each its own
//! register (every request goes upstream, one at a time), then all the same register (identical
//! reads coalesce).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use modbus_client::Pool;
use modbus_core::Table;
use modbus_proxy::{Proxy, ProxyOptions, RouteTable};
use simulator::modbus::{Access, RegisterBank, Simulator};
use tokio_modbus::prelude::{Reader as _, Slave};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

async fn latencies(addr: SocketAddr, requests: usize) -> Vec<Duration> {
    let mut ctx = tokio_modbus::client::tcp::connect_slave(addr, Slave(1))
        .await
        .expect("connect");
    // Warm up the connection (and the proxy's upstream connection).
    for _ in 0..200 {
        ctx.read_holding_registers(100, 2).await.unwrap().unwrap();
    }
    let mut out = Vec::with_capacity(requests);
    for _ in 0..requests {
        let start = Instant::now();
        ctx.read_holding_registers(100, 2).await.unwrap().unwrap();
        out.push(start.elapsed());
    }
    out.sort();
    out
}

async fn throughput(addr: SocketAddr, clients: u16, seconds: u64, same: bool) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..clients {
        let (stop, done) = (Arc::clone(&stop), Arc::clone(&done));
        tasks.push(tokio::spawn(async move {
            let mut ctx = tokio_modbus::client::tcp::connect_slave(addr, Slave(1))
                .await
                .expect("connect");
            let address = if same { 100 } else { 100 + i };
            while !stop.load(Ordering::Relaxed) {
                ctx.read_holding_registers(address, 1)
                    .await
                    .unwrap()
                    .unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start_count = done.load(Ordering::Relaxed);
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let count = done.load(Ordering::Relaxed) - start_count;
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    count as f64 / elapsed.as_secs_f64()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let requests: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let clients: u16 = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let mut bank = RegisterBank::new();
        for i in 0..256u16 {
            bank.insert(1, Table::Holding, 100 + i, &[i], Access::ReadWrite)
                .unwrap();
        }
        let sim = Simulator::from_bank(bank)
            .bind("127.0.0.1:0")
            .await
            .unwrap();
        let routes = RouteTable::parse(&[format!("tcp://{}", sim.local_addr())]).unwrap();
        let mut options = ProxyOptions::new("127.0.0.1:0", routes);
        options.limits.max_clients = 1024;
        options.limits.max_connections_per_client = 1024;
        let proxy = Proxy::start(options, &Pool::new()).await.unwrap();

        let direct = latencies(sim.local_addr(), requests).await;
        let proxied = latencies(proxy.local_addr(), requests).await;
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!("latency over {requests} sequential reads (one client), microseconds:");
        for (name, p) in [("p50", 0.50), ("p99", 0.99)] {
            let (a, b) = (percentile(&direct, p), percentile(&proxied, p));
            println!(
                "  {name}: direct {:.1}, through the proxy {:.1}, added {:.1}",
                us(a),
                us(b),
                us(b) - us(a)
            );
        }
        let distinct = throughput(proxy.local_addr(), clients, seconds, false).await;
        println!("throughput, {clients} clients, distinct registers: {distinct:.0} requests/s");
        let same = throughput(proxy.local_addr(), clients, seconds, true).await;
        println!("throughput, {clients} clients, one register (coalesced): {same:.0} requests/s");
        let direct_rate = throughput(sim.local_addr(), 1, seconds, false).await;
        println!(
            "for comparison, one client straight to the simulator: {direct_rate:.0} requests/s"
        );
        println!(
            "upstream requests sent by the proxy: {}",
            proxy.upstream_requests(0)
        );
    });
}
