//! The domain model: what a user wants to know about a charger, in physical units.
//!
//! The wire structs keep raw integers so they re-encode exactly; this module turns them into
//! [`ChargerInfo`] (from Login and GetVersionResponse), [`ChargerState`] (from a status),
//! [`ChargerConfig`] (from the config answers), [`CurrentCharge`] (from a charging status) and
//! [`MetaState`] (the one-word summary of spec §8.3). It also builds a [`ChargeStart`] from
//! user-level [`StartParams`], checking them before anything is sent.
//!
//! Nothing here reads a clock or a time zone: "now" and the user's zone are arguments.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use thiserror::Error;

use crate::time::{EmTime, TimeRangeError};
use crate::wire::{
    ChargeStart, ChargingStatus, CurrentState, DeviceType, ErrorFlags, FixedStr, GunState,
    Language, Limit, Login, OfflineCharge, OutputState, Payload, Serial, Status, TemperatureUnit,
    Version,
};

/// Identity and ratings of a charger (Login / LoginResponse, GetVersionResponse).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChargerInfo {
    /// Serial from the envelope.
    pub serial: Serial,
    /// Brand.
    pub brand: String,
    /// Model.
    pub model: String,
    /// Hardware version (the version answer overrides the login's).
    pub hardware_version: String,
    /// Software version (from the version answer).
    pub software_version: Option<String>,
    /// Maximum power in W, as reported.
    pub max_power_w: u32,
    /// Maximum current per phase in A.
    pub max_current_a: u8,
    /// 1 or 3, from the device type.
    pub phases: u8,
    /// Device type code.
    pub device_type: DeviceType,
    /// Support contact.
    pub hot_line: String,
    /// Feature flags of the version answer (meaning unknown).
    pub feature: Option<u32>,
    /// "supportNew" of the version answer (meaning unknown).
    pub support_new: Option<u8>,
    /// Whether a session can be forced to one phase (types 22–25 with login byte 70 < 11;
    /// uncertain, one source).
    pub can_force_single_phase: bool,
}

impl ChargerInfo {
    /// The info a login announcement or response gives.
    pub fn from_login(serial: Serial, login: &Login) -> Self {
        let phases = login.device_type.phases();
        let byte70 = if phases == 3 { login.byte70() } else { None };
        Self {
            serial,
            brand: login.full_brand(),
            model: login.full_model(),
            hardware_version: login.hardware_version.as_str(),
            software_version: None,
            max_power_w: login.max_power_w,
            max_current_a: login.max_current_a,
            phases,
            device_type: login.device_type,
            hot_line: login.full_hot_line(),
            feature: None,
            support_new: None,
            can_force_single_phase: matches!(login.device_type.0, 22..=25)
                && byte70.is_some_and(|b| b < 11),
        }
    }

    /// Updates from a newer login, keeping what only the version answer gives. Returns whether
    /// anything changed.
    pub fn update_from_login(&mut self, login: &Login) -> bool {
        let mut next = Self::from_login(self.serial, login);
        if self.software_version.is_some() {
            // The version answer has been heard: its hardware version wins.
            next.hardware_version.clone_from(&self.hardware_version);
        }
        next.software_version.clone_from(&self.software_version);
        next.feature = self.feature;
        next.support_new = self.support_new;
        let changed = next != *self;
        *self = next;
        changed
    }

    /// Applies a version answer. Returns whether anything changed.
    pub fn apply_version(&mut self, version: &Version) -> bool {
        let before = self.clone();
        let hardware = version.hardware_version.as_str();
        if !hardware.is_empty() {
            self.hardware_version = hardware;
        }
        self.software_version = Some(version.software_version.as_str());
        self.feature = Some(version.feature);
        self.support_new = version.support_new;
        before != *self
    }
}

/// Voltage and current of one phase.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PhaseState {
    /// Volts.
    pub voltage_v: f64,
    /// Amperes.
    pub current_a: f64,
}

/// One set error bit, named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ChargerError {
    /// Bit number (0 = least significant).
    pub bit: u8,
    /// Documented meaning, or "undefined" for bits 16–24.
    pub name: &'static str,
}

