//! `evctl identify`: which map fits the device at an address, from every candidate map's
//! `checks:` (device-maps' `identify` does the reading and deciding; this prints it).

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use device_maps::{DeviceMap, FailureScope, Identification, Transport, Verdict};
use modbus_client::dongle::{DongleClient, DongleOptions};
use modbus_client::{ClientOptions, Endpoint, ModbusClient};
use service::DeviceClient;

use crate::cli::{IdentifyArgs, IdentifyTransport, ListFormat};
use crate::report::{Usage, usage};
use crate::target::Env;

pub async fn run(env: &Env, args: &IdentifyArgs) -> anyhow::Result<ExitCode> {
    let transport = transport_of(args.transport);
    let maps = candidate_maps(env, transport)?;
    let candidates = with_unit(&maps, args.unit);
    let port = args.port.unwrap_or(default_port(transport));
    let address = address_of(&args.host, port);
    let mut client = client(
        &maps[0],
        transport,
        &args.host,
        port,
        &address,
        args.timeout,
        args.pacing,
    )?;
    let started = Instant::now();
    let result = device_maps::identify(&candidates, &mut client, scope).await;
    let elapsed = started.elapsed();
    let text = match args.format {
        ListFormat::Human => human(&result, &address, args.unit, elapsed),
        ListFormat::Json => json(&result, &address, args.unit, elapsed)?,
    };
    crate::commands::print(&text)?;
    if result.matches().next().is_some() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(anyhow::anyhow!(
            "unknown device at {address}: none of the {} candidate maps matches it",
            result.verdicts.len()
        ))
    }
}

pub fn transport_of(t: IdentifyTransport) -> Transport {
    match t {
        IdentifyTransport::ModbusTcp => Transport::ModbusTcp,
        IdentifyTransport::RtuOverTcp => Transport::RtuOverTcp,
        IdentifyTransport::GivenergyDongle => Transport::GivenergyDongle,
    }
}

pub fn default_port(transport: Transport) -> u16 {
    if transport == Transport::GivenergyDongle {
        8899
    } else {
        502
    }
}

