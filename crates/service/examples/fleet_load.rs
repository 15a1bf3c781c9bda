//! Load test: a fleet of simulated Modbus meters polled by one service process.
//!
//! ```text
//! cargo run --release -p service --example fleet_load -- [--devices 1000] [--interval 1s] [--seconds 30]
//! ```
//!
//! The simulators run in a child process (this same program with `--simulators N`), one
//! Modbus TCP listener per device on 127.0.0.1 with its own port, as a real fleet has one
//! address per device. The parent is the service exactly as `evctl serve` runs it (one
//! current-thread tokio runtime, one modbus-client pool, one task per device), with every
//! device's map `eastron-sdm630` (a full read is several requests). After a warm-up of two
//! intervals it measures, over `--seconds`:
//!
//! - the lag of every scheduled poll (start time minus its slot on the schedule): p50, p99, max;
//! - polls, failed polls and Modbus requests per second;
//! - the parent's CPU time (user + system, from /proc/self/stat) as a percentage of one core;
//! - the parent's resident memory now and at its peak (VmRSS, VmHWM from /proc/self/status).
//!
//! Nothing here asserts anything: it prints the figures for docs/performance.md.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use device_maps::Registry;
use service::{Service, ServiceOptions, SiteConfig};
use tokio::sync::broadcast::error::RecvError;

const MAP: &str = "eastron-sdm630";

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(n) = arg(&args, "--simulators") {
        return simulators(n.parse().context("--simulators N")?);
    }
    let devices: usize = arg(&args, "--devices").map_or(Ok(1000), |v| v.parse())?;
    let interval = arg(&args, "--interval")
        .map(|v| device_maps::parse_duration(&v).context("--interval"))
        .transpose()?
        .unwrap_or(Duration::from_secs(1));
    let seconds: u64 = arg(&args, "--seconds").map_or(Ok(30), |v| v.parse())?;

    // The simulators, in their own process.
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(["--simulators", &devices.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("start the simulator process")?;
    let stdout = child.stdout.take().context("child stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let ports: Vec<u16> = line
        .strip_prefix("PORTS ")
        .context("the simulator process did not report its ports")?
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    if ports.len() != devices {
        bail!("expected {devices} ports, got {}", ports.len());
    }

    let mut yaml = String::from("devices:\n");
    for (i, port) in ports.iter().enumerate() {
        yaml.push_str(&format!(
            "  m{i:04}: {{map: {MAP}, host: 127.0.0.1, port: {port}, interval: {}ms, timeout: 2s}}\n",
            interval.as_millis()
        ));
    }
    let config = SiteConfig::parse(&yaml, Path::new("fleet.yaml"))?;
    let registry = Registry::built_in()?;

    // The service side: one current-thread runtime, as `evctl serve` runs.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        let specs = service::device_specs(&config, |id| {
            Ok::<_, std::convert::Infallible>(registry.get(id).map(Arc::clone))
        })?;
        let requests_per_poll = specs
            .first()
            .map(|s| {
                s.map
                    .plan_read(&s.map.select::<&str>(&[]).unwrap_or_default(), &s.units)
                    .map(|p| p.requests().len())
                    .unwrap_or(0)
            })
            .unwrap_or(0);
        let service = Service::start(specs, ServiceOptions::default())?;
        let mut updates = service.subscribe();
        // Warm-up: connections open, the staggered first polls settle.
        let warm_until = tokio::time::Instant::now() + interval * 2 + Duration::from_secs(1);
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(warm_until) => break,
                r = updates.recv() => if let Err(RecvError::Closed) = r { bail!("closed") },
            }
        }
        let cpu_start = cpu_seconds()?;
        let wall_start = Instant::now();
        let end = tokio::time::Instant::now() + Duration::from_secs(seconds);
        let mut lags: Vec<Duration> = Vec::new();
        let (mut polls, mut failed, mut requests, mut missed) = (0u64, 0u64, 0u64, 0u64);
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(end) => break,
                r = updates.recv() => match r {
                    Ok(u) => {
                        polls += 1;
                        if u.available {
                            requests += u.snapshot.requests as u64;
                        } else {
                            failed += 1;
                        }
                        lags.push(u.lag);
                    }
                    Err(RecvError::Lagged(n)) => missed += n,
                    Err(RecvError::Closed) => break,
                },
            }
        }
        let wall = wall_start.elapsed().as_secs_f64();
        let cpu = cpu_seconds()? - cpu_start;
        let (rss, peak) = memory_kib()?;
        service.shutdown().await;
        lags.sort_unstable();
        let pct = |p: f64| -> Duration {
            if lags.is_empty() {
                return Duration::ZERO;
            }
            let i = ((lags.len() as f64 - 1.0) * p).round() as usize;
            lags[i.min(lags.len() - 1)]
        };
        let expected = devices as f64 * wall / interval.as_secs_f64();
        Ok::<_, anyhow::Error>(format!(
            "devices {devices} ({MAP}, {requests_per_poll} requests per poll), interval {interval:?}, measured {wall:.1} s\n\
             polls {polls} ({:.0}/s, {:.1} % of schedule), failed {failed}, updates missed by the subscriber {missed}\n\
             Modbus requests {requests} ({:.0}/s)\n\
             lag p50 {:?}, p99 {:?}, max {:?}\n\
             CPU {:.1} % of one core; RSS {:.1} MiB (peak {:.1} MiB)\n",
            polls as f64 / wall,
            100.0 * polls as f64 / expected,
            requests as f64 / wall,
            pct(0.5),
            pct(0.99),
            lags.last().copied().unwrap_or_default(),
            100.0 * cpu / wall,
            rss as f64 / 1024.0,
            peak as f64 / 1024.0,
        ))
    })?;
    print!("{report}");
    drop(child.stdin.take());
    let _ = child.wait();
    Ok(())
}

/// User + system CPU time of this process, in seconds (USER_HZ = 100 on Linux).
fn cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    let utime: f64 = fields.get(11).context("utime")?.parse()?;
    let stime: f64 = fields.get(12).context("stime")?.parse()?;
    Ok((utime + stime) / 100.0)
}

/// (VmRSS, VmHWM) in KiB.
fn memory_kib() -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}

/// The child: `n` simulated meters, one listener each, until stdin closes.
fn simulators(n: usize) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let registry = Registry::built_in()?;
        let map = registry.get(MAP).context("map")?;
        let mut handles = Vec::with_capacity(n);
        for _ in 0..n {
            handles.push(
                simulator::modbus::Simulator::builder(map)
                    .bind("127.0.0.1:0")
                    .await?,
            );
        }
        let ports: Vec<String> = handles
            .iter()
            .map(|h| h.local_addr().port().to_string())
            .collect();
        let mut out = std::io::stdout().lock();
        writeln!(out, "PORTS {}", ports.join(" "))?;
        out.flush()?;
        drop(out);
        // Until the parent closes our stdin.
        tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            let _ = std::io::stdin().read_line(&mut sink);
        })
        .await?;
        drop(handles);
        Ok(())
    })
}
