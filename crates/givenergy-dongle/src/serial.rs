//! The ten-byte serial fields of a frame (adapter serial, inverter serial).

use std::fmt;

use crate::error::EncodeError;

/// A ten-byte serial as carried in a frame: the data-adapter serial at offsets 8..18, or the
/// inverter serial inside a response.
///
/// Decoding accepts any ten bytes (the official app sends zero bytes, the null frame carries
/// zeros); [`Serial::new`] builds one from exactly ten printable ASCII characters, which is what
/// a client should send (the dongle does not check it).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Serial([u8; 10]);

impl Serial {
    /// The placeholder adapter serial evctl sends; the dongle ignores the value.
    pub const CLIENT_DEFAULT: Serial = Serial(*b"EV0000C000");

    /// A serial from exactly ten printable ASCII characters.
    ///
    /// # Errors
    /// [`EncodeError::Serial`] when `text` is not ten printable ASCII characters.
    pub fn new(text: &str) -> Result<Self, EncodeError> {
        let bytes = text.as_bytes();
        match <[u8; 10]>::try_from(bytes) {
            Ok(array) if array.iter().all(|b| b.is_ascii_graphic() || *b == b' ') => {
                Ok(Self(array))
            }
            _ => Err(EncodeError::Serial {
                text: text.to_owned(),
            }),
        }
    }

    /// A serial from raw bytes, whatever they hold.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 10]) -> Self {
        Self(bytes)
    }

    /// The ten raw bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 10] {
        &self.0
    }

    /// Whether every byte is printable ASCII (a plausible serial rather than zeros or garbage).
    #[must_use]
    pub fn is_printable(&self) -> bool {
        self.0.iter().all(|b| b.is_ascii_graphic())
    }
}

impl fmt::Display for Serial {
    /// Printable ASCII as text; anything else as `\xNN` escapes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            if b.is_ascii_graphic() || b == b' ' {
                write!(f, "{}", char::from(b))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Serial(\"{self}\")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_from_ten_ascii_chars_only() {
        assert_eq!(
            Serial::new("AB1234G567").map(|s| s.to_string()).ok(),
            Some("AB1234G567".into())
        );
        assert!(Serial::new("short").is_err());
        assert!(Serial::new("ELEVENCHARS").is_err());
        assert!(Serial::new("ABC\u{7f}EFGHIJ").is_err());
    }

    #[test]
    fn displays_zero_bytes_as_escapes() {
        assert_eq!(Serial::from_bytes([0; 10]).to_string(), "\\x00".repeat(10));
        assert!(!Serial::from_bytes([0; 10]).is_printable());
    }
}
