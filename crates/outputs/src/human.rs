//! Aligned text for people: one `Title: value unit` line per register, under a header per group.

use std::fmt::Write as _;

use device_maps::Missing;
use modbus_core::Value;

use crate::Options;
use crate::time::rfc3339;
use crate::units::display_unit;
use crate::view::{Reading, View};

/// A group of readings (`None`: no group), each with the title it is shown under.
type Section<'v, 'a> = (Option<&'a str>, Vec<(&'v Reading<'a>, &'a str)>);

pub(crate) fn render(view: &View<'_>, options: &Options) -> String {
    let map = view.map;
    let mut out = String::new();
    let device = options.device.as_deref().unwrap_or(&map.id);
    let _ = writeln!(
        out,
        "{device}: {} {}, read {}",
        map.manufacturer,
        map.model,
        rfc3339(view.read_at)
    );

    let titles = titles(view);
    let width = titles
        .iter()
        .map(|t| t.chars().count() + 1)
        .max()
        .unwrap_or(0);

    // Readings without a group first, then each group in order of first appearance.
    let mut sections: Vec<Section<'_, '_>> = Vec::new();
    for (reading, title) in view.readings.iter().zip(&titles) {
        let group = reading.group();
        match sections.iter_mut().find(|(g, _)| *g == group) {
            Some((_, list)) => list.push((reading, title)),
            None => sections.push((group, vec![(reading, title)])),
        }
    }
    sections.sort_by_key(|(g, _)| g.is_some());
    // A group that only derived values fill (`Power/Flows`, computed after every register)
    // goes right after the last section of its top-level group (`Power/Power`), not at the end.
    fn top(group: Option<&str>) -> Option<&str> {
        group.and_then(|g| g.split('/').next()).map(str::trim)
    }
    let mut k = 0;
    while k < sections.len() {
        let (group, readings) = &sections[k];
        let only_derived = readings.iter().all(|(r, _)| r.derived.is_some());
        let target = top(*group).and_then(|t| {
            (0..k)
                .rev()
                .find(|&m| top(sections[m].0) == Some(t) && m + 1 < k)
        });
        match target {
            Some(m) if only_derived && group.is_some() => {
                let section = sections.remove(k);
                sections.insert(m + 1, section);
            }
            _ => {}
        }
        k += 1;
    }

    for (group, readings) in sections {
        out.push('\n');
        if let Some(group) = group {
            let _ = writeln!(out, "== {} ==", group_title(group));
        }
        for (reading, title) in readings {
            let label = format!("{title}:");
            let value = value_text(reading);
            let line = format!("{label:<width$} {value}");
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// The title of each reading, in order. A title that ends in the unit its value is shown in
/// (`PV Energy Today kWh: 24.5 kWh`, from GivTCP's `PV_Energy_Today_kWh`) loses that word,
/// unless the shorter title is another reading's (`SOC` and `SOC kWh` both stay).
fn titles<'a>(view: &View<'a>) -> Vec<&'a str> {
    let full: Vec<&str> = view.readings.iter().map(|r| r.title()).collect();
    let short: Vec<&str> = view
        .readings
        .iter()
        .map(|r| {
            // `Current A` of a per-phase register names phase A, not amperes.
            let phased = r.register.is_some_and(|reg| reg.phase.is_some())
                || crate::naming::split_phase(r.name()).is_some();
            if phased {
                r.title()
            } else {
                without_unit_word(r.title(), r.unit())
            }
        })
        .collect();
    short
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let taken = (0..full.len()).any(|j| {
                j != i
                    && view.readings[j].name() != view.readings[i].name()
                    && (full[j] == *s || short[j] == *s)
            });
            if taken { full[i] } else { s }
        })
        .collect()
}

/// `title` without a last word equal to `unit` (any case), when something is left.
fn without_unit_word<'a>(title: &'a str, unit: Option<&str>) -> &'a str {
    let Some(unit) = unit else {
        return title;
    };
    match title.trim_end().rsplit_once(' ') {
        Some((rest, last)) if last.eq_ignore_ascii_case(unit) && !rest.trim().is_empty() => {
            rest.trim_end()
        }
        _ => title,
    }
}

/// Words of group names that are abbreviations, written in capitals in group titles.
const ABBREVIATIONS: &[&str] = &[
    "ac", "dc", "pv", "scn", "bms", "eps", "soc", "usb", "ocpp", "evse", "rfid", "ct",
];

/// `station/identity` becomes `Station / Identity`, `ac` becomes `AC`.
fn group_title(group: &str) -> String {
    group
        .split('/')
        .map(|part| {
            let part = part.trim().replace('_', " ");
            let words: Vec<String> = part
                .split(' ')
                .enumerate()
                .map(|(i, word)| {
                    if ABBREVIATIONS.contains(&word) {
                        return word.to_ascii_uppercase();
                    }
                    let mut chars = word.chars();
                    match chars.next() {
                        Some(first) if i == 0 => first.to_uppercase().chain(chars).collect(),
                        _ => word.to_owned(),
                    }
                })
                .collect();
            words.join(" ")
        })
        .collect::<Vec<_>>()
        .join(" / ")
}