/// Live state of a charger (from a status datagram), in physical units.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChargerState {
    /// Line id.
    pub line_id: u8,
    /// Charger state (the alternate state of newer firmware applied).
    pub current_state: CurrentState,
    /// Plug state.
    pub gun_state: GunState,
    /// Output state.
    pub output_state: OutputState,
    /// Emergency button byte (1 in normal operation).
    pub emergency: u8,
    /// L1, and L2 and L3 on three-phase units.
    pub phases: Vec<PhaseState>,
    /// Power in W: the larger of the reported power and the sum of V·I over the phases (some
    /// three-phase firmware reports one phase only).
    pub power_w: f64,
    /// Power as reported, W.
    pub reported_power_w: u32,
    /// Cumulative energy counter, kWh.
    pub energy_kwh: f64,
    /// Inner temperature, °C.
    pub inner_temperature_c: Option<f64>,
    /// Outer temperature, °C.
    pub outer_temperature_c: Option<f64>,
    /// Every set error bit.
    pub errors: Vec<ChargerError>,
    /// The raw error bitfield.
    pub error_flags: ErrorFlags,
}

impl ChargerState {
    /// The state a status datagram gives.
    pub fn from_status(status: &Status) -> Self {
        let mut phases = vec![status.l1];
        if let Some(more) = status.l2_l3 {
            phases.extend(more);
        }
        let phases: Vec<PhaseState> = phases
            .iter()
            .map(|p| PhaseState {
                voltage_v: p.voltage.volts(),
                current_a: p.current.amps(),
            })
            .collect();
        let sum: f64 = phases.iter().map(|p| p.voltage_v * p.current_a).sum();
        let reported = f64::from(status.power_w);
        Self {
            line_id: status.line_id,
            current_state: status.effective_state(),
            gun_state: status.gun_state,
            output_state: status.output_state,
            emergency: status.emergency,
            power_w: if sum > reported {
                (sum * 10.0).round() / 10.0
            } else {
                reported
            },
            reported_power_w: status.power_w,
            energy_kwh: status.energy_counter.kwh(),
            inner_temperature_c: status.inner_temperature.celsius(),
            outer_temperature_c: status.outer_temperature.celsius(),
            errors: status
                .errors
                .bits()
                .map(|bit| ChargerError {
                    bit,
                    name: ErrorFlags::bit_name(bit).unwrap_or("undefined"),
                })
                .collect(),
            error_flags: status.errors,
            phases,
        }
    }

    /// Whether power is flowing (output state 1).
    pub fn is_charging(&self) -> bool {
        self.output_state == OutputState::CHARGING
    }
}

/// One-word summary of a charger, derived as spec §8.3 (the reference TypeScript library's
/// order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetaState {
    /// Nothing heard recently.
    Offline,
    /// Online, but the app is not logged in.
    NotLoggedIn,
    /// Logged in, no car or nothing happening (also before the first status).
    Idle,
    /// At least one error bit is set.
    Error,
    /// Power is flowing.
    Charging,
    /// A car is plugged in, not charging.
    PluggedIn,
}

impl MetaState {
    /// Derives the summary, in this order: offline, not logged in, no status yet → idle, any
    /// error → error, output 1 → charging, gun state other than 1 (disconnected) → plugged in
    /// (so gun state 0 "unknown" counts as plugged in, as in the reference), else idle.
    pub fn derive(online: bool, logged_in: bool, state: Option<&ChargerState>) -> Self {
        match state {
            _ if !online => Self::Offline,
            _ if !logged_in => Self::NotLoggedIn,
            None => Self::Idle,
            Some(s) if !s.error_flags.is_empty() => Self::Error,
            Some(s) if s.output_state == OutputState::CHARGING => Self::Charging,
            Some(s) if s.gun_state != GunState::DISCONNECTED => Self::PluggedIn,
            Some(_) => Self::Idle,
        }
    }

    /// A lower-case label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offline => "offline",
            Self::NotLoggedIn => "not_logged_in",
            Self::Idle => "idle",
            Self::Error => "error",
            Self::Charging => "charging",
            Self::PluggedIn => "plugged_in",
        }
    }
}

/// The charger's settings, as far as they have been heard (`None` until answered).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChargerConfig {
    /// Nickname without the OEM app's `ACP#` prefix.
    pub name: Option<String>,
    /// Display language.
    pub language: Option<Language>,
    /// Temperature display unit.
    pub temperature_unit: Option<TemperatureUnit>,
    /// Offline charge / start mode.
    pub offline_charge: Option<OfflineCharge>,
    /// Configured maximum current, A.
    pub max_current_a: Option<u8>,
}

