//! Request PDUs: parse what a master sent, serve it from the bank, encode the answer.

use super::Exception;
use super::bank::{RegisterBank, Space};

/// Most registers one read may ask for (Modbus application protocol, 6.3).
const MAX_READ_REGISTERS: u16 = 125;
/// Most bits one read may ask for.
const MAX_READ_BITS: u16 = 2000;
/// Most registers one FC16 write may carry.
const MAX_WRITE_REGISTERS: u16 = 123;
/// Most coils one FC15 write may carry.
const MAX_WRITE_BITS: u16 = 1968;

/// What a request asked for, as the request log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) function: u8,
    pub(crate) address: u16,
    pub(crate) count: u16,
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
}

/// The function code, address and count of a request PDU, as far as they can be read.
pub(crate) fn summarize(pdu: &[u8]) -> Summary {
    let function = pdu.first().copied().unwrap_or(0);
    let address = be16(pdu, 1).unwrap_or(0);
    let count = match function {
        5 | 6 => 1,
        _ => be16(pdu, 3).unwrap_or(0),
    };
    Summary {
        function,
        address,
        count,
    }
}

/// The exception response PDU for `function`.
/// Whether `function` writes (FC5, FC6, FC15, FC16).
pub(crate) fn is_write(function: u8) -> bool {
    matches!(function, 0x05 | 0x06 | 0x0F | 0x10)
}

/// Whether a response PDU is an exception.
pub(crate) fn is_exception(response: &[u8]) -> bool {
    response.first().is_some_and(|f| f & 0x80 != 0)
}

pub(crate) fn exception_pdu(function: u8, code: Exception) -> Vec<u8> {
    vec![function | 0x80, code.code()]
}

fn pack_bits(bits: &[u16]) -> Vec<u8> {
    let mut bytes = vec![0u8; bits.len().div_ceil(8)];
    for (i, bit) in bits.iter().enumerate() {
        if *bit != 0 {
            bytes[i / 8] |= 1 << (i % 8);
        }
    }
    bytes
}

fn space_of_read(function: u8) -> Option<Space> {
    match function {
        1 => Some(Space::Coil),
        2 => Some(Space::Discrete),
        3 => Some(Space::Holding),
        4 => Some(Space::Input),
        _ => None,
    }
}

/// Serves one request PDU from `bank` and returns the response PDU (normal or exception).
pub(crate) fn serve(bank: &mut RegisterBank, unit: u8, pdu: &[u8], read_only: bool) -> Vec<u8> {
    let function = pdu.first().copied().unwrap_or(0);
    match answer(bank, unit, pdu, read_only) {
        Ok(response) => response,
        Err(code) => exception_pdu(function, code),
    }
}

