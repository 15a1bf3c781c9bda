//! The frames the dongle and its clients exchange, their encoding and their decoding.

use std::fmt;

use crate::crc::{CrcCheck, crc_wire_bytes, crc16_modbus};
use crate::error::{EncodeError, FrameError};
use crate::serial::Serial;

/// The four bytes every frame starts with: transaction id `0x5959`, protocol id `0x0001`.
pub const MARKER: [u8; 4] = [0x59, 0x59, 0x00, 0x01];
/// Largest number of registers one request may read, and one response may carry.
pub const MAX_REGISTERS: u16 = 60;
/// Bytes of the outer header before the adapter serial (marker, length, unit id, main function).
pub const HEADER_LEN: usize = 8;
/// Smallest accepted value of the length field (unit id, main function and the adapter serial).
pub const MIN_LENGTH_FIELD: usize = 12;
/// Largest accepted value of the length field (a 60-register response has 158).
pub const MAX_LENGTH_FIELD: usize = 300;
/// Offset of the device-address byte in a transparent frame.
pub const DEVICE_OFFSET: usize = 26;

const MAIN_HEARTBEAT: u8 = 0x01;
const MAIN_TRANSPARENT: u8 = 0x02;
const HEARTBEAT_LENGTH_FIELD: usize = 13;
const UNIT_ID: u8 = 0x01;
/// Device address through CRC of a request: address, function, two words, CRC.
const REQUEST_BODY: usize = 8;
/// Device address through CRC of a write response or an error response.
const SHORT_RESPONSE_BODY: usize = 18;

/// The Modbus function of a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReadFunction {
    /// 0x03, read holding registers.
    Holding,
    /// 0x04, read input registers.
    Input,
    /// 0x16, read a meter's product registers.
    MeterProduct,
}

impl ReadFunction {
    /// The function code on the wire.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::Holding => 0x03,
            Self::Input => 0x04,
            Self::MeterProduct => 0x16,
        }
    }

    /// The read function for a function code, if it is one.
    #[must_use]
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0x03 => Some(Self::Holding),
            0x04 => Some(Self::Input),
            0x16 => Some(Self::MeterProduct),
            _ => None,
        }
    }
}

impl fmt::Display for ReadFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Holding => "holding",
            Self::Input => "input",
            Self::MeterProduct => "meter-product",
        })
    }
}

/// Function code of a single-register write.
pub const WRITE_SINGLE: u8 = 0x06;

/// The dongle's keep-alive, sent every three minutes; a client answers with the same shape and
/// the type byte echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// The sender's adapter serial.
    pub adapter: Serial,
    /// The data-adapter type byte (0x01 in every capture).
    pub adapter_type: u8,
}

impl Heartbeat {
    /// The reply a client sends: its own adapter serial, the type byte echoed.
    #[must_use]
    pub fn reply(&self, adapter: Serial) -> Heartbeat {
        Heartbeat {
            adapter,
            adapter_type: self.adapter_type,
        }
    }
}

/// A request to read `count` registers from `base` of one device behind the dongle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadRequest {
    /// The client's adapter serial (any ten characters).
    pub adapter: Serial,
    /// Device address (0x11 inverter, 0x32.. battery packs).
    pub device: u8,
    /// Holding, input or meter-product registers.
    pub function: ReadFunction,
    /// First register.
    pub base: u16,
    /// Number of registers, 1 to 60.
    pub count: u16,
}

/// A request to write one holding register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteRequest {
    /// The client's adapter serial.
    pub adapter: Serial,
    /// Device address.
    pub device: u8,
    /// Holding register.
    pub register: u16,
    /// Value to write.
    pub value: u16,
}

/// Registers read from a device; base and count are echoed instead of a byte count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadResponse {
    /// The dongle's adapter serial.
    pub adapter: Serial,
    /// Device address.
    pub device: u8,
    /// The function that was answered.
    pub function: ReadFunction,
    /// The inverter's serial, inserted after the function code.
    pub inverter: Serial,
    /// First register.
    pub base: u16,
    /// The register values, `count` of them.
    pub values: Vec<u16>,
}

impl ReadResponse {
    /// Number of registers carried.
    #[must_use]
    pub fn count(&self) -> u16 {
        u16::try_from(self.values.len()).unwrap_or(u16::MAX)
    }
}

