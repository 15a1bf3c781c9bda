//! Payload layouts (spec §6): one struct per layout, a nom `parse_*` function and an encoder
//! for each.
//!
//! Structs keep wire values (raw integers in newtypes that know their scale), so a parsed
//! payload re-encodes to the same bytes; the [`crate::model`] turns them into physical units.
//! Telemetry layouts that are known to grow on newer firmware keep unparsed trailing bytes in a
//! `tail` field instead of failing.

use std::fmt;

use nom::bytes::complete::take;
use nom::{IResult, Parser as _};

use super::codes::{
    ConfigAction, CurrentState, DeviceType, ErrorFlags, GunState, OutputState, ReservationResult,
    StartError,
};
use super::error::PayloadError;
use super::ids::{FixedStr, TextTooLong};
use crate::time::EmTime;

/// Result of the payload parsers.
pub type PResult<'a, T> = IResult<&'a [u8], T, PayloadError>;

/// `N` bytes as an array: the building block of the number and text parsers below. These are
/// ordinary nom parsers (`fn(&[u8]) -> IResult`), written here rather than taken from
/// `nom::number::complete` because nom's generic input handling is not inlined across crates,
/// which tripled the cost of a status payload.
#[inline]
fn array<const N: usize>(i: &[u8]) -> PResult<'_, [u8; N]> {
    match i.split_first_chunk::<N>() {
        Some((head, rest)) => Ok((rest, *head)),
        None => Err(nom::Err::Error(PayloadError::Nom {
            kind: nom::error::ErrorKind::Eof,
            remaining: i.len(),
        })),
    }
}

/// A `u8`.
#[inline]
pub(crate) fn be_u8(i: &[u8]) -> PResult<'_, u8> {
    array::<1>(i).map(|(i, [b])| (i, b))
}

/// A big-endian `u16`.
#[inline]
pub(crate) fn be_u16(i: &[u8]) -> PResult<'_, u16> {
    array::<2>(i).map(|(i, b)| (i, u16::from_be_bytes(b)))
}

/// A big-endian `u32`.
#[inline]
pub(crate) fn be_u32(i: &[u8]) -> PResult<'_, u32> {
    array::<4>(i).map(|(i, b)| (i, u32::from_be_bytes(b)))
}

/// A fixed-width text field.
#[inline]
pub(crate) fn fixed<const N: usize>(i: &[u8]) -> PResult<'_, FixedStr<N>> {
    array::<N>(i).map(|(i, b)| (i, FixedStr(b)))
}

fn em_time(i: &[u8]) -> PResult<'_, EmTime> {
    be_u32.map(EmTime).parse(i)
}

/// Small append-only writer for the encoders.
pub(crate) trait Put {
    fn u8(&mut self, v: u8);
    fn u16(&mut self, v: u16);
    fn u32(&mut self, v: u32);
    fn bytes(&mut self, v: &[u8]);
}

impl Put for Vec<u8> {
    fn u8(&mut self, v: u8) {
        self.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        self.extend_from_slice(v);
    }
}

/// A voltage in tenths of a volt.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(transparent)]
pub struct Voltage(pub u16);

impl Voltage {
    /// Volts.
    pub fn volts(self) -> f64 {
        f64::from(self.0) / 10.0
    }
}

/// A current in hundredths of an ampere.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(transparent)]
pub struct Current(pub u16);

impl Current {
    /// Amperes.
    pub fn amps(self) -> f64 {
        f64::from(self.0) / 100.0
    }
}

/// An energy in hundredths of a kWh.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(transparent)]
pub struct Energy(pub u32);

impl Energy {
    /// Kilowatt hours.
    pub fn kwh(self) -> f64 {
        f64::from(self.0) / 100.0
    }
}

/// A temperature as `raw − 20000` hundredths of a degree Celsius; `0xffff` means not available.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Temperature(pub u16);

impl Temperature {
    /// Not available.
    pub const UNAVAILABLE: Self = Self(0xffff);

    /// Degrees Celsius, `None` when not available.
    pub fn celsius(self) -> Option<f64> {
        (self != Self::UNAVAILABLE).then(|| (f64::from(self.0) - 20000.0) / 100.0)
    }

    /// The wire value of a Celsius temperature (clamped to the representable range).
    pub fn from_celsius(c: f64) -> Self {
        let raw = (c * 100.0 + 20000.0).round().clamp(0.0, 65534.0);
        // In range after the clamp, so the cast is exact.
        Self(raw as u16)
    }
}

impl Default for Temperature {
    fn default() -> Self {
        Self::UNAVAILABLE
    }
}

/// A 16-bit limit where `0xffff` means "none" (durations, energies, param 3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Limit(pub u16);

impl Limit {
    /// No limit.
    pub const NONE: Self = Self(0xffff);

    /// The limit, `None` when unset (0xffff).
    pub fn get(self) -> Option<u16> {
        (self != Self::NONE).then_some(self.0)
    }
}

impl Default for Limit {
    fn default() -> Self {
        Self::NONE
    }
}

impl fmt::Debug for Voltage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Voltage({} = {:.1} V)", self.0, self.volts())
    }
}

impl fmt::Debug for Current {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Current({} = {:.2} A)", self.0, self.amps())
    }
}

impl fmt::Debug for Energy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Energy({} = {:.2} kWh)", self.0, self.kwh())
    }
}

impl fmt::Debug for Temperature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.celsius() {
            Some(c) => write!(f, "Temperature({} = {c:.2} °C)", self.0),
            None => write!(f, "Temperature({:#06x} unavailable)", self.0),
        }
    }
}

impl fmt::Debug for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get() {
            Some(v) => write!(f, "Limit({v})"),
            None => f.write_str("Limit(none)"),
        }
    }
}

fn limit(i: &[u8]) -> PResult<'_, Limit> {
    be_u16.map(Limit).parse(i)
}

