//! The wire format: the 25-byte envelope, every payload layout the spec gives, and the
//! command ids.
//!
//! Parsing is two steps, as in the rusticata parsers: [`RawFrame::parse`] checks the envelope
//! (magic, length, tail, checksum) and borrows the payload; [`Payload::parse`] then reads the
//! payload by its command with the nom `parse_*` functions of this module. [`parse_packet`]
//! walks a whole UDP packet, which may hold several datagrams: a datagram with an unknown
//! command becomes [`Payload::Raw`], and a datagram whose payload does not fit its layout is an
//! error for that datagram only: the length field still says where the next one starts.
//!
//! Encoding is canonical: a parsed datagram encodes back to its bytes, except that the
//! checksum is always written as the byte sum mod 65536 (the two conventions only differ above
//! 257 bytes).

mod check;
mod codes;
mod error;
mod ids;
mod payload;

pub use check::{RoundTripMismatch, check_round_trip};
pub use codes::{
    Command, ConfigAction, CurrentState, DeviceType, ErrorFlags, GunState, Language, OfflineCharge,
    OutputState, ReservationResult, StartError, TemperatureUnit,
};
pub use error::{EncodeError, FrameError, PayloadError};
pub use ids::{FixedStr, Password, PasswordError, Serial, SerialParseError, TextTooLong};
pub use payload::{
    Brightness, ChargeStart, ChargeStartResponse, ChargeStop, ChargeStopResponse, ChargingStatus,
    ConfigValue, Current, CurrentChargeRecord, CurrentChargeRecordAck, Energy, Limit, Login,
    LoginExtension, Nickname, PResult, PhaseReading, Schedule, ScheduleSlot, Status, SystemTime,
    SystemTimeForm, Temperature, Version, Voltage, WifiInfo, parse_brightness, parse_charge_start,
    parse_charge_start_response, parse_charge_stop, parse_charge_stop_response,
    parse_charging_status, parse_config_value, parse_current_charge_record,
    parse_current_charge_record_ack, parse_empty, parse_login, parse_nickname, parse_opt_byte,
    parse_schedule, parse_status, parse_system_time, parse_version, parse_wifi_info,
};

/// First two bytes of every datagram.
pub const MAGIC: [u8; 2] = [0x06, 0x01];
/// Last two bytes of every datagram.
pub const TAIL: [u8; 2] = [0x0f, 0x02];
/// Bytes before the payload.
pub const HEADER_LEN: usize = 21;
/// Envelope size: header, checksum and tail.
pub const OVERHEAD: usize = 25;
/// Largest payload the 16-bit length field allows.
pub const MAX_PAYLOAD: usize = u16::MAX as usize - OVERHEAD;
/// The UDP port the app side binds.
pub const APP_PORT: u16 = 28376;

/// Which reduction of the byte sum a received checksum matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumConvention {
    /// Sum mod 65536 (firmware routine; what this crate sends). When the sum is below 65535
    /// both conventions agree and this one is reported.
    Mod65536,
    /// Sum mod 65535 (most open implementations).
    Mod65535,
}

/// The byte sum of `bytes`, as the checksum wants it before reduction.
pub fn byte_sum(bytes: &[u8]) -> u64 {
    // A datagram is at most 65535 bytes, so a u32 per 64 KiB chunk cannot overflow; summing in
    // u32 lets the compiler vectorise the loop.
    bytes
        .chunks(1 << 16)
        .map(|c| u64::from(c.iter().map(|&b| u32::from(b)).sum::<u32>()))
        .sum()
}

/// A datagram whose envelope has been checked; the payload is borrowed and not yet read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawFrame<'a> {
    /// Key type (always 0 so far).
    pub key_type: u8,
    /// Charger serial.
    pub serial: Serial,
    /// Password field.
    pub password: Password,
    /// Command id.
    pub command: Command,
    /// Payload bytes.
    pub payload: &'a [u8],
    /// The checksum field.
    pub checksum: u16,
    /// The convention the checksum matched.
    pub convention: ChecksumConvention,
}

