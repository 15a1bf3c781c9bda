//! Helpers shared by the checks: number and value parsing, display of YAML values, examples
//! as values, "not available" words, write-rule wording and `repeat` instantiation.

use super::*;

pub(super) const DERIVED_ALLOWED: &str = "numbers, names of numeric registers and of earlier derived values, + - * /, parentheses, min(...), max(...), abs(x), round(x, digits), if(condition, then, else), == != < <= > >=";

/// The character offset of the first whole-word occurrence of `word` in `text` (0 if none).
pub(super) fn word_offset(text: &str, word: &str) -> usize {
    let chars: Vec<char> = text.chars().collect();
    let target: Vec<char> = word.chars().collect();
    let is_word = |c: &char| c.is_alphanumeric() || *c == '_' || *c == '.';
    (0..chars.len())
        .find(|&i| {
            chars[i..].starts_with(&target)
                && (i == 0 || !is_word(&chars[i - 1]))
                && chars.get(i + target.len()).is_none_or(|c| !is_word(c))
        })
        .unwrap_or(0)
}

pub(super) const TYPES_ALLOWED: &str = "int16, uint16, int32, uint32, int64, uint64, float32, float64, string (2 chars/register), string1 (1 char/register), bits16, bits32, bool (coils)";

pub(super) fn did_you_mean(hint: Option<&str>) -> String {
    hint.map(|h| format!("; did you mean `{h}`?"))
        .unwrap_or_default()
}

/// A unit reference as a sortable key.
pub(super) fn unit_key(u: &UnitRef) -> (u8, String) {
    match u {
        UnitRef::Role(r) => (0, r.clone()),
        UnitRef::Id(id) => (1, id.to_string()),
    }
}

pub(crate) fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `voltage_phase_L1N` becomes `Voltage phase L1N`.
pub(super) fn title_from_name(name: &str) -> String {
    let spaced = name.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A whole number written in decimal, or hexadecimal with `0x`.
pub(crate) fn parse_int(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return i64::from_str_radix(hex, 16).ok();
    }
    t.parse().ok()
}

pub(super) fn split_every(text: &str) -> Option<(&str, char, f64)> {
    let (pos, op) = text.char_indices().find(|(_, c)| *c == '/' || *c == '*')?;
    let reg = text[..pos].trim();
    let n: f64 = text[pos + 1..].trim().parse().ok()?;
    valid_name(reg).then_some((reg, op, n))
}

pub(super) fn show(v: &serde_yaml::Value) -> String {
    match v {
        serde_yaml::Value::String(s) => format!("\"{s}\""),
        other => serde_yaml::to_string(other)
            .map(|s| s.trim().to_owned())
            .unwrap_or_default(),
    }
}

pub(super) fn show_scale(s: &Scale) -> String {
    match s {
        Scale::Factor(f) => f.to_string(),
        Scale::PowerOfTen(r) => format!("10^{r}"),
    }
}

