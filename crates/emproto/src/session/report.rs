//! Renderings of [`ChargerView`]s: aligned text, Prometheus text exposition and InfluxDB line
//! protocol. Pure functions, so every program renders a charger the same way. (JSON is the
//! view's `serde::Serialize`.)

use std::fmt::Write as _;

use super::ChargerView;

/// Aligned text for people, one block per charger.
pub fn human_text(views: &[ChargerView]) -> String {
    let mut out = String::new();
    for (i, v) in views.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let label = format!("{} {}", v.brand, v.model);
        let _ = writeln!(out, "{} {}", v.serial, label.trim());
        let mut row = |key: &str, value: String| {
            let _ = writeln!(out, "  {key:<20} {value}");
        };
        row(
            "address",
            v.address
                .map_or_else(|| "unknown".to_owned(), |a| a.to_string()),
        );
        row("state", v.meta_state.as_str().to_owned());
        row("online", yes_no(v.online));
        row(
            "logged in",
            if v.password_rejected {
                "no (password rejected)".to_owned()
            } else {
                yes_no(v.logged_in)
            },
        );
        if let Some(info) = &v.info {
            row(
                "max current",
                format!(
                    "{} A x {} phase(s), {} W",
                    info.max_current_a, info.phases, info.max_power_w
                ),
            );
            if let Some(sw) = &info.software_version {
                row("firmware", format!("{} / {}", info.hardware_version, sw));
            }
        }
        if let Some(s) = &v.state {
            row("charger state", s.current_state.to_string());
            row("plug", s.gun_state.to_string());
            row("output", s.output_state.to_string());
            row("power", format!("{:.1} W", s.power_w));
            for (n, p) in s.phases.iter().enumerate() {
                row(
                    &format!("L{}", n + 1),
                    format!("{:.1} V  {:.2} A", p.voltage_v, p.current_a),
                );
            }
            row("energy counter", format!("{:.2} kWh", s.energy_kwh));
            if let Some(t) = s.inner_temperature_c {
                row("temperature", format!("{t:.2} °C"));
            }
            let errors = if s.errors.is_empty() {
                "none".to_owned()
            } else {
                s.errors
                    .iter()
                    .map(|e| format!("{} ({})", e.name, e.bit))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            row("errors", errors);
        }
        let c = &v.config;
        if let Some(name) = &c.name {
            row("name", name.clone());
        }
        if let Some(a) = c.max_current_a {
            row("configured current", format!("{a} A"));
        }
        if let Some(l) = c.language {
            row("language", l.to_string());
        }
        if let Some(u) = c.temperature_unit {
            row("temperature unit", u.to_string());
        }
        if let Some(o) = c.offline_charge {
            row("offline charge", format!("{o} ({})", o.0));
        }
        // A charger that never ran a session reports an empty one: leave it out.
        if let Some(ch) = v.charge.as_ref().filter(|c| !c.charge_id.is_empty()) {
            row("session", format!("{} ({})", ch.state, ch.charge_id));
            row(
                "session energy",
                format!("{:.2} kWh in {} s", ch.charged_energy_kwh, ch.duration_s),
            );
            row("session current", format!("{} A", ch.max_current_a));
        }
    }
    out
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

fn prom_escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Joules from the charger's kWh figures. The charger counts hundredths of a kWh (36 kJ), so
/// the product is rounded to whole joules: 1475.85 kWh is 5313060000 J, not 5313060000.000001.
fn kwh_to_joules(kwh: f64) -> f64 {
    (kwh * 3.6e6).round()
}

/// Prometheus text exposition (format 0.0.4) of every charger, metrics prefixed `evctl_em_`.
/// Every metric is in base units, as the Modbus renderings of the outputs crate are: watts,
/// volts, amperes, degrees Celsius, seconds and joules (energy counters, not kWh).
/// Values not heard yet are left out rather than reported as 0.
pub fn prometheus_text(views: &[ChargerView]) -> String {
    struct Metric {
        name: &'static str,
        kind: &'static str,
        help: &'static str,
        samples: Vec<(String, f64)>,
    }
    let mut metrics: Vec<Metric> = Vec::new();
    let mut add =
        |name: &'static str, kind: &'static str, help: &'static str, labels: String, value: f64| {
            match metrics.iter_mut().find(|m| m.name == name) {
                Some(m) => m.samples.push((labels, value)),
                None => metrics.push(Metric {
                    name,
                    kind,
                    help,
                    samples: vec![(labels, value)],
                }),
            }
        };
    for v in views {
        let base = format!(
            "serial=\"{}\",brand=\"{}\",model=\"{}\"",
            v.serial,
            prom_escape(&v.brand),
            prom_escape(&v.model)
        );
        let b = |x: bool| if x { 1.0 } else { 0.0 };
        add(
            "evctl_em_online",
            "gauge",
            "1 if the charger was heard within the offline time",
            base.clone(),
            b(v.online),
        );
        add(
            "evctl_em_logged_in",
            "gauge",
            "1 if logged in to the charger",
            base.clone(),
            b(v.logged_in),
        );
        add(
            "evctl_em_meta_state",
            "gauge",
            "1 for the charger's current summary state",
            format!("{base},state=\"{}\"", v.meta_state.as_str()),
            1.0,
        );
        if let Some(info) = &v.info {
            add(
                "evctl_em_max_current_amperes",
                "gauge",
                "Maximum current per phase of the charger",
                base.clone(),
                f64::from(info.max_current_a),
            );
            add(
                "evctl_em_max_power_watts",
                "gauge",
                "Maximum power of the charger",
                base.clone(),
                f64::from(info.max_power_w),
            );
        }
        if let Some(s) = &v.state {
            add(
                "evctl_em_power_watts",
                "gauge",
                "Charging power",
                base.clone(),
                s.power_w,
            );
            add(
                "evctl_em_energy_joules_total",
                "counter",
                "Cumulative energy counter of the charger",
                base.clone(),
                kwh_to_joules(s.energy_kwh),
            );
            for (n, p) in s.phases.iter().enumerate() {
                let l = format!("{base},phase=\"L{}\"", n + 1);
                add(
                    "evctl_em_voltage_volts",
                    "gauge",
                    "Voltage per phase",
                    l.clone(),
                    p.voltage_v,
                );
                add(
                    "evctl_em_current_amperes",
                    "gauge",
                    "Current per phase",
                    l,
                    p.current_a,
                );
            }
            if let Some(t) = s.inner_temperature_c {
                add(
                    "evctl_em_temperature_celsius",
                    "gauge",
                    "Charger temperature",
                    format!("{base},sensor=\"inner\""),
                    t,
                );
            }
            if let Some(t) = s.outer_temperature_c {
                add(
                    "evctl_em_temperature_celsius",
                    "gauge",
                    "Charger temperature",
                    format!("{base},sensor=\"outer\""),
                    t,
                );
            }
            add(
                "evctl_em_gun_state",
                "gauge",
                "Plug state code (1 disconnected, 2 connected, 4 locked)",
                base.clone(),
                f64::from(s.gun_state.0),
            );
            add(
                "evctl_em_output_state",
                "gauge",
                "Output state code (1 charging, 2 idle)",
                base.clone(),
                f64::from(s.output_state.0),
            );
            add(
                "evctl_em_current_state",
                "gauge",
                "Charger state code (13 ready, 14 charging, ...)",
                base.clone(),
                f64::from(s.current_state.0),
            );
            add(
                "evctl_em_errors",
                "gauge",
                "Number of error bits set",
                base.clone(),
                s.errors.len() as f64,
            );
            for e in &s.errors {
                add(
                    "evctl_em_error",
                    "gauge",
                    "1 for each error bit set",
                    format!("{base},bit=\"{}\",name=\"{}\"", e.bit, prom_escape(e.name)),
                    1.0,
                );
            }
        }
        if let Some(a) = v.config.max_current_a {
            add(
                "evctl_em_configured_current_amperes",
                "gauge",
                "Configured maximum current",
                base.clone(),
                f64::from(a),
            );
        }
        if let Some(c) = &v.charge {
            add(
                "evctl_em_session_energy_joules",
                "gauge",
                "Energy charged in the current or last session",
                base.clone(),
                kwh_to_joules(c.charged_energy_kwh),
            );
            add(
                "evctl_em_session_duration_seconds",
                "gauge",
                "Duration of the current or last session",
                base.clone(),
                f64::from(c.duration_s),
            );
        }
    }
    let mut out = String::new();
    for m in metrics {
        let _ = writeln!(out, "# HELP {} {}", m.name, m.help);
        let _ = writeln!(out, "# TYPE {} {}", m.name, m.kind);
        for (labels, value) in m.samples {
            let _ = writeln!(out, "{}{{{labels}}} {value}", m.name);
        }
    }
    out
}