/// The answer to a write: the register and the value read back after writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteResponse {
    /// The dongle's adapter serial.
    pub adapter: Serial,
    /// Device address.
    pub device: u8,
    /// The inverter's serial.
    pub inverter: Serial,
    /// Register written.
    pub register: u16,
    /// Value read back; a client treats a value other than the one written as a failure.
    pub value: u16,
}

/// A refusal: the function code with its high bit set, base and count echoed (count sometimes
/// 0), and no exception code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorResponse {
    /// The dongle's adapter serial.
    pub adapter: Serial,
    /// Device address.
    pub device: u8,
    /// The refused function code, without the high bit (0x03, 0x04, 0x06, ...).
    pub function: u8,
    /// The inverter's serial.
    pub inverter: Serial,
    /// Base register (register for a write).
    pub base: u16,
    /// Count as echoed; 0 on some firmware.
    pub count: u16,
}

/// A frame with function code 0x00 that the dongle sends now and then; it carries nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NullFrame {
    /// The dongle's adapter serial.
    pub adapter: Serial,
    /// Device address byte.
    pub device: u8,
}

/// A LAN-configuration broadcast from some dongles: a CSV of address, netmask and gateway in
/// place of a Modbus message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanConfig {
    /// The dongle's adapter serial.
    pub adapter: Serial,
    /// The dongle's IP address as text.
    pub ip: String,
    /// Netmask as text.
    pub netmask: String,
    /// Gateway as text.
    pub gateway: String,
    /// The two bytes after the text (not a CRC of anything known).
    pub trailer: [u8; 2],
}

/// Every kind of frame on the dongle's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Keep-alive (main function 0x01).
    Heartbeat(Heartbeat),
    /// Client → dongle read.
    ReadRequest(ReadRequest),
    /// Client → dongle single-register write.
    WriteRequest(WriteRequest),
    /// Dongle → client registers.
    ReadResponse(ReadResponse),
    /// Dongle → client write echo.
    WriteResponse(WriteResponse),
    /// Dongle → client refusal.
    ErrorResponse(ErrorResponse),
    /// Unprompted empty frame; ignore.
    Null(NullFrame),
    /// Unprompted LAN-config broadcast; ignore.
    LanConfig(LanConfig),
}

/// What a request waits for: the shape a reply must have. The transaction id never varies and
/// the dongle fans every reply out to every client, so this is the only way to pair them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReplyKey {
    /// A read of `count` registers at `base`.
    Read {
        /// Device address.
        device: u8,
        /// Function.
        function: ReadFunction,
        /// First register.
        base: u16,
        /// Number of registers.
        count: u16,
    },
    /// A write of one register.
    Write {
        /// Device address.
        device: u8,
        /// Register.
        register: u16,
    },
}

impl ReplyKey {
    /// Whether `frame` answers a request with this key: a response of the same shape, or an
    /// error response for the same device, function and base whose count is the requested one
    /// or zero (some firmware echoes 0).
    #[must_use]
    pub fn answered_by(&self, frame: &Frame) -> bool {
        match (self, frame) {
            (Self::Read { .. }, Frame::ReadResponse(r)) => {
                frame.reply_key().is_some_and(|k| k == *self) && !r.values.is_empty()
            }
            (Self::Write { .. }, Frame::WriteResponse(_)) => frame.reply_key() == Some(*self),
            (
                Self::Read {
                    device,
                    function,
                    base,
                    count,
                },
                Frame::ErrorResponse(e),
            ) => {
                e.device == *device
                    && e.function == function.code()
                    && e.base == *base
                    && (e.count == *count || e.count == 0)
            }
            (Self::Write { device, register }, Frame::ErrorResponse(e)) => {
                e.device == *device && e.function == WRITE_SINGLE && e.base == *register
            }
            _ => false,
        }
    }
}

impl fmt::Display for ReplyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read {
                device,
                function,
                base,
                count,
            } => {
                write!(f, "device {device:#04x} read {function} {base}+{count}")
            }
            Self::Write { device, register } => write!(f, "device {device:#04x} write {register}"),
        }
    }
}

