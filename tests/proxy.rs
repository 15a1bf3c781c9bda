//! `evctl proxy` end to end: the binary between a one-master simulator and many clients, both
//! tokio-modbus and an independent command-line client (mbpoll, when installed).

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use modbus_core::Table;
use simulator::modbus::{Access, Faults, RegisterBank, Simulator, SimulatorHandle};
use tokio_modbus::prelude::{Reader as _, Slave, Writer as _};

const WAIT: Duration = Duration::from_secs(30);

fn value_of(i: u16) -> u16 {
    0x2000 + i * 3
}

async fn one_master_simulator() -> SimulatorHandle {
    let mut bank = RegisterBank::new();
    for i in 0..32u16 {
        bank.insert(
            1,
            Table::Holding,
            100 + i,
            &[value_of(i)],
            Access::ReadWrite,
        )
        .unwrap();
    }
    Simulator::from_bank(bank)
        .faults(Faults {
            max_connections: Some(1),
            ..Faults::none()
        })
        .bind("127.0.0.1:0")
        .await
        .unwrap()
}

/// A running `evctl proxy`, killed when dropped.
struct ProxyProcess {
    child: Child,
    addr: SocketAddr,
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_proxy(args: &[String]) -> ProxyProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_evctl"))
        .args([
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--max-client-connections",
            "64",
        ])
        .args(args)
        .env_remove("EVCTL_CONFIG")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("evctl runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .parse()
        .unwrap();
    ProxyProcess { child, addr }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_clients_through_the_binary_and_one_upstream_connection() {
    let sim = one_master_simulator().await;
    let proxy = start_proxy(&[format!("tcp://{}", sim.local_addr())]);
    let addr = proxy.addr;
    let tasks: Vec<_> = (0..20u16)
        .map(|i| {
            tokio::spawn(async move {
                let mut ctx = tokio::time::timeout(
                    WAIT,
                    tokio_modbus::client::tcp::connect_slave(addr, Slave(1)),
                )
                .await
                .unwrap()
                .unwrap();
                for _ in 0..10 {
                    let words = tokio::time::timeout(WAIT, ctx.read_holding_registers(100 + i, 1))
                        .await
                        .unwrap()
                        .unwrap()
                        .unwrap();
                    assert_eq!(words, [value_of(i)], "client {i}");
                }
            })
        })
        .collect();
    for task in tasks {
        tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    }
    assert_eq!(sim.stats().accepted, 1, "{:?}", sim.stats());
    assert_eq!(sim.log().len(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_through_the_binary() {
    let sim = one_master_simulator().await;
    let proxy = start_proxy(&[
        "--read-only".to_owned(),
        format!("tcp://{}", sim.local_addr()),
    ]);
    let mut ctx = tokio_modbus::client::tcp::connect_slave(proxy.addr, Slave(1))
        .await
        .unwrap();
    let refused = tokio::time::timeout(WAIT, ctx.write_single_register(100, 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refused.map_err(u8::from), Err(1));
    assert!(sim.log().is_empty());
}

/// mbpoll, an independent Modbus client from the distribution's packages, if it is installed.
fn mbpoll() -> Option<&'static str> {
    let found = Command::new("mbpoll")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    found.then_some("mbpoll")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mbpoll_clients_beside_tokio_modbus_ones_get_their_own_answers() {
    let Some(mbpoll) = mbpoll() else {
        println!(
            "SKIPPED: mbpoll is not installed (apt-get install mbpoll); the tokio-modbus tests cover the proxy"
        );
        return;
    };
    let sim = one_master_simulator().await;
    let proxy = start_proxy(&[format!("tcp://{}", sim.local_addr())]);
    let addr = proxy.addr;
    let rust_clients: Vec<_> = (0..10u16)
        .map(|i| {
            tokio::spawn(async move {
                let mut ctx = tokio_modbus::client::tcp::connect_slave(addr, Slave(1))
                    .await
                    .unwrap();
                for _ in 0..20 {
                    let words = tokio::time::timeout(WAIT, ctx.read_holding_registers(100 + i, 1))
                        .await
                        .unwrap()
                        .unwrap()
                        .unwrap();
                    assert_eq!(words, [value_of(i)]);
                }
            })
        })
        .collect();
    // Five mbpoll processes at once, each reading four registers of its own (mbpoll counts
    // references from 1, so wire address 100 + n is reference 101 + n).
    let port = addr.port().to_string();
    let children: Vec<(u16, Child)> = (0..5u16)
        .map(|k| {
            let first = 10 + k * 4;
            let child = Command::new(mbpoll)
                .args([
                    "-m", "tcp", "-a", "1", "-t", "4", "-1", "-0", "-c", "4", "-p", &port,
                ])
                .args(["-r", &(100 + first).to_string(), "127.0.0.1"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (first, child)
        })
        .collect();
    for (first, child) in children {
        let output = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        for n in 0..4u16 {
            let reference = 100 + first + n;
            let expected = format!("[{reference}]: \t{}", value_of(first + n));
            assert!(text.contains(&expected), "no `{expected}` in\n{text}");
        }
    }
    for task in rust_clients {
        tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    }
    assert_eq!(sim.stats().accepted, 1, "{:?}", sim.stats());
}

#[test]
fn the_help_names_every_flag() {
    let output = Command::new(env!("CARGO_BIN_EXE_evctl"))
        .args(["proxy", "--help"])
        .env_remove("EVCTL_CONFIG")
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert!(output.status.success());
    insta::assert_snapshot!("proxy_help", String::from_utf8_lossy(&output.stdout));
}