/// The text after the colon: a label, a number with its unit, text, or why it is missing.
pub(crate) fn value_text(reading: &Reading<'_>) -> String {
    // A failed request leaves many registers missing for one cause: the caller reports the
    // error once, each register only says that its read failed.
    match &reading.reading.value {
        Err(Missing::ReadFailed(_)) => return "n/a (read failed)".to_owned(),
        Err(Missing::Input { name, reason }) if reason.starts_with("read failed") => {
            return format!("n/a (input `{name}`: read failed)");
        }
        _ => {}
    }
    if let Some(reason) = reading.missing_reason() {
        return if reason.is_empty() {
            "n/a".to_owned()
        } else {
            format!("n/a ({reason})")
        };
    }
    let Some(value) = reading.present() else {
        return "n/a".to_owned();
    };
    match value {
        // A labelled text (Alfen's Mode 3 state) shows as the seed tool prints it:
        // `Charging, C2`, the label and then the device's own code.
        Value::Text(t) => match reading.label() {
            Some(label) => format!("{label}, {t}"),
            None => t.clone(),
        },
        Value::Bool(b) => (if *b { "on" } else { "off" }).to_owned(),
        _ if reading.is_flags() => match value.as_u64() {
            Some(bits) => flags_text(reading, bits),
            None => number_text(reading, value),
        },
        _ if reading.is_hhmm() => match reading.label() {
            Some(time) => time.to_owned(),
            None => number_text(reading, value),
        },
        _ => match reading.label() {
            Some(label) if label_is_unique(reading, label) => label.to_owned(),
            Some(label) => format!("{label}, {value}"),
            None => number_text(reading, value),
        },
    }
}

/// Several raw values share a label (Alfen's Mode 3 states B1, B2, C1, D1 would all be
/// `Connected`): then the raw value is shown too.
fn label_is_unique(reading: &Reading<'_>, label: &str) -> bool {
    reading
        .enumeration()
        .iter()
        .filter(|(_, l)| l == label)
        .count()
        <= 1
}

/// `Initialised & Updated`; bits without a label show as `bit N`; no bit set shows `none`.
fn flags_text(reading: &Reading<'_>, bits: u64) -> String {
    let mut parts: Vec<String> = Vec::new();
    for bit in 0..64u32 {
        if (bits >> bit) & 1 == 1 {
            match reading.flag_names().iter().find(|(b, _)| *b == bit) {
                Some((_, label)) => parts.push(label.clone()),
                None => parts.push(format!("bit {bit}")),
            }
        }
    }
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(" & ")
    }
}

fn number_text(reading: &Reading<'_>, value: &Value) -> String {
    let number = match value {
        Value::Float(f) => float_text(*f, reading.is_plain_float32()),
        other => other.to_string(),
    };
    match reading.unit() {
        Some(unit) => format!("{number} {}", display_unit(unit)),
        None => number,
    }
}

/// A float as text: from a `float32` in its shortest single-precision form (238.19, not
/// 238.1899871826172); any other float rounded to 12 significant digits, which hides the
/// binary noise of scaling and unit conversion (1234.5, not 1234.5000000000002).
pub(crate) fn float_text(f: f64, single: bool) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    if single {
        return (f as f32).to_string();
    }
    match format!("{f:.11e}").parse::<f64>() {
        Ok(rounded) => rounded.to_string(),
        Err(_) => f.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_titles() {
        assert_eq!(group_title("station/identity"), "Station / Identity");
        assert_eq!(group_title("power_factor"), "Power factor");
        assert_eq!(group_title("Energy/Today"), "Energy / Today");
        assert_eq!(group_title("ac"), "AC");
        assert_eq!(group_title("station/scn"), "Station / SCN");
        assert_eq!(group_title("Power/pv_strings"), "Power / PV strings");
    }

    #[test]
    fn unit_words_leave_titles() {
        assert_eq!(
            without_unit_word("PV Energy Today kWh", Some("kWh")),
            "PV Energy Today"
        );
        assert_eq!(
            without_unit_word("Battery Capacity Ah", Some("Ah")),
            "Battery Capacity"
        );
        assert_eq!(without_unit_word("Uptime", Some("ms")), "Uptime");
        assert_eq!(without_unit_word("kWh", Some("kWh")), "kWh");
        assert_eq!(without_unit_word("Current A", None), "Current A");
        assert_eq!(without_unit_word("Current A", Some("V")), "Current A");
    }

    #[test]
    fn floats_for_people() {
        assert_eq!(float_text(f64::from(238.19_f32), true), "238.19");
        assert_eq!(float_text(12345.0 * 0.1, false), "1234.5");
        assert_eq!(float_text(0.1 + 0.2, false), "0.3");
        assert_eq!(float_text(50.0, false), "50");
        assert_eq!(float_text(f64::INFINITY, false), "inf");
    }
}
