//! Prometheus text exposition format (version 0.0.4).
//!
//! Each numeric register becomes a sample of a metric named `<map>_<quantity>_<base unit>`
//! (`alfen_eve_voltage_volts`), with `_total` for counters. A word of the name that already
//! names the unit (`kwh`, `pct`, `ms`, ...) is dropped before the base unit is appended
//! (`Battery_Capacity_kWh` becomes `..._battery_capacity_joules`), unless another metric of the
//! map has that name, in which case the register keeps its full name. Values are converted to base units
//! (kW to watts, kWh and Wh to joules, ms to seconds, % to a ratio). Registers that differ only
//! by phase fold into one metric with a `phase` label when that is unambiguous; every sample
//! carries `device`, `serial` (when known) and `unit` (the Modbus unit id). Scale-factor
//! registers are applied, not exposed. A text register becomes an info metric,
//! `<map>_<register>_info`, whose label carries the text and whose value is 1. Missing values
//! are left out.

use std::fmt::Write as _;

use std::collections::HashMap;

use device_maps::{Derived, DeviceMap, Kind, Register, Scale};
use modbus_core::Value;

use crate::Options;
use crate::human::float_text;
use crate::naming::{label_name, metric_fragment, split_phase};
use crate::units::{base_unit, unit_word_suffix};
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
                let stripped = candidate.metric(&prefix, candidate.name, true);
                let metric = if plans.families.iter().any(|f| f.name == stripped) {
                    candidate.metric(&prefix, candidate.name, false)
                } else {
                    stripped
                };
                let plan = plans.add(metric, &candidate, false);
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
    /// The phase word of the name (`a` in `ac_current_a`), which is never taken for a unit.
    phase_word: Option<String>,
    /// The phase comes from the map's `phase:` (labelled even when the metric does not fold).
    declared: bool,
    /// The HELP text of a metric of its own.
    description: String,
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
        let description = register
            .and_then(|r| r.description.as_deref())
            .unwrap_or(title)
            .to_owned();
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
            phase_word: split.as_ref().map(|s| s.phase.to_ascii_lowercase()),
            phase: declared.or(split.map(|s| s.phase)),
            description,
        }
    }

    fn of_reading(reading: &Reading<'r>) -> Self {
        let mut c = Candidate::new(
            reading.name(),
            reading.title(),
            reading.unit(),
            reading.kind(),
            None,
        );
        c.description = reading.description().into_owned();
        c
    }

    fn of_derived(derived: &'r Derived) -> Self {
        let mut c = Candidate::new(
            &derived.name,
            &derived.title,
            derived.unit.as_deref(),
            derived.kind,
            None,
        );
        let mut text = derived
            .description
            .as_deref()
            .unwrap_or(&derived.title)
            .trim()
            .to_owned();
        if !derived.enumeration.is_empty() {
            let states: Vec<String> = derived
                .enumeration
                .iter()
                .map(|(v, l)| format!("{v} = {l}"))
                .collect();
            let _ = write!(text, "; {}", states.join(", "));
        }
        c.description = text;
        c
    }

    /// The metric name for `base` (the name, or the quantity of a per-phase metric): prefix,
    /// name, base unit, `_total` for a counter. With `strip`, the words of `base` that name the
    /// same unit (`kwh` before `_joules`, `pct` before `_ratio`) are dropped first, except the
    /// phase word; a name made only of unit words keeps them.
    fn metric(&self, prefix: &str, base: &str, strip: bool) -> String {
        let mut fragment = metric_fragment(base);
        if strip && !self.suffix.is_empty() {
            let words: Vec<&str> = fragment.split('_').collect();
            let kept: Vec<&str> = words
                .iter()
                .copied()
                .filter(|w| {
                    self.phase_word.as_deref() == Some(*w)
                        || unit_word_suffix(w) != Some(self.suffix.as_str())
                })
                .collect();
            if kept.iter().any(|w| !w.is_empty()) {
                fragment = kept.join("_");
            }
        }
        let mut metric = format!("{prefix}_{fragment}");
        if !self.suffix.is_empty() && !metric.ends_with(&format!("_{}", self.suffix)) {
            metric.push('_');
            metric.push_str(&self.suffix);
        }
        if self.counter && !metric.ends_with("_total") {
            metric.push_str("_total");
        }
        metric
    }
}