impl Frame {
    /// The shape this frame has as a request or a successful reply; `None` for heartbeats, error
    /// replies (see [`ReplyKey::answered_by`]), null and LAN-config frames.
    #[must_use]
    pub fn reply_key(&self) -> Option<ReplyKey> {
        match self {
            Self::ReadRequest(r) => Some(ReplyKey::Read {
                device: r.device,
                function: r.function,
                base: r.base,
                count: r.count,
            }),
            Self::ReadResponse(r) => Some(ReplyKey::Read {
                device: r.device,
                function: r.function,
                base: r.base,
                count: r.count(),
            }),
            Self::WriteRequest(w) => Some(ReplyKey::Write {
                device: w.device,
                register: w.register,
            }),
            Self::WriteResponse(w) => Some(ReplyKey::Write {
                device: w.device,
                register: w.register,
            }),
            Self::Heartbeat(_) | Self::ErrorResponse(_) | Self::Null(_) | Self::LanConfig(_) => {
                None
            }
        }
    }

    /// Whether the frame carries nothing a client needs (null and LAN-config frames).
    #[must_use]
    pub fn is_ignorable(&self) -> bool {
        matches!(self, Self::Null(_) | Self::LanConfig(_))
    }

    /// The frame's bytes, ready to send: length field and length-of-rest computed, CRC appended.
    ///
    /// # Errors
    /// [`EncodeError`] for a count outside 1..=60, a read range past register 65535, or a
    /// LAN-config field that cannot be carried. Nothing is produced in that case.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        match self {
            Self::Heartbeat(h) => {
                let mut out = header(MAIN_HEARTBEAT, &h.adapter, 1);
                out.push(h.adapter_type);
                Ok(out)
            }
            Self::ReadRequest(r) => {
                check_range(r.device, r.base, r.count)?;
                let mut pdu = vec![r.device, r.function.code()];
                pdu.extend_from_slice(&r.base.to_be_bytes());
                pdu.extend_from_slice(&r.count.to_be_bytes());
                Ok(transparent(&r.adapter, &pdu))
            }
            Self::WriteRequest(w) => {
                let mut pdu = vec![w.device, WRITE_SINGLE];
                pdu.extend_from_slice(&w.register.to_be_bytes());
                pdu.extend_from_slice(&w.value.to_be_bytes());
                Ok(transparent(&w.adapter, &pdu))
            }
            Self::ReadResponse(r) => {
                let count = u16::try_from(r.values.len())
                    .ok()
                    .filter(|c| {
                        (1..=MAX_REGISTERS).contains(c) && r.base.checked_add(*c - 1).is_some()
                    })
                    .ok_or(EncodeError::Values {
                        device: r.device,
                        base: r.base,
                        values: r.values.len(),
                    })?;
                let mut pdu = vec![r.device, r.function.code()];
                pdu.extend_from_slice(r.inverter.as_bytes());
                pdu.extend_from_slice(&r.base.to_be_bytes());
                pdu.extend_from_slice(&count.to_be_bytes());
                for v in &r.values {
                    pdu.extend_from_slice(&v.to_be_bytes());
                }
                Ok(transparent(&r.adapter, &pdu))
            }
            Self::WriteResponse(w) => {
                let mut pdu = vec![w.device, WRITE_SINGLE];
                pdu.extend_from_slice(w.inverter.as_bytes());
                pdu.extend_from_slice(&w.register.to_be_bytes());
                pdu.extend_from_slice(&w.value.to_be_bytes());
                Ok(transparent(&w.adapter, &pdu))
            }
            Self::ErrorResponse(e) => {
                let mut pdu = vec![e.device, e.function | 0x80];
                pdu.extend_from_slice(e.inverter.as_bytes());
                pdu.extend_from_slice(&e.base.to_be_bytes());
                pdu.extend_from_slice(&e.count.to_be_bytes());
                Ok(transparent(&e.adapter, &pdu))
            }
            Self::Null(n) => {
                // Device, function 0x00, ten zero bytes of serial, 62 zero words, zero CRC field.
                let mut rest = vec![0_u8; 2 + 10 + 124 + 2];
                rest[0] = n.device;
                let mut out = header(MAIN_TRANSPARENT, &n.adapter, 8 + rest.len());
                out.extend_from_slice(&(rest.len() as u64).to_be_bytes());
                out.extend_from_slice(&rest);
                Ok(out)
            }
            Self::LanConfig(l) => {
                for field in [&l.ip, &l.netmask, &l.gateway] {
                    if field.bytes().any(|b| b == b',' || !b.is_ascii_graphic()) {
                        return Err(EncodeError::LanConfig {
                            field: field.clone(),
                        });
                    }
                }
                let text = format!(",{},{},{}\r\n\r\n", l.ip, l.netmask, l.gateway);
                // Seven zero bytes, then the text whose leading comma doubles as the low byte of
                // the length-of-rest field, then the two trailing bytes.
                let mut out = header(MAIN_TRANSPARENT, &l.adapter, 7 + text.len() + 2);
                out.extend_from_slice(&[0; 7]);
                out.extend_from_slice(text.as_bytes());
                out.extend_from_slice(&l.trailer);
                Ok(out)
            }
        }
    }

    /// Decodes one whole frame (as cut by [`crate::Framer`]).
    ///
    /// Transparent frames must carry a correct CRC, except null frames (which carry a zero CRC
    /// field and are recognised by their function code 0x00) and LAN-config broadcasts (which
    /// are not Modbus at all). The length-of-rest field is not checked: the dongle's own value
    /// for write replies is unknown.
    ///
    /// # Errors
    /// [`FrameError`] naming what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Frame, FrameError> {
        let length = check_outer(bytes)?;
        let adapter = serial_at(bytes, 8);
        if bytes[7] == MAIN_HEARTBEAT {
            if length != HEARTBEAT_LENGTH_FIELD {
                return Err(FrameError::HeartbeatLength { declared: length });
            }
            return Ok(Frame::Heartbeat(Heartbeat {
                adapter,
                adapter_type: bytes[18],
            }));
        }
        let crc = crc_check(bytes);
        if crc.is_some_and(|c| !c.ok())
            && let Some(lan) = lan_config(bytes, adapter)
        {
            return Ok(Frame::LanConfig(lan));
        }
        let need = DEVICE_OFFSET + REQUEST_BODY;
        if bytes.len() < need {
            return Err(FrameError::TooShort {
                len: bytes.len(),
                need,
                what: "transparent frame",
            });
        }
        let device = bytes[DEVICE_OFFSET];
        let function = bytes[DEVICE_OFFSET + 1];
        if function == 0x00 {
            return Ok(Frame::Null(NullFrame { adapter, device }));
        }
        if let Some(c) = crc.filter(|c| !c.ok()) {
            return Err(FrameError::Crc {
                device,
                function,
                wire: c.wire,
                computed: c.computed,
            });
        }
        let body_len = bytes.len() - DEVICE_OFFSET;
        let unknown = FrameError::Function {
            device,
            function,
            body_len,
        };
        let word = |at: usize| u16::from_be_bytes([bytes[at], bytes[at + 1]]);
        if body_len == REQUEST_BODY {
            let (a, b) = (word(28), word(30));
            return match (function, ReadFunction::from_code(function)) {
                (_, Some(function)) => Ok(Frame::ReadRequest(ReadRequest {
                    adapter,
                    device,
                    function,
                    base: a,
                    count: b,
                })),
                (WRITE_SINGLE, None) => Ok(Frame::WriteRequest(WriteRequest {
                    adapter,
                    device,
                    register: a,
                    value: b,
                })),
                _ => Err(unknown),
            };
        }
        if body_len < SHORT_RESPONSE_BODY {
            return Err(unknown);
        }
        let inverter = serial_at(bytes, 28);
        let (a, b) = (word(38), word(40));
        if function & 0x80 != 0 {
            if body_len != SHORT_RESPONSE_BODY {
                return Err(unknown);
            }
            return Ok(Frame::ErrorResponse(ErrorResponse {
                adapter,
                device,
                function: function & 0x7f,
                inverter,
                base: a,
                count: b,
            }));
        }
        if function == WRITE_SINGLE {
            if body_len != SHORT_RESPONSE_BODY {
                return Err(unknown);
            }
            return Ok(Frame::WriteResponse(WriteResponse {
                adapter,
                device,
                inverter,
                register: a,
                value: b,
            }));
        }
        let Some(read) = ReadFunction::from_code(function) else {
            return Err(unknown);
        };
        let values_bytes = &bytes[42..bytes.len() - 2];
        if values_bytes.len() != usize::from(b) * 2 || b == 0 {
            return Err(FrameError::Count {
                device,
                function,
                base: a,
                count: b,
                carried_bytes: values_bytes.len(),
            });
        }
        let values = values_bytes
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        Ok(Frame::ReadResponse(ReadResponse {
            adapter,
            device,
            function: read,
            inverter,
            base: a,
            values,
        }))
    }
}