fn answer(
    bank: &mut RegisterBank,
    unit: u8,
    pdu: &[u8],
    read_only: bool,
) -> Result<Vec<u8>, Exception> {
    let function = *pdu.first().ok_or(Exception::IllegalFunction)?;
    let address = be16(pdu, 1).ok_or(Exception::IllegalDataValue)?;
    let second = be16(pdu, 3).ok_or(Exception::IllegalDataValue)?;
    match function {
        1..=4 => {
            if pdu.len() != 5 {
                return Err(Exception::IllegalDataValue);
            }
            let space = space_of_read(function).ok_or(Exception::IllegalFunction)?;
            let bits = matches!(space, Space::Coil | Space::Discrete);
            let max = if bits {
                MAX_READ_BITS
            } else {
                MAX_READ_REGISTERS
            };
            if second == 0 || second > max {
                return Err(Exception::IllegalDataValue);
            }
            let words = bank.read(unit, space, address, second)?;
            let data = if bits {
                pack_bits(&words)
            } else {
                words.iter().flat_map(|w| w.to_be_bytes()).collect()
            };
            let mut response = vec![
                function,
                u8::try_from(data.len()).map_err(|_| Exception::IllegalDataValue)?,
            ];
            response.extend(data);
            Ok(response)
        }
        5 | 6 => {
            if pdu.len() != 5 {
                return Err(Exception::IllegalDataValue);
            }
            if read_only {
                return Err(Exception::IllegalFunction);
            }
            let (space, word) = if function == 5 {
                let bit = match second {
                    0xFF00 => 1,
                    0x0000 => 0,
                    _ => return Err(Exception::IllegalDataValue),
                };
                (Space::Coil, bit)
            } else {
                (Space::Holding, second)
            };
            bank.write(unit, space, address, &[word])?;
            Ok(pdu.to_vec())
        }
        15 | 16 => {
            let byte_count = usize::from(*pdu.get(5).ok_or(Exception::IllegalDataValue)?);
            let data = pdu.get(6..).ok_or(Exception::IllegalDataValue)?;
            let (max, expected) = if function == 15 {
                (MAX_WRITE_BITS, usize::from(second).div_ceil(8))
            } else {
                (MAX_WRITE_REGISTERS, usize::from(second) * 2)
            };
            if second == 0 || second > max || byte_count != expected || data.len() != byte_count {
                return Err(Exception::IllegalDataValue);
            }
            if read_only {
                return Err(Exception::IllegalFunction);
            }
            let (space, words): (Space, Vec<u16>) = if function == 15 {
                let bits = (0..usize::from(second))
                    .map(|i| u16::from(data[i / 8] >> (i % 8) & 1))
                    .collect();
                (Space::Coil, bits)
            } else {
                (
                    Space::Holding,
                    data.chunks_exact(2)
                        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                        .collect(),
                )
            };
            bank.write(unit, space, address, &words)?;
            let mut response = vec![function];
            response.extend(address.to_be_bytes());
            response.extend(second.to_be_bytes());
            Ok(response)
        }
        _ => Err(Exception::IllegalFunction),
    }
}

/// Length of an RTU request frame (unit id to CRC) whose first `head` bytes are known, or
/// `None` when more bytes are needed to tell; `Err` for a function code this server does not
/// frame (its length cannot be known).
pub(crate) fn rtu_request_len(head: &[u8]) -> Result<Option<usize>, ()> {
    let Some(&function) = head.get(1) else {
        return Ok(None);
    };
    match function {
        1..=6 => Ok(Some(8)),
        15 | 16 => Ok(head.get(6).map(|count| 9 + usize::from(*count))),
        _ => Err(()),
    }
}

