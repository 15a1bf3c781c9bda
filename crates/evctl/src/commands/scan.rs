//! `evctl scan`: `evctl identify` over many addresses at once: hosts (names, addresses, CIDR
//! blocks, last-octet ranges) × ports × unit ids, a few at a time, each with its own timeout.

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use device_maps::{DeviceMap, Transport};
use tokio::sync::Semaphore;

use crate::cli::{ListFormat, ScanArgs};
use crate::commands::identify::{
    address_of, candidate_maps, client, default_port, scope, transport_of, with_unit,
};
use crate::report::{Usage, usage};
use crate::target::Env;

/// More addresses than this need `--force`: a scan of a whole /16 is rarely what was meant.
pub const MAX_WITHOUT_FORCE: usize = 1024;

/// One identified device.
#[derive(Debug, Clone)]
struct Found {
    host: String,
    port: u16,
    unit: Option<u8>,
    map: Arc<DeviceMap>,
    serial: Option<String>,
}

/// The hosts `spec` stands for: `192.168.1.0/24` (every address but network and broadcast for
/// prefixes up to /30), `192.168.1.10-20` (a last-octet range), or one name or address.
pub fn expand_hosts(spec: &str) -> Result<Vec<String>, String> {
    if let Some((base, bits)) = spec.split_once('/') {
        let ip: Ipv4Addr = base
            .parse()
            .map_err(|_| format!("`{spec}`: `{base}` is not an IPv4 address"))?;
        let bits: u32 = bits
            .parse()
            .ok()
            .filter(|b| *b <= 32)
            .ok_or_else(|| format!("`{spec}`: the prefix length must be 0 to 32"))?;
        let mask = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits)
        };
        let network = u32::from(ip) & mask;
        let size = 1u64 << (32 - bits);
        let (first, last) = if bits >= 31 {
            (0, size - 1)
        } else {
            (1, size - 2)
        };
        return Ok((first..=last)
            .map(|i| Ipv4Addr::from(network + i as u32).to_string())
            .collect());
    }
    if let Some((start, end)) = spec.rsplit_once('-')
        && let Ok(ip) = start.parse::<Ipv4Addr>()
    {
        let last: u8 = end
            .parse()
            .map_err(|_| format!("`{spec}`: `{end}` is not a last octet (0-255)"))?;
        let [a, b, c, first] = ip.octets();
        if last < first {
            return Err(format!("`{spec}`: the range ends before it starts"));
        }
        return Ok((first..=last)
            .map(|d| Ipv4Addr::new(a, b, c, d).to_string())
            .collect());
    }
    crate::cli::parse_host(spec).map(|h| vec![h])
}

pub async fn run(env: &Env, args: &ScanArgs) -> anyhow::Result<ExitCode> {
    let transport = transport_of(args.transport);
    let mut hosts = Vec::new();
    for spec in &args.hosts {
        hosts.extend(expand_hosts(spec).map_err(usage)?);
    }
    let ports: Vec<u16> = if args.ports.is_empty() {
        vec![default_port(transport)]
    } else {
        args.ports.clone()
    };
    let units: Vec<Option<u8>> = if args.units.is_empty() {
        vec![None]
    } else {
        args.units.iter().copied().map(Some).collect()
    };
    let addresses = hosts.len() * ports.len() * units.len();
    if addresses > MAX_WITHOUT_FORCE && !args.force {
        return Err(usage(format!(
            "the scan covers {addresses} addresses (hosts × ports × units), more than \
             {MAX_WITHOUT_FORCE}; narrow it, or give --force"
        )));
    }
    if let Some(path) = &args.write_config
        && path.exists()
    {
        return Err(usage(format!(
            "{} exists; --write-config writes a new file only",
            path.display()
        )));
    }
    let maps = candidate_maps(env, transport)?;
    let started = Instant::now();
    let limit = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let progress = std::io::stderr().is_terminal();
    let mut tasks = tokio::task::JoinSet::new();
    for host in &hosts {
        for &port in &ports {
            let host = host.clone();
            let units = units.clone();
            let maps = maps.clone();
            let limit = Arc::clone(&limit);
            let timeout = args.timeout;
            let pacing = args.pacing;
            tasks.spawn(async move {
                let Ok(_permit) = limit.acquire_owned().await else {
                    return Vec::new();
                };
                probe(&host, port, &units, &maps, transport, timeout, pacing).await
            });
        }
    }
    let total = tasks.len();
    let mut found: Vec<Found> = Vec::new();
    let mut done = 0;
    while let Some(result) = tasks.join_next().await {
        done += 1;
        if let Ok(mut devices) = result {
            found.append(&mut devices);
        }
        if progress {
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\rscanning: {done}/{total} host:port, {} found",
                found.len()
            );
            let _ = err.flush();
        }
    }
    if progress {
        eprintln!();
    }
    found.sort_by(|a, b| {
        (host_key(&a.host), a.port, a.unit).cmp(&(host_key(&b.host), b.port, b.unit))
    });
    let elapsed = started.elapsed();
    let text = match args.format {
        ListFormat::Human => human(&found, addresses, elapsed),
        ListFormat::Json => json(&found, addresses, elapsed)?,
    };
    crate::commands::print(&text)?;
    if let Some(path) = &args.write_config {
        write_config(path, &found)?;
        eprintln!("wrote {} device(s) to {}", found.len(), path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Sorts addresses numerically, names after them.
fn host_key(host: &str) -> (u8, u32, String) {
    match host.parse::<Ipv4Addr>() {
        Ok(ip) => (0, u32::from(ip), String::new()),
        Err(_) => (1, 0, host.to_owned()),
    }
}

/// One host and port: is anything listening (one connect, bounded by the timeout), then which
/// map fits at each unit.
async fn probe(
    host: &str,
    port: u16,
    units: &[Option<u8>],
    maps: &[Arc<DeviceMap>],
    transport: Transport,
    timeout: Duration,
    pacing: Duration,
) -> Vec<Found> {
    let address = address_of(host, port);
    let open = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&address)).await;
    if !matches!(open, Ok(Ok(_))) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for &unit in units {
        let Ok(mut io) = client(&maps[0], transport, host, port, &address, timeout, pacing) else {
            continue;
        };
        let candidates = with_unit(maps, unit);
        let result = device_maps::identify(&candidates, &mut io, scope).await;
        let Some(best) = result.matches().next() else {
            continue;
        };
        let map = Arc::clone(&best.map);
        let units = with_unit(std::slice::from_ref(&map), unit)
            .pop()
            .map(|(_, u)| u)
            .unwrap_or_else(|| map.units());
        let serial = serial_of(&map, &units, &mut io).await;
        out.push(Found {
            host: host.to_owned(),
            port,
            unit,
            map,
            serial,
        });
    }
    out
}