/// Checks the outer header of a whole frame and returns its length field.
pub(crate) fn check_outer(bytes: &[u8]) -> Result<usize, FrameError> {
    if bytes.len() < HEADER_LEN {
        return Err(FrameError::TooShort {
            len: bytes.len(),
            need: HEADER_LEN,
            what: "frame header",
        });
    }
    if bytes[..4] != MARKER {
        return Err(FrameError::Marker {
            found: bytes[..4].to_vec(),
        });
    }
    let length = usize::from(u16::from_be_bytes([bytes[4], bytes[5]]));
    check_header_fields(length, bytes[6], bytes[7])?;
    if bytes.len() - 6 != length {
        return Err(FrameError::Length {
            declared: length,
            actual: bytes.len() - 6,
        });
    }
    Ok(length)
}

/// Checks the length field, unit id and main function of a header.
pub(crate) fn check_header_fields(length: usize, unit: u8, main: u8) -> Result<(), FrameError> {
    if !(MIN_LENGTH_FIELD..=MAX_LENGTH_FIELD).contains(&length) {
        return Err(FrameError::LengthRange {
            declared: length,
            min: MIN_LENGTH_FIELD,
            max: MAX_LENGTH_FIELD,
        });
    }
    if unit > 1 {
        return Err(FrameError::UnitId(unit));
    }
    if main != MAIN_HEARTBEAT && main != MAIN_TRANSPARENT {
        return Err(FrameError::MainFunction(main));
    }
    Ok(())
}