pub(super) fn example_number(v: &serde_yaml::Value) -> Option<f64> {
    match v {
        serde_yaml::Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// The [`Value`] a number has for this register: exact integers for unscaled integer types,
/// floats otherwise, booleans for bits.
pub(crate) fn number_value(r: &Register, n: f64) -> Value {
    match r.register_type {
        RegisterType::Bool => Value::Bool(n != 0.0),
        RegisterType::Data(t) => {
            let unscaled = r.scale.is_identity() && r.offset == 0.0;
            if t.is_bits() && n.fract() == 0.0 && n >= 0.0 && n <= f64::from(u32::MAX) {
                Value::Flags(n as u32)
            } else if unscaled && t.is_integer() && n.fract() == 0.0 {
                if t.is_signed() || n < 0.0 {
                    Value::Int(n as i64)
                } else {
                    Value::UInt(n as u64)
                }
            } else {
                Value::Float(n)
            }
        }
    }
}

/// Parses `23:30`, `2330`, `0100`, `1:00` into the HHMM number.
pub(crate) fn parse_hhmm(text: &str) -> Option<i64> {
    let t = text.trim();
    let (h, m) = if let Some((h, m)) = t.split_once(':') {
        (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?)
    } else {
        if t.is_empty() || t.len() > 4 || !t.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let n: i64 = t.parse().ok()?;
        (n / 100, n % 100)
    };
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 100 + m)
}

/// The example of `r` as a value, or what is wrong with it and what is allowed.
pub(super) fn example_value(
    r: &Register,
    v: &serde_yaml::Value,
) -> Result<Value, (String, String)> {
    use serde_yaml::Value as Y;
    let data_type = r.register_type.data_type();
    if data_type.is_some_and(|t| t.is_text()) {
        return match v {
            Y::String(s) => Ok(Value::Text(s.clone())),
            Y::Number(n) => Ok(Value::Text(n.to_string())),
            other => Err((
                format!("the example {} is not text", show(other)),
                "text, e.g. \"ACE0287582\"".to_owned(),
            )),
        };
    }
    if r.register_type == RegisterType::Bool {
        return match v {
            Y::Bool(b) => Ok(Value::Bool(*b)),
            Y::Number(n) if n.as_u64() == Some(0) || n.as_u64() == Some(1) => {
                Ok(Value::Bool(n.as_u64() == Some(1)))
            }
            other => Err((
                format!("the example {} is not a bit", show(other)),
                "true, false, 0 or 1".to_owned(),
            )),
        };
    }
    let number = match v {
        Y::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Y::String(s) if r.format == Some(Format::Hhmm) => match parse_hhmm(s) {
            Some(n) => n as f64,
            None => {
                return Err((
                    format!("the example \"{s}\" is not a time of day"),
                    "a time such as \"23:30\" or 2330".to_owned(),
                ));
            }
        },
        Y::String(s) if !r.enumeration.is_empty() => match r.value_of_label(s) {
            Some(n) => n as f64,
            None => {
                let labels: Vec<String> = r
                    .enumeration
                    .iter()
                    .map(|(v, l)| format!("{v} ({l})"))
                    .collect();
                return Err((
                    format!("the example \"{s}\" is not a label of the enumeration"),
                    labels.join(", "),
                ));
            }
        },
        other => {
            return Err((
                format!("the example {} is not a number", show(other)),
                "a number in the register's unit, after scale".to_owned(),
            ));
        }
    };
    if !number.is_finite() {
        return Err((
            "the example is not a finite number".to_owned(),
            "a finite number".to_owned(),
        ));
    }
    if !r.enumeration.is_empty() && !r.enumeration.iter().any(|(v, _)| *v as f64 == number) {
        let labels: Vec<String> = r
            .enumeration
            .iter()
            .map(|(v, l)| format!("{v} ({l})"))
            .collect();
        return Err((
            format!("the example {number} is not a value of the enumeration"),
            labels.join(", "),
        ));
    }
    if r.format == Some(Format::Hhmm)
        && number >= 0.0
        && parse_hhmm(&format!("{:04}", number as i64)).is_none()
    {
        return Err((
            format!("the example {number} is not a time of day as HHMM"),
            "0 to 2359 with minutes below 60, or \"23:30\"".to_owned(),
        ));
    }
    Ok(number_value(r, number))
}

/// The words of "not available" for `r`: its first sentinel that its codec reads as missing,
/// else a NaN float; `None` when the register has no such pattern.
pub(crate) fn unavailable_words(r: &Register) -> Option<Vec<u16>> {
    let codec = r.codec.as_ref()?;
    let data_type = r.register_type.data_type()?;
    let count = r.count;
    // A raw pattern is written through an unsigned codec of the same width and order, so the
    // words come out in the device's byte and word order.
    let pattern = |bits: u64| -> Option<Vec<u16>> {
        let unsigned = match count {
            1 => DataType::UInt16,
            2 => DataType::UInt32,
            4 => DataType::UInt64,
            _ => return None,
        };
        Codec::with_count(unsigned, Some(count), r.order)
            .ok()?
            .encode(&Value::UInt(bits))
            .ok()
    };
    let mut candidates: Vec<Vec<u16>> = Vec::new();
    for s in &r.sentinels {
        match s {
            Sentinel::AllOnes => candidates.push(vec![0xFFFF; usize::from(count)]),
            Sentinel::Raw(bits) => {
                let width = u32::from(count.min(4)) * 16;
                let bits = if width < 64 {
                    bits & ((1u64 << width) - 1)
                } else {
                    *bits
                };
                candidates.extend(pattern(bits));
            }
            Sentinel::Nan => {}
        }
    }
    match data_type {
        DataType::Float32 => candidates.extend(pattern(0x7FC0_0000)),
        DataType::Float64 => candidates.extend(pattern(0x7FF8_0000_0000_0000)),
        _ => {}
    }
    candidates
        .into_iter()
        .find(|words| matches!(codec.decode(words), Ok(None)))
}

/// Why `v` breaks the static part of `w` (bounds that are numbers, step, `also`), if it does.
pub(crate) fn static_violation(w: &WriteRule, v: f64) -> Option<String> {
    if w.also.contains(&v) {
        return None;
    }
    if let Some(Bound::Value(lo)) = w.min
        && v < lo
    {
        return Some(format!("is below the minimum {lo}"));
    }
    if let Some(Bound::Value(hi)) = w.max
        && v > hi
    {
        return Some(format!("is above the maximum {hi}"));
    }
    if let Some(step) = w.step {
        let from = match w.min {
            Some(Bound::Value(lo)) => lo,
            _ => 0.0,
        };
        let steps = (v - from) / step;
        if (steps - steps.round()).abs() > 1e-9 * steps.abs().max(1.0) {
            return Some(format!("is not a multiple of the step {step} from {from}"));
        }
    }
    None
}

/// What a write rule allows, in words.
pub(crate) fn describe_rule(w: &WriteRule) -> String {
    let mut parts = Vec::new();
    match (&w.min, &w.max) {
        (Some(lo), Some(hi)) => parts.push(format!("{lo} to {hi}")),
        (Some(lo), None) => parts.push(format!("at least {lo}")),
        (None, Some(hi)) => parts.push(format!("at most {hi}")),
        (None, None) => {}
    }
    if let Some(step) = w.step {
        parts.push(format!("in steps of {step}"));
    }
    if !w.also.is_empty() {
        let also: Vec<String> = w.also.iter().map(|v| v.to_string()).collect();
        parts.push(format!("or {}", also.join(", ")));
    }
    if parts.is_empty() {
        "any value the type holds".to_owned()
    } else {
        parts.join(" ")
    }
}

/// One copy of a repeated register for the unit role `role`, number `n`: `{n}` and `{unit}` are
/// replaced in every text that names something.
pub(super) fn instantiate(template: &RawRegister, n: usize, role: &str) -> RawRegister {
    let fill = |text: &str| text.replace("{n}", &n.to_string()).replace("{unit}", role);
    let fill_opt = |text: &Option<String>| text.as_deref().map(fill);
    let fill_ref = |v: &Option<RawNumberOrName>| match v {
        Some(RawNumberOrName::Name(name)) => Some(RawNumberOrName::Name(fill(name))),
        other => other.clone(),
    };
    let mut r = template.clone();
    r.name = fill(&template.name);
    r.title = fill_opt(&template.title);
    r.group = fill_opt(&template.group);
    r.key = fill_opt(&template.key);
    r.description = fill_opt(&template.description);
    r.unit_id = Some(RawUnitRef::Role(role.to_owned()));
    r.scale = fill_ref(&template.scale);
    if let Some(w) = &mut r.write {
        w.min = fill_ref(&w.min);
        w.max = fill_ref(&w.max);
        if let Some(RawReadBack::Register(name)) = &w.read_back {
            w.read_back = Some(RawReadBack::Register(fill(name)));
        }
    }
    r
}
