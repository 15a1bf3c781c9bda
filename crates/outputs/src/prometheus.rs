//! Prometheus text exposition format (version 0.0.4).
//!
//! Each numeric register becomes a sample of a metric named `<map>_<quantity>_<base unit>`
//! (`alfen_eve_voltage_volts`), with `_total` for counters. Values are converted to base units
//! (kW to watts, kWh and Wh to joules, ms to seconds, % to a ratio). Registers that differ only
//! by phase fold into one metric with a `phase` label when that is unambiguous; every sample
//! carries `device`, `serial` (when known) and `unit` (the Modbus unit id). Scale-factor
//! registers are applied, not exposed. A text register becomes an info metric,
//! `<map>_<register>_info`, whose label carries the text and whose value is 1. Missing values
//! are left out.

use std::fmt::Write as _;

use std::collections::HashMap;

use device_maps::{DeviceMap, Kind, Register, Scale};
use modbus_core::Value;

use crate::Options;
use crate::human::float_text;
use crate::naming::{label_name, metric_fragment, split_phase};
use crate::units::base_unit;
use crate::view::{Reading, View};

/// How one register is exposed.
#[derive(Debug, Clone)]
struct Plan {
    metric: String,
    factor: f64,
    phase: Option<String>,
    /// Index of the family this register belongs to.
    family: usize,
}

#[derive(Debug, Clone)]
struct Family {
    name: String,
    counter: bool,
    help: String,
    /// Titles of the registers sharing this metric, for the HELP of a per-phase metric.
    titles: Vec<String>,
}

/// The metric plan of a whole map, so names do not depend on which registers were read.
#[derive(Debug, Default)]
struct Plans {
    by_name: HashMap<String, Plan>,
    families: Vec<Family>,
}

pub(crate) fn render(view: &View<'_>, options: &Options) -> String {
    let map = view.map;
    let prefix = metric_fragment(&map.id);
    let device = options.device.clone().unwrap_or_else(|| map.id.clone());
    let serial = view.serial(options.serial.as_deref()).map(str::to_owned);

    let mut plans = plan(view.map, &prefix);

    let mut samples: Vec<Vec<String>> = vec![Vec::new(); plans.families.len()];
    let mut seen: Vec<(String, Option<String>, u8)> = Vec::new();
    for reading in &view.readings {
        let Some(value) = reading.present() else {
            continue;
        };
        if matches!(value, Value::Text(_)) {
            continue;
        }
        let plan = match plans.by_name.get(reading.name()) {
            Some(plan) => plan.clone(),
            None if reading.register.is_some() => continue,
            None => {
                // A reading the map does not declare: its own metric, from what it carries.
                let candidate = Candidate::of_reading(reading);
                let plan = plans.add(&prefix, &candidate, false, &reading.description());
                samples.resize(plans.families.len(), Vec::new());
                plan
            }
        };
        // The same register read twice from one unit, or two names that only differ in case,
        // would repeat a series: the first one wins.
        let key = (plan.metric.clone(), plan.phase.clone(), reading.unit_id());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let Some(number) = sample_value(value, plan.factor, reading.is_plain_float32()) else {
            continue;
        };
        let mut labels: Vec<(String, String)> = vec![("device".to_owned(), device.clone())];
        if let Some(serial) = &serial {
            labels.push(("serial".to_owned(), serial.clone()));
        }
        labels.push(("unit".to_owned(), reading.unit_id().to_string()));
        if let Some(phase) = &plan.phase {
            labels.push(("phase".to_owned(), phase.clone()));
        }
        if let Some(list) = samples.get_mut(plan.family) {
            list.push(format!("{}{} {number}", plan.metric, label_set(&labels)));
        }
    }

    let mut out = String::new();
    for (family, lines) in plans.families.iter().zip(&samples) {
        if lines.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# HELP {} {}", family.name, escape_help(&family.help));
        let kind = if family.counter { "counter" } else { "gauge" };
        let _ = writeln!(out, "# TYPE {} {kind}", family.name);
        for line in lines {
            out.push_str(line);
            out.push('\n');
        }
    }
    info_metrics(&mut out, view, &prefix, &device, serial.as_deref());
    out
}

/// What decides a register's metric.
struct Candidate<'r> {
    name: &'r str,
    title: &'r str,
    register: Option<&'r Register>,
    suffix: String,
    factor: f64,
    counter: bool,
    quantity: String,
    phase: Option<String>,
    /// The phase comes from the map's `phase:` (labelled even when the metric does not fold).
    declared: bool,
}

impl<'r> Candidate<'r> {
    fn new(
        name: &'r str,
        title: &'r str,
        unit: Option<&str>,
        kind: Kind,
        register: Option<&'r Register>,
    ) -> Self {
        let (suffix, factor) = unit_suffix(unit);
        let split = split_phase(name);
        // The map's `phase:` wins over the phase read from the name.
        let declared = register.and_then(|r| r.phase.clone());
        Candidate {
            name,
            title,
            register,
            suffix,
            factor,
            counter: kind == Kind::Counter,
            quantity: split
                .as_ref()
                .map_or_else(|| name.to_owned(), |s| s.quantity.clone()),
            declared: declared.is_some(),
            phase: declared.or(split.map(|s| s.phase)),
        }
    }

