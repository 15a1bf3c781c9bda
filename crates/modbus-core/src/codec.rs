//! [`Codec`]: one register's data type, order, scale, offset and sentinels, and the functions
//! that turn its words into a [`Value`] and back.

use std::fmt;
use std::str::FromStr;

use crate::error::{CodecError, DecodeError, EncodeError, ParseError};
use crate::types::{DataType, Order};
use crate::value::Value;

/// A raw pattern that means "not available". A decoded register that matches one of its
/// codec's sentinels yields `None` (missing), never a number.
///
/// - [`Sentinel::AllOnes`]: every register is `0xFFFF` (Alfen's unavailable registers, blank
///   strings on many devices). Applies to every type.
/// - [`Sentinel::Raw`]: the raw value, after byte and word order and before scale and offset,
///   equals this bit pattern (SunSpec's `0x8000` for `int16`, `0xFFFF` for `uint16`,
///   `0x80000000` for `int32`). Negative numbers are taken as two's complement, so `-32768`
///   and `0x8000` are the same sentinel for an `int16`.
/// - [`Sentinel::Nan`]: a float that is NaN. Floats always treat NaN as missing, so this
///   sentinel only documents the fact.
///
/// Parses from `nan`, `all-ones` (also `all_ones`, `allones`), hexadecimal `0x8000` or decimal
/// `65535` / `-32768`:
///
/// ```
/// use modbus_core::Sentinel;
///
/// assert_eq!("0x8000".parse::<Sentinel>()?, Sentinel::Raw(0x8000));
/// assert_eq!("NaN".parse::<Sentinel>()?, Sentinel::Nan);
/// assert_eq!("-1".parse::<Sentinel>()?, Sentinel::Raw(u64::MAX));
/// assert_eq!(Sentinel::Raw(0xFFFF).to_string(), "0xffff");
/// # Ok::<(), modbus_core::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sentinel {
    /// Every register of the value is `0xFFFF`.
    AllOnes,
    /// The raw bit pattern (two's complement for negative numbers).
    Raw(u64),
    /// A NaN float.
    Nan,
}

impl fmt::Display for Sentinel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sentinel::AllOnes => f.write_str("all-ones"),
            Sentinel::Raw(raw) => write!(f, "{raw:#x}"),
            Sentinel::Nan => f.write_str("nan"),
        }
    }
}

impl FromStr for Sentinel {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || {
            ParseError::new(
                "sentinel",
                s,
                "nan, all-ones, a hexadecimal pattern such as 0x8000, \
                 or a decimal number such as 65535 or -32768",
            )
        };
        let t = s.trim().to_ascii_lowercase().replace('_', "-");
        match t.as_str() {
            "nan" => return Ok(Sentinel::Nan),
            "all-ones" | "allones" => return Ok(Sentinel::AllOnes),
            _ => {}
        }
        if let Some(hex) = t.strip_prefix("0x") {
            let hex = hex.replace('-', "");
            return u64::from_str_radix(&hex, 16)
                .map(Sentinel::Raw)
                .map_err(|_| err());
        }
        if let Ok(v) = t.parse::<u64>() {
            return Ok(Sentinel::Raw(v));
        }
        t.parse::<i64>()
            .map(|v| Sentinel::Raw(v as u64))
            .map_err(|_| err())
    }
}