fn ensure_empty(
    i: &[u8],
    expected: &'static str,
    total: usize,
) -> Result<(), nom::Err<PayloadError>> {
    if i.is_empty() {
        Ok(())
    } else {
        Err(PayloadError::length(expected, total))
    }
}

// ---------------------------------------------------------------------------------------------
// Login (0x0001) and LoginResponse (0x0002)

/// A text field and its continuation as one string (each cut at its first NUL, then trimmed
/// like [`FixedStr::as_str`]).
fn join<const A: usize, const B: usize>(first: &FixedStr<A>, more: &FixedStr<B>) -> String {
    let joined = [first.as_bytes(), more.as_bytes()].concat();
    let start = joined
        .iter()
        .position(|&b| b != b' ' && b != 0xff)
        .unwrap_or(joined.len());
    let end = joined
        .iter()
        .rposition(|&b| b != b' ' && b != 0xff)
        .map_or(start, |p| p + 1);
    String::from_utf8_lossy(&joined[start..end]).into_owned()
}

/// What follows the 70-byte login layout in the longer variants.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub enum LoginExtension {
    /// The common 70-byte payload.
    None,
    /// A payload of 54..=69 bytes: the hot line is cut short. Holds the payload length.
    Short(u8),
    /// 118 bytes: 48 more bytes of hot line.
    HotLine(FixedStr<48>),
    /// 119 bytes: a flag byte (offset 70) and 48 more bytes of hot line.
    Flag {
        /// Byte 70; some firmware uses it to tell whether single phase can be forced.
        byte70: u8,
        /// Continuation of the hot line.
        hot_line: FixedStr<48>,
    },
    /// 151 bytes: as [`LoginExtension::Flag`] plus 16 more bytes each of brand and model.
    Long {
        /// Byte 70.
        byte70: u8,
        /// Continuation of the hot line.
        hot_line: FixedStr<48>,
        /// Continuation of the brand.
        brand: FixedStr<16>,
        /// Continuation of the model.
        model: FixedStr<16>,
    },
    /// Any other length above 70: the bytes after offset 70, unparsed.
    Other(Vec<u8>),
}

/// The charger's self-description in Login (0x0001) and LoginResponse (0x0002).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Login {
    /// Device type code; decides the phase count.
    pub device_type: DeviceType,
    /// Brand, e.g. "BESEN".
    pub brand: FixedStr<16>,
    /// Model, e.g. "BS20".
    pub model: FixedStr<16>,
    /// Hardware version.
    pub hardware_version: FixedStr<16>,
    /// Maximum power in W.
    pub max_power_w: u32,
    /// Maximum current per phase in A.
    pub max_current_a: u8,
    /// Support contact ("hot line"), first 16 bytes.
    pub hot_line: FixedStr<16>,
    /// Longer variants.
    pub extension: LoginExtension,
}

impl Login {
    /// The brand including its continuation in 151-byte payloads.
    pub fn full_brand(&self) -> String {
        match &self.extension {
            LoginExtension::Long { brand, .. } => join(&self.brand, brand),
            _ => self.brand.as_str(),
        }
    }

    /// The model including its continuation in 151-byte payloads.
    pub fn full_model(&self) -> String {
        match &self.extension {
            LoginExtension::Long { model, .. } => join(&self.model, model),
            _ => self.model.as_str(),
        }
    }

    /// The hot line including its continuation in the longer variants.
    pub fn full_hot_line(&self) -> String {
        match &self.extension {
            LoginExtension::HotLine(more)
            | LoginExtension::Flag { hot_line: more, .. }
            | LoginExtension::Long { hot_line: more, .. } => join(&self.hot_line, more),
            _ => self.hot_line.as_str(),
        }
    }

    /// Byte 70 of the 119- and 151-byte variants.
    pub fn byte70(&self) -> Option<u8> {
        match self.extension {
            LoginExtension::Flag { byte70, .. } | LoginExtension::Long { byte70, .. } => {
                Some(byte70)
            }
            _ => None,
        }
    }

    /// Payload length this value encodes to.
    pub fn encoded_len(&self) -> usize {
        match &self.extension {
            LoginExtension::None => 70,
            LoginExtension::Short(len) => usize::from(*len).clamp(54, 70),
            LoginExtension::HotLine(_) => 118,
            LoginExtension::Flag { .. } => 119,
            LoginExtension::Long { .. } => 151,
            LoginExtension::Other(rest) => 70 + rest.len(),
        }
    }

    /// Appends the payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.u8(self.device_type.0);
        out.bytes(&self.brand.0);
        out.bytes(&self.model.0);
        out.bytes(&self.hardware_version.0);
        out.u32(self.max_power_w);
        out.u8(self.max_current_a);
        match &self.extension {
            LoginExtension::Short(_) => {
                let n = self.encoded_len() - 54;
                out.bytes(&self.hot_line.0[..n]);
            }
            other => {
                out.bytes(&self.hot_line.0);
                match other {
                    LoginExtension::None | LoginExtension::Short(_) => {}
                    LoginExtension::HotLine(more) => out.bytes(&more.0),
                    LoginExtension::Flag { byte70, hot_line } => {
                        out.u8(*byte70);
                        out.bytes(&hot_line.0);
                    }
                    LoginExtension::Long {
                        byte70,
                        hot_line,
                        brand,
                        model,
                    } => {
                        out.u8(*byte70);
                        out.bytes(&hot_line.0);
                        out.bytes(&brand.0);
                        out.bytes(&model.0);
                    }
                    LoginExtension::Other(rest) => out.bytes(rest),
                }
            }
        }
    }
}

