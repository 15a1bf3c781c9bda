//! A map's `checks:`: what must hold on the device before its values are trusted.
//!
//! A map describes one device (or a family). Pointed at another device, it still decodes
//! words into numbers, and they look plausible enough to be believed: a SunSpec map read one
//! register off prints a model length as a device address. Checks are the map's way to say
//! "this is me": the SunSpec marker, a model id and length, a product code, a firmware range.
//! The read planner folds the check registers into the first read, [`ReadPlan`] evaluates
//! them on every answer, and a failed check withholds every value of the snapshot and says
//! which register held what. The same declarations tell `evctl identify` which map fits.
//!
//! [`ReadPlan`]: crate::ReadPlan

use std::fmt;

use modbus_core::Value;

use crate::read::Missing;

/// One check of a map: a register and what it must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// The register checked (a readable register of the map).
    pub register: String,
    /// What it must hold.
    pub expect: Expect,
    /// Why it holds for this device, for the error (`SunSpec marker`).
    pub why: Option<String>,
}

impl Check {
    /// Whether the check names the device rather than only finding a plausible value: text
    /// compared exactly or with a pattern of at least two fixed characters (`SunS`,
    /// `SUN2000*`, `EVC04*`), or a product code: numbers of at least 256 (`one_of: [1648,
    /// 1649]`), or a range of them no wider than its lower bound (`4000000..4999999`). A
    /// frequency in 45..65 or a state code 0..10 is held by many registers of many devices;
    /// a model string or a product code hardly ever.
    pub fn identifies(&self) -> bool {
        self.identity_rank().is_some()
    }

    /// How strongly the check names the device: 0 for text (a model string, a marker), 1 for
    /// a product code, `None` for a plausibility check. Identification asks the strongest
    /// first.
    pub fn identity_rank(&self) -> Option<u8> {
        let text = |e: &Expected| matches!(e, Expected::Text(t) if t.trim().len() >= 2);
        let is_text = match &self.expect {
            Expect::Equals(e) => text(e),
            Expect::OneOf(all) => !all.is_empty() && all.iter().all(text),
            Expect::Matches(_) => true,
            Expect::Range { .. } => false,
        };
        self.names_device().then_some(if is_text { 0 } else { 1 })
    }

    fn names_device(&self) -> bool {
        let code = |e: &Expected| match e {
            Expected::Text(t) => t.trim().len() >= 2,
            Expected::Number(n) => n.abs() >= 256.0,
        };
        match &self.expect {
            Expect::Equals(e) => code(e),
            Expect::OneOf(all) => !all.is_empty() && all.iter().all(code),
            Expect::Matches(patterns) => patterns
                .iter()
                .all(|p| p.chars().filter(|c| *c != '*' && *c != '?').count() >= 2),
            Expect::Range {
                min: Some(lo),
                max: Some(hi),
            } => *lo >= 256.0 && hi - lo <= *lo,
            Expect::Range { .. } => false,
        }
    }
}

/// A value a check compares with: a number (after the register's scale) or text.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// A number.
    Number(f64),
    /// Text, compared exactly.
    Text(String),
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Number(n) => write!(f, "{n}"),
            Expected::Text(t) => write!(f, "{t:?}"),
        }
    }
}

/// What a checked register must hold.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// Exactly this value.
    Equals(Expected),
    /// One of these values.
    OneOf(Vec<Expected>),
    /// A number within the bounds (inclusive; `None` is open).
    Range {
        /// Lowest allowed.
        min: Option<f64>,
        /// Highest allowed.
        max: Option<f64>,
    },
    /// Text matching one of the patterns: `*` any run of characters, `?` one character.
    Matches(Vec<String>),
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Equals(v) => write!(f, "{v}"),
            Expect::OneOf(vs) => {
                f.write_str("one of ")?;
                for (i, v) in vs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                Ok(())
            }
            Expect::Range {
                min: Some(lo),
                max: Some(hi),
            } => write!(f, "between {lo} and {hi}"),
            Expect::Range {
                min: Some(lo),
                max: None,
            } => write!(f, "at least {lo}"),
            Expect::Range {
                min: None,
                max: Some(hi),
            } => write!(f, "at most {hi}"),
            Expect::Range {
                min: None,
                max: None,
            } => f.write_str("any number"),
            Expect::Matches(patterns) => {
                f.write_str("text matching ")?;
                for (k, p) in patterns.iter().enumerate() {
                    if k > 0 {
                        f.write_str(" or ")?;
                    }
                    write!(f, "`{p}`")?;
                }
                Ok(())
            }
        }
    }
}