/// The device's serial number, from the first readable text register named or titled like one
/// (SunSpec's `common_SN` is titled "Serial Number").
async fn serial_of<I: device_maps::RegisterIo>(
    map: &Arc<DeviceMap>,
    units: &device_maps::Units,
    io: &mut I,
) -> Option<String> {
    let index = map.registers.iter().position(|r| {
        r.access.readable()
            && (r.name.to_ascii_lowercase().contains("serial")
                || r.title.to_ascii_lowercase().contains("serial number"))
            && r.register_type.data_type().is_some_and(|d| !d.is_numeric())
    })?;
    let plan = map.plan_read(&[index], units).ok()?;
    let snapshot = plan.execute(io).await;
    snapshot
        .readings
        .first()
        .and_then(|r| r.value.as_ref().ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .filter(|s| !s.is_empty())
}

fn human(found: &[Found], addresses: usize, elapsed: Duration) -> String {
    let mut rows: Vec<[String; 5]> = vec![[
        "HOST".into(),
        "PORT".into(),
        "UNIT".into(),
        "MAP".into(),
        "SERIAL".into(),
    ]];
    for f in found {
        rows.push([
            f.host.clone(),
            f.port.to_string(),
            f.unit
                .map(|u| u.to_string())
                .unwrap_or_else(|| "(map's)".into()),
            f.map.id.clone(),
            f.serial.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    let _ = writeln!(
        out,
        "{} device(s) at {addresses} address(es) in {} ms",
        found.len(),
        elapsed.as_millis()
    );
    out
}

fn json(found: &[Found], addresses: usize, elapsed: Duration) -> anyhow::Result<String> {
    let devices: Vec<serde_json::Value> = found
        .iter()
        .map(|f| {
            serde_json::json!({
                "host": f.host,
                "port": f.port,
                "unit": f.unit,
                "map": f.map.id,
                "serial": f.serial,
            })
        })
        .collect();
    let value = serde_json::json!({
        "devices": devices,
        "addresses": addresses,
        "elapsed_ms": elapsed.as_millis() as u64,
    });
    let mut text = serde_json::to_string_pretty(&value)?;
    text.push('\n');
    Ok(text)
}

/// A site config naming every device found: `<map>-<n>`, with host, port and unit.
fn write_config(path: &Path, found: &[Found]) -> anyhow::Result<()> {
    let mut text = String::from(
        "# Written by `evctl scan`: the devices it identified. Rename them, add intervals,\n\
         # secrets and the `serve` sections as needed (docs/serve.md).\ndevices:\n",
    );
    let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for f in found {
        let n = counts.entry(f.map.id.as_str()).or_default();
        *n += 1;
        let _ = writeln!(text, "  {}-{}:", f.map.id, n);
        let _ = writeln!(text, "    map: {}", f.map.id);
        let _ = writeln!(text, "    host: \"{}\"", f.host);
        let _ = writeln!(text, "    port: {}", f.port);
        if let Some(unit) = f.unit {
            let _ = writeln!(text, "    unit: {unit}");
        }
        if let Some(serial) = &f.serial {
            let _ = writeln!(text, "    # serial: {serial}");
        }
    }
    std::fs::write(path, text)
        .with_context(|| Usage(format!("cannot write {}", path.display())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_specs() {
        assert_eq!(expand_hosts("127.0.0.1").unwrap(), ["127.0.0.1"]);
        assert_eq!(
            expand_hosts("127.0.0.1-3").unwrap(),
            ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
        );
        assert_eq!(expand_hosts("10.0.0.0/24").unwrap().len(), 254);
        assert_eq!(expand_hosts("10.0.0.0/16").unwrap().len(), 65534);
        assert_eq!(expand_hosts("10.0.0.7/32").unwrap(), ["10.0.0.7"]);
        assert_eq!(expand_hosts("charger.lan").unwrap(), ["charger.lan"]);
        assert!(expand_hosts("10.0.0.5-2").is_err());
        assert!(expand_hosts("10.0.0.0/33").is_err());
    }
}
