//! Modbus TCP as the proxy's clients speak it: the MBAP header, the request PDUs the proxy
//! forwards, and the response and exception PDUs it sends back. Bytes in, typed requests out,
//! and the reverse; no sockets here, so every malformed input is a unit test.

use modbus_core::Table;

/// Length of the MBAP header: transaction id, protocol id, length, unit id.
pub(crate) const HEADER_LEN: usize = 7;

/// The largest MBAP length field: unit id plus a 253-byte PDU.
pub(crate) const MAX_LENGTH: usize = 254;

/// A parsed MBAP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) transaction_id: u16,
    pub(crate) unit: u8,
    /// Bytes of PDU that follow the header.
    pub(crate) pdu_len: usize,
}

/// Why a header cannot be the start of a Modbus TCP frame. The stream cannot be resynchronised
/// after one, so the connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HeaderError {
    #[error("protocol id {0} is not Modbus (0)")]
    Protocol(u16),
    #[error("MBAP length {0} is outside 2..=254")]
    Length(usize),
}

pub(crate) fn parse_header(bytes: &[u8; HEADER_LEN]) -> Result<Header, HeaderError> {
    let transaction_id = u16::from_be_bytes([bytes[0], bytes[1]]);
    let protocol = u16::from_be_bytes([bytes[2], bytes[3]]);
    let length = usize::from(u16::from_be_bytes([bytes[4], bytes[5]]));
    if protocol != 0 {
        return Err(HeaderError::Protocol(protocol));
    }
    if !(2..=MAX_LENGTH).contains(&length) {
        return Err(HeaderError::Length(length));
    }
    Ok(Header {
        transaction_id,
        unit: bytes[6],
        pdu_len: length - 1,
    })
}

/// A request the proxy knows how to forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    /// Functions 1 to 4.
    Read {
        table: Table,
        address: u16,
        count: u16,
    },
    /// Functions 5, 6, 15 and 16; `multiple` for 15 and 16. Coils are 0 or 1 per word.
    Write {
        table: Table,
        address: u16,
        words: Vec<u16>,
        multiple: bool,
    },
}

impl Request {
    pub(crate) fn table(&self) -> Table {
        match self {
            Request::Read { table, .. } | Request::Write { table, .. } => *table,
        }
    }

    pub(crate) fn address(&self) -> u16 {
        match self {
            Request::Read { address, .. } | Request::Write { address, .. } => *address,
        }
    }

    pub(crate) fn count(&self) -> u16 {
        match self {
            Request::Read { count, .. } => *count,
            Request::Write { words, .. } => u16::try_from(words.len()).unwrap_or(u16::MAX),
        }
    }
}

/// Exception codes the proxy answers on its own account.
pub(crate) mod code {
    pub(crate) const ILLEGAL_FUNCTION: u8 = 0x01;
    pub(crate) const ILLEGAL_DATA_ADDRESS: u8 = 0x02;
    pub(crate) const ILLEGAL_DATA_VALUE: u8 = 0x03;
    pub(crate) const SERVER_DEVICE_BUSY: u8 = 0x06;
    pub(crate) const GATEWAY_PATH_UNAVAILABLE: u8 = 0x0A;
    pub(crate) const GATEWAY_TARGET_FAILED: u8 = 0x0B;
}

/// A request PDU the proxy refuses before forwarding: the exception to answer and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) code: u8,
    pub(crate) reason: &'static str,
}

const fn refuse(code: u8, reason: &'static str) -> Refusal {
    Refusal { code, reason }
}

fn word(pdu: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([pdu[at], pdu[at + 1]])
}