/// Parses a Login / LoginResponse payload (54 bytes at least; 70, 118, 119 and 151 known).
pub fn parse_login(input: &[u8]) -> PResult<'_, Login> {
    let total = input.len();
    if total < 54 {
        return Err(PayloadError::length("54 or more", total));
    }
    let (i, (device_type, brand, model, hardware_version, max_power_w, max_current_a)) = (
        be_u8.map(DeviceType),
        fixed::<16>,
        fixed::<16>,
        fixed::<16>,
        be_u32,
        be_u8,
    )
        .parse(input)?;
    let (hot_line, extension, i) = if total < 70 {
        let mut hot = [0u8; 16];
        hot[..i.len()].copy_from_slice(i);
        // total < 70 fits a u8.
        (
            FixedStr(hot),
            LoginExtension::Short(total as u8),
            &i[i.len()..],
        )
    } else {
        let (i, hot_line) = fixed::<16>(i)?;
        match total {
            70 => (hot_line, LoginExtension::None, i),
            118 => {
                let (i, more) = fixed::<48>(i)?;
                (hot_line, LoginExtension::HotLine(more), i)
            }
            119 => {
                let (i, (byte70, more)) = (be_u8, fixed::<48>).parse(i)?;
                (
                    hot_line,
                    LoginExtension::Flag {
                        byte70,
                        hot_line: more,
                    },
                    i,
                )
            }
            151 => {
                let (i, (byte70, more, brand, model)) =
                    (be_u8, fixed::<48>, fixed::<16>, fixed::<16>).parse(i)?;
                (
                    hot_line,
                    LoginExtension::Long {
                        byte70,
                        hot_line: more,
                        brand,
                        model,
                    },
                    i,
                )
            }
            _ => (hot_line, LoginExtension::Other(i.to_vec()), &i[i.len()..]),
        }
    };
    Ok((
        i,
        Login {
            device_type,
            brand,
            model,
            hardware_version,
            max_power_w,
            max_current_a,
            hot_line,
            extension,
        },
    ))
}

// ---------------------------------------------------------------------------------------------
// SingleACStatus (0x0004, also 0x000D)

/// Voltage and current of one phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct PhaseReading {
    /// Voltage.
    pub voltage: Voltage,
    /// Current.
    pub current: Current,
}

fn phase(i: &[u8]) -> PResult<'_, PhaseReading> {
    (be_u16.map(Voltage), be_u16.map(Current))
        .map(|(voltage, current)| PhaseReading { voltage, current })
        .parse(i)
}

/// Live measurements (0x0004, and 0x000D on some firmware): 25 bytes on single-phase units,
/// 33 on three-phase units, longer on newer firmware.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct Status {
    /// Line id (1 seen).
    pub line_id: u8,
    /// Phase L1.
    pub l1: PhaseReading,
    /// Power in W (some three-phase firmware reports one phase only).
    pub power_w: u32,
    /// Cumulative energy counter.
    pub energy_counter: Energy,
    /// Inner temperature.
    pub inner_temperature: Temperature,
    /// Outer temperature (often a copy of the inner one).
    pub outer_temperature: Temperature,
    /// Emergency button state (1 in normal operation; meaning of other values uncertain).
    pub emergency: u8,
    /// Plug state.
    pub gun_state: GunState,
    /// Output state.
    pub output_state: OutputState,
    /// Charger state.
    pub current_state: CurrentState,
    /// Error bits.
    pub errors: ErrorFlags,
    /// Phases L2 and L3 (payloads of 33 bytes or more).
    pub l2_l3: Option<[PhaseReading; 2]>,
    /// Bytes after the known fields (after offset 33, or after 25 when L2/L3 are absent).
    pub tail: Vec<u8>,
}

impl Status {
    /// The alternate state of newer firmware: payload byte 34 when it is 18 or 19.
    pub fn alternate_state(&self) -> Option<CurrentState> {
        let byte = if self.l2_l3.is_some() {
            self.tail.get(1)
        } else {
            None
        };
        byte.copied()
            .filter(|b| matches!(b, 18 | 19))
            .map(CurrentState)
    }

    /// The charger state, with the alternate state applied.
    pub fn effective_state(&self) -> CurrentState {
        self.alternate_state().unwrap_or(self.current_state)
    }

    /// Appends the payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.u8(self.line_id);
        out.u16(self.l1.voltage.0);
        out.u16(self.l1.current.0);
        out.u32(self.power_w);
        out.u32(self.energy_counter.0);
        out.u16(self.inner_temperature.0);
        out.u16(self.outer_temperature.0);
        out.u8(self.emergency);
        out.u8(self.gun_state.0);
        out.u8(self.output_state.0);
        out.u8(self.current_state.0);
        out.u32(self.errors.0);
        if let Some([l2, l3]) = &self.l2_l3 {
            for p in [l2, l3] {
                out.u16(p.voltage.0);
                out.u16(p.current.0);
            }
        }
        out.bytes(&self.tail);
    }
}

/// Parses a status payload (25 bytes at least).
pub fn parse_status(input: &[u8]) -> PResult<'_, Status> {
    let total = input.len();
    if total < 25 {
        return Err(PayloadError::length("25 or more", total));
    }
    let (i, (line_id, l1, power_w, energy, inner, outer)) = (
        be_u8,
        phase,
        be_u32,
        be_u32.map(Energy),
        be_u16.map(Temperature),
        be_u16.map(Temperature),
    )
        .parse(input)?;
    let (i, (emergency, gun, output, state, errors)) = (
        be_u8,
        be_u8.map(GunState),
        be_u8.map(OutputState),
        be_u8.map(CurrentState),
        be_u32.map(ErrorFlags),
    )
        .parse(i)?;
    let (i, l2_l3) = if total >= 33 {
        let (i, (l2, l3)) = (phase, phase).parse(i)?;
        (i, Some([l2, l3]))
    } else {
        (i, None)
    };
    Ok((
        &i[i.len()..],
        Status {
            line_id,
            l1,
            power_w,
            energy_counter: energy,
            inner_temperature: inner,
            outer_temperature: outer,
            emergency,
            gun_state: gun,
            output_state: output,
            current_state: state,
            errors,
            l2_l3,
            tail: i.to_vec(),
        },
    ))
}