impl<'a> RawFrame<'a> {
    /// Checks the envelope of the datagram at the start of `buf` and returns it with the bytes
    /// after it. `offset` (the position of `buf` in its UDP packet) only goes into errors.
    pub fn parse(buf: &'a [u8], offset: usize) -> Result<(Self, &'a [u8]), FrameError> {
        let available = buf.len();
        if available < OVERHEAD {
            return Err(FrameError::TooShort { offset, available });
        }
        if buf[..2] != MAGIC {
            return Err(FrameError::BadMagic {
                offset,
                found: [buf[0], buf[1]],
            });
        }
        let declared = u16::from_be_bytes([buf[2], buf[3]]);
        let len = usize::from(declared);
        if len < OVERHEAD || len > available {
            return Err(FrameError::BadLength {
                offset,
                declared,
                available,
            });
        }
        let (frame, rest) = buf.split_at(len);
        if frame[len - 2..] != TAIL {
            return Err(FrameError::BadTail {
                offset,
                found: [frame[len - 2], frame[len - 1]],
            });
        }
        let header = &frame[..HEADER_LEN];
        let key_type = header[4];
        let mut serial = [0u8; 8];
        serial.copy_from_slice(&header[5..13]);
        let mut password = [0u8; 6];
        password.copy_from_slice(&header[13..19]);
        let serial = Serial(serial);
        let command = Command(u16::from_be_bytes([header[19], header[20]]));
        let checksum = u16::from_be_bytes([frame[len - 4], frame[len - 3]]);
        let sum = byte_sum(&frame[..len - 4]);
        // Both remainders are below 65536, so the casts are exact.
        let mod_65536 = (sum % 65536) as u16;
        let mod_65535 = (sum % 65535) as u16;
        let convention = if checksum == mod_65536 {
            ChecksumConvention::Mod65536
        } else if checksum == mod_65535 {
            ChecksumConvention::Mod65535
        } else {
            return Err(FrameError::BadChecksum {
                serial,
                command,
                declared: checksum,
                mod_65536,
                mod_65535,
            });
        };
        Ok((
            Self {
                key_type,
                serial,
                password: Password(password),
                command,
                payload: &frame[HEADER_LEN..len - 4],
                checksum,
                convention,
            },
            rest,
        ))
    }

    /// Reads the payload by its command.
    pub fn decode(&self) -> Result<Datagram, FrameError> {
        let payload =
            Payload::parse(self.command, self.payload).map_err(|source| FrameError::Payload {
                serial: self.serial,
                command: self.command,
                len: self.payload.len(),
                source,
            })?;
        Ok(Datagram {
            key_type: self.key_type,
            serial: self.serial,
            password: self.password,
            payload,
        })
    }
}

/// One EM datagram: the envelope fields and the decoded payload. The command id is implied by
/// the payload ([`Datagram::command`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Key type (always 0 so far).
    pub key_type: u8,
    /// Charger serial.
    pub serial: Serial,
    /// Password: the charger password app → charger, `ff` × 6 charger → app.
    pub password: Password,
    /// Payload.
    pub payload: Payload,
}

impl Datagram {
    /// A datagram from the app to the charger `serial`, carrying `password`.
    pub fn to_charger(serial: Serial, password: Password, payload: Payload) -> Self {
        Self {
            key_type: 0,
            serial,
            password,
            payload,
        }
    }

    /// A datagram from the charger `serial` (password field `ff` × 6).
    pub fn from_charger(serial: Serial, payload: Payload) -> Self {
        Self {
            key_type: 0,
            serial,
            password: Password::CHARGER,
            payload,
        }
    }

    /// The command id.
    pub fn command(&self) -> Command {
        self.payload.command()
    }

    /// The datagram's bytes.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(OVERHEAD + 80);
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// Appends the datagram's bytes to `out` (on error `out` is left unchanged).
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let start = out.len();
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&[0, 0]);
        out.push(self.key_type);
        out.extend_from_slice(&self.serial.0);
        out.extend_from_slice(&self.password.0);
        out.extend_from_slice(&self.command().0.to_be_bytes());
        self.payload.encode(out);
        let payload_len = out.len() - start - HEADER_LEN;
        let Ok(total) = u16::try_from(payload_len + OVERHEAD) else {
            out.truncate(start);
            return Err(EncodeError::TooLong {
                command: self.command(),
                len: payload_len,
            });
        };
        out[start + 2..start + 4].copy_from_slice(&total.to_be_bytes());
        // Reduced mod 65536, so the cast is exact.
        let checksum = (byte_sum(&out[start..]) % 65536) as u16;
        out.extend_from_slice(&checksum.to_be_bytes());
        out.extend_from_slice(&TAIL);
        Ok(())
    }
}

/// Parses the datagram at the start of `buf`; returns it with the bytes after it.
pub fn parse_datagram(buf: &[u8]) -> Result<(Datagram, &[u8]), FrameError> {
    let (frame, rest) = RawFrame::parse(buf, 0)?;
    Ok((frame.decode()?, rest))
}