impl Expected {
    fn holds(&self, value: &Value) -> bool {
        match (self, value) {
            (Expected::Text(t), Value::Text(v)) => t == v,
            (Expected::Number(n), v) => v.as_f64().is_some_and(|x| x == *n),
            _ => false,
        }
    }
}

impl Expect {
    /// Whether `value` satisfies the expectation.
    pub fn holds(&self, value: &Value) -> bool {
        match self {
            Expect::Equals(e) => e.holds(value),
            Expect::OneOf(es) => es.iter().any(|e| e.holds(value)),
            Expect::Range { min, max } => value.as_f64().is_some_and(|x| {
                !x.is_nan() && min.is_none_or(|lo| x >= lo) && max.is_none_or(|hi| x <= hi)
            }),
            Expect::Matches(patterns) => value
                .as_str()
                .is_some_and(|t| patterns.iter().any(|p| glob(p, t))),
        }
    }
}

/// `*` matches any run of characters (also none), `?` exactly one; everything else itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matching with one backtrack point: linear in practice, never exponential.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// A device that does not hold what its map's checks require: the map, the register, what
/// was expected and what was found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "the device does not match map `{map}`: {register} ({location}) should be {expected}{why}, found {found}",
    why = why.as_ref().map(|w| format!(" ({w})")).unwrap_or_default()
)]
pub struct Mismatch {
    /// The map id.
    pub map: String,
    /// The register checked.
    pub register: String,
    /// Where it is: table, address as the document prints it, and unit role.
    pub location: String,
    /// What the check expects.
    pub expected: String,
    /// What the device answered (a value, or why there is none).
    pub found: String,
    /// The map's reason for the check.
    pub why: Option<String>,
}

impl Mismatch {
    /// What to do about it, for the end of an error message.
    pub const HINT: &str = "this is another device, another model or firmware, or the wrong unit id; \
        `evctl identify --host H` names the maps that fit, `--no-verify` reads anyway";

    /// The failure of `check` on map `map`, at `location`, given what was read.
    pub(crate) fn new(
        map: &str,
        check: &Check,
        location: String,
        found: &Result<Value, Missing>,
    ) -> Mismatch {
        Mismatch {
            map: map.to_owned(),
            register: check.register.clone(),
            location,
            expected: check.expect.to_string(),
            found: match found {
                Ok(Value::Text(t)) => format!("{t:?}"),
                Ok(v) => v.to_string(),
                Err(m) => m.to_string(),
            },
            why: check.why.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_patterns() {
        assert!(glob("SE*", "SE10K-RWS48BNN4"));
        assert!(glob("*", ""));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("*K-*4", "SE10K-RWS48BNN4"));
        assert!(!glob("SE*", "Fronius"));
        assert!(glob("Alfen*", "Alfen NV"));
        assert!(!glob("abc", "abcd"));
        assert!(glob("**a", "bba"));
    }

    #[test]
    fn expectations() {
        let one_of = Expect::OneOf(vec![Expected::Number(65.0), Expected::Number(66.0)]);
        assert!(one_of.holds(&Value::UInt(66)));
        assert!(!one_of.holds(&Value::UInt(67)));
        assert_eq!(one_of.to_string(), "one of 65, 66");
        let range = Expect::Range {
            min: Some(-10.0),
            max: Some(10.0),
        };
        assert!(range.holds(&Value::Int(-10)));
        assert!(!range.holds(&Value::Int(11)));
        assert!(!range.holds(&Value::Text("5".into())));
        let marker = Expect::Equals(Expected::Text("SunS".into()));
        assert!(marker.holds(&Value::Text("SunS".into())));
        let names = Expect::Matches(vec!["PLENTICORE*".into(), "PIKO*".into()]);
        assert!(names.holds(&Value::Text("PLENTICORE plus".into())));
        assert!(names.holds(&Value::Text("PIKO IQ 10".into())));
        assert!(!names.holds(&Value::Text("SUN2000".into())));
        assert_eq!(names.to_string(), "text matching `PLENTICORE*` or `PIKO*`");
        assert!(!marker.holds(&Value::UInt(0)));
        assert_eq!(marker.to_string(), "\"SunS\"");
    }
}
