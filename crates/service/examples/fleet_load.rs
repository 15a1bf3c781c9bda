//! Load test: a fleet of simulated Modbus devices polled by one service process.
//!
//! ```text
//! cargo run --release -p service --example fleet_load -- \
//!     [--devices 1000] [--interval 1s] [--seconds 30] [--maps eastron-sdm630] \
//!     [--per-listener 1] [--dead 0] [--timeout 2s]
//! ```
//!
//! The simulators run in a child process (this same program with `--simulators`). Each
//! simulator listener on 127.0.0.1 answers `--per-listener` devices of one map at their own
//! unit ids, as a Modbus TCP gateway answers the meters behind it (1, the default, is one
//! address per device). `--maps` is a comma-separated list of map ids, or `mix` for
//! eastron-sdm630, alfen-eve, vestel-evc04 and sunspec-inverter; listeners take the maps in
//! turn. A device whose map has several unit roles (Alfen: socket and station) gets a unit id
//! per role. `--dead F` makes that fraction of the listeners dead: they accept connections and
//! read every request but never answer, so their devices (ids starting `dead-`) time out on
//! every poll.
//!
//! The parent is the service exactly as `evctl serve` runs it (one current-thread tokio
//! runtime, one modbus-client pool, one task per device), with the maps' checks verified on
//! every poll. After a warm-up of two intervals it measures, over `--seconds`:
//!
//! - the lag of every scheduled poll of a live device (start time minus its slot on the
//!   schedule): p50, p99, max; the same for the dead devices;
//! - polls, failed polls and answered Modbus requests per second;
//! - the parent's CPU time (user + system, from /proc/self/stat) as a percentage of one core;
//! - the parent's resident memory now and at its peak (VmRSS, VmHWM from /proc/self/status).
//!
//! Nothing here asserts anything: it prints the figures for docs/performance.md.

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use device_maps::{DeviceMap, Registry};
use service::{Service, ServiceOptions, SiteConfig};
use tokio::io::AsyncReadExt as _;
use tokio::sync::broadcast::error::RecvError;

const MIX: [&str; 4] = [
    "eastron-sdm630",
    "alfen-eve",
    "vestel-evc04",
    "sunspec-inverter",
];

/// Highest unit id a listener hands out (1..=247 are the addressable Modbus units).
const MAX_UNIT: usize = 247;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// What the fleet looks like: the same on both sides of the pipe, computed from the same flags.
#[derive(Debug, Clone)]
struct Layout {
    listeners: Vec<Listener>,
}

#[derive(Debug, Clone)]
struct Listener {
    map: String,
    dead: bool,
    /// Per device: its unit id for each role of the map, in the map's role order.
    devices: Vec<Vec<(String, u8)>>,
}

impl Layout {
    fn new(
        registry: &Registry,
        devices: usize,
        maps: &[String],
        per_listener: usize,
        dead: f64,
    ) -> anyhow::Result<Layout> {
        let mut listeners = Vec::new();
        let mut left = devices;
        let mut index = 0usize;
        while left > 0 {
            let map_id = &maps[index % maps.len()];
            let map = registry
                .get(map_id)
                .with_context(|| format!("no map `{map_id}`"))?;
            let roles: Vec<String> = map.units().roles().iter().map(|(r, _)| r.clone()).collect();
            let fit = (MAX_UNIT / roles.len().max(1)).max(1);
            let n = per_listener.min(fit).min(left);
            let devices = (0..n)
                .map(|j| {
                    roles
                        .iter()
                        .enumerate()
                        .map(|(k, role)| {
                            let unit = 1 + j * roles.len() + k;
                            (role.clone(), u8::try_from(unit).unwrap_or(u8::MAX))
                        })
                        .collect()
                })
                .collect();
            // One round of listeners (one per map) in every 1/dead is dead, so each map has
            // its share of dead devices.
            let is_dead = dead > 0.0 && {
                let every = (1.0 / dead).round().max(1.0) as usize;
                (index / maps.len()) % every == every - 1
            };
            listeners.push(Listener {
                map: map_id.clone(),
                dead: is_dead,
                devices,
            });
            left -= n;
            index += 1;
        }
        Ok(Layout { listeners })
    }
}

struct Flags {
    devices: usize,
    interval: Duration,
    seconds: u64,
    maps: Vec<String>,
    per_listener: usize,
    dead: f64,
    timeout: Duration,
}