/// Iterator over the datagrams of one UDP packet; see [`parse_packet`].
#[derive(Debug, Clone)]
pub struct Datagrams<'a> {
    buf: &'a [u8],
    offset: usize,
    done: bool,
}

impl<'a> Datagrams<'a> {
    /// Iterates over the datagrams in `packet`.
    pub fn new(packet: &'a [u8]) -> Self {
        Self {
            buf: packet,
            offset: 0,
            done: false,
        }
    }

    /// Next envelope without decoding its payload.
    pub fn next_frame(&mut self) -> Option<Result<RawFrame<'a>, FrameError>> {
        if self.done || self.buf.is_empty() {
            return None;
        }
        match RawFrame::parse(self.buf, self.offset) {
            Ok((frame, rest)) => {
                self.offset += self.buf.len() - rest.len();
                self.buf = rest;
                Some(Ok(frame))
            }
            Err(FrameError::BadChecksum {
                serial,
                command,
                declared,
                mod_65536,
                mod_65535,
            }) => {
                // Magic, length and tail were sound, so the length can be trusted.
                let len = usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]]));
                self.offset += len;
                self.buf = &self.buf[len..];
                Some(Err(FrameError::BadChecksum {
                    serial,
                    command,
                    declared,
                    mod_65536,
                    mod_65535,
                }))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl Iterator for Datagrams<'_> {
    type Item = Result<Datagram, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_frame().map(|r| r.and_then(|f| f.decode()))
    }
}

/// Every datagram in one UDP packet, in order.
///
/// A datagram with a bad checksum or a payload that does not fit its command is an `Err` in
/// its place and parsing goes on after it. Bad magic, an impossible length field, a bad tail or
/// fewer than 25 bytes left end the walk with one last `Err`, since the next datagram's start
/// is then unknown. An empty packet gives an empty list.
pub fn parse_packet(packet: &[u8]) -> Vec<Result<Datagram, FrameError>> {
    Datagrams::new(packet).collect()
}

/// The decoded payload of a datagram. Each variant belongs to one command; a command this crate
/// has no layout for becomes [`Payload::Raw`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Payload {
    /// 0x0001 charger announcement.
    Login(Login),
    /// 0x0002 answer to a login request with the right password.
    LoginResponse(Login),
    /// 0x0003 charger keep-alive.
    Heading,
    /// 0x0004 live measurements.
    Status(Status),
    /// 0x0005 session report.
    ChargingStatus(ChargingStatus),
    /// 0x0006 session report on request.
    ChargingStatusResponse(ChargingStatus),
    /// 0x0007 charge start result.
    ChargeStartResponse(ChargeStartResponse),
    /// 0x0008 charge stop result.
    ChargeStopResponse(ChargeStopResponse),
    /// 0x0009 current charge record.
    CurrentChargeRecord(CurrentChargeRecord),
    /// 0x000D status record (status layout).
    StatusRecord(Status),
    /// 0x0101 system time answer or report.
    SystemTimeResponse(SystemTime),
    /// 0x0106 versions.
    VersionResponse(Version),
    /// 0x0107 configured maximum current, A.
    MaxCurrentResponse(ConfigValue<u8>),
    /// 0x0108 nickname.
    NicknameResponse(Nickname),
    /// 0x010D offline charge / start mode.
    OfflineChargeResponse(ConfigValue<OfflineCharge>),
    /// 0x010E weekly schedule.
    ScheduleResponse(Schedule),
    /// 0x010F language.
    LanguageResponse(ConfigValue<Language>),
    /// 0x0112 temperature unit.
    TemperatureUnitResponse(ConfigValue<TemperatureUnit>),
    /// 0x0155 wrong password.
    PasswordError,
    /// 0x0162 screen brightness.
    BrightnessResponse(Brightness),
    /// 0x010A Wi-Fi settings (the passphrase is masked in `Debug`).
    WifiInfoResponse(WifiInfo),

    /// 0x8001 login confirm (payload `00`).
    LoginConfirm(Option<u8>),
    /// 0x8002 login request (payload `00`, or empty).
    RequestLogin(Option<u8>),
    /// 0x8003 heading answer (payload `00`).
    HeadingResponse(Option<u8>),
    /// 0x8004 status ack (payload `01`).
    StatusAck(Option<u8>),
    /// 0x8005 charging status ack (payload `00`).
    ChargingStatusAck(Option<u8>),
    /// 0x8006 charging status request (payload `00`).
    RequestChargingStatus(Option<u8>),
    /// 0x8007 charge start.
    ChargeStart(ChargeStart),
    /// 0x8008 charge stop.
    ChargeStop(ChargeStop),
    /// 0x8009 current charge record ack.
    CurrentChargeRecordAck(CurrentChargeRecordAck),
    /// 0x800D status record request (empty).
    RequestStatusRecord,
    /// 0x8101 system time SET or GET.
    SystemTime(SystemTime),
    /// 0x8106 version request (empty).
    GetVersion,
    /// 0x8107 configured maximum current SET or GET.
    MaxCurrent(ConfigValue<u8>),
    /// 0x8108 nickname SET or GET.
    Nickname(Nickname),
    /// 0x810D offline charge SET or GET.
    OfflineCharge(ConfigValue<OfflineCharge>),
    /// 0x810E weekly schedule SET or GET.
    Schedule(Schedule),
    /// 0x810F language SET or GET.
    Language(ConfigValue<Language>),
    /// 0x8112 temperature unit SET or GET.
    TemperatureUnit(ConfigValue<TemperatureUnit>),
    /// 0x8162 screen brightness SET or GET.
    Brightness(Brightness),

    /// Any command without a known layout, bytes as received.
    Raw {
        /// Command id.
        command: Command,
        /// Payload bytes.
        bytes: Vec<u8>,
    },
}