/// Parses a request PDU (function code first). Lengths are checked exactly: a PDU with bytes
/// missing or left over is illegal data value, as the specification says.
pub(crate) fn parse_request(pdu: &[u8]) -> Result<Request, Refusal> {
    let Some(&function) = pdu.first() else {
        return Err(refuse(code::ILLEGAL_DATA_VALUE, "empty PDU"));
    };
    let read_table = match function {
        1 => Some(Table::Coil),
        2 => Some(Table::Discrete),
        3 => Some(Table::Holding),
        4 => Some(Table::Input),
        _ => None,
    };
    if let Some(table) = read_table {
        if pdu.len() != 5 {
            return Err(refuse(code::ILLEGAL_DATA_VALUE, "a read PDU is 5 bytes"));
        }
        let (address, count) = (word(pdu, 1), word(pdu, 3));
        if count == 0 || count > table.protocol_max_count() {
            return Err(refuse(
                code::ILLEGAL_DATA_VALUE,
                "count outside 1..=125 registers or 1..=2000 bits",
            ));
        }
        check_range(address, count)?;
        return Ok(Request::Read {
            table,
            address,
            count,
        });
    }
    match function {
        5 | 6 => {
            if pdu.len() != 5 {
                return Err(refuse(
                    code::ILLEGAL_DATA_VALUE,
                    "a single write PDU is 5 bytes",
                ));
            }
            let (address, value) = (word(pdu, 1), word(pdu, 3));
            let (table, value) = if function == 5 {
                let on = match value {
                    0xFF00 => 1,
                    0x0000 => 0,
                    _ => {
                        return Err(refuse(
                            code::ILLEGAL_DATA_VALUE,
                            "a coil is written as 0xFF00 or 0x0000",
                        ));
                    }
                };
                (Table::Coil, on)
            } else {
                (Table::Holding, value)
            };
            Ok(Request::Write {
                table,
                address,
                words: vec![value],
                multiple: false,
            })
        }
        15 | 16 => {
            if pdu.len() < 6 {
                return Err(refuse(
                    code::ILLEGAL_DATA_VALUE,
                    "a multiple write PDU is at least 6 bytes",
                ));
            }
            let (address, count) = (word(pdu, 1), word(pdu, 3));
            let byte_count = usize::from(pdu[5]);
            let (max, expected) = if function == 15 {
                (1968, usize::from(count).div_ceil(8))
            } else {
                (123, usize::from(count) * 2)
            };
            if count == 0 || count > max || byte_count != expected || pdu.len() != 6 + byte_count {
                return Err(refuse(
                    code::ILLEGAL_DATA_VALUE,
                    "quantity, byte count and data do not agree",
                ));
            }
            check_range(address, count)?;
            let data = &pdu[6..];
            let (table, words) = if function == 15 {
                let bits = (0..usize::from(count))
                    .map(|i| u16::from(data[i / 8] >> (i % 8) & 1))
                    .collect();
                (Table::Coil, bits)
            } else {
                let words = data
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect();
                (Table::Holding, words)
            };
            Ok(Request::Write {
                table,
                address,
                words,
                multiple: true,
            })
        }
        _ => Err(refuse(
            code::ILLEGAL_FUNCTION,
            "function not forwarded (1-6, 15, 16 are)",
        )),
    }
}

fn check_range(address: u16, count: u16) -> Result<(), Refusal> {
    if u32::from(address) + u32::from(count) > 0x1_0000 {
        return Err(refuse(
            code::ILLEGAL_DATA_ADDRESS,
            "range runs past address 65535",
        ));
    }
    Ok(())
}

/// The function code byte of a request PDU (0 for an empty one).
pub(crate) fn function_of(pdu: &[u8]) -> u8 {
    pdu.first().copied().unwrap_or(0)
}

/// The response PDU to a request that succeeded; `words` are the words (or bits) read.
pub(crate) fn response(request: &Request, function: u8, words: &[u16]) -> Vec<u8> {
    match request {
        Request::Read { table, .. } if table.is_bits() => {
            let mut out = vec![function, 0];
            let mut bytes = vec![0u8; words.len().div_ceil(8)];
            for (i, bit) in words.iter().enumerate() {
                if *bit != 0 {
                    bytes[i / 8] |= 1 << (i % 8);
                }
            }
            out[1] = bytes.len() as u8;
            out.extend_from_slice(&bytes);
            out
        }
        Request::Read { .. } => {
            let mut out = Vec::with_capacity(2 + words.len() * 2);
            out.push(function);
            out.push((words.len() * 2) as u8);
            for w in words {
                out.extend_from_slice(&w.to_be_bytes());
            }
            out
        }
        Request::Write {
            address,
            words,
            multiple: false,
            table,
        } => {
            let value = match (table, words.first()) {
                (Table::Coil, Some(&bit)) if bit != 0 => 0xFF00,
                (Table::Coil, _) => 0x0000,
                (_, Some(&w)) => w,
                (_, None) => 0,
            };
            let mut out = vec![function];
            out.extend_from_slice(&address.to_be_bytes());
            out.extend_from_slice(&value.to_be_bytes());
            out
        }
        Request::Write { address, words, .. } => {
            let mut out = vec![function];
            out.extend_from_slice(&address.to_be_bytes());
            out.extend_from_slice(&(words.len() as u16).to_be_bytes());
            out
        }
    }
}

/// An exception response PDU.
pub(crate) fn exception(function: u8, code: u8) -> Vec<u8> {
    vec![function | 0x80, code]
}

