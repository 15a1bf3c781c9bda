//! `evctl simulate <map>`: serve a map over Modbus TCP (or the GivEnergy dongle framing) until
//! Ctrl-C, with its example values or a values file, and optional faults.
//!
//! The first line on stdout is `listening on <ADDR>` (the real port when port 0 was asked for),
//! so scripts and tests can connect to it.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use device_maps::Transport;
use simulator::dongle::{DongleSimulator, DongleSimulatorOptions};
use simulator::modbus::{Exception, Faults, Simulator};

use crate::cli::{FaultArgs, SimException, SimulateArgs};
use crate::report::{Usage, usage};
use crate::target::Env;

pub async fn run(env: &Env, args: &SimulateArgs) -> anyhow::Result<ExitCode> {
    let map = env.map(&args.map)?;
    let mut units = map.units();
    for value in &args.unit {
        units
            .apply(value)
            .with_context(|| Usage(format!("--unit {value}")))?;
    }
    let mut builder = Simulator::builder(&map)
        .units(units.clone())
        .faults(faults(&args.faults));
    if let Some(path) = &args.values {
        builder = builder
            .values_file(path)
            .with_context(|| Usage(format!("cannot use the values file {}", path.display())))?;
    }
    // Check the map and the values now, so a bad value is a usage error.
    let bank = builder
        .bank()
        .with_context(|| Usage(format!("cannot simulate map `{}`", map.id)))?;
    let stop = crate::commands::interrupted()?;
    tokio::pin!(stop);
    let listen = args.listen.to_string();
    let units_text = crate::target::units_text(&units);
    if map.connection.transport == Transport::GivenergyDongle {
        // `faults` (the Modbus TCP faults) leaves out --drop-after, the dongle's own fault;
        // --apply-writes-after is for both.
        let modbus_only = Faults {
            apply_writes_after: None,
            ..faults(&args.faults)
        };
        if !modbus_only.is_none() {
            return Err(usage(
                "that fault option is for Modbus TCP maps; a GivEnergy dongle map takes \
                 --drop-after N, --apply-writes-after DURATION and --heartbeat-every DURATION",
            ));
        }
        let defaults = DongleSimulatorOptions::default();
        let options = DongleSimulatorOptions {
            heartbeat_interval: args.heartbeat_every.unwrap_or(defaults.heartbeat_interval),
            drop_after_requests: args.faults.drop_after.map(|n| u64::from(n.get())),
            apply_writes_after: args.faults.apply_writes_after,
            ..defaults
        };
        let handle = DongleSimulator::builder(bank)
            .options(options)
            .bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        announce(
            &map.id,
            handle.local_addr(),
            "givenergy-dongle",
            &units_text,
        )?;
        log_until_stopped(&mut stop, args.log_requests, |from| {
            let log = handle.log();
            log.iter()
                .skip(from)
                .map(|e| {
                    let what = if e.function == 6 { "value" } else { "count" };
                    format!(
                        "request: connection {} device {} FC{} address {} {what} {}",
                        e.connection, e.device, e.function, e.address, e.count_or_value
                    )
                })
                .collect()
        })
        .await;
        handle.shutdown().await;
    } else {
        if args.faults.drop_after.is_some() || args.heartbeat_every.is_some() {
            return Err(usage(
                "--drop-after and --heartbeat-every are for GivEnergy dongle maps; a Modbus TCP \
                 map takes --drop-every, --latency and the other fault options",
            ));
        }
        let handle = builder
            .bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        announce(&map.id, handle.local_addr(), "modbus-tcp", &units_text)?;
        let log = handle.log();
        log_until_stopped(&mut stop, args.log_requests, |from| {
            log.entries()
                .iter()
                .skip(from)
                .map(|e| {
                    format!(
                        "request: connection {} unit {} FC{} address {} count {}",
                        e.connection, e.unit, e.function, e.address, e.count
                    )
                })
                .collect()
        })
        .await;
        let served = log.len();
        handle.shutdown().await;
        eprintln!("stopped after {served} request(s)");
    }
    Ok(ExitCode::SUCCESS)
}

/// Waits for Ctrl-C. With `--log-requests`, prints on stderr every request the simulator
/// logged since the last look (`new_requests(n)` gives the lines after the first `n`).
async fn log_until_stopped(
    mut stop: impl Future<Output = ()> + Unpin,
    log_requests: bool,
    mut new_requests: impl FnMut(usize) -> Vec<String>,
) {
    let mut printed = 0;
    loop {
        tokio::select! {
            () = &mut stop => break,
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        if log_requests {
            let lines = new_requests(printed);
            printed += lines.len();
            for line in lines {
                eprintln!("{line}");
            }
        }
    }
}

fn announce(
    id: &str,
    addr: std::net::SocketAddr,
    protocol: &str,
    units: &str,
) -> anyhow::Result<()> {
    crate::commands::print(&format!(
        "listening on {addr}\nsimulating {id} ({protocol}, units {units}); Ctrl-C stops\n"
    ))?;
    Ok(())
}

fn faults(args: &FaultArgs) -> Faults {
    Faults {
        latency: args.latency.unwrap_or_default(),
        drop_every: args.drop_every,
        max_connections: args.max_connections,
        exception_every: args.exception_every.map(|n| (n, exception(args.exception))),
        garbage_every: args.garbage_every,
        wrong_transaction_id_every: args.wrong_transaction_id_every,
        read_only: args.read_only,
        idle_timeout: args.idle_timeout,
        apply_writes_after: args.apply_writes_after,
    }
}

fn exception(e: SimException) -> Exception {
    match e {
        SimException::IllegalFunction => Exception::IllegalFunction,
        SimException::IllegalAddress => Exception::IllegalDataAddress,
        SimException::IllegalValue => Exception::IllegalDataValue,
        SimException::Failure => Exception::ServerDeviceFailure,
        SimException::Busy => Exception::ServerDeviceBusy,
        SimException::GatewayTarget => Exception::GatewayTargetDevice,
    }
}