/// Everything needed to decode one register value and encode it back: data type, register
/// count, byte and word order, scale and offset, and the sentinels that mean "missing".
///
/// Decoding computes `value = raw × scale + offset` and encoding the inverse, so a device map's
/// scale of `0.1` turns raw `2301` into `230.1` and refuses to write `230.15` (not a whole number
/// of steps). Decimal scales and offsets (0.1, 0.001, -273.15...) are computed in exact integer
/// steps with one final division, so the result is the float nearest the true decimal value
/// (`2301 / 10` is the float nearest 230.1, `2301 × 0.1` is not). Unscaled integers decode to
/// exact integers, so a `uint64` keeps its full range.
///
/// A codec is built checked and is then immutable, so decoding never meets an invalid setting.
///
/// ```
/// use modbus_core::{Codec, DataType, Order, Sentinel, Value};
///
/// // Alfen: FLOAT32, big endian.
/// let voltage = Codec::new(DataType::Float32, Order::Abcd)?;
/// assert_eq!(voltage.decode(&[0x4366, 0x1A00])?, Some(Value::Float(230.1015625)));
/// assert_eq!(voltage.decode(&[0xFFFF, 0xFFFF])?, None); // NaN: missing
///
/// // Vestel: UINT32 meter reading in 0.1 kWh.
/// let meter = Codec::new(DataType::UInt32, Order::Abcd)?.scaled(0.1, 0.0)?;
/// assert_eq!(meter.decode(&[0x0001, 0x0002])?, Some(Value::Float(6553.8)));
/// assert_eq!(meter.encode(&Value::Float(6553.8))?, vec![0x0001, 0x0002]);
/// assert!(meter.encode(&Value::Float(6553.85)).is_err());
///
/// // SunSpec: INT16 with 0x8000 meaning "not implemented".
/// let power = Codec::new(DataType::Int16, Order::Abcd)?.missing_when(Sentinel::Raw(0x8000))?;
/// assert_eq!(power.decode(&[0x8000])?, None);
/// assert_eq!(power.decode(&[0x0000])?, Some(Value::Int(0)));
///
/// // Alfen: a string packed two characters per register, padded with NUL.
/// let name = Codec::with_count(DataType::String, Some(5), Order::Abcd)?;
/// let words = name.encode(&Value::from("Alfen NV"))?;
/// assert_eq!(words, [0x416C, 0x6665, 0x6E20, 0x4E56, 0x0000]);
/// assert_eq!(name.decode(&words)?, Some(Value::from("Alfen NV")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Codec {
    data_type: DataType,
    registers: u16,
    order: Order,
    scale: f64,
    offset: f64,
    /// How scale and offset are computed (chosen once, for the best rounding).
    arithmetic: Arithmetic,
    all_ones_missing: bool,
    /// Raw patterns meaning "missing", masked to the type's width.
    raw_missing: Vec<u64>,
    /// The shortcut [`Codec::decode`] takes when nothing but type and order matter.
    fast: Fast,
}

/// Decoding shortcuts for codecs without scale, offset or sentinels (beyond NaN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fast {
    /// No shortcut: scale, offset, sentinels, text or bit fields.
    General,
    Int16,
    UInt16,
    Int32,
    UInt32,
    Int64,
    UInt64,
    Float32,
    Float64,
}

impl Fast {
    fn of(codec: &Codec) -> Fast {
        if !codec.is_unscaled() || codec.all_ones_missing || !codec.raw_missing.is_empty() {
            return Fast::General;
        }
        match codec.data_type {
            DataType::Int16 => Fast::Int16,
            DataType::UInt16 => Fast::UInt16,
            DataType::Int32 => Fast::Int32,
            DataType::UInt32 => Fast::UInt32,
            DataType::Int64 => Fast::Int64,
            DataType::UInt64 => Fast::UInt64,
            DataType::Float32 => Fast::Float32,
            DataType::Float64 => Fast::Float64,
            _ => Fast::General,
        }
    }
}

/// Relative tolerance under which a scaled value counts as a whole number of raw steps.
const WHOLE_TOLERANCE: f64 = 1e-9;

impl Codec {
    /// A codec for a fixed-width type (numbers and bit fields). Strings need
    /// [`Codec::with_count`].
    pub fn new(data_type: DataType, order: Order) -> Result<Codec, CodecError> {
        Codec::with_count(data_type, None, order)
    }

    /// A codec for any type, with the register count a device map declares (required for
    /// strings, optional and checked for the others).
    pub fn with_count(
        data_type: DataType,
        count: Option<u16>,
        order: Order,
    ) -> Result<Codec, CodecError> {
        let registers = data_type.registers(count)?;
        Ok(Codec {
            data_type,
            registers,
            order,
            scale: 1.0,
            offset: 0.0,
            arithmetic: Arithmetic::Identity,
            all_ones_missing: false,
            raw_missing: Vec::new(),
            fast: Fast::General,
        }
        .with_fast())
    }