impl ChargerConfig {
    /// Applies a config answer (0x0107, 0x0108, 0x010D, 0x010F, 0x0112); other payloads are
    /// ignored. Returns whether anything changed.
    pub fn apply(&mut self, payload: &Payload) -> bool {
        fn set<T: PartialEq>(slot: &mut Option<T>, value: T) -> bool {
            let changed = slot.as_ref() != Some(&value);
            *slot = Some(value);
            changed
        }
        match payload {
            Payload::MaxCurrentResponse(v) => set(&mut self.max_current_a, v.value),
            Payload::NicknameResponse(n) => set(&mut self.name, n.display_name()),
            Payload::OfflineChargeResponse(v) => set(&mut self.offline_charge, v.value),
            Payload::LanguageResponse(v) => set(&mut self.language, v.value),
            Payload::TemperatureUnitResponse(v) => set(&mut self.temperature_unit, v.value),
            _ => false,
        }
    }

    /// Whether every item has been heard.
    pub fn is_complete(&self) -> bool {
        self.name.is_some()
            && self.language.is_some()
            && self.temperature_unit.is_some()
            && self.offline_charge.is_some()
            && self.max_current_a.is_some()
    }
}

/// The ongoing, planned or last charge session (from a charging status).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CurrentCharge {
    /// Line id.
    pub line_id: u8,
    /// Charger state (alternate state applied).
    pub state: CurrentState,
    /// Session id.
    pub charge_id: String,
    /// Who started it.
    pub user_id: String,
    /// Start type.
    pub start_type: u8,
    /// Charge type.
    pub charge_type: u8,
    /// Planned start, in real time.
    pub reservation_time: Option<Timestamp>,
    /// Start, in real time.
    pub start_time: Option<Timestamp>,
    /// Seconds charged so far.
    pub duration_s: u32,
    /// Duration limit in minutes (0 and 0xffff mean none).
    pub max_duration_min: Option<u16>,
    /// Energy limit in kWh.
    pub max_energy_kwh: Option<f64>,
    /// Maximum current of the session, A.
    pub max_current_a: u8,
    /// Energy counter at the start, kWh (0 once finished).
    pub start_energy_kwh: f64,
    /// Energy counter now, kWh.
    pub current_energy_kwh: f64,
    /// Energy charged in the session, kWh.
    pub charged_energy_kwh: f64,
    /// Price (currency unspecified).
    pub price: f64,
    /// Fee type.
    pub fee_type: u8,
    /// Fee.
    pub fee: f64,
}

impl CurrentCharge {
    /// The session a charging status describes; EM times are read for a user in `local`.
    pub fn from_charging_status(cs: &ChargingStatus, local: &TimeZone) -> Self {
        Self {
            line_id: cs.line_id,
            state: cs.effective_state(),
            charge_id: cs.charge_id.as_str(),
            user_id: cs.user_id.as_str(),
            start_type: cs.start_type,
            charge_type: cs.charge_type,
            reservation_time: cs.reservation_time.to_timestamp(local),
            start_time: cs.start_time.to_timestamp(local),
            duration_s: cs.duration_s,
            max_duration_min: cs.max_duration_min.get().filter(|&m| m != 0),
            max_energy_kwh: cs.max_energy.get().map(|e| f64::from(e) / 100.0),
            max_current_a: cs.max_current_a,
            start_energy_kwh: cs.start_energy.kwh(),
            current_energy_kwh: cs.current_energy.kwh(),
            charged_energy_kwh: cs.charged_energy.kwh(),
            price: f64::from(cs.price) / 100.0,
            fee_type: cs.fee_type,
            fee: f64::from(cs.fee) / 100.0,
        }
    }
}

/// What a user asks for when starting a session; see [`StartParams::build`].
#[derive(Debug, Clone, PartialEq)]
pub struct StartParams {
    /// Maximum current in A: 6 up to the charger's maximum (32 when unknown).
    pub max_current_a: u8,
    /// Planned start; `None` (or a moment no more than 5 s ahead) starts now.
    pub start_at: Option<Timestamp>,
    /// Duration limit, 1..=65534 minutes.
    pub max_duration_min: Option<u16>,
    /// Energy limit, up to 655.34 kWh.
    pub max_energy_kwh: Option<f64>,
    /// Force one phase on a three-phase unit that can do it.
    pub single_phase: bool,
    /// Who starts the session (at most 16 bytes).
    pub user_id: String,
    /// Session id (at most 16 bytes); by default the wall-clock `yyyyMMddHHmm` of now followed
    /// by four digits of the caller's choosing.
    pub charge_id: Option<String>,
}