/// A whole Modbus TCP frame: header with the client's transaction id, then `pdu`.
pub(crate) fn frame(transaction_id: u16, unit: u8, pdu: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + pdu.len());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&((pdu.len() + 1) as u16).to_be_bytes());
    out.push(unit);
    out.extend_from_slice(pdu);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let ok = parse_header(&[0x12, 0x34, 0, 0, 0, 6, 9]).unwrap();
        assert_eq!(
            ok,
            Header {
                transaction_id: 0x1234,
                unit: 9,
                pdu_len: 5
            }
        );
        assert_eq!(
            parse_header(&[0, 1, 0, 1, 0, 6, 1]),
            Err(HeaderError::Protocol(1))
        );
        assert_eq!(
            parse_header(&[0, 1, 0, 0, 0, 1, 1]),
            Err(HeaderError::Length(1))
        );
        assert_eq!(
            parse_header(&[0, 1, 0, 0, 1, 0, 1]),
            Err(HeaderError::Length(256))
        );
    }

    #[test]
    fn reads_and_their_responses() {
        let request = parse_request(&[3, 0x04, 0xBA, 0, 2]).unwrap();
        assert_eq!(
            request,
            Request::Read {
                table: Table::Holding,
                address: 1210,
                count: 2
            }
        );
        assert_eq!(
            response(&request, 3, &[0x4120, 0x0001]),
            [3, 4, 0x41, 0x20, 0, 1]
        );
        let coils = parse_request(&[1, 0, 0, 0, 10]).unwrap();
        let bits = [1, 0, 1, 1, 0, 0, 0, 0, 0, 1];
        assert_eq!(response(&coils, 1, &bits), [1, 2, 0b0000_1101, 0b0000_0010]);
    }

    #[test]
    fn writes_and_their_responses() {
        let single = parse_request(&[6, 0, 7, 0x12, 0x34]).unwrap();
        assert_eq!(response(&single, 6, &[]), [6, 0, 7, 0x12, 0x34]);
        let coil = parse_request(&[5, 0, 1, 0xFF, 0]).unwrap();
        assert!(matches!(&coil, Request::Write { words, .. } if words == &[1]));
        assert_eq!(response(&coil, 5, &[]), [5, 0, 1, 0xFF, 0]);
        let multiple = parse_request(&[16, 0, 10, 0, 2, 4, 0, 1, 0, 2]).unwrap();
        assert_eq!(
            multiple,
            Request::Write {
                table: Table::Holding,
                address: 10,
                words: vec![1, 2],
                multiple: true
            }
        );
        assert_eq!(response(&multiple, 16, &[]), [16, 0, 10, 0, 2]);
        let coils = parse_request(&[15, 0, 0, 0, 3, 1, 0b101]).unwrap();
        assert!(matches!(&coils, Request::Write { words, .. } if words == &[1, 0, 1]));
    }

    #[test]
    fn malformed_requests_are_refused_with_the_right_exception() {
        let code_of = |pdu: &[u8]| parse_request(pdu).unwrap_err().code;
        assert_eq!(code_of(&[]), code::ILLEGAL_DATA_VALUE);
        assert_eq!(code_of(&[3, 0, 0, 0]), code::ILLEGAL_DATA_VALUE);
        assert_eq!(code_of(&[3, 0, 0, 0, 1, 0]), code::ILLEGAL_DATA_VALUE);
        assert_eq!(code_of(&[3, 0, 0, 0, 0]), code::ILLEGAL_DATA_VALUE);
        assert_eq!(code_of(&[3, 0, 0, 0, 126]), code::ILLEGAL_DATA_VALUE);
        assert_eq!(code_of(&[4, 0xFF, 0xFF, 0, 2]), code::ILLEGAL_DATA_ADDRESS);
        assert_eq!(code_of(&[5, 0, 1, 0x12, 0]), code::ILLEGAL_DATA_VALUE);
        assert_eq!(
            code_of(&[16, 0, 1, 0, 2, 3, 0, 1, 0]),
            code::ILLEGAL_DATA_VALUE
        );
        assert_eq!(code_of(&[16, 0, 1, 0, 1, 2, 0]), code::ILLEGAL_DATA_VALUE);
        assert_eq!(code_of(&[15, 0, 1, 0, 9, 1, 0]), code::ILLEGAL_DATA_VALUE);
        assert_eq!(code_of(&[43, 14, 1, 0]), code::ILLEGAL_FUNCTION);
        assert_eq!(code_of(&[0x83, 1]), code::ILLEGAL_FUNCTION);
        assert_eq!(exception(0x83, 1), [0x83, 1]);
        assert_eq!(exception(43, 1), [43 | 0x80, 1]);
    }

    #[test]
    fn frames_carry_the_clients_transaction_id() {
        assert_eq!(
            frame(0xBEEF, 3, &[3, 2, 0, 7]),
            [0xBE, 0xEF, 0, 0, 0, 5, 3, 3, 2, 0, 7]
        );
    }
}