/// The CRC verdict of a whole transparent frame: `None` for heartbeats and frames too short to
/// carry a device address, function and CRC.
#[must_use]
pub fn crc_check(bytes: &[u8]) -> Option<CrcCheck> {
    if bytes.get(7) != Some(&MAIN_TRANSPARENT) || bytes.len() < DEVICE_OFFSET + 4 {
        return None;
    }
    let (covered, tail) = bytes[DEVICE_OFFSET..].split_at(bytes.len() - DEVICE_OFFSET - 2);
    Some(CrcCheck {
        wire: u16::from_le_bytes([tail[0], tail[1]]),
        computed: crc16_modbus(covered),
    })
}

fn serial_at(bytes: &[u8], at: usize) -> Serial {
    let mut s = [0_u8; 10];
    s.copy_from_slice(&bytes[at..at + 10]);
    Serial::from_bytes(s)
}

fn check_range(device: u8, base: u16, count: u16) -> Result<(), EncodeError> {
    if !(1..=MAX_REGISTERS).contains(&count) {
        return Err(EncodeError::Count {
            device,
            base,
            count,
        });
    }
    if base.checked_add(count - 1).is_none() {
        return Err(EncodeError::Range {
            device,
            base,
            count,
        });
    }
    Ok(())
}

/// Marker, length field for `rest` bytes after the adapter serial, unit id, main function and
/// adapter serial.
fn header(main: u8, adapter: &Serial, rest: usize) -> Vec<u8> {
    let length = 2 + 10 + rest;
    let mut out = Vec::with_capacity(6 + length);
    out.extend_from_slice(&MARKER);
    // Every encoded frame is far below 65535 bytes (at most 60 registers).
    out.extend_from_slice(&u16::try_from(length).unwrap_or(u16::MAX).to_be_bytes());
    out.push(UNIT_ID);
    out.push(main);
    out.extend_from_slice(adapter.as_bytes());
    out
}

/// A transparent frame around `pdu` (device address, function, data): the computed
/// length-of-rest, the PDU and its CRC low byte first.
fn transparent(adapter: &Serial, pdu: &[u8]) -> Vec<u8> {
    let rest = pdu.len() + 2;
    let mut out = header(MAIN_TRANSPARENT, adapter, 8 + rest);
    out.extend_from_slice(&(rest as u64).to_be_bytes());
    out.extend_from_slice(pdu);
    out.extend_from_slice(&crc_wire_bytes(crc16_modbus(pdu)));
    out
}

