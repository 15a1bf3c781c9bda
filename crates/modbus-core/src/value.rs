//! [`Value`]: what a register means once decoded.

use std::fmt;

/// A decoded (or to-be-encoded) register value.
///
/// Integers stay integers: an unscaled `uint64` keeps its full range in [`Value::UInt`], an
/// unscaled `int16` is an [`Value::Int`]. A value becomes [`Value::Float`] only when it is a
/// float on the wire or when scale or offset were applied. A value that could not be read or
/// that matched a sentinel is not a `Value` at all: decoders return `None` for it.
///
/// ```
/// use modbus_core::Value;
///
/// assert_eq!(Value::UInt(u64::MAX).to_string(), "18446744073709551615");
/// assert_eq!(Value::Float(230.5).as_f64(), Some(230.5));
/// assert_eq!(Value::Int(-3).as_i64(), Some(-3));
/// assert_eq!(Value::Text("NG910".into()).as_str(), Some("NG910"));
/// assert!(Value::Flags(0b101).flag(2));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A signed integer (from `int16`, `int32`, `int64` without scaling).
    Int(i64),
    /// An unsigned integer (from `uint16`, `uint32`, `uint64` without scaling).
    UInt(u64),
    /// A float: from `float32`/`float64` (a `float32` widens exactly), or any scaled number.
    Float(f64),
    /// Text from `string` or `string1`, with trailing padding removed.
    Text(String),
    /// The flags of a `bits16`/`bits32` field; bit 0 is the least significant.
    Flags(u32),
    /// One coil or discrete input.
    Bool(bool),
}

impl Value {
    /// A short name for the kind of value, used in error messages.
    pub const fn kind(&self) -> &'static str {
        match self {
            Value::Int(_) => "signed integer",
            Value::UInt(_) => "unsigned integer",
            Value::Float(_) => "float",
            Value::Text(_) => "text",
            Value::Flags(_) => "flags",
            Value::Bool(_) => "boolean",
        }
    }

    /// The value as a float, for numbers, flags and booleans (`true` is 1). Large 64-bit
    /// integers round to the nearest float.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(v) => Some(v as f64),
            Value::UInt(v) => Some(v as f64),
            Value::Float(v) => Some(v),
            Value::Flags(v) => Some(f64::from(v)),
            Value::Bool(v) => Some(if v { 1.0 } else { 0.0 }),
            Value::Text(_) => None,
        }
    }

    /// The value as a signed integer when it is exactly one (a whole float in range counts).
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(v) => Some(v),
            Value::UInt(v) => i64::try_from(v).ok(),
            Value::Float(v) => float_to_i64(v),
            Value::Flags(v) => Some(i64::from(v)),
            Value::Bool(v) => Some(i64::from(v)),
            Value::Text(_) => None,
        }
    }

    /// The value as an unsigned integer when it is exactly one (a whole float in range counts).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Int(v) => u64::try_from(v).ok(),
            Value::UInt(v) => Some(v),
            Value::Float(v) => float_to_u64(v),
            Value::Flags(v) => Some(u64::from(v)),
            Value::Bool(v) => Some(u64::from(v)),
            Value::Text(_) => None,
        }
    }

    /// The text, for [`Value::Text`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// True for [`Value::Int`] and [`Value::UInt`].
    pub const fn is_integer(&self) -> bool {
        matches!(self, Value::Int(_) | Value::UInt(_))
    }

    /// Whether bit `bit` (0 = least significant) is set, for flags, integers and booleans.
    /// Bits beyond the value's width read as clear.
    pub fn flag(&self, bit: u32) -> bool {
        let bits = match *self {
            Value::Flags(v) => u64::from(v),
            Value::UInt(v) => v,
            Value::Int(v) => v as u64,
            Value::Bool(v) => u64::from(v),
            Value::Float(_) | Value::Text(_) => return false,
        };
        bit < 64 && (bits >> bit) & 1 == 1
    }
}

/// `v` as i64 when it is whole and in range.
fn float_to_i64(v: f64) -> Option<i64> {
    // 2^63 is exactly representable; every whole f64 in [-2^63, 2^63) converts exactly.
    if v.fract() == 0.0 && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&v)
    {
        Some(v as i64)
    } else {
        None
    }
}

/// `v` as u64 when it is whole and in range.
fn float_to_u64(v: f64) -> Option<u64> {
    if v.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&v) {
        Some(v as u64)
    } else {
        None
    }
}

impl fmt::Display for Value {
    /// Numbers as Rust prints them (floats in their shortest round-trip form), text as is,
    /// flags as `0x` hex, booleans as `true`/`false`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::UInt(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Text(v) => f.write_str(v),
            Value::Flags(v) => write!(f, "{v:#x}"),
            Value::Bool(v) => write!(f, "{v}"),
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::UInt(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::UInt(u64::from(v))
    }
}

impl From<u16> for Value {
    fn from(v: u16) -> Self {
        Value::UInt(u64::from(v))
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Float(f64::from(v))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