fn influx_tag(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, ',' | '=' | ' ') {
            out.push('\\');
        }
        if c != '\n' {
            out.push(c);
        }
    }
    out
}

fn influx_string(v: &str) -> String {
    format!(
        "\"{}\"",
        v.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', " ")
    )
}

/// InfluxDB line protocol, one line per charger (measurement `evctl_em`, tags serial, brand,
/// model). `timestamp_ns` is appended when given. Values not heard yet are left out.
pub fn influx_lines(views: &[ChargerView], timestamp_ns: Option<i128>) -> String {
    let mut out = String::new();
    for v in views {
        let mut fields: Vec<String> = vec![
            format!("online={}", v.online),
            format!("logged_in={}", v.logged_in),
            format!("meta_state={}", influx_string(v.meta_state.as_str())),
        ];
        if let Some(s) = &v.state {
            fields.push(format!("power_w={}", s.power_w));
            fields.push(format!("energy_kwh={}", s.energy_kwh));
            for (n, p) in s.phases.iter().enumerate() {
                fields.push(format!("l{}_voltage_v={}", n + 1, p.voltage_v));
                fields.push(format!("l{}_current_a={}", n + 1, p.current_a));
            }
            if let Some(t) = s.inner_temperature_c {
                fields.push(format!("inner_temperature_c={t}"));
            }
            if let Some(t) = s.outer_temperature_c {
                fields.push(format!("outer_temperature_c={t}"));
            }
            fields.push(format!("gun_state={}i", s.gun_state.0));
            fields.push(format!("output_state={}i", s.output_state.0));
            fields.push(format!("current_state={}i", s.current_state.0));
            fields.push(format!("error_flags={}i", s.error_flags.0));
        }
        if let Some(a) = v.config.max_current_a {
            fields.push(format!("configured_current_a={a}i"));
        }
        if let Some(c) = &v.charge {
            fields.push(format!("session_energy_kwh={}", c.charged_energy_kwh));
            fields.push(format!("session_duration_s={}i", c.duration_s));
        }
        let _ = write!(
            out,
            "evctl_em,serial={},brand={},model={} {}",
            v.serial,
            influx_tag(if v.brand.is_empty() {
                "unknown"
            } else {
                &v.brand
            }),
            influx_tag(if v.model.is_empty() {
                "unknown"
            } else {
                &v.model
            }),
            fields.join(",")
        );
        if let Some(ts) = timestamp_ns {
            let _ = write!(out, " {ts}");
        }
        out.push('\n');
    }
    out
}