    /// The same codec with `value = raw × scale + offset`. Only numbers may be scaled (a scale
    /// of 1 with offset 0 is accepted for every type).
    pub fn scaled(mut self, scale: f64, offset: f64) -> Result<Codec, CodecError> {
        if !scale.is_finite() || scale == 0.0 {
            return Err(CodecError::BadScale { scale });
        }
        if !offset.is_finite() {
            return Err(CodecError::BadOffset { offset });
        }
        let identity = scale == 1.0 && offset == 0.0;
        if !identity && !self.data_type.is_numeric() {
            return Err(CodecError::ScaleOnNonNumeric {
                data_type: self.data_type,
            });
        }
        self.scale = scale;
        self.offset = offset;
        self.arithmetic = Arithmetic::choose(scale, offset);
        Ok(self.with_fast())
    }

    /// The same codec with one more sentinel. Fails when the sentinel can never match this
    /// type: a raw pattern wider than the value, a raw pattern on text, NaN on an integer.
    pub fn missing_when(mut self, sentinel: Sentinel) -> Result<Codec, CodecError> {
        let data_type = self.data_type;
        let misfit = Err(CodecError::SentinelDoesNotFit {
            data_type,
            sentinel,
        });
        match sentinel {
            Sentinel::AllOnes => self.all_ones_missing = true,
            Sentinel::Nan => {
                if !data_type.is_float() {
                    return misfit;
                }
            }
            Sentinel::Raw(raw) => {
                let Some(bits) = data_type.bits() else {
                    return misfit;
                };
                let masked = mask(raw, bits);
                // The pattern fits when nothing is cut off, or when it is a sign-extended
                // negative number whose cut-off bits are all copies of the sign bit.
                let sign_extended = (raw as i64) < 0
                    && bits < 64
                    && (raw >> (bits - 1)) == (u64::MAX >> (bits - 1))
                    && data_type.is_signed();
                if masked != raw && !sign_extended {
                    return misfit;
                }
                if !self.raw_missing.contains(&masked) {
                    self.raw_missing.push(masked);
                }
            }
        }
        Ok(self.with_fast())
    }

    fn with_fast(mut self) -> Codec {
        self.fast = Fast::of(&self);
        self
    }

    /// The data type.
    pub fn data_type(&self) -> DataType {
        self.data_type
    }

    /// Registers a value occupies.
    pub fn registers(&self) -> u16 {
        self.registers
    }

    /// Byte and word order.
    pub fn order(&self) -> Order {
        self.order
    }

    /// The scale (1 when unscaled).
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The offset (0 when unscaled).
    pub fn offset(&self) -> f64 {
        self.offset
    }

    /// True when neither scale nor offset changes the value.
    pub fn is_unscaled(&self) -> bool {
        self.scale == 1.0 && self.offset == 0.0
    }

    /// Turns the registers of one value, as received, into its value; `None` when they match
    /// a sentinel (or are a NaN float). Fails when the number of words is not
    /// [`Codec::registers`] or a string is not valid text. Never panics.
    #[inline]
    pub fn decode(&self, words: &[u16]) -> Result<Option<Value>, DecodeError> {
        let o = self.order;
        let value = match (self.fast, words) {
            (Fast::Float32, &[a, b]) => {
                let v = f32::from_bits(o.u32_from([a, b]));
                return Ok((!v.is_nan()).then_some(Value::Float(f64::from(v))));
            }
            (Fast::Float64, &[a, b, c, d]) => {
                let v = f64::from_bits(o.u64_from([a, b, c, d]));
                return Ok((!v.is_nan()).then_some(Value::Float(v)));
            }
            (Fast::UInt16, &[w]) => Value::UInt(u64::from(o.u16_from(w))),
            (Fast::Int16, &[w]) => Value::Int(i64::from(o.u16_from(w) as i16)),
            (Fast::UInt32, &[a, b]) => Value::UInt(u64::from(o.u32_from([a, b]))),
            (Fast::Int32, &[a, b]) => Value::Int(i64::from(o.u32_from([a, b]) as i32)),
            (Fast::UInt64, &[a, b, c, d]) => Value::UInt(o.u64_from([a, b, c, d])),
            (Fast::Int64, &[a, b, c, d]) => Value::Int(o.u64_from([a, b, c, d]) as i64),
            _ => return self.decode_general(words),
        };
        Ok(Some(value))
    }

