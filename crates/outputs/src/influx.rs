//! InfluxDB line protocol: one line per Modbus unit,
//! `<measurement>,device=...,serial=...,unit=... <field>=<value>,... <nanoseconds>`.
//!
//! Fields are the register names. Integers carry the `i` suffix, floats are plain numbers,
//! text is a quoted string, booleans are `true`/`false`, an enumeration is its number. Missing
//! and NaN values are left out; a unit with no value at all gives no line (line protocol needs
//! at least one field).

use std::fmt::Write as _;

use modbus_core::Value;

use crate::Options;
use crate::human::float_text;
use crate::time::unix_nanos;
use crate::view::View;

pub(crate) fn render(view: &View<'_>, options: &Options) -> String {
    let map = view.map;
    let measurement = escape_measurement(options.measurement.as_deref().unwrap_or(&map.id));
    let device = options.device.as_deref().unwrap_or(&map.id);
    let serial = view.serial(options.serial.as_deref());
    let nanos = unix_nanos(view.read_at);

    let mut out = String::new();
    for unit in view.units() {
        let fields: Vec<String> = view
            .readings
            .iter()
            .filter(|r| r.unit_id() == unit)
            .filter_map(|r| {
                let whole = r.whole();
                let value = field_value(whole.as_ref().or(r.present())?, r.is_plain_float32())?;
                Some(format!("{}={value}", escape_key(r.name())))
            })
            .collect();
        if fields.is_empty() {
            continue;
        }
        // Tags sorted by key, as InfluxDB recommends: device, serial, unit.
        let _ = write!(out, "{measurement},device={}", escape_key(device));
        if let Some(serial) = serial {
            let _ = write!(out, ",serial={}", escape_key(serial));
        }
        let _ = writeln!(out, ",unit={unit} {} {nanos}", fields.join(","));
    }
    out
}

/// A field value in line-protocol syntax, or `None` for a value that cannot be written (NaN,
/// infinity).
fn field_value(value: &Value, single: bool) -> Option<String> {
    Some(match value {
        Value::Int(v) => format!("{v}i"),
        Value::UInt(v) => match i64::try_from(*v) {
            Ok(v) => format!("{v}i"),
            // Beyond i64: InfluxDB 1.x has no unsigned type, so the value goes as a float.
            Err(_) => format!("{}", *v as f64),
        },
        Value::Float(v) if v.is_finite() => {
            let text = float_text(*v, single);
            // A whole float gets a decimal point so it is never mistaken for anything else.
            if text.contains(['.', 'e', 'E']) {
                text
            } else {
                format!("{text}.0")
            }
        }
        Value::Float(_) => return None,
        Value::Flags(v) => format!("{v}i"),
        Value::Bool(v) => v.to_string(),
        Value::Text(t) => format!("\"{}\"", escape_string(t)),
    })
}

/// Measurements escape comma and space (and backslash, so a name ending in `\` stays one).
pub(crate) fn escape_measurement(text: &str) -> String {
    escape(text, &[',', ' '])
}

/// Tag keys, tag values and field keys escape comma, equals sign and space.
pub(crate) fn escape_key(text: &str) -> String {
    escape(text, &[',', '=', ' '])
}

/// String field values escape double quote and backslash; line feeds become `\n` text, since a
/// raw line feed would end the line.
pub(crate) fn escape_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

fn escape(text: &str, special: &[char]) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\\' || special.contains(&c) {
            out.push('\\');
            out.push(c);
        } else if c.is_control() {
            // Line protocol has no escape for control characters: a space keeps the line whole.
            out.push_str("\\ ");
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape_measurement("a b,c=d"), "a\\ b\\,c=d");
        assert_eq!(escape_key("a b,c=d"), "a\\ b\\,c\\=d");
        assert_eq!(escape_string(r#"say "hi" \o/"#), r#"say \"hi\" \\o/"#);
        assert_eq!(escape_key("x\ny"), "x\\ y");
    }

    #[test]
    fn field_values() {
        assert_eq!(field_value(&Value::Int(-3), false).as_deref(), Some("-3i"));
        assert_eq!(field_value(&Value::UInt(7), false).as_deref(), Some("7i"));
        assert_eq!(
            field_value(&Value::Float(25.0), false).as_deref(),
            Some("25.0")
        );
        assert_eq!(
            field_value(&Value::Float(0.5), false).as_deref(),
            Some("0.5")
        );
        assert_eq!(field_value(&Value::Float(f64::NAN), false), None);
        assert_eq!(
            field_value(&Value::Bool(true), false).as_deref(),
            Some("true")
        );
        assert_eq!(
            field_value(&Value::Text("a\"b".into()), false).as_deref(),
            Some("\"a\\\"b\"")
        );
    }
}