pub fn address_of(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Every map (built-in and user) reached over `transport`: RTU maps are reachable through a
/// gateway too, so the Modbus transports share the Modbus maps.
pub fn candidate_maps(env: &Env, transport: Transport) -> anyhow::Result<Vec<Arc<DeviceMap>>> {
    let (registry, warnings) = env.maps.registry()?;
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    let modbus = |t: Transport| {
        matches!(
            t,
            Transport::ModbusTcp | Transport::RtuOverTcp | Transport::SerialRtu
        )
    };
    let maps: Vec<Arc<DeviceMap>> = registry
        .maps()
        .filter(|m| {
            if transport == Transport::GivenergyDongle {
                m.connection.transport == Transport::GivenergyDongle
            } else {
                modbus(m.connection.transport)
            }
        })
        .cloned()
        .collect();
    if maps.is_empty() {
        return Err(usage(format!(
            "no map is reached over {}",
            transport.name()
        )));
    }
    Ok(maps)
}

/// The candidates with their units: each map's own, or `unit` as every map's main unit.
pub fn with_unit(
    maps: &[Arc<DeviceMap>],
    unit: Option<u8>,
) -> Vec<(Arc<DeviceMap>, device_maps::Units)> {
    maps.iter()
        .map(|m| {
            let mut units = m.units();
            if let Some(unit) = unit {
                units.set_main(unit);
            }
            (Arc::clone(m), units)
        })
        .collect()
}

/// One connection, no retries (a refusal is an answer here), the given timeout per request.
pub fn client(
    map: &DeviceMap,
    transport: Transport,
    host: &str,
    port: u16,
    address: &str,
    timeout: Duration,
    pacing: Duration,
) -> anyhow::Result<DeviceClient> {
    if transport == Transport::GivenergyDongle {
        let options = DongleOptions {
            connect_timeout: timeout,
            request_timeout: timeout,
            ..DongleOptions::default()
        };
        return Ok(DeviceClient::Dongle(DongleClient::new(
            address.to_owned(),
            options,
        )));
    }
    let mut probe = map.clone();
    probe.connection.transport = transport;
    let endpoint = Endpoint::for_map(&probe, host, Some(port))
        .map_err(|e| anyhow::Error::new(e).context(Usage(format!("cannot reach {host}:{port}"))))?;
    let options = ClientOptions {
        connect_timeout: timeout,
        request_timeout: timeout,
        retries: 0,
        max_connections: 1,
        pacing,
        ..ClientOptions::from_connection(&map.connection)
    };
    Ok(DeviceClient::Modbus(ModbusClient::new(endpoint, options)))
}

/// A refused connection or a connect timeout ends the probing; a request timeout, or a
/// gateway's "path unavailable" or "target device failed to respond" (0x0A, 0x0B: nobody
/// answers for that unit id), only rules out its unit id; any other exception only its
/// request.
pub fn scope(err: &service::IoError) -> FailureScope {
    use modbus_client::Error as E;
    use modbus_client::Exception;
    use modbus_client::dongle::DongleError as D;
    match err {
        service::IoError::Modbus(E::Connect { .. } | E::ConnectTimeout { .. })
        | service::IoError::Dongle(D::Connect { .. } | D::ConnectTimeout { .. }) => {
            FailureScope::Device
        }
        service::IoError::Modbus(E::Exception {
            exception: Exception::GatewayPathUnavailable | Exception::GatewayTargetDevice,
            ..
        }) => FailureScope::Unit,
        service::IoError::Modbus(E::Exception {
            exception: Exception::IllegalFunction | Exception::IllegalDataAddress,
            ..
        }) => FailureScope::Refused,
        e if e.is_timeout() => FailureScope::Unit,
        _ => FailureScope::Request,
    }
}

fn shown(value: &Result<modbus_core::Value, device_maps::Missing>) -> String {
    match value {
        Ok(modbus_core::Value::Text(t)) => format!("{t:?}"),
        Ok(v) => v.to_string(),
        Err(m) => m.to_string(),
    }
}

fn matched_text(v: &Verdict) -> String {
    v.found
        .iter()
        .map(|f| format!("{} = {}", f.register, shown(&f.value)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn human(result: &Identification, address: &str, unit: Option<u8>, elapsed: Duration) -> String {
    let mut out = String::new();
    let at = match unit {
        Some(u) => format!("{address} unit {u}"),
        None => address.to_owned(),
    };
    let matches: Vec<&Verdict> = result.matches().collect();
    if matches.is_empty() {
        let _ = writeln!(out, "{at}: unknown device (no map matches)");
    }
    for (i, v) in matches.iter().enumerate() {
        let rank = if i == 0 { "best match" } else { "also matches" };
        let family = match &v.map.extends {
            Some(base) => format!(", a variant of {base}"),
            None if v.map.sunspec.is_some() => {
                ", generic: walks the SunSpec model chain".to_owned()
            }
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "{at}: {rank}: {} ({} {}{family})",
            v.map.id, v.map.manufacturer, v.map.model
        );
        let _ = writeln!(out, "  matched: {}", matched_text(v));
    }
    let rejected: Vec<&Verdict> = result.verdicts.iter().filter(|v| !v.matched()).collect();
    if !rejected.is_empty() {
        out.push_str("not this device:\n");
        let width = rejected.iter().map(|v| v.map.id.len()).max().unwrap_or(0);
        for v in rejected {
            if let Some(m) = &v.mismatch {
                let _ = writeln!(
                    out,
                    "  {:width$}  {} should be {}, found {}",
                    v.map.id, m.register, m.expected, m.found
                );
            }
        }
    }
    if !result.unidentifiable.is_empty() {
        let _ = writeln!(
            out,
            "not tried (the map has no checks): {}",
            result.unidentifiable.join(", ")
        );
    }
    if !result.skipped.is_empty() {
        let _ = writeln!(
            out,
            "not probed (a map whose checks name the device had matched): {}",
            result.skipped.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "{} request(s) in {} ms",
        result.requests,
        elapsed.as_millis()
    );
    out
}

fn json(
    result: &Identification,
    address: &str,
    unit: Option<u8>,
    elapsed: Duration,
) -> anyhow::Result<String> {
    let verdict = |v: &Verdict| {
        serde_json::json!({
            "map": v.map.id,
            "manufacturer": v.map.manufacturer,
            "model": v.map.model,
            "extends": v.map.extends,
            "generic": v.map.sunspec.is_some(),
            "found": v.found.iter().map(|f| serde_json::json!({
                "register": f.register,
                "value": shown(&f.value),
                "expected": f.expected,
                "hint": f.hint,
            })).collect::<Vec<_>>(),
            "mismatch": v.mismatch.as_ref().map(|m| serde_json::json!({
                "register": m.register,
                "location": m.location,
                "expected": m.expected,
                "found": m.found,
            })),
        })
    };
    let value = serde_json::json!({
        "address": address,
        "unit": unit,
        "identified": result.matches().next().map(|v| v.map.id.clone()),
        "matches": result.matches().map(verdict).collect::<Vec<_>>(),
        "rejected": result.verdicts.iter().filter(|v| !v.matched()).map(verdict).collect::<Vec<_>>(),
        "unidentifiable": result.unidentifiable,
        "skipped": result.skipped,
        "requests": result.requests,
        "elapsed_ms": elapsed.as_millis() as u64,
    });
    let mut text = serde_json::to_string_pretty(&value)?;
    text.push('\n');
    Ok(text)
}