    /// Every case [`Codec::decode`] has no shortcut for, including wrong lengths.
    #[inline(never)]
    fn decode_general(&self, words: &[u16]) -> Result<Option<Value>, DecodeError> {
        if words.len() != usize::from(self.registers) {
            return Err(self.length_error(words.len()));
        }
        if self.all_ones_missing && words.iter().all(|&w| w == 0xFFFF) {
            return Ok(None);
        }
        let raw = match *words {
            _ if self.data_type.is_text() => return self.decode_text(words),
            [w] => u64::from(self.order.u16_from(w)),
            [a, b] => u64::from(self.order.u32_from([a, b])),
            [a, b, c, d] => self.order.u64_from([a, b, c, d]),
            // Unreachable: fixed-width codecs have 1, 2 or 4 registers and the length matched.
            _ => return Err(self.length_error(words.len())),
        };
        if !self.raw_missing.is_empty() && self.raw_missing.contains(&raw) {
            return Ok(None);
        }
        let value = match self.data_type {
            DataType::Int16 => self.signed(i64::from(raw as u16 as i16)),
            DataType::Int32 => self.signed(i64::from(raw as u32 as i32)),
            DataType::Int64 => self.signed(raw as i64),
            DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => self.unsigned(raw),
            DataType::Float32 => {
                let v = f32::from_bits(raw as u32);
                if v.is_nan() {
                    return Ok(None);
                }
                Value::Float(self.apply(f64::from(v)))
            }
            DataType::Float64 => {
                let v = f64::from_bits(raw);
                if v.is_nan() {
                    return Ok(None);
                }
                Value::Float(self.apply(v))
            }
            DataType::Bits16 | DataType::Bits32 => Value::Flags(raw as u32),
            // Text returned above; repeating the call keeps this match total without a panic.
            DataType::String | DataType::String1 => return self.decode_text(words),
        };
        Ok(Some(value))
    }

    #[cold]
    #[inline(never)]
    fn length_error(&self, got: usize) -> DecodeError {
        DecodeError::Length {
            data_type: self.data_type,
            expected: self.registers,
            got,
        }
    }

    /// The two string packings (kept out of line so the numeric path stays small).
    #[inline(never)]
    fn decode_text(&self, words: &[u16]) -> Result<Option<Value>, DecodeError> {
        let text = if self.data_type == DataType::String1 {
            self.decode_string1(words)
        } else {
            self.decode_string(words)
        };
        text.map(Some)
    }

    #[inline]
    fn signed(&self, v: i64) -> Value {
        if self.is_unscaled() {
            Value::Int(v)
        } else {
            Value::Float(self.apply(v as f64))
        }
    }

    #[inline]
    fn unsigned(&self, v: u64) -> Value {
        if self.is_unscaled() {
            Value::UInt(v)
        } else {
            Value::Float(self.apply(v as f64))
        }
    }

    /// Raw number to physical value.
    #[inline]
    fn apply(&self, raw: f64) -> f64 {
        match self.arithmetic {
            Arithmetic::Identity => raw,
            Arithmetic::Decimal { mul, shift, m } => (raw * mul + shift) / m,
            Arithmetic::DivideAdd { n, offset } => raw / n + offset,
            Arithmetic::MultiplyAdd { scale, offset } => raw * scale + offset,
        }
    }