/// Recognises a LAN-config broadcast: seven zero bytes, then `,ip,netmask,gateway\r\n\r\n` in
/// printable ASCII, then two bytes.
fn lan_config(bytes: &[u8], adapter: Serial) -> Option<LanConfig> {
    let body = bytes.get(18..)?;
    if body.len() < 7 + 4 + 2 || body[..7].iter().any(|b| *b != 0) {
        return None;
    }
    let (text, trailer) = body[7..].split_at(body.len() - 9);
    let text = std::str::from_utf8(text).ok()?;
    let fields = text.strip_prefix(',')?.strip_suffix("\r\n\r\n")?;
    if !fields.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let mut parts = fields.split(',');
    let (ip, netmask, gateway) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(LanConfig {
        adapter,
        ip: ip.to_owned(),
        netmask: netmask.to_owned(),
        gateway: gateway.to_owned(),
        trailer: [trailer[0], trailer[1]],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn encodes_the_spec_read_request() {
        let frame = Frame::ReadRequest(ReadRequest {
            adapter: Serial::new("AB1234G000").unwrap(),
            device: 0x11,
            function: ReadFunction::Holding,
            base: 0,
            count: 60,
        });
        assert_eq!(
            frame.encode().unwrap(),
            hex("59590001001c010241423132333447303030000000000000000811030000003c474b")
        );
    }

    #[test]
    fn encodes_the_spec_constructed_write() {
        let frame = Frame::WriteRequest(WriteRequest {
            adapter: Serial::new("AB1234G567").unwrap(),
            device: 0x11,
            register: 116,
            value: 55,
        });
        assert_eq!(
            frame.encode().unwrap(),
            hex("59590001001c01024142313233344735363700000000000000081106007400378a96")
        );
    }

    #[test]
    fn write_response_length_of_rest_is_computed() {
        let frame = Frame::WriteResponse(WriteResponse {
            adapter: Serial::CLIENT_DEFAULT,
            device: 0x11,
            inverter: Serial::new("SA1234G567").unwrap(),
            register: 116,
            value: 55,
        });
        let bytes = frame.encode().unwrap();
        assert_eq!(bytes.len(), 44);
        assert_eq!(bytes[25], 18);
        assert_eq!(Frame::decode(&bytes).unwrap(), frame);
    }

    #[test]
    fn refuses_counts_outside_one_to_sixty() {
        for count in [0, 61, 125] {
            let frame = Frame::ReadRequest(ReadRequest {
                adapter: Serial::CLIENT_DEFAULT,
                device: 0x11,
                function: ReadFunction::Input,
                base: 0,
                count,
            });
            assert!(
                matches!(frame.encode(), Err(EncodeError::Count { count: c, .. }) if c == count)
            );
        }
        let past_end = Frame::ReadRequest(ReadRequest {
            adapter: Serial::CLIENT_DEFAULT,
            device: 0x11,
            function: ReadFunction::Input,
            base: 65530,
            count: 10,
        });
        assert!(matches!(past_end.encode(), Err(EncodeError::Range { .. })));
    }

    #[test]
    fn error_reply_matches_by_shape_and_zero_count() {
        let key = ReplyKey::Read {
            device: 0x31,
            function: ReadFunction::Input,
            base: 180,
            count: 60,
        };
        let err = |count, base| {
            Frame::ErrorResponse(ErrorResponse {
                adapter: Serial::CLIENT_DEFAULT,
                device: 0x31,
                function: 0x04,
                inverter: Serial::CLIENT_DEFAULT,
                base,
                count,
            })
        };
        assert!(key.answered_by(&err(0, 180)));
        assert!(key.answered_by(&err(60, 180)));
        assert!(!key.answered_by(&err(30, 180)));
        assert!(!key.answered_by(&err(60, 0)));
    }

    #[test]
    fn lan_config_round_trips() {
        let frame = Frame::LanConfig(LanConfig {
            adapter: Serial::new("WO0000G000").unwrap(),
            ip: "000.000.0.00".into(),
            netmask: "000.000.000.0".into(),
            gateway: "000.000.0.0".into(),
            trailer: [0xb4, 0xf2],
        });
        let bytes = frame.encode().unwrap();
        assert_eq!(
            bytes,
            hex(
                "5959000100400102574f3030303047303030000000000000002c3030302e3030302e302e30302c3030302e3030302e3030302e302c3030302e3030302e302e300d0a0d0ab4f2"
            )
        );
        assert_eq!(Frame::decode(&bytes).unwrap(), frame);
    }
}