// ---------------------------------------------------------------------------------------------
// SingleACChargingStatus (0x0005, 0x0006)

/// The ongoing, planned or last session (0x0005 unsolicited, 0x0006 on request); 74 bytes or more.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct ChargingStatus {
    /// Port / line id.
    pub line_id: u8,
    /// Charger state.
    pub current_state: CurrentState,
    /// Charge id.
    pub charge_id: FixedStr<16>,
    /// Start type (1).
    pub start_type: u8,
    /// Charge type (1).
    pub charge_type: u8,
    /// Maximum duration in minutes.
    pub max_duration_min: Limit,
    /// Maximum energy in hundredths of a kWh.
    pub max_energy: Limit,
    /// Param 3 (hundredths, meaning unknown).
    pub param3: Limit,
    /// Planned start.
    pub reservation_time: EmTime,
    /// User id.
    pub user_id: FixedStr<16>,
    /// Maximum current of this session in A.
    pub max_current_a: u8,
    /// Session start.
    pub start_time: EmTime,
    /// Duration in seconds (0 for a planned session).
    pub duration_s: u32,
    /// Energy counter at start (0 once finished).
    pub start_energy: Energy,
    /// Energy counter now.
    pub current_energy: Energy,
    /// Energy charged in this session.
    pub charged_energy: Energy,
    /// Price in hundredths (currency unspecified).
    pub price: u32,
    /// Fee type.
    pub fee_type: u8,
    /// Fee in hundredths.
    pub fee: u16,
    /// Bytes after offset 74.
    pub tail: Vec<u8>,
}

impl ChargingStatus {
    /// The alternate state of newer firmware: byte 74 when it is 18 or 19.
    pub fn alternate_state(&self) -> Option<CurrentState> {
        self.tail
            .first()
            .copied()
            .filter(|b| matches!(b, 18 | 19))
            .map(CurrentState)
    }

    /// The state with the alternate state applied.
    pub fn effective_state(&self) -> CurrentState {
        self.alternate_state().unwrap_or(self.current_state)
    }

    /// Appends the payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.u8(self.line_id);
        out.u8(self.current_state.0);
        out.bytes(&self.charge_id.0);
        out.u8(self.start_type);
        out.u8(self.charge_type);
        out.u16(self.max_duration_min.0);
        out.u16(self.max_energy.0);
        out.u16(self.param3.0);
        out.u32(self.reservation_time.0);
        out.bytes(&self.user_id.0);
        out.u8(self.max_current_a);
        out.u32(self.start_time.0);
        out.u32(self.duration_s);
        out.u32(self.start_energy.0);
        out.u32(self.current_energy.0);
        out.u32(self.charged_energy.0);
        out.u32(self.price);
        out.u8(self.fee_type);
        out.u16(self.fee);
        out.bytes(&self.tail);
    }
}

/// Parses a charging status payload (74 bytes at least).
pub fn parse_charging_status(input: &[u8]) -> PResult<'_, ChargingStatus> {
    let total = input.len();
    if total < 74 {
        return Err(PayloadError::length("74 or more", total));
    }
    let (
        i,
        (line_id, state, charge_id, start_type, charge_type, max_duration_min, max_energy, param3),
    ) = (
        be_u8,
        be_u8.map(CurrentState),
        fixed::<16>,
        be_u8,
        be_u8,
        limit,
        limit,
        limit,
    )
        .parse(input)?;
    let (i, (reservation_time, user_id, max_current_a, start_time, duration_s)) =
        (em_time, fixed::<16>, be_u8, em_time, be_u32).parse(i)?;
    let (i, (start_energy, current_energy, charged_energy, price, fee_type, fee)) = (
        be_u32.map(Energy),
        be_u32.map(Energy),
        be_u32.map(Energy),
        be_u32,
        be_u8,
        be_u16,
    )
        .parse(i)?;
    Ok((
        &i[i.len()..],
        ChargingStatus {
            line_id,
            current_state: state,
            charge_id,
            start_type,
            charge_type,
            max_duration_min,
            max_energy,
            param3,
            reservation_time,
            user_id,
            max_current_a,
            start_time,
            duration_s,
            start_energy,
            current_energy,
            charged_energy,
            price,
            fee_type,
            fee,
            tail: i.to_vec(),
        },
    ))
}

// ---------------------------------------------------------------------------------------------
// ChargeStart (0x8007) and its response (0x0007)

/// Start (or plan) a session (0x8007, 47 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ChargeStart {
    /// Line id: 1 on single-phase units (and, with charge type 11, to force single phase).
    pub line_id: u8,
    /// Who starts the session.
    pub user_id: FixedStr<16>,
    /// Session id.
    pub charge_id: FixedStr<16>,
    /// Whether the start time lies in the future.
    pub is_reservation: bool,
    /// Start time ("now" when not a reservation).
    pub start_time: EmTime,
    /// Start type (always 1).
    pub start_type: u8,
    /// Charge type (1; 11 forces single phase on capable units).
    pub charge_type: u8,
    /// Maximum duration in minutes.
    pub max_duration_min: Limit,
    /// Maximum energy in hundredths of a kWh.
    pub max_energy: Limit,
    /// Param 3: always [`Limit::NONE`] (0 makes the session stop after a few seconds).
    pub param3: Limit,
    /// Maximum current in A.
    pub max_current_a: u8,
}