/// Runs a payload parser and requires it to consume everything. Not inlined, so that
/// [`Payload::parse`] stays a small dispatch instead of one huge stack frame for all layouts.
#[inline(never)]
fn whole<'a, T>(
    input: &'a [u8],
    parser: impl Fn(&'a [u8]) -> PResult<'a, T>,
) -> Result<T, PayloadError> {
    match parser(input) {
        Ok(([], v)) => Ok(v),
        Ok((rest, _)) => Err(PayloadError::Length {
            expected: "no trailing bytes",
            found: input.len() - rest.len(),
        }),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e),
        // Complete parsers never ask for more input; treat it as a short payload anyway.
        Err(nom::Err::Incomplete(_)) => Err(PayloadError::Length {
            expected: "more bytes",
            found: input.len(),
        }),
    }
}

impl Payload {
    /// Reads `bytes` with the layout of `command`.
    pub fn parse(command: Command, bytes: &[u8]) -> Result<Self, PayloadError> {
        let i = bytes;
        Ok(match command {
            Command::LOGIN => Self::Login(whole(i, parse_login)?),
            Command::LOGIN_RESPONSE => Self::LoginResponse(whole(i, parse_login)?),
            Command::HEADING => {
                whole(i, parse_empty)?;
                Self::Heading
            }
            Command::STATUS => Self::Status(whole(i, parse_status)?),
            Command::CHARGING_STATUS => Self::ChargingStatus(whole(i, parse_charging_status)?),
            Command::CHARGING_STATUS_RESPONSE => {
                Self::ChargingStatusResponse(whole(i, parse_charging_status)?)
            }
            Command::CHARGE_START_RESPONSE => {
                Self::ChargeStartResponse(whole(i, parse_charge_start_response)?)
            }
            Command::CHARGE_STOP_RESPONSE => {
                Self::ChargeStopResponse(whole(i, parse_charge_stop_response)?)
            }
            Command::CURRENT_CHARGE_RECORD => {
                Self::CurrentChargeRecord(whole(i, parse_current_charge_record)?)
            }
            Command::STATUS_RECORD => Self::StatusRecord(whole(i, parse_status)?),
            Command::SYSTEM_TIME_RESPONSE => Self::SystemTimeResponse(whole(i, parse_system_time)?),
            Command::VERSION_RESPONSE => Self::VersionResponse(whole(i, parse_version)?),
            Command::MAX_CURRENT_RESPONSE => {
                Self::MaxCurrentResponse(whole(i, parse_config_value)?)
            }
            Command::NICKNAME_RESPONSE => Self::NicknameResponse(whole(i, parse_nickname)?),
            Command::OFFLINE_CHARGE_RESPONSE => {
                Self::OfflineChargeResponse(whole(i, parse_config_value)?)
            }
            Command::SCHEDULE_RESPONSE => Self::ScheduleResponse(whole(i, parse_schedule)?),
            Command::LANGUAGE_RESPONSE => Self::LanguageResponse(whole(i, parse_config_value)?),
            Command::TEMPERATURE_UNIT_RESPONSE => {
                Self::TemperatureUnitResponse(whole(i, parse_config_value)?)
            }
            Command::PASSWORD_ERROR => {
                whole(i, parse_empty)?;
                Self::PasswordError
            }
            Command::BRIGHTNESS_RESPONSE => Self::BrightnessResponse(whole(i, parse_brightness)?),
            Command::WIFI_INFO_RESPONSE => Self::WifiInfoResponse(whole(i, parse_wifi_info)?),
            Command::LOGIN_CONFIRM => Self::LoginConfirm(whole(i, parse_opt_byte)?),
            Command::REQUEST_LOGIN => Self::RequestLogin(whole(i, parse_opt_byte)?),
            Command::HEADING_RESPONSE => Self::HeadingResponse(whole(i, parse_opt_byte)?),
            Command::STATUS_ACK => Self::StatusAck(whole(i, parse_opt_byte)?),
            Command::CHARGING_STATUS_ACK => Self::ChargingStatusAck(whole(i, parse_opt_byte)?),
            Command::REQUEST_CHARGING_STATUS => {
                Self::RequestChargingStatus(whole(i, parse_opt_byte)?)
            }
            Command::CHARGE_START => Self::ChargeStart(whole(i, parse_charge_start)?),
            Command::CHARGE_STOP => Self::ChargeStop(whole(i, parse_charge_stop)?),
            Command::CURRENT_CHARGE_RECORD_ACK => {
                Self::CurrentChargeRecordAck(whole(i, parse_current_charge_record_ack)?)
            }
            Command::REQUEST_STATUS_RECORD => {
                whole(i, parse_empty)?;
                Self::RequestStatusRecord
            }
            Command::SYSTEM_TIME => Self::SystemTime(whole(i, parse_system_time)?),
            Command::GET_VERSION => {
                whole(i, parse_empty)?;
                Self::GetVersion
            }
            Command::MAX_CURRENT => Self::MaxCurrent(whole(i, parse_config_value)?),
            Command::NICKNAME => Self::Nickname(whole(i, parse_nickname)?),
            Command::OFFLINE_CHARGE => Self::OfflineCharge(whole(i, parse_config_value)?),
            Command::SCHEDULE => Self::Schedule(whole(i, parse_schedule)?),
            Command::LANGUAGE => Self::Language(whole(i, parse_config_value)?),
            Command::TEMPERATURE_UNIT => Self::TemperatureUnit(whole(i, parse_config_value)?),
            Command::BRIGHTNESS => Self::Brightness(whole(i, parse_brightness)?),
            command => Self::Raw {
                command,
                bytes: bytes.to_vec(),
            },
        })
    }

