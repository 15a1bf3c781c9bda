//! Identity fields of the envelope (serial, password) and fixed-width text fields.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// The 8-byte charger serial of the envelope, shown to users as 16 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Serial(pub [u8; 8]);

impl Serial {
    /// The serial as 16 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Serial({self})")
    }
}

/// A serial string that is not 16 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("a serial is 16 hex digits, got {input:?}")]
pub struct SerialParseError {
    /// The rejected text.
    pub input: String,
}

impl FromStr for Serial {
    type Err = SerialParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || SerialParseError {
            input: s.to_owned(),
        };
        let bytes = s.as_bytes();
        if bytes.len() != 16 {
            return Err(err());
        }
        let mut out = [0u8; 8];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = hex_digit(pair[0]).ok_or_else(err)?;
            let lo = hex_digit(pair[1]).ok_or_else(err)?;
            out[i] = hi << 4 | lo;
        }
        Ok(Self(out))
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl serde::Serialize for Serial {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Serial {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The 6-byte password field of the envelope.
///
/// App → charger datagrams carry the six ASCII digits of the charger password; charger → app
/// datagrams carry `ff` × 6 ([`Password::CHARGER`]). `Debug` and `Display` never show the bytes:
/// a password must not reach logs or dumps.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Password(pub [u8; 6]);

/// A password that is not 6 ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("a charger password is exactly 6 ASCII characters (got {len} bytes)")]
pub struct PasswordError {
    /// Byte length of the rejected text.
    pub len: usize,
}

impl Password {
    /// What chargers put in the field of their own datagrams.
    pub const CHARGER: Self = Self([0xff; 6]);
    /// All zero: "no password" for some implementations.
    pub const ZERO: Self = Self([0; 6]);

    /// A password from its text, which must be exactly 6 ASCII characters (normally digits).
    pub fn new(text: &str) -> Result<Self, PasswordError> {
        let bytes = text.as_bytes();
        let arr: [u8; 6] = bytes
            .try_into()
            .map_err(|_| PasswordError { len: bytes.len() })?;
        if !text.is_ascii() {
            return Err(PasswordError { len: bytes.len() });
        }
        Ok(Self(arr))
    }

    /// The raw bytes; handle with care.
    pub const fn expose(&self) -> &[u8; 6] {
        &self.0
    }

    /// Whether the field carries no password (all `ff` or all zero).
    pub fn is_unset(&self) -> bool {
        *self == Self::CHARGER || *self == Self::ZERO
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_unset() {
            f.write_str("Password(unset)")
        } else {
            f.write_str("Password(******)")
        }
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("******")
    }
}

/// A fixed-width text field as it sits on the wire: `N` raw bytes, normally ASCII padded with
/// NUL. The raw bytes are kept so that a parsed datagram re-encodes byte for byte; [`FixedStr::as_str`]
/// gives the text up to the first NUL.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FixedStr<const N: usize>(pub [u8; N]);

/// Text longer than its wire field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("text of {len} bytes does not fit a {width}-byte field")]
pub struct TextTooLong {
    /// Byte length of the text.
    pub len: usize,
    /// Width of the field.
    pub width: usize,
}

impl<const N: usize> FixedStr<N> {
    /// All NUL: an empty field.
    pub const EMPTY: Self = Self([0; N]);

    /// A field holding `text`, NUL padded; an error when the text is longer than `N` bytes.
    pub fn new(text: &str) -> Result<Self, TextTooLong> {
        if text.len() > N {
            return Err(TextTooLong {
                len: text.len(),
                width: N,
            });
        }
        Ok(Self::truncating(text))
    }

    /// A field holding `text` cut to at most `N` bytes (at a character boundary), NUL padded.
    pub fn truncating(text: &str) -> Self {
        let mut end = text.len().min(N);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mut out = [0u8; N];
        out[..end].copy_from_slice(&text.as_bytes()[..end]);
        Self(out)
    }

    /// The bytes up to the first NUL.
    pub fn as_bytes(&self) -> &[u8] {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(N);
        &self.0[..end]
    }

    /// The text up to the first NUL, with surrounding spaces and `0xff` fill removed; invalid
    /// UTF-8 is replaced.
    pub fn as_str(&self) -> String {
        let bytes = self.as_bytes();
        let start = bytes
            .iter()
            .position(|&b| b != b' ' && b != 0xff)
            .unwrap_or(bytes.len());
        let end = bytes
            .iter()
            .rposition(|&b| b != b' ' && b != 0xff)
            .map_or(start, |p| p + 1);
        String::from_utf8_lossy(&bytes[start..end]).into_owned()
    }

    /// Whether the field holds no text.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }
}

impl<const N: usize> Default for FixedStr<N> {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl<const N: usize> fmt::Debug for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.as_bytes();
        let padded = self.0[text.len()..].iter().all(|&b| b == 0);
        match std::str::from_utf8(text) {
            Ok(s) if padded => write!(f, "{s:?}"),
            _ => {
                f.write_str("FixedStr(")?;
                for b in &self.0 {
                    write!(f, "{b:02x}")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl<const N: usize> fmt::Display for FixedStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

impl<const N: usize> serde::Serialize for FixedStr<N> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_str())
    }
}