    fn of_reading(reading: &Reading<'r>) -> Self {
        Candidate::new(
            reading.name(),
            reading.title(),
            reading.unit(),
            reading.kind(),
            None,
        )
    }
}

impl Plans {
    /// Adds the plan of one register, creating or joining its family.
    fn add(&mut self, prefix: &str, c: &Candidate<'_>, folded: bool, description: &str) -> Plan {
        let base = if folded { c.quantity.as_str() } else { c.name };
        let mut metric = format!("{prefix}_{}", metric_fragment(base));
        if !c.suffix.is_empty() && !metric.ends_with(&format!("_{}", c.suffix)) {
            metric.push('_');
            metric.push_str(&c.suffix);
        }
        if c.counter && !metric.ends_with("_total") {
            metric.push_str("_total");
        }
        let family = match self.families.iter().position(|f| f.name == metric) {
            Some(index) => {
                if let Some(f) = self.families.get_mut(index) {
                    f.titles.push(c.title.to_owned());
                    f.help = family_help(&f.titles, &c.quantity, &c.suffix);
                }
                index
            }
            None => {
                self.families.push(Family {
                    name: metric.clone(),
                    counter: c.counter,
                    help: single_help(c, description),
                    titles: vec![c.title.to_owned()],
                });
                self.families.len() - 1
            }
        };
        let plan = Plan {
            metric,
            factor: c.factor,
            phase: if folded || c.declared {
                c.phase.clone()
            } else {
                None
            },
            family,
        };
        self.by_name
            .entry(c.name.to_owned())
            .or_insert_with(|| plan.clone());
        plan
    }
}

/// Decides the metric of every numeric register of the map: name, type, conversion, phase.
fn plan(map: &DeviceMap, prefix: &str) -> Plans {
    let names: Vec<&str> = map.registers.iter().map(|r| r.name.as_str()).collect();
    // SunSpec scale-factor registers are already applied to the values they scale.
    let scale_factors: Vec<&str> = map
        .registers
        .iter()
        .filter_map(|r| match &r.scale {
            Scale::PowerOfTen(sf) => Some(sf.as_str()),
            Scale::Factor(_) => None,
        })
        .collect();
    let candidates: Vec<Candidate<'_>> = map
        .registers
        .iter()
        .filter(|r| r.kind != Kind::Text && r.access.readable() && !is_text_type(r))
        .filter(|r| !scale_factors.contains(&r.name.as_str()))
        .map(|r| Candidate::new(&r.name, &r.title, r.unit.as_deref(), r.kind, Some(r)))
        .collect();

    // A quantity folds when all its members agree on unit and type, no register is named like
    // the quantity itself, and no two members share a phase.
    let folds = |quantity: &str| -> bool {
        if names.contains(&quantity) {
            return false;
        }
        let members: Vec<&Candidate<'_>> = candidates
            .iter()
            .filter(|c| c.phase.is_some() && c.quantity == quantity)
            .collect();
        let Some(first) = members.first() else {
            return false;
        };
        let same_shape = members
            .iter()
            .all(|c| c.suffix == first.suffix && c.counter == first.counter);
        let mut phases: Vec<&str> = members.iter().filter_map(|c| c.phase.as_deref()).collect();
        phases.sort_unstable();
        let before = phases.len();
        phases.dedup();
        same_shape && before == phases.len()
    };

    let mut plans = Plans::default();
    for c in &candidates {
        let folded = c.phase.is_some() && folds(&c.quantity);
        let description = c
            .register
            .and_then(|r| r.description.as_deref())
            .unwrap_or(c.title);
        plans.add(prefix, c, folded, description);
    }
    plans
}

fn is_text_type(register: &Register) -> bool {
    matches!(
        register.register_type.data_type(),
        Some(modbus_core::DataType::String | modbus_core::DataType::String1)
    )
}

/// The metric-name suffix and the factor for a map unit.
fn unit_suffix(unit: Option<&str>) -> (String, f64) {
    match unit.map(str::trim) {
        None | Some("") => (String::new(), 1.0),
        Some(unit) => match base_unit(unit) {
            Some(base) => (base.suffix.to_owned(), base.factor),
            None => (metric_fragment(unit), 1.0),
        },
    }
}

/// HELP of a metric with one register: its description (or title), its map unit when it was
/// converted, and the meaning of its states.
fn single_help(c: &Candidate<'_>, description: &str) -> String {
    let mut help = description.to_owned();
    if let Some(unit) = c
        .register
        .and_then(|r| r.unit.as_deref())
        .filter(|u| !u.is_empty())
        && c.factor != 1.0
    {
        let _ = write!(help, " (converted from {unit})");
    }
    if let Some(register) = c.register
        && !register.enumeration.is_empty()
    {
        let states: Vec<String> = register
            .enumeration
            .iter()
            .map(|(v, l)| format!("{v} = {l}"))
            .collect();
        let _ = write!(help, "; {}", states.join(", "));
    }
    help
}