    /// Physical value to raw number (the inverse of [`Codec::apply`]).
    fn unapply(&self, value: f64) -> f64 {
        match self.arithmetic {
            Arithmetic::Identity => value,
            Arithmetic::Decimal { mul, shift, m } => (value * m - shift) / mul,
            Arithmetic::DivideAdd { n, offset } => (value - offset) * n,
            Arithmetic::MultiplyAdd { scale, offset } => (value - offset) / scale,
        }
    }

    fn decode_string(&self, words: &[u16]) -> Result<Value, DecodeError> {
        let mut bytes = Vec::with_capacity(words.len() * 2);
        for &w in words {
            bytes.extend_from_slice(&self.order.u16_from(w).to_be_bytes());
        }
        if let Some(nul) = bytes.iter().position(|&b| b == 0) {
            bytes.truncate(nul);
        }
        while let Some(&last) = bytes.last() {
            if last == 0xFF || last == b' ' {
                bytes.pop();
            } else {
                break;
            }
        }
        String::from_utf8(bytes)
            .map(Value::Text)
            .map_err(|e| DecodeError::InvalidText {
                data_type: self.data_type,
                position: e.utf8_error().valid_up_to(),
            })
    }

    fn decode_string1(&self, words: &[u16]) -> Result<Value, DecodeError> {
        let mut units: Vec<u16> = words.iter().map(|&w| self.order.u16_from(w)).collect();
        if let Some(nul) = units.iter().position(|&u| u == 0) {
            units.truncate(nul);
        }
        while let Some(&last) = units.last() {
            if last == 0xFFFF || last == u16::from(b' ') {
                units.pop();
            } else {
                break;
            }
        }
        let mut text = String::with_capacity(units.len());
        for (position, unit) in char::decode_utf16(units.iter().copied()).enumerate() {
            match unit {
                Ok(c) => text.push(c),
                Err(_) => {
                    return Err(DecodeError::InvalidText {
                        data_type: self.data_type,
                        position,
                    });
                }
            }
        }
        Ok(Value::Text(text))
    }

    /// The registers, in wire order, that carry `value`. Fails, producing nothing, when the
    /// value is of the wrong kind, out of range after scale and offset, not a whole number of
    /// steps for an integer type, or text that does not fit.
    pub fn encode(&self, value: &Value) -> Result<Vec<u16>, EncodeError> {
        let mut out = vec![0; usize::from(self.registers)];
        self.encode_into(value, &mut out)?;
        Ok(out)
    }

    /// Like [`Codec::encode`], writing into `out`, which must hold exactly
    /// [`Codec::registers`] words. On error `out` is left untouched.
    pub fn encode_into(&self, value: &Value, out: &mut [u16]) -> Result<(), EncodeError> {
        if out.len() != usize::from(self.registers) {
            return Err(EncodeError::Length {
                data_type: self.data_type,
                expected: self.registers,
                got: out.len(),
            });
        }
        let raw = match self.data_type {
            DataType::String => return self.encode_string(value, out),
            DataType::String1 => return self.encode_string1(value, out),
            DataType::Float32 => {
                let v = self.unapply(self.float_input(value)?);
                if v.is_finite() && v.abs() > f64::from(f32::MAX) {
                    return Err(self.out_of_range(value, v));
                }
                u64::from((v as f32).to_bits())
            }
            DataType::Float64 => self.unapply(self.float_input(value)?).to_bits(),
            DataType::Bits16 | DataType::Bits32 => {
                let v = match *value {
                    Value::Flags(v) => u64::from(v),
                    Value::Bool(_) | Value::Int(_) | Value::UInt(_) | Value::Float(_) => value
                        .as_u64()
                        .ok_or_else(|| self.out_of_range(value, f64::NAN))?,
                    Value::Text(_) => return Err(self.wrong_kind(value)),
                };
                let bits = self.data_type.bits().unwrap_or(32);
                if mask(v, bits) != v {
                    return Err(EncodeError::OutOfRange {
                        data_type: self.data_type,
                        value: value.to_string(),
                        raw: v.to_string(),
                    });
                }
                v
            }
            _ => self.encode_integer(value)?,
        };
        match out {
            [w] => *w = self.order.u16_to(raw as u16),
            [a, b] => [*a, *b] = self.order.u32_to(raw as u32),
            [a, b, c, d] => [*a, *b, *c, *d] = self.order.u64_to(raw),
            _ => {
                return Err(EncodeError::Length {
                    data_type: self.data_type,
                    expected: self.registers,
                    got: out.len(),
                });
            }
        }
        Ok(())
    }