/// CRC-16/MODBUS of `bytes` (polynomial 0xA001 reflected, initial 0xFFFF).
pub(crate) fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for byte in bytes {
        crc ^= u16::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use modbus_core::Table;

    use crate::modbus::bank::{Access, GapPolicy};

    fn bank() -> RegisterBank {
        let mut bank = RegisterBank::new();
        bank.insert(1, Table::Holding, 10, &[0x1234, 0x5678], Access::ReadWrite)
            .unwrap();
        bank.insert(1, Table::Holding, 12, &[7], Access::Read)
            .unwrap();
        bank.insert(1, Table::Coil, 0, &[1, 0, 1], Access::ReadWrite)
            .unwrap();
        bank.add_unit(2, GapPolicy::Fill(0xFFFF));
        bank
    }

    #[test]
    fn reads_registers_and_bits() {
        let mut bank = bank();
        assert_eq!(
            serve(&mut bank, 1, &[3, 0, 10, 0, 3], false),
            [3, 6, 0x12, 0x34, 0x56, 0x78, 0, 7]
        );
        assert_eq!(serve(&mut bank, 1, &[1, 0, 0, 0, 3], false), [1, 1, 0b101]);
        assert_eq!(
            serve(&mut bank, 2, &[3, 0, 0, 0, 1], false),
            [3, 2, 0xFF, 0xFF]
        );
    }

    #[test]
    fn refuses_what_a_device_refuses() {
        let mut bank = bank();
        // Unmapped on a unit without fill: illegal data address.
        assert_eq!(serve(&mut bank, 1, &[3, 0, 9, 0, 2], false), [0x83, 2]);
        // Read-only register: illegal function.
        assert_eq!(serve(&mut bank, 1, &[6, 0, 12, 0, 1], false), [0x86, 1]);
        // Half of a two-word register: illegal data value.
        assert_eq!(serve(&mut bank, 1, &[6, 0, 10, 0, 1], false), [0x86, 3]);
        // Unknown unit: gateway target failed to respond.
        assert_eq!(serve(&mut bank, 9, &[3, 0, 10, 0, 1], false), [0x83, 0x0B]);
        // Unknown function.
        assert_eq!(serve(&mut bank, 1, &[0x2B, 0, 0, 0, 0], false), [0xAB, 1]);
        // Too many registers.
        assert_eq!(serve(&mut bank, 1, &[3, 0, 10, 0, 126], false), [0x83, 3]);
        // Read-only device.
        assert_eq!(
            serve(&mut bank, 1, &[16, 0, 10, 0, 2, 4, 0, 1, 0, 2], true),
            [0x90, 1]
        );
        // Truncated PDU.
        assert_eq!(serve(&mut bank, 1, &[3, 0], false), [0x83, 3]);
    }

    #[test]
    fn a_device_that_spans_gaps_fills_them_between_its_registers_only() {
        let mut bank = RegisterBank::new();
        bank.add_unit(3, GapPolicy::FillBetween(0xFFFF));
        bank.insert(3, Table::Holding, 100, &[1], Access::Read)
            .unwrap();
        bank.insert(3, Table::Holding, 104, &[5], Access::Read)
            .unwrap();
        // Across the gap 101..=103: filled.
        assert_eq!(
            serve(&mut bank, 3, &[3, 0, 100, 0, 5], false),
            [3, 10, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 5]
        );
        // Before the first register, after the last, or a table with none: refused.
        assert_eq!(serve(&mut bank, 3, &[3, 0, 99, 0, 2], false), [0x83, 2]);
        assert_eq!(serve(&mut bank, 3, &[3, 0, 104, 0, 2], false), [0x83, 2]);
        assert_eq!(serve(&mut bank, 3, &[4, 0, 100, 0, 1], false), [0x84, 2]);
    }

    #[test]
    fn writes_change_state() {
        let mut bank = bank();
        assert_eq!(
            serve(&mut bank, 1, &[16, 0, 10, 0, 2, 4, 0, 1, 0, 2], false),
            [16, 0, 10, 0, 2]
        );
        assert_eq!(bank.get(1, Table::Holding, 10, 2), [Some(1), Some(2)]);
        assert_eq!(
            serve(&mut bank, 1, &[5, 0, 1, 0xFF, 0], false),
            [5, 0, 1, 0xFF, 0]
        );
        assert_eq!(
            serve(&mut bank, 1, &[15, 0, 0, 0, 3, 1, 0b010], false),
            [15, 0, 0, 0, 3]
        );
        assert_eq!(bank.get(1, Table::Coil, 0, 3), [Some(0), Some(1), Some(0)]);
    }

    proptest::proptest! {
        /// Whatever a master sends, the server answers a well-formed response PDU: the function
        /// code echoed, or with the exception bit and a known exception code.
        #[test]
        fn any_request_gets_a_well_formed_answer(unit in 0u8..4, pdu in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            let mut bank = bank();
            let response = serve(&mut bank, unit, &pdu, false);
            let function = pdu.first().copied().unwrap_or(0);
            proptest::prop_assert!(!response.is_empty());
            if response[0] & 0x80 != 0 {
                proptest::prop_assert_eq!(response.len(), 2);
                proptest::prop_assert_eq!(response[0], function | 0x80);
                proptest::prop_assert!([1, 2, 3, 0x0B].contains(&response[1]));
            } else {
                proptest::prop_assert_eq!(response[0], function);
            }
            let _ = rtu_request_len(&pdu);
            let _ = summarize(&pdu);
        }
    }

    #[test]
    fn crc_matches_the_specification_example() {
        // Modbus over serial line, appendix B: read 0x0000..0x0001 from unit 1 is 01 03 00 00 00 01 84 0A.
        assert_eq!(crc16(&[1, 3, 0, 0, 0, 1]).to_le_bytes(), [0x84, 0x0A]);
    }
}