impl ChargeStart {
    /// Appends the payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.u8(self.line_id);
        out.bytes(&self.user_id.0);
        out.bytes(&self.charge_id.0);
        out.u8(u8::from(self.is_reservation));
        out.u32(self.start_time.0);
        out.u8(self.start_type);
        out.u8(self.charge_type);
        out.u16(self.max_duration_min.0);
        out.u16(self.max_energy.0);
        out.u16(self.param3.0);
        out.u8(self.max_current_a);
    }
}

/// Parses a charge start payload (exactly 47 bytes).
pub fn parse_charge_start(input: &[u8]) -> PResult<'_, ChargeStart> {
    if input.len() != 47 {
        return Err(PayloadError::length("47", input.len()));
    }
    let (i, (line_id, user_id, charge_id, reservation, start_time, start_type, charge_type)) = (
        be_u8,
        fixed::<16>,
        fixed::<16>,
        be_u8,
        em_time,
        be_u8,
        be_u8,
    )
        .parse(input)?;
    let (i, (max_duration_min, max_energy, param3, max_current_a)) =
        (limit, limit, limit, be_u8).parse(i)?;
    Ok((
        i,
        ChargeStart {
            line_id,
            user_id,
            charge_id,
            is_reservation: reservation != 0,
            start_time,
            start_type,
            charge_type,
            max_duration_min,
            max_energy,
            param3,
            max_current_a,
        },
    ))
}

/// Answer to a charge start (0x0007, 5 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ChargeStartResponse {
    /// Line id.
    pub line_id: u8,
    /// Reservation outcome.
    pub reservation_result: ReservationResult,
    /// Start result (1 seen on success).
    pub start_result: u8,
    /// Error reason (0 = ok).
    pub error: StartError,
    /// Maximum current accepted, A.
    pub max_current_a: u8,
}

impl ChargeStartResponse {
    /// Whether the charger accepted the start: no error and a successful reservation result.
    pub fn is_success(&self) -> bool {
        self.error == StartError::NONE && self.reservation_result.is_success()
    }

    /// Appends the payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.u8(self.line_id);
        out.u8(self.reservation_result.0);
        out.u8(self.start_result);
        out.u8(self.error.0);
        out.u8(self.max_current_a);
    }
}

/// Parses a charge start response (exactly 5 bytes).
pub fn parse_charge_start_response(input: &[u8]) -> PResult<'_, ChargeStartResponse> {
    if input.len() != 5 {
        return Err(PayloadError::length("5", input.len()));
    }
    (
        be_u8,
        be_u8.map(ReservationResult),
        be_u8,
        be_u8.map(StartError),
        be_u8,
    )
        .map(
            |(line_id, reservation_result, start_result, error, max_current_a)| {
                ChargeStartResponse {
                    line_id,
                    reservation_result,
                    start_result,
                    error,
                    max_current_a,
                }
            },
        )
        .parse(input)
}

// ---------------------------------------------------------------------------------------------
// ChargeStop (0x8008) and its response (0x0008)

/// Stop a session, or cancel a planned one (0x8008).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub enum ChargeStop {
    /// The OEM app's 47-byte form: line id, user id, 30 zero bytes.
    Full {
        /// Line id (1).
        line_id: u8,
        /// Who stops the session.
        user_id: FixedStr<16>,
    },
    /// One byte, the line id (sent by one client).
    LineOnly(u8),
    /// Empty payload (sent by one client).
    Empty,
}

impl ChargeStop {
    /// The OEM app's form for `user_id` on line 1.
    pub fn new(user_id: FixedStr<16>) -> Self {
        Self::Full {
            line_id: 1,
            user_id,
        }
    }

    /// Appends the payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Full { line_id, user_id } => {
                out.u8(*line_id);
                out.bytes(&user_id.0);
                out.bytes(&[0; 30]);
            }
            Self::LineOnly(line) => out.u8(*line),
            Self::Empty => {}
        }
    }
}

/// Parses a charge stop payload (47, 1 or 0 bytes; the 30 reserved bytes are not checked).
pub fn parse_charge_stop(input: &[u8]) -> PResult<'_, ChargeStop> {
    match input.len() {
        0 => Ok((input, ChargeStop::Empty)),
        1 => be_u8.map(ChargeStop::LineOnly).parse(input),
        47 => {
            let (i, (line_id, user_id, _zeros)) =
                (be_u8, fixed::<16>, take(30usize)).parse(input)?;
            Ok((i, ChargeStop::Full { line_id, user_id }))
        }
        n => Err(PayloadError::length("0, 1 or 47", n)),
    }
}

/// Answer to a charge stop (0x0008, 3 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ChargeStopResponse {
    /// Line id.
    pub line_id: u8,
    /// Stop result (1 seen).
    pub stop_result: u8,
    /// Fail reason (0 = ok; no other value known).
    pub fail_reason: u8,
}

impl ChargeStopResponse {
    /// Whether the stop succeeded (fail reason 0).
    pub fn is_success(&self) -> bool {
        self.fail_reason == 0
    }

    /// Appends the payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.bytes(&[self.line_id, self.stop_result, self.fail_reason]);
    }
}

/// Parses a charge stop response (exactly 3 bytes).
pub fn parse_charge_stop_response(input: &[u8]) -> PResult<'_, ChargeStopResponse> {
    if input.len() != 3 {
        return Err(PayloadError::length("3", input.len()));
    }
    (be_u8, be_u8, be_u8)
        .map(|(line_id, stop_result, fail_reason)| ChargeStopResponse {
            line_id,
            stop_result,
            fail_reason,
        })
        .parse(input)
}

// ---------------------------------------------------------------------------------------------
// CurrentChargeRecord (0x0009) and its ack (0x8009)