    fn wrong_kind(&self, value: &Value) -> EncodeError {
        EncodeError::WrongKind {
            data_type: self.data_type,
            kind: value.kind(),
        }
    }

    fn out_of_range(&self, value: &Value, raw: f64) -> EncodeError {
        EncodeError::OutOfRange {
            data_type: self.data_type,
            value: value.to_string(),
            raw: raw.to_string(),
        }
    }

    fn float_input(&self, value: &Value) -> Result<f64, EncodeError> {
        match *value {
            Value::Int(v) => Ok(v as f64),
            Value::UInt(v) => Ok(v as f64),
            Value::Float(v) => Ok(v),
            Value::Text(_) | Value::Flags(_) | Value::Bool(_) => Err(self.wrong_kind(value)),
        }
    }

    /// An integer type's raw bits (two's complement, masked to the width).
    fn encode_integer(&self, value: &Value) -> Result<u64, EncodeError> {
        let (min, max): (i128, i128) = match self.data_type {
            DataType::Int16 => (i16::MIN.into(), i16::MAX.into()),
            DataType::UInt16 => (0, u16::MAX.into()),
            DataType::Int32 => (i32::MIN.into(), i32::MAX.into()),
            DataType::UInt32 => (0, u32::MAX.into()),
            DataType::Int64 => (i64::MIN.into(), i64::MAX.into()),
            _ => (0, u64::MAX.into()),
        };
        let exact: Option<i128> = match *value {
            Value::Int(v) if self.is_unscaled() => Some(v.into()),
            Value::UInt(v) if self.is_unscaled() => Some(v.into()),
            Value::Bool(v) if self.is_unscaled() => Some(v.into()),
            Value::Text(_) | Value::Flags(_) | Value::Bool(_) => {
                return Err(self.wrong_kind(value));
            }
            _ => None,
        };
        let raw = match exact {
            Some(v) => {
                if v < min || v > max {
                    return Err(EncodeError::OutOfRange {
                        data_type: self.data_type,
                        value: value.to_string(),
                        raw: v.to_string(),
                    });
                }
                v
            }
            None => {
                let input = self.float_input(value)?;
                let raw = self.unapply(input);
                if !raw.is_finite() {
                    return Err(self.out_of_range(value, raw));
                }
                let whole = raw.round();
                if (raw - whole).abs() > WHOLE_TOLERANCE * whole.abs().max(1.0) {
                    return Err(EncodeError::NotWhole {
                        data_type: self.data_type,
                        value: input,
                        raw,
                    });
                }
                // min and max as floats: -2^63 and 2^63 - 1 round to ±2^63, 2^64 - 1 to 2^64,
                // so compare against the exclusive upper bound max + 1, which is exact.
                if whole < min as f64 || whole >= (max + 1) as f64 {
                    return Err(self.out_of_range(value, raw));
                }
                whole as i128
            }
        };
        Ok(mask(raw as u64, self.data_type.bits().unwrap_or(64)))
    }