fn flags(args: &[String]) -> anyhow::Result<Flags> {
    let duration = |name: &str, default: Duration| -> anyhow::Result<Duration> {
        arg(args, name)
            .map(|v| device_maps::parse_duration(&v).with_context(|| name.to_owned()))
            .transpose()
            .map(|d| d.unwrap_or(default))
    };
    let maps = match arg(args, "--maps").as_deref() {
        None => vec!["eastron-sdm630".to_owned()],
        Some("mix") => MIX.iter().map(|m| (*m).to_owned()).collect(),
        Some(list) => list.split(',').map(str::to_owned).collect(),
    };
    let dead: f64 = arg(args, "--dead").map_or(Ok(0.0), |v| v.parse())?;
    if !(0.0..1.0).contains(&dead) {
        bail!("--dead is a fraction of the listeners, 0 <= F < 1");
    }
    Ok(Flags {
        devices: arg(args, "--devices").map_or(Ok(1000), |v| v.parse())?,
        interval: duration("--interval", Duration::from_secs(1))?,
        seconds: arg(args, "--seconds").map_or(Ok(30), |v| v.parse())?,
        maps,
        per_listener: arg(args, "--per-listener")
            .map_or(Ok(1), |v| v.parse())?
            .max(1),
        dead,
        timeout: duration("--timeout", Duration::from_secs(2))?,
    })
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let flags = flags(&args)?;
    let registry = Registry::built_in()?;
    let layout = Layout::new(
        &registry,
        flags.devices,
        &flags.maps,
        flags.per_listener,
        flags.dead,
    )?;
    if args.iter().any(|a| a == "--simulators") {
        return simulators(&registry, &layout);
    }

    // The simulators, in their own process, with the same flags.
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(&args[1..])
        .arg("--simulators")
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
    if ports.len() != layout.listeners.len() {
        bail!(
            "expected {} ports, got {}",
            layout.listeners.len(),
            ports.len()
        );
    }

    let mut yaml = String::from("devices:\n");
    let (mut live_devices, mut dead_devices) = (0usize, 0usize);
    for (l, (listener, port)) in layout.listeners.iter().zip(&ports).enumerate() {
        for (j, units) in listener.devices.iter().enumerate() {
            let prefix = if listener.dead {
                dead_devices += 1;
                "dead-"
            } else {
                live_devices += 1;
                ""
            };
            let units: Vec<String> = units.iter().map(|(r, u)| format!("{r}: {u}")).collect();
            writeln!(
                yaml,
                "  {prefix}d{l:05}-{j:03}: {{map: {}, host: 127.0.0.1, port: {port}, \
                 units: {{{}}}, interval: {}ms, timeout: {}ms}}",
                listener.map,
                units.join(", "),
                flags.interval.as_millis(),
                flags.timeout.as_millis(),
            )?;
        }
    }
    let config = SiteConfig::parse(&yaml, Path::new("fleet.yaml"))?;
    drop(yaml);

    // The service side: one current-thread runtime, as `evctl serve` runs.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let interval = flags.interval;
    let report = runtime.block_on(async {
        let specs = service::device_specs(&config, |id| {
            Ok::<_, std::convert::Infallible>(registry.get(id).map(Arc::clone))
        })?;
        let mut per_map: Vec<(String, usize, usize)> = Vec::new();
        for s in &specs {
            if per_map.iter().any(|(id, _, _)| *id == s.map.id) {
                continue;
            }
            let requests = s
                .map
                .plan_read(&s.map.select::<&str>(&[]).unwrap_or_default(), &s.units)
                .map(|p| p.requests().len())
                .unwrap_or(0);
            let count = specs.iter().filter(|o| o.map.id == s.map.id).count();
            per_map.push((s.map.id.clone(), count, requests));
        }
        drop(config);
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
        let end = tokio::time::Instant::now() + Duration::from_secs(flags.seconds);
        let mut live = Tally::default();
        let mut dead = Tally::default();
        let mut missed = 0u64;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(end) => break,
                r = updates.recv() => match r {
                    Ok(u) => {
                        let tally = if u.id.starts_with("dead-") { &mut dead } else { &mut live };
                        tally.polls += 1;
                        if u.available {
                            tally.requests += u.snapshot.requests as u64;
                        } else {
                            tally.failed += 1;
                        }
                        tally.lags.push(u.lag);
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
        live.lags.sort_unstable();
        dead.lags.sort_unstable();
        let maps: Vec<String> = per_map
            .iter()
            .map(|(id, n, r)| format!("{n} {id} ({r} requests per poll)"))
            .collect();
        let expected = live_devices as f64 * wall / interval.as_secs_f64();
        let mut out = format!(
            "devices {} on {} listeners: {}\n\
             interval {interval:?}, timeout {:?}, measured {wall:.1} s\n\
             live {live_devices}: polls {} ({:.0}/s, {:.1} % of schedule), failed {}, \
             Modbus requests {} ({:.0}/s)\n\
             live lag {}\n",
            live_devices + dead_devices,
            ports.len(),
            maps.join(", "),
            flags.timeout,
            live.polls,
            live.polls as f64 / wall,
            100.0 * live.polls as f64 / expected,
            live.failed,
            live.requests,
            live.requests as f64 / wall,
            live.lag_summary(),
        );
        if dead_devices > 0 {
            writeln!(
                out,
                "dead {dead_devices}: polls {} ({:.0}/s), failed {}; dead lag {}",
                dead.polls,
                dead.polls as f64 / wall,
                dead.failed,
                dead.lag_summary(),
            )?;
        }
        writeln!(
            out,
            "updates missed by the subscriber {missed}\n\
             CPU {:.1} % of one core; RSS {:.1} MiB (peak {:.1} MiB)",
            100.0 * cpu / wall,
            rss as f64 / 1024.0,
            peak as f64 / 1024.0,
        )?;
        Ok::<_, anyhow::Error>(out)
    })?;
    print!("{report}");
    drop(child.stdin.take());
    let _ = child.wait();
    Ok(())
}

#[derive(Default)]
struct Tally {
    polls: u64,
    failed: u64,
    requests: u64,
    lags: Vec<Duration>,
}

impl Tally {
    /// p50, p99 and max of the lags (sorted by then).
    fn lag_summary(&self) -> String {
        if self.lags.is_empty() {
            return "(no polls)".to_owned();
        }
        let pct = |p: f64| -> Duration {
            let i = ((self.lags.len() as f64 - 1.0) * p).round() as usize;
            self.lags[i.min(self.lags.len() - 1)]
        };
        format!(
            "p50 {:?}, p99 {:?}, max {:?}",
            pct(0.5),
            pct(0.99),
            self.lags.last().copied().unwrap_or_default()
        )
    }
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

/// The bank one listener serves: each device's map at its own unit ids. The map's extra unit
/// ids (an Alfen dual station's second socket) are left out, or every charger of the listener
/// would claim the same unit 2.
fn listener_bank(
    map: &DeviceMap,
    listener: &Listener,
) -> anyhow::Result<simulator::modbus::RegisterBank> {
    let mut single = map.clone();
    single.connection.extra_unit_ids.clear();
    let mut bank = simulator::modbus::RegisterBank::new();
    for device in &listener.devices {
        let mut units = single.units();
        for (role, unit) in device {
            units.set(role, *unit)?;
        }
        let one = simulator::modbus::Simulator::builder(&single)
            .units(units)
            .bank()?;
        bank.absorb(one)?;
    }
    Ok(bank)
}

/// A dead device: accepts connections and reads every request, never answers.
async fn dead_listener(listener: tokio::net::TcpListener) {
    while let Ok((mut stream, _)) = listener.accept().await {
        tokio::spawn(async move {
            let mut sink = [0u8; 512];
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
        });
    }
}

/// The child: every listener of the layout, until stdin closes.
fn simulators(registry: &Registry, layout: &Layout) -> anyhow::Result<()> {
    // Two workers: the simulators should not be what limits the service.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut handles = Vec::with_capacity(layout.listeners.len());
        let mut ports = Vec::with_capacity(layout.listeners.len());
        for listener in &layout.listeners {
            if listener.dead {
                let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                ports.push(socket.local_addr()?.port().to_string());
                tokio::spawn(dead_listener(socket));
                continue;
            }
            let map = registry.get(&listener.map).context("map")?;
            let bank = listener_bank(map, listener)?;
            let handle = simulator::modbus::Simulator::from_bank(bank)
                .bind("127.0.0.1:0")
                .await?;
            ports.push(handle.local_addr().port().to_string());
            handles.push(handle);
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "PORTS {}", ports.join(" "))?;
        out.flush()?;
        drop(out);
        // The request logs would grow in this process for the whole run; nobody reads them.
        let logs: Vec<_> = handles.iter().map(|h| h.log()).collect();
        let clear = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                for log in &logs {
                    log.clear();
                }
            }
        });
        // Until the parent closes our stdin.
        tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            let _ = std::io::stdin().read_line(&mut sink);
        })
        .await?;
        clear.abort();
        drop(handles);
        Ok(())
    })
}
