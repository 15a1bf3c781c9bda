//! `evctl describe <map> [<register>]`: what a map holds, from the map alone (no device).

use std::fmt::Write as _;
use std::process::ExitCode;

use device_maps::{DeviceMap, Every, HeartbeatWrite, ReadBack, Register, Scale, UnitRef};
use service::format_duration;

use crate::cli::DescribeArgs;
use crate::commands::list::table;
use crate::report::usage;
use crate::target::Env;

pub fn run(env: &Env, args: &DescribeArgs) -> anyhow::Result<ExitCode> {
    let map = match env.site.devices.get(&args.map) {
        Some(device) => env.map(&device.map)?,
        None => env.map(&args.map)?,
    };
    let text = match &args.register {
        None => describe_map(&map),
        Some(name) => {
            if let Some(r) = map.register(name) {
                describe_register(&map, r)
            } else if let Some(action) = map.action(name) {
                describe_action(&map, action)
            } else {
                let names = map
                    .registers
                    .iter()
                    .map(|r| r.name.as_str())
                    .chain(map.actions.iter().map(|a| a.name.as_str()));
                let hint = closest(name, names)
                    .map(|n| format!("; did you mean `{n}`?"))
                    .unwrap_or_default();
                return Err(usage(format!(
                    "map `{}` has no register or action `{name}`{hint}",
                    map.id
                )));
            }
        }
    };
    crate::commands::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn closest<'a>(name: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    names
        .map(|n| (strsim(name, n), n))
        .filter(|(d, _)| *d <= name.len().max(3) / 3 + 1)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// Levenshtein distance, for suggestions.
fn strsim(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn unit_text(map: &DeviceMap, unit: &UnitRef) -> String {
    match unit {
        UnitRef::Role(role) => match map.connection.unit_id(role) {
            Some(id) => format!("{role} ({id})"),
            None => role.clone(),
        },
        UnitRef::Id(id) => id.to_string(),
    }
}

fn describe_map(map: &DeviceMap) -> String {
    let c = &map.connection;
    let mut out = String::new();
    let _ = writeln!(out, "{} {} ({})", map.manufacturer, map.model, map.id);
    if let Some(d) = &map.description {
        let _ = writeln!(out, "{}", d.trim());
    }
    for doc in &map.documents {
        let _ = writeln!(out, "  document: {doc}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Connection");
    let units: Vec<String> = c
        .unit_ids
        .iter()
        .map(|(role, id)| {
            let main = if *role == c.main_unit { ", main" } else { "" };
            format!("{role} {id}{main}")
        })
        .collect();
    let rows = [
        ("transport", format!("{}, port {}", c.transport, c.port)),
        ("units", units.join("; ")),
        ("address base", c.address_base.to_string()),
        ("order", c.order.to_string()),
        (
            "requests",
            format!(
                "at most {} registers, {}",
                c.max_registers,
                if !c.span_gaps {
                    "never across unmapped addresses".to_owned()
                } else if c.max_gap == u16::MAX {
                    "may span unmapped addresses".to_owned()
                } else {
                    format!("may span up to {} unmapped registers", c.max_gap)
                }
            ),
        ),
        (
            "timing",
            format!(
                "timeout {}, pacing {}{}",
                format_duration(c.timeout),
                format_duration(c.pacing),
                c.idle_timeout
                    .map(|d| format!(", closes idle connections after {}", format_duration(d)))
                    .unwrap_or_default()
            ),
        ),
        ("connections", format!("at most {}", c.max_connections)),
    ];
    for (key, value) in rows {
        let _ = writeln!(out, "  {key:<13} {value}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Registers ({})", map.registers.len());
    let rows: Vec<[String; 8]> = map
        .registers
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                unit_text(map, &r.unit_id),
                r.table.to_string(),
                r.address.to_string(),
                format!("{}{}", r.register_type, count_suffix(r)),
                r.unit.clone().unwrap_or_default(),
                r.access.to_string(),
                r.group.clone().unwrap_or_default(),
            ]
        })
        .collect();
    for line in table(
        &[
            "NAME", "UNIT ID", "TABLE", "ADDRESS", "TYPE", "UNIT", "ACCESS", "GROUP",
        ],
        &rows,
    )
    .lines()
    {
        let _ = writeln!(out, "  {line}");
    }
    if !map.heartbeats.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Heartbeats");
        for hb in &map.heartbeats {
            let _ = writeln!(
                out,
                "  {}: {}, {}",
                hb.name,
                heartbeat_write(&hb.write),
                every(&hb.every)
            );
        }
    }
    if !map.actions.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Actions (evctl call {0} <action> key=value...; evctl describe {0} <action> shows its writes)",
            map.id
        );
        for action in &map.actions {
            let params: Vec<String> = action
                .params
                .iter()
                .map(|p| {
                    if p.optional {
                        format!("[{}=<{}>]", p.name, p.param_type.name())
                    } else {
                        format!("{}=<{}>", p.name, p.param_type.name())
                    }
                })
                .collect();
            let _ = writeln!(
                out,
                "  {}",
                [action.name.clone()]
                    .into_iter()
                    .chain(params)
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            if let Some(d) = &action.description {
                let _ = writeln!(out, "      {}", d.trim());
            }
        }
    }
    out
}