/// Record of the current session (0x0009, 97 bytes or more; one source, unverified).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct CurrentChargeRecord {
    /// Line id.
    pub line_id: u8,
    /// Who started.
    pub start_user_id: FixedStr<16>,
    /// Who stopped.
    pub stop_user_id: FixedStr<16>,
    /// Session id.
    pub charge_id: FixedStr<16>,
    /// Whether the session was planned.
    pub has_reservation: u8,
    /// Start type.
    pub start_type: u8,
    /// Charge type.
    pub charge_type: u8,
    /// Param 1 (maximum duration in minutes).
    pub param1: Limit,
    /// Param 2 (scale uncertain).
    pub param2: Limit,
    /// Param 3 (hundredths).
    pub param3: Limit,
    /// Why the session stopped.
    pub stop_reason: u8,
    /// Whether a stop was recorded.
    pub has_stop_charge: u8,
    /// Planned start.
    pub reservation_time: EmTime,
    /// Start.
    pub start_time: EmTime,
    /// Stop.
    pub stop_time: EmTime,
    /// Seconds charged.
    pub charged_seconds: u32,
    /// Counter at start.
    pub start_energy: Energy,
    /// Counter at stop.
    pub stop_energy: Energy,
    /// Energy charged.
    pub charged_energy: Energy,
    /// Price in hundredths.
    pub price: u32,
    /// Fee type.
    pub fee_type: u8,
    /// Fee in hundredths.
    pub fee: u16,
    /// "Log length" (offset 95).
    pub log_length: u16,
    /// Bytes after offset 97 (log arrays of uncertain layout).
    pub tail: Vec<u8>,
}

impl CurrentChargeRecord {
    /// Appends the payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.u8(self.line_id);
        out.bytes(&self.start_user_id.0);
        out.bytes(&self.stop_user_id.0);
        out.bytes(&self.charge_id.0);
        out.bytes(&[self.has_reservation, self.start_type, self.charge_type]);
        out.u16(self.param1.0);
        out.u16(self.param2.0);
        out.u16(self.param3.0);
        out.bytes(&[self.stop_reason, self.has_stop_charge]);
        out.u32(self.reservation_time.0);
        out.u32(self.start_time.0);
        out.u32(self.stop_time.0);
        out.u32(self.charged_seconds);
        out.u32(self.start_energy.0);
        out.u32(self.stop_energy.0);
        out.u32(self.charged_energy.0);
        out.u32(self.price);
        out.u8(self.fee_type);
        out.u16(self.fee);
        out.u16(self.log_length);
        out.bytes(&self.tail);
    }
}

/// Parses a current charge record (97 bytes at least).
pub fn parse_current_charge_record(input: &[u8]) -> PResult<'_, CurrentChargeRecord> {
    if input.len() < 97 {
        return Err(PayloadError::length("97 or more", input.len()));
    }
    let (
        i,
        (line_id, start_user_id, stop_user_id, charge_id, has_reservation, start_type, charge_type),
    ) = (
        be_u8,
        fixed::<16>,
        fixed::<16>,
        fixed::<16>,
        be_u8,
        be_u8,
        be_u8,
    )
        .parse(input)?;
    let (i, (param1, param2, param3, stop_reason, has_stop_charge)) =
        (limit, limit, limit, be_u8, be_u8).parse(i)?;
    let (i, (reservation_time, start_time, stop_time, charged_seconds)) =
        (em_time, em_time, em_time, be_u32).parse(i)?;
    let (i, (start_energy, stop_energy, charged_energy, price, fee_type, fee, log_length)) = (
        be_u32.map(Energy),
        be_u32.map(Energy),
        be_u32.map(Energy),
        be_u32,
        be_u8,
        be_u16,
        be_u16,
    )
        .parse(i)?;
    Ok((
        &i[i.len()..],
        CurrentChargeRecord {
            line_id,
            start_user_id,
            stop_user_id,
            charge_id,
            has_reservation,
            start_type,
            charge_type,
            param1,
            param2,
            param3,
            stop_reason,
            has_stop_charge,
            reservation_time,
            start_time,
            stop_time,
            charged_seconds,
            start_energy,
            stop_energy,
            charged_energy,
            price,
            fee_type,
            fee,
            log_length,
            tail: i.to_vec(),
        },
    ))
}

/// Acknowledgement of a current charge record (0x8009, 18 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct CurrentChargeRecordAck {
    /// Line id.
    pub line_id: u8,
    /// Session id.
    pub charge_id: FixedStr<16>,
    /// Status.
    pub status: u8,
}

impl CurrentChargeRecordAck {
    /// Appends the payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.u8(self.line_id);
        out.bytes(&self.charge_id.0);
        out.u8(self.status);
    }
}

/// Parses a current charge record ack (exactly 18 bytes).
pub fn parse_current_charge_record_ack(input: &[u8]) -> PResult<'_, CurrentChargeRecordAck> {
    if input.len() != 18 {
        return Err(PayloadError::length("18", input.len()));
    }
    (be_u8, fixed::<16>, be_u8)
        .map(|(line_id, charge_id, status)| CurrentChargeRecordAck {
            line_id,
            charge_id,
            status,
        })
        .parse(input)
}

// ---------------------------------------------------------------------------------------------
// GetVersionResponse (0x0106)

/// Versions (0x0106): 36 bytes (BS20) or 37 (with "supportNew").
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Version {
    /// Hardware version.
    pub hardware_version: FixedStr<16>,
    /// Software version.
    pub software_version: FixedStr<16>,
    /// Feature flags (meaning unknown).
    pub feature: u32,
    /// "supportNew" (meaning unknown); absent in 36-byte payloads.
    pub support_new: Option<u8>,
    /// Bytes after offset 37.
    pub tail: Vec<u8>,
}

impl Version {
    /// Appends the payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.bytes(&self.hardware_version.0);
        out.bytes(&self.software_version.0);
        out.u32(self.feature);
        if let Some(s) = self.support_new {
            out.u8(s);
            out.bytes(&self.tail);
        }
    }
}