/// HELP of a per-phase metric: the words its registers' titles share (`Voltage Phase L1N`,
/// `Voltage Phase L2N`, ... give `Voltage`), without the word "phase".
fn family_help(titles: &[String], quantity: &str, suffix: &str) -> String {
    let first = titles.first().map(String::as_str).unwrap_or_default();
    let words: Vec<&str> = first
        .split_whitespace()
        .filter(|w| !w.eq_ignore_ascii_case("phase"))
        .filter(|w| {
            titles
                .iter()
                .all(|t| t.split_whitespace().any(|o| o.eq_ignore_ascii_case(w)))
        })
        .collect();
    let what = if words.is_empty() {
        quantity.replace('_', " ")
    } else {
        words.join(" ")
    };
    if suffix.is_empty() {
        format!("{what}, by phase")
    } else {
        format!("{what} in {}, by phase", suffix.replace('_', " "))
    }
}

/// The sample value in base units; integers that need no conversion print exactly, a value
/// from a `float32` register prints with single precision (12.41, not 12.4099998474).
fn sample_value(value: &Value, factor: f64, single: bool) -> Option<String> {
    if factor == 1.0 {
        match value {
            Value::Int(v) => return Some(v.to_string()),
            Value::UInt(v) => return Some(v.to_string()),
            Value::Flags(v) => return Some(v.to_string()),
            _ => {}
        }
    }
    let mut number = value.as_f64()?;
    if single && factor != 1.0 {
        // Convert the decimal the float32 stands for (818.9), not its binary widening
        // (818.900024...), so a conversion does not turn noise into digits.
        number = float_text(number, true).parse().unwrap_or(number);
    }
    let number = number * factor;
    number
        .is_finite()
        .then(|| float_text(number, single && factor == 1.0))
}

/// Text values as info metrics: `<map>_<register>_info{device=..., unit=..., <register>="..."} 1`,
/// one family per text register so every sample of a family has the same label names.
fn info_metrics(
    out: &mut String,
    view: &View<'_>,
    prefix: &str,
    device: &str,
    serial: Option<&str>,
) {
    let mut families: Vec<(String, String, Vec<String>)> = Vec::new();
    for reading in &view.readings {
        let Some(Value::Text(text)) = reading.present() else {
            continue;
        };
        if text.is_empty() {
            continue;
        }
        let mut key = label_name(reading.name());
        if matches!(key.as_str(), "device" | "serial" | "unit" | "phase") {
            if key == "serial" && Some(text.trim()) == serial {
                // Already the `serial` label of every sample.
                continue;
            }
            key.push_str("_text");
        }
        let name = format!("{prefix}_{}_info", metric_fragment(reading.name()));
        let mut labels = vec![("device".to_owned(), device.to_owned())];
        if let Some(serial) = serial {
            labels.push(("serial".to_owned(), serial.to_owned()));
        }
        labels.push(("unit".to_owned(), reading.unit_id().to_string()));
        labels.push((key, text.clone()));
        let line = format!("{name}{} 1", label_set(&labels));
        match families.iter_mut().find(|(n, _, _)| *n == name) {
            Some((_, _, lines)) => {
                if !lines.contains(&line) {
                    lines.push(line);
                }
            }
            None => families.push((name, reading.description().into_owned(), vec![line])),
        }
    }
    for (name, help, lines) in families {
        let _ = writeln!(
            out,
            "# HELP {name} {} (the text is a label)",
            escape_help(&help)
        );
        let _ = writeln!(out, "# TYPE {name} gauge");
        for line in lines {
            out.push_str(&line);
            out.push('\n');
        }
    }
}

fn label_set(labels: &[(String, String)]) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label_value(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Label values escape backslash, double quote and line feed.
pub(crate) fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// HELP text escapes backslash and line feed.
pub(crate) fn escape_help(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape_label_value(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label_value("x\ny"), "x\\ny");
        assert_eq!(escape_help("p\\q\nr \"s\""), "p\\\\q\\nr \"s\"");
    }

    #[test]
    fn samples_in_base_units() {
        let sample = |v: Value, factor: f64, single: bool| sample_value(&v, factor, single);
        assert_eq!(
            sample(Value::Float(1.5), 1000.0, false).as_deref(),
            Some("1500")
        );
        assert_eq!(
            sample(Value::UInt(u64::MAX), 1.0, false).as_deref(),
            Some("18446744073709551615")
        );
        assert_eq!(
            sample(Value::Float(0.1), 3.0, false).as_deref(),
            Some("0.3")
        );
        let single = f64::from(2.83_f32);
        assert_eq!(
            sample(Value::Float(single), 1000.0, true).as_deref(),
            Some("2830")
        );
        assert_eq!(sample(Value::Text("x".into()), 1.0, false), None);
        assert_eq!(sample(Value::Float(f64::NAN), 1.0, false), None);
    }
}