fn count_suffix(r: &Register) -> String {
    let implied = r
        .register_type
        .data_type()
        .and_then(|t| t.fixed_registers());
    match implied {
        Some(n) if n == r.count => String::new(),
        _ if r.count == 1 => String::new(),
        _ => format!("[{}]", r.count),
    }
}

fn heartbeat_write(write: &HeartbeatWrite) -> String {
    match write {
        HeartbeatWrite::Values(values) => values
            .iter()
            .map(|(name, value)| format!("writes {name}={value}"))
            .collect::<Vec<_>>()
            .join(", "),
        HeartbeatWrite::Refresh(name) => format!("rewrites the last value written to {name}"),
    }
}

fn every(every: &Every) -> String {
    match every {
        Every::Fixed(d) => format!("every {}", format_duration(*d)),
        Every::Register {
            register, factor, ..
        } => {
            format!("every {register} x {factor}")
        }
    }
}

fn describe_register(map: &DeviceMap, r: &Register) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} ({})", r.name, r.title);
    if let Some(d) = &r.description {
        let _ = writeln!(out, "{}", d.trim());
    }
    let _ = writeln!(out);
    let mut rows: Vec<(&str, String)> = vec![
        ("map", map.id.clone()),
        ("unit id", unit_text(map, &r.unit_id)),
        ("table", r.table.to_string()),
        (
            "address",
            if r.address == u32::from(r.wire_address) {
                r.address.to_string()
            } else {
                format!("{} (wire address {})", r.address, r.wire_address)
            },
        ),
        (
            "type",
            format!("{}, {} register(s)", r.register_type, r.count),
        ),
        ("order", r.order.to_string()),
    ];
    match &r.scale {
        Scale::Factor(f) if *f == 1.0 => {}
        Scale::Factor(f) => rows.push(("scale", f.to_string())),
        Scale::PowerOfTen(sf) => rows.push(("scale", format!("10^{sf}"))),
    }
    if r.offset != 0.0 {
        rows.push(("offset", r.offset.to_string()));
    }
    if let Some(unit) = &r.unit {
        rows.push(("unit", unit.clone()));
    }
    rows.push(("kind", r.kind.to_string()));
    rows.push(("access", r.access.to_string()));
    if let Some(g) = &r.group {
        rows.push(("group", g.clone()));
    }
    if !r.sentinels.is_empty() {
        let sentinels: Vec<String> = r.sentinels.iter().map(ToString::to_string).collect();
        rows.push(("not available", sentinels.join(", ")));
    }
    rows.push(("example", r.example.to_string()));
    if r.access.writable() {
        rows.push(("writes", device_maps::allowed_values(r)));
        if let Some(rule) = &r.write {
            match &rule.read_back {
                ReadBack::None => {}
                ReadBack::Same => rows.push(("read back", "the register itself".to_owned())),
                ReadBack::Register(other) => rows.push(("read back", other.clone())),
            }
        }
    }
    for (key, value) in rows {
        let _ = writeln!(out, "  {key:<14} {value}");
    }
    if !r.enumeration.is_empty() {
        let _ = writeln!(out, "  values");
        for (value, label) in &r.enumeration {
            let _ = writeln!(out, "    {value:>6}  {label}");
        }
    }
    if !r.flags.is_empty() {
        let _ = writeln!(out, "  flags");
        for (bit, label) in &r.flags {
            let _ = writeln!(out, "    bit {bit:>2}  {label}");
        }
    }
    out
}

fn describe_action(map: &DeviceMap, action: &device_maps::Action) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "action {}", action.name);
    if let Some(d) = &action.description {
        let _ = writeln!(out, "{}", d.trim());
    }
    if !action.params.is_empty() {
        let _ = writeln!(out, "\nparameters");
        let names: Vec<String> = action
            .params
            .iter()
            .map(|p| format!("{}{}", p.name, if p.optional { " (optional)" } else { "" }))
            .collect();
        let width = names.iter().map(String::len).max().unwrap_or(0);
        for (p, name) in action.params.iter().zip(&names) {
            let _ = writeln!(
                out,
                "  {name:<width$}  {}{}",
                device_maps::param_allowed(p),
                p.description
                    .as_deref()
                    .map(|d| format!(": {}", d.trim()))
                    .unwrap_or_default()
            );
        }
    }
    let _ = writeln!(out, "\nwrites, in order");
    let width = action
        .steps
        .iter()
        .flat_map(|s| s.set.iter().map(|(name, _)| name.len()))
        .max()
        .unwrap_or(0);
    let expr_width = action
        .steps
        .iter()
        .flat_map(|s| s.set.iter().map(|(_, e)| e.to_string().len()))
        .max()
        .unwrap_or(0);
    for (i, step) in action.steps.iter().enumerate() {
        let condition = match &step.when {
            None => String::new(),
            Some(device_maps::expr::Condition::Given(name)) => {
                format!(" (only when {name} is given)")
            }
            Some(c) => format!(" (only when {c})"),
        };
        let _ = writeln!(out, "  step {}{condition}", i + 1);
        for (name, expr) in &step.set {
            let expr = expr.to_string();
            match map.register(name) {
                Some(r) => writeln!(
                    out,
                    "    {name:<width$} = {expr:<expr_width$}  # {} {}",
                    r.table, r.address
                ),
                None => writeln!(out, "    {name:<width$} = {expr}"),
            }
            .ok();
        }
    }
    out
}