/// Parses a version response (36 bytes at least).
pub fn parse_version(input: &[u8]) -> PResult<'_, Version> {
    if input.len() < 36 {
        return Err(PayloadError::length("36 or more", input.len()));
    }
    let (i, (hardware_version, software_version, feature)) =
        (fixed::<16>, fixed::<16>, be_u32).parse(input)?;
    let (support_new, tail) = match i.split_first() {
        Some((s, rest)) => (Some(*s), rest.to_vec()),
        None => (None, Vec::new()),
    };
    Ok((
        &i[i.len()..],
        Version {
            hardware_version,
            software_version,
            feature,
            support_new,
            tail,
        },
    ))
}

// ---------------------------------------------------------------------------------------------
// System time (0x8101 / 0x0101)

/// How a system time payload is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum SystemTimeForm {
    /// Action byte only (a GET as one client sends it).
    ActionOnly,
    /// Action and time, 5 bytes.
    Short,
    /// Action, time and 11 zero bytes, 16 bytes (the iOS app's SET).
    Padded,
}

/// Set or read the charger clock (0x8101), or its answer / report (0x0101).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct SystemTime {
    /// 1 = SET, 2 = GET; answers carry 0 or 1.
    pub action: ConfigAction,
    /// The clock (zero in a GET).
    pub time: EmTime,
    /// Layout.
    pub form: SystemTimeForm,
}

impl SystemTime {
    /// A GET as the single action byte `02`.
    pub const GET: Self = Self {
        action: ConfigAction::GET,
        time: EmTime(0),
        form: SystemTimeForm::ActionOnly,
    };

    /// A 5-byte SET of `time`.
    pub fn set(time: EmTime) -> Self {
        Self {
            action: ConfigAction::SET,
            time,
            form: SystemTimeForm::Short,
        }
    }

    /// Appends the payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.u8(self.action.0);
        match self.form {
            SystemTimeForm::ActionOnly => {}
            SystemTimeForm::Short => out.u32(self.time.0),
            SystemTimeForm::Padded => {
                out.u32(self.time.0);
                out.bytes(&[0; 11]);
            }
        }
    }
}

/// Parses a system time payload (1, 5 or 16 bytes).
pub fn parse_system_time(input: &[u8]) -> PResult<'_, SystemTime> {
    let form = match input.len() {
        1 => SystemTimeForm::ActionOnly,
        5 => SystemTimeForm::Short,
        16 => SystemTimeForm::Padded,
        n => return Err(PayloadError::length("1, 5 or 16", n)),
    };
    let (i, action) = be_u8.map(ConfigAction).parse(input)?;
    let (i, time) = if form == SystemTimeForm::ActionOnly {
        (i, EmTime(0))
    } else {
        em_time(i)?
    };
    Ok((&i[i.len()..], SystemTime { action, time, form }))
}

// ---------------------------------------------------------------------------------------------
// Simple config items (0x8107/0x0107, 0x810D/0x010D, 0x810F/0x010F, 0x8112/0x0112)

/// A one-byte config value with its action: `[action, value]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ConfigValue<T> {
    /// SET or GET (answers repeat it).
    pub action: ConfigAction,
    /// The value (zero in a GET).
    pub value: T,
}

impl<T: From<u8>> ConfigValue<T> {
    /// A GET (value zero).
    pub fn get() -> Self {
        Self {
            action: ConfigAction::GET,
            value: T::from(0),
        }
    }
}

impl<T> ConfigValue<T> {
    /// A SET of `value`.
    pub fn set(value: T) -> Self {
        Self {
            action: ConfigAction::SET,
            value,
        }
    }
}

impl<T: Copy + Into<u8>> ConfigValue<T> {
    /// Appends the payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.u8(self.action.0);
        out.u8(self.value.into());
    }
}

/// Parses a `[action, value]` config payload (exactly 2 bytes).
pub fn parse_config_value<T: From<u8>>(input: &[u8]) -> PResult<'_, ConfigValue<T>> {
    if input.len() != 2 {
        return Err(PayloadError::length("2", input.len()));
    }
    (be_u8.map(ConfigAction), be_u8.map(T::from))
        .map(|(action, value)| ConfigValue { action, value })
        .parse(input)
}

/// The charger's nickname (0x8108 / 0x0108): action and 32 bytes of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Nickname {
    /// SET or GET.
    pub action: ConfigAction,
    /// The name as stored (the OEM app prefixes `ACP#`).
    pub name: FixedStr<32>,
    /// Whether the payload is the 17-byte form with a 16-byte name.
    pub short_form: bool,
}

impl Nickname {
    /// The `ACP#` prefix the OEM app writes before names.
    pub const PREFIX: &'static str = "ACP#";

    /// A GET (action 2 and 32 zero bytes).
    pub const GET: Self = Self {
        action: ConfigAction::GET,
        name: FixedStr::EMPTY,
        short_form: false,
    };

    /// A SET of `name` with the OEM app's `ACP#` prefix put in front (at most 28 bytes).
    pub fn set_display_name(name: &str) -> Result<Self, TextTooLong> {
        let name = FixedStr::new(&format!("{}{name}", Self::PREFIX))?;
        Ok(Self {
            action: ConfigAction::SET,
            name,
            short_form: false,
        })
    }

    /// The name without the OEM app's `ACP#` prefix.
    pub fn display_name(&self) -> String {
        let s = self.name.as_str();
        match s.strip_prefix(Self::PREFIX) {
            Some(rest) => rest.to_owned(),
            None => s,
        }
    }

    /// Appends the payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.u8(self.action.0);
        if self.short_form {
            out.bytes(&self.name.0[..16]);
        } else {
            out.bytes(&self.name.0);
        }
    }
}