    /// The command id this payload travels under.
    pub fn command(&self) -> Command {
        match self {
            Self::Login(_) => Command::LOGIN,
            Self::LoginResponse(_) => Command::LOGIN_RESPONSE,
            Self::Heading => Command::HEADING,
            Self::Status(_) => Command::STATUS,
            Self::ChargingStatus(_) => Command::CHARGING_STATUS,
            Self::ChargingStatusResponse(_) => Command::CHARGING_STATUS_RESPONSE,
            Self::ChargeStartResponse(_) => Command::CHARGE_START_RESPONSE,
            Self::ChargeStopResponse(_) => Command::CHARGE_STOP_RESPONSE,
            Self::CurrentChargeRecord(_) => Command::CURRENT_CHARGE_RECORD,
            Self::StatusRecord(_) => Command::STATUS_RECORD,
            Self::SystemTimeResponse(_) => Command::SYSTEM_TIME_RESPONSE,
            Self::VersionResponse(_) => Command::VERSION_RESPONSE,
            Self::MaxCurrentResponse(_) => Command::MAX_CURRENT_RESPONSE,
            Self::NicknameResponse(_) => Command::NICKNAME_RESPONSE,
            Self::OfflineChargeResponse(_) => Command::OFFLINE_CHARGE_RESPONSE,
            Self::ScheduleResponse(_) => Command::SCHEDULE_RESPONSE,
            Self::LanguageResponse(_) => Command::LANGUAGE_RESPONSE,
            Self::TemperatureUnitResponse(_) => Command::TEMPERATURE_UNIT_RESPONSE,
            Self::PasswordError => Command::PASSWORD_ERROR,
            Self::BrightnessResponse(_) => Command::BRIGHTNESS_RESPONSE,
            Self::WifiInfoResponse(_) => Command::WIFI_INFO_RESPONSE,
            Self::LoginConfirm(_) => Command::LOGIN_CONFIRM,
            Self::RequestLogin(_) => Command::REQUEST_LOGIN,
            Self::HeadingResponse(_) => Command::HEADING_RESPONSE,
            Self::StatusAck(_) => Command::STATUS_ACK,
            Self::ChargingStatusAck(_) => Command::CHARGING_STATUS_ACK,
            Self::RequestChargingStatus(_) => Command::REQUEST_CHARGING_STATUS,
            Self::ChargeStart(_) => Command::CHARGE_START,
            Self::ChargeStop(_) => Command::CHARGE_STOP,
            Self::CurrentChargeRecordAck(_) => Command::CURRENT_CHARGE_RECORD_ACK,
            Self::RequestStatusRecord => Command::REQUEST_STATUS_RECORD,
            Self::SystemTime(_) => Command::SYSTEM_TIME,
            Self::GetVersion => Command::GET_VERSION,
            Self::MaxCurrent(_) => Command::MAX_CURRENT,
            Self::Nickname(_) => Command::NICKNAME,
            Self::OfflineCharge(_) => Command::OFFLINE_CHARGE,
            Self::Schedule(_) => Command::SCHEDULE,
            Self::Language(_) => Command::LANGUAGE,
            Self::TemperatureUnit(_) => Command::TEMPERATURE_UNIT,
            Self::Brightness(_) => Command::BRIGHTNESS,
            Self::Raw { command, .. } => *command,
        }
    }