    fn text_input<'v>(&self, value: &'v Value) -> Result<&'v str, EncodeError> {
        let text = value.as_str().ok_or_else(|| self.wrong_kind(value))?;
        if text.contains('\0') {
            return Err(EncodeError::NulInText {
                data_type: self.data_type,
            });
        }
        Ok(text)
    }

    fn encode_string(&self, value: &Value, out: &mut [u16]) -> Result<(), EncodeError> {
        let bytes = self.text_input(value)?.as_bytes();
        let max = out.len() * 2;
        if bytes.len() > max {
            return Err(EncodeError::TextTooLong {
                data_type: self.data_type,
                len: bytes.len(),
                max,
            });
        }
        for (i, w) in out.iter_mut().enumerate() {
            let hi = bytes.get(2 * i).copied().unwrap_or(0);
            let lo = bytes.get(2 * i + 1).copied().unwrap_or(0);
            *w = self.order.u16_to(u16::from_be_bytes([hi, lo]));
        }
        Ok(())
    }

    fn encode_string1(&self, value: &Value, out: &mut [u16]) -> Result<(), EncodeError> {
        let text = self.text_input(value)?;
        let len = text.encode_utf16().count();
        if len > out.len() {
            return Err(EncodeError::TextTooLong {
                data_type: self.data_type,
                len,
                max: out.len(),
            });
        }
        let mut units = text.encode_utf16();
        for w in out.iter_mut() {
            *w = self.order.u16_to(units.next().unwrap_or(0));
        }
        Ok(())
    }
}

/// The float arithmetic of `raw × scale + offset`, picked for correct rounding of the common
/// decimal scales: `2932 × 0.1 − 273.15` is `20.05000000000001`, but `(2932 − 2731.5) / 10`,
/// computed as `(2932 × 10 − 27315) / 100`, is the float nearest to 20.05.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Arithmetic {
    /// Scale 1, offset 0.
    Identity,
    /// `scale = mul / m` and `offset = shift / m` for whole `mul`, `shift` and `m = 10^k`:
    /// `(raw × mul + shift) / m`, exact integer arithmetic (below 2^53) and one correctly
    /// rounded division.
    Decimal { mul: f64, shift: f64, m: f64 },
    /// `scale = 1/n` for a whole `n` (such as 1/3), any offset: `raw / n + offset`.
    DivideAdd { n: f64, offset: f64 },
    /// Any other scale: `raw × scale + offset`.
    MultiplyAdd { scale: f64, offset: f64 },
}

/// Tolerance under which a scale or offset counts as an exact decimal.
const DECIMAL_TOLERANCE: f64 = 1e-12;

impl Arithmetic {
    fn choose(scale: f64, offset: f64) -> Arithmetic {
        if scale == 1.0 && offset == 0.0 {
            return Arithmetic::Identity;
        }
        let mut m = 1.0;
        for _ in 0..=9 {
            if let (Some(mul), Some(shift)) = (
                whole(scale * m, DECIMAL_TOLERANCE),
                whole(offset * m, DECIMAL_TOLERANCE),
            ) && mul != 0.0
            {
                return Arithmetic::Decimal { mul, shift, m };
            }
            m *= 10.0;
        }
        match whole(1.0 / scale, DECIMAL_TOLERANCE).filter(|n| n.abs() >= 2.0) {
            Some(n) => Arithmetic::DivideAdd { n, offset },
            None => Arithmetic::MultiplyAdd { scale, offset },
        }
    }
}

/// `v` rounded, when it is within `tolerance` (relative) of a whole number.
fn whole(v: f64, tolerance: f64) -> Option<f64> {
    let r = v.round();
    (v.is_finite() && (v - r).abs() <= tolerance * r.abs().max(1.0)).then_some(r)
}

/// Keeps the low `bits` bits of `v`.
#[inline]
const fn mask(v: u64, bits: u32) -> u64 {
    if bits >= 64 { v } else { v & ((1 << bits) - 1) }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The shortcut in `decode` agrees with the general path for every plain number type
        /// and order.
        #[test]
        fn shortcut_matches_general_path(
            ty in prop::sample::select(DataType::ALL.to_vec()).prop_filter("number", |t| t.is_numeric()),
            order in prop::sample::select(Order::ALL.to_vec()),
            seed in prop::collection::vec(any::<u16>(), 4),
        ) {
            let codec = Codec::new(ty, order).unwrap();
            prop_assert_ne!(codec.fast, Fast::General);
            let words = &seed[..usize::from(codec.registers())];
            prop_assert_eq!(codec.decode(words), codec.decode_general(words));
        }
    }
}