/// Parses a nickname payload (33 or 17 bytes).
pub fn parse_nickname(input: &[u8]) -> PResult<'_, Nickname> {
    let short_form = match input.len() {
        33 => false,
        17 => true,
        n => return Err(PayloadError::length("33 or 17", n)),
    };
    let (i, action) = be_u8.map(ConfigAction).parse(input)?;
    let mut name = [0u8; 32];
    name[..i.len()].copy_from_slice(i);
    Ok((
        &i[i.len()..],
        Nickname {
            action,
            name: FixedStr(name),
            short_form,
        },
    ))
}

// ---------------------------------------------------------------------------------------------
// Weekly schedule (0x810E / 0x010E) and brightness (0x8162 / 0x0162), one source each

/// One day of the weekly schedule (9 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct ScheduleSlot {
    /// 1 = off, 3 = on every week.
    pub mode: u8,
    /// Start hour.
    pub start_hour: u8,
    /// Start minute.
    pub start_minute: u8,
    /// Duration in minutes.
    pub duration_min: u16,
    /// Flags (usually `ffffffff`).
    pub flags: u32,
}

/// The weekly charge schedule: action and seven slots, Monday first (64 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct Schedule {
    /// SET or GET.
    pub action: ConfigAction,
    /// Monday to Sunday.
    pub slots: [ScheduleSlot; 7],
}

impl Schedule {
    /// Appends the payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.u8(self.action.0);
        for s in &self.slots {
            out.bytes(&[s.mode, s.start_hour, s.start_minute]);
            out.u16(s.duration_min);
            out.u32(s.flags);
        }
    }
}

/// Parses a weekly schedule payload (exactly 64 bytes).
pub fn parse_schedule(input: &[u8]) -> PResult<'_, Schedule> {
    if input.len() != 64 {
        return Err(PayloadError::length("64", input.len()));
    }
    let (mut i, action) = be_u8.map(ConfigAction).parse(input)?;
    let mut slots = [ScheduleSlot::default(); 7];
    for slot in &mut slots {
        let (rest, (mode, start_hour, start_minute, duration_min, flags)) =
            (be_u8, be_u8, be_u8, be_u16, be_u32).parse(i)?;
        *slot = ScheduleSlot {
            mode,
            start_hour,
            start_minute,
            duration_min,
            flags,
        };
        i = rest;
    }
    Ok((i, Schedule { action, slots }))
}

/// Screen brightness ("maneuver", 0x8162 / 0x0162). Only partly understood, so the bytes are
/// kept as they are.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Brightness(pub Vec<u8>);

impl Brightness {
    /// A SET of `percent` (`00 02 <percent>`).
    pub fn set(percent: u8) -> Self {
        Self(vec![0, 2, percent])
    }

    /// The GET probe the iOS app sends.
    pub fn get() -> Self {
        Self(vec![0, 1, 0, 1, 0, 3])
    }

    /// The brightness in percent of a SET or a response (byte 2).
    pub fn level(&self) -> Option<u8> {
        self.0.get(2).copied()
    }
}

/// Parses a brightness payload (any length).
pub fn parse_brightness(input: &[u8]) -> PResult<'_, Brightness> {
    Ok((&input[input.len()..], Brightness(input.to_vec())))
}

// ---------------------------------------------------------------------------------------------
// Wi-Fi info (0x010A), one source

/// The charger's Wi-Fi settings (0x010A answer, 105 bytes; one source). The passphrase comes
/// back in clear; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct WifiInfo {
    /// 1 = set, 2 = query.
    pub action: ConfigAction,
    /// Network name.
    pub ssid: FixedStr<32>,
    /// Passphrase, in clear on the wire.
    pub passphrase: FixedStr<66>,
    /// Server address the charger reports to (0.0.0.0 seen).
    pub server_ip: [u8; 4],
    /// Server port (28376 seen).
    pub server_port: u16,
}

impl fmt::Debug for WifiInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WifiInfo")
            .field("action", &self.action)
            .field("ssid", &self.ssid)
            .field("passphrase", &"******")
            .field("server_ip", &std::net::Ipv4Addr::from(self.server_ip))
            .field("server_port", &self.server_port)
            .finish()
    }
}

impl WifiInfo {
    /// Appends the payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.u8(self.action.0);
        out.bytes(&self.ssid.0);
        out.bytes(&self.passphrase.0);
        out.bytes(&self.server_ip);
        out.u16(self.server_port);
    }
}

/// Parses a Wi-Fi info answer (exactly 105 bytes).
pub fn parse_wifi_info(input: &[u8]) -> PResult<'_, WifiInfo> {
    if input.len() != 105 {
        return Err(PayloadError::length("105", input.len()));
    }
    let (i, (action, ssid, passphrase, ip, server_port)) = (
        be_u8.map(ConfigAction),
        fixed::<32>,
        fixed::<66>,
        take(4usize),
        be_u16,
    )
        .parse(input)?;
    let mut server_ip = [0u8; 4];
    server_ip.copy_from_slice(ip);
    Ok((
        i,
        WifiInfo {
            action,
            ssid,
            passphrase,
            server_ip,
            server_port,
        },
    ))
}

// ---------------------------------------------------------------------------------------------
// Empty and one-byte payloads

/// Parses an empty payload.
pub fn parse_empty(input: &[u8]) -> PResult<'_, ()> {
    ensure_empty(input, "0", input.len())?;
    Ok((input, ()))
}

/// Parses an optional single byte (handshake and acks: one byte, or empty from some clients).
pub fn parse_opt_byte(input: &[u8]) -> PResult<'_, Option<u8>> {
    match input {
        [] => Ok((input, None)),
        [b] => Ok((&input[1..], Some(*b))),
        _ => Err(PayloadError::length("0 or 1", input.len())),
    }
}