/// Parameters [`StartParams::build`] refuses.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum StartParamsError {
    /// The current is outside 6..=max.
    #[error("{requested} A is outside the charger's range of 6 to {max} A")]
    Current {
        /// Requested current.
        requested: u8,
        /// The charger's maximum.
        max: u8,
    },
    /// The duration limit is 0 or 65535.
    #[error("a duration limit of {minutes} min is not allowed (1 to 65534)")]
    Duration {
        /// Requested minutes.
        minutes: u16,
    },
    /// The energy limit is not in (0, 655.34] kWh.
    #[error("an energy limit of {kwh} kWh is not allowed (0.01 to 655.34)")]
    Energy {
        /// Requested kWh.
        kwh: f64,
    },
    /// Single phase was asked of a charger that cannot force it.
    #[error("this charger cannot force a single-phase session")]
    SinglePhase,
    /// A text field is too long.
    #[error("the {field} must fit 16 bytes")]
    Text {
        /// Which field.
        field: &'static str,
        /// The underlying error.
        #[source]
        source: crate::wire::TextTooLong,
    },
    /// A time does not fit EM time.
    #[error("the start time cannot be sent to the charger")]
    Time(#[source] TimeRangeError),
}

impl StartParams {
    /// Checks the parameters and builds the charge start payload.
    ///
    /// `info` gives the maximum current and single-phase capability (32 A and no forcing when
    /// unknown). `now` and `local` (the user's zone) place the start time on the charger's
    /// clock; `suffix` supplies the last four digits of a default charge id (0..=9999).
    /// Line id and charge type are 1/1 as in the OEM app captures; forcing one phase uses charge
    /// type 11 (single source, uncertain).
    pub fn build(
        &self,
        info: Option<&ChargerInfo>,
        now: Timestamp,
        local: &TimeZone,
        suffix: u16,
    ) -> Result<ChargeStart, StartParamsError> {
        let max = info.map_or(32, |i| i.max_current_a);
        if !(6..=max).contains(&self.max_current_a) {
            return Err(StartParamsError::Current {
                requested: self.max_current_a,
                max,
            });
        }
        let max_duration_min = match self.max_duration_min {
            None => Limit::NONE,
            Some(m @ (0 | 0xffff)) => return Err(StartParamsError::Duration { minutes: m }),
            Some(m) => Limit(m),
        };
        let max_energy = match self.max_energy_kwh {
            None => Limit::NONE,
            Some(kwh) if kwh.is_finite() && (0.01..=655.34).contains(&kwh) => {
                // In 1..=65534 after the range check, so the cast is exact.
                Limit((kwh * 100.0 + 1e-9).floor() as u16)
            }
            Some(kwh) => return Err(StartParamsError::Energy { kwh }),
        };
        let can_force = info.is_some_and(|i| i.can_force_single_phase);
        if self.single_phase && !can_force {
            return Err(StartParamsError::SinglePhase);
        }
        let user_id = FixedStr::new(&self.user_id).map_err(|source| StartParamsError::Text {
            field: "user id",
            source,
        })?;
        let now_em = EmTime::from_timestamp(now, local).map_err(StartParamsError::Time)?;
        let charge_id = match &self.charge_id {
            Some(id) => id.clone(),
            None => format!(
                "{}{:04}",
                now_em.wall_clock().strftime("%Y%m%d%H%M"),
                suffix % 10_000
            ),
        };
        let charge_id = FixedStr::new(&charge_id).map_err(|source| StartParamsError::Text {
            field: "charge id",
            source,
        })?;
        let reservation = self
            .start_at
            .filter(|at| at.as_second() > now.as_second() + 5);
        let start_time = match reservation {
            Some(at) => EmTime::from_timestamp(at, local).map_err(StartParamsError::Time)?,
            None => now_em,
        };
        Ok(ChargeStart {
            line_id: 1,
            user_id,
            charge_id,
            is_reservation: reservation.is_some(),
            start_time,
            start_type: 1,
            charge_type: if self.single_phase { 11 } else { 1 },
            max_duration_min,
            max_energy,
            param3: Limit::NONE,
            max_current_a: self.max_current_a,
        })
    }
}