impl Plans {
    /// Adds the plan of one register, creating or joining its family.
    fn add(&mut self, metric: String, c: &Candidate<'_>, folded: bool) -> Plan {
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
                    help: single_help(c),
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
        .chain(map.derived.iter().map(Candidate::of_derived))
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

    // Each candidate's metric with and without the unit words of its name. A shortened name is
    // only taken when no other metric of the map has it in either form, so dropping `kwh` never
    // merges two quantities.
    struct Named {
        folded: bool,
        base: String,
        full: String,
        short: String,
    }
    let named: Vec<Named> = candidates
        .iter()
        .map(|c| {
            let folded = c.phase.is_some() && folds(&c.quantity);
            let base = if folded {
                c.quantity.clone()
            } else {
                c.name.to_owned()
            };
            Named {
                folded,
                full: c.metric(prefix, &base, false),
                short: c.metric(prefix, &base, true),
                base,
            }
        })
        .collect();
    let mut plans = Plans::default();
    for (c, n) in candidates.iter().zip(&named) {
        let collides = named
            .iter()
            .any(|o| o.base != n.base && (o.full == n.short || o.short == n.short));
        let metric = if collides {
            n.full.clone()
        } else {
            n.short.clone()
        };
        plans.add(metric, c, n.folded);
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
fn single_help(c: &Candidate<'_>) -> String {
    let mut help = c.description.clone();
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

    fn metric_of(map: &DeviceMap, name: &str) -> Option<String> {
        let prefix = metric_fragment(&map.id);
        plan(map, &prefix)
            .by_name
            .get(name)
            .map(|p| p.metric.clone())
    }

    #[test]
    fn unit_words_are_dropped_unless_that_merges_two_quantities()
    -> Result<(), Box<dyn std::error::Error>> {
        let map = device_maps::parse_map(
            "demo",
            r#"
manufacturer: Demo
model: Meter
connection: {unit_ids: {meter: 1}, address_base: 0}
defaults: {table: input}
registers:
  - {name: Capacity_kWh, address: 0, type: uint16, unit: kWh, example: 9}
  - {name: Energy_Wh, address: 1, type: uint16, unit: Wh, example: 9}
  - {name: energy, address: 2, type: uint16, unit: kWh, example: 9}
  - {name: level_pct, address: 3, type: uint16, unit: '%', example: 9}
  - {name: delay_ms, address: 4, type: uint16, unit: s, example: 9}
  - {name: current_a, address: 5, type: uint16, unit: A, example: 9}
  - {name: current, address: 6, type: uint16, unit: A, example: 9}
  - {name: min_temperature, address: 7, type: int16, unit: degC, example: 9}
  - {name: kwh, address: 8, type: uint16, unit: kWh, example: 9}
derived:
  - {name: Stored_kWh, unit: kWh, expr: "Capacity_kWh / 2"}
"#,
        )?;
        let metric = |name: &str| metric_of(&map, name);
        assert_eq!(
            metric("Capacity_kWh").as_deref(),
            Some("demo_capacity_joules")
        );
        assert_eq!(metric("Stored_kWh").as_deref(), Some("demo_stored_joules"));
        // `energy_joules` is taken by `energy`: `Energy_Wh` keeps its word.
        assert_eq!(metric("energy").as_deref(), Some("demo_energy_joules"));
        assert_eq!(
            metric("Energy_Wh").as_deref(),
            Some("demo_energy_wh_joules")
        );
        assert_eq!(metric("level_pct").as_deref(), Some("demo_level_ratio"));
        assert_eq!(metric("delay_ms").as_deref(), Some("demo_delay_seconds"));
        // `a` is the phase of `current_a`, not amperes; `min` is not a time before `celsius`.
        assert_eq!(
            metric("current_a").as_deref(),
            Some("demo_current_a_amperes")
        );
        assert_eq!(
            metric("min_temperature").as_deref(),
            Some("demo_min_temperature_celsius")
        );
        // A name that is nothing but a unit keeps it.
        assert_eq!(metric("kwh").as_deref(), Some("demo_kwh_joules"));
        Ok(())
    }

    #[test]
    fn every_shipped_register_has_its_own_series() -> Result<(), Box<dyn std::error::Error>> {
        let registry = device_maps::Registry::built_in()?;
        for map in registry.maps() {
            let prefix = metric_fragment(&map.id);
            let plans = plan(map, &prefix);
            // (metric, phase label, unit role or id) -> register name
            let mut series: HashMap<(String, Option<String>, String), &str> = HashMap::new();
            for register in &map.registers {
                let Some(p) = plans.by_name.get(&register.name) else {
                    continue;
                };
                let key = (
                    p.metric.clone(),
                    p.phase.clone(),
                    format!("{:?}", register.unit_id),
                );
                if let Some(other) = series.insert(key, &register.name) {
                    panic!(
                        "{}: `{other}` and `{}` share the series of {}",
                        map.id, register.name, p.metric
                    );
                }
            }
            for derived in &map.derived {
                let p = plans
                    .by_name
                    .get(&derived.name)
                    .ok_or("derived value has a plan")?;
                let key = (p.metric.clone(), p.phase.clone(), "derived".to_owned());
                assert!(
                    series.insert(key, &derived.name).is_none(),
                    "{}",
                    derived.name
                );
                assert!(
                    !map.registers.iter().any(|r| plans
                        .by_name
                        .get(&r.name)
                        .is_some_and(|q| q.metric == p.metric)),
                    "{}: derived `{}` shares a register's metric",
                    map.id,
                    derived.name
                );
            }
        }
        Ok(())
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
