//! CRC-16/MODBUS, the checksum at the end of every transparent frame.

/// Computes CRC-16/MODBUS (reflected polynomial 0xA001, initial value 0xFFFF, no final XOR).
///
/// The dongle transmits the result low byte first; [`crc_wire_bytes`] gives that order.
///
/// ```
/// // The check value of the catalogue of CRC algorithms.
/// assert_eq!(givenergy_dongle::crc16_modbus(b"123456789"), 0x4B37);
/// ```
#[must_use]
pub fn crc16_modbus(data: &[u8]) -> u16 {
    data.iter().fold(0xFFFF_u16, |crc, &byte| {
        let mut crc = crc ^ u16::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
        crc
    })
}

/// The two bytes of a CRC in transmission order (low byte first, as Modbus RTU sends them).
#[must_use]
pub fn crc_wire_bytes(crc: u16) -> [u8; 2] {
    crc.to_le_bytes()
}

/// The outcome of checking the CRC of one transparent frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrcCheck {
    /// The value carried by the frame, read low byte first.
    pub wire: u16,
    /// The value computed over the device address up to the byte before the CRC.
    pub computed: u16,
}

impl CrcCheck {
    /// Whether the carried CRC equals the computed one.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.wire == self.computed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_and_empty_input() {
        assert_eq!(crc16_modbus(b"123456789"), 0x4B37);
        assert_eq!(crc16_modbus(&[]), 0xFFFF);
    }

    #[test]
    fn spec_worked_examples() {
        // Read holding 0..59 at 0x11: frame ends `47 4b`.
        let crc = crc16_modbus(&[0x11, 0x03, 0x00, 0x00, 0x00, 0x3c]);
        assert_eq!(crc_wire_bytes(crc), [0x47, 0x4b]);
        // Read input 60..119 at battery pack 1: `35 d4`.
        let crc = crc16_modbus(&[0x32, 0x04, 0x00, 0x3c, 0x00, 0x3c]);
        assert_eq!(crc_wire_bytes(crc), [0x35, 0xd4]);
        // Constructed write HR116 = 55 at 0x11: `8a 96`.
        let crc = crc16_modbus(&[0x11, 0x06, 0x00, 0x74, 0x00, 0x37]);
        assert_eq!(crc_wire_bytes(crc), [0x8a, 0x96]);
    }
}