    /// Appends the payload bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Login(p) | Self::LoginResponse(p) => p.encode(out),
            Self::Heading | Self::PasswordError | Self::RequestStatusRecord | Self::GetVersion => {}
            Self::Status(p) | Self::StatusRecord(p) => p.encode(out),
            Self::ChargingStatus(p) | Self::ChargingStatusResponse(p) => p.encode(out),
            Self::ChargeStartResponse(p) => p.encode(out),
            Self::ChargeStopResponse(p) => p.encode(out),
            Self::CurrentChargeRecord(p) => p.encode(out),
            Self::SystemTimeResponse(p) | Self::SystemTime(p) => p.encode(out),
            Self::VersionResponse(p) => p.encode(out),
            Self::MaxCurrentResponse(p) | Self::MaxCurrent(p) => p.encode(out),
            Self::NicknameResponse(p) | Self::Nickname(p) => p.encode(out),
            Self::OfflineChargeResponse(p) | Self::OfflineCharge(p) => p.encode(out),
            Self::ScheduleResponse(p) | Self::Schedule(p) => p.encode(out),
            Self::LanguageResponse(p) | Self::Language(p) => p.encode(out),
            Self::TemperatureUnitResponse(p) | Self::TemperatureUnit(p) => p.encode(out),
            Self::BrightnessResponse(p) | Self::Brightness(p) => out.extend_from_slice(&p.0),
            Self::LoginConfirm(b)
            | Self::RequestLogin(b)
            | Self::HeadingResponse(b)
            | Self::StatusAck(b)
            | Self::ChargingStatusAck(b)
            | Self::RequestChargingStatus(b) => out.extend(b.iter()),
            Self::ChargeStart(p) => p.encode(out),
            Self::ChargeStop(p) => p.encode(out),
            Self::CurrentChargeRecordAck(p) => p.encode(out),
            Self::WifiInfoResponse(p) => p.encode(out),
            Self::Raw { bytes, .. } => out.extend_from_slice(bytes),
        }
    }
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
    fn two_datagrams_and_an_unknown_command_in_one_packet() {
        let heading = hex("06010019009181102751219513ffffffffffff000308800f02");
        let status = hex(
            "06010032009181102751219513ffffffffffff000401092e00000000000000024081589258920102020d000000000b7b0f02",
        );
        let unknown = Datagram::from_charger(
            Serial([1; 8]),
            Payload::Raw {
                command: Command(0x0151),
                bytes: vec![7, 8],
            },
        )
        .encode()
        .unwrap();
        let packet = [heading.clone(), unknown, status.clone()].concat();
        let got = parse_packet(&packet);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].as_ref().unwrap().payload, Payload::Heading);
        assert_eq!(got[1].as_ref().unwrap().command(), Command(0x0151));
        let Payload::Status(s) = &got[2].as_ref().unwrap().payload else {
            panic!("{got:?}")
        };
        assert_eq!(s.l1.voltage.volts(), 235.0);
        assert_eq!(got[2].as_ref().unwrap().encode().unwrap(), status);
    }
}
