//! Code newtypes: command ids and the small enumerations of the payloads.
//!
//! Every code is a transparent newtype over its wire integer, so an unknown value still parses,
//! compares and re-encodes unchanged. Known values are associated constants with a `name()`.

use std::fmt;

/// Declares a newtype over an integer with named constants and a `name()` lookup.
macro_rules! code {
    (
        $(#[$meta:meta])*
        $name:ident($int:ty) {
            $( $(#[$cmeta:meta])* $konst:ident = $value:expr => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $int);

        impl $name {
            $( $(#[$cmeta])* pub const $konst: Self = Self($value); )*

            /// Every value this crate knows a name for.
            pub const KNOWN: &'static [Self] = &[$(Self::$konst),*];

            /// The documented meaning of this value, or `None` when it is unknown.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( v if v == $value => Some($text), )*
                    _ => None,
                }
            }

            /// Whether this value has a documented meaning.
            pub const fn is_known(self) -> bool {
                self.name().is_some()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}({} {})", stringify!($name), self.0, n),
                    None => write!(f, "{}({} unknown)", stringify!($name), self.0),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "unknown ({})", self.0),
                }
            }
        }

        impl From<$int> for $name {
            fn from(v: $int) -> Self {
                Self(v)
            }
        }

        impl From<$name> for $int {
            fn from(v: $name) -> Self {
                v.0
            }
        }
    };
}

code! {
    /// A command id (datagram offset 19). Ids with the high bit set travel app → charger, the
    /// others charger → app; a response is usually its request minus 0x8000.
    Command(u16) {
        /// Charger announcement, broadcast about every 3 s while no client is registered.
        LOGIN = 0x0001 => "login",
        /// Answer to [`Command::REQUEST_LOGIN`] when the password matches.
        LOGIN_RESPONSE = 0x0002 => "login response",
        /// Keep-alive sent by the charger about every 10 s; answer with [`Command::HEADING_RESPONSE`].
        HEADING = 0x0003 => "heading",
        /// Live measurements (single AC status).
        STATUS = 0x0004 => "status",
        /// Current or last charge session, sent unsolicited.
        CHARGING_STATUS = 0x0005 => "charging status",
        /// Current or last charge session, answer to [`Command::REQUEST_CHARGING_STATUS`].
        CHARGING_STATUS_RESPONSE = 0x0006 => "charging status response",
        /// Result of a [`Command::CHARGE_START`].
        CHARGE_START_RESPONSE = 0x0007 => "charge start response",
        /// Result of a [`Command::CHARGE_STOP`].
        CHARGE_STOP_RESPONSE = 0x0008 => "charge stop response",
        /// Record of the current charge session.
        CURRENT_CHARGE_RECORD = 0x0009 => "current charge record",
        /// A finished session's record, re-sent until acknowledged (layout unknown).
        UPLOAD_LOCAL_CHARGE_RECORD = 0x000A => "upload local charge record",
        /// History answer (layout unknown).
        QUERY_HISTORY_CHARGE_RECORD_RESPONSE = 0x000B => "query history charge record response",
        /// History record (layout unknown).
        QUERY_HISTORY_CHARGE_RECORD = 0x000C => "query history charge record",
        /// Status record; some firmware sends live status here with the status layout.
        STATUS_RECORD = 0x000D => "status record",
        /// System time report or answer.
        SYSTEM_TIME_RESPONSE = 0x0101 => "system time response",
        /// Answer to set password (layout unknown).
        SET_PASSWORD_RESPONSE = 0x0102 => "set password response",
        /// Answer to set secret (layout unknown).
        SET_SECRET_RESPONSE = 0x0103 => "set secret response",
        /// Charge fee answer (layout unknown).
        CHARGE_FEE_RESPONSE = 0x0104 => "charge fee response",
        /// Service fee answer (layout unknown).
        SERVICE_FEE_RESPONSE = 0x0105 => "service fee response",
        /// Hardware and software versions.
        VERSION_RESPONSE = 0x0106 => "version response",
        /// Configured maximum current ("output electricity").
        MAX_CURRENT_RESPONSE = 0x0107 => "max current response",
        /// Nickname.
        NICKNAME_RESPONSE = 0x0108 => "nickname response",
        /// Bluetooth password answer (layout unknown).
        BLE_PASSWORD_RESPONSE = 0x0109 => "BLE password response",
        /// Wi-Fi settings answer (carries the Wi-Fi passphrase in clear).
        WIFI_INFO_RESPONSE = 0x010A => "Wi-Fi info response",
        /// Server address answer (layout unknown).
        SERVER_IP_PORT_RESPONSE = 0x010B => "server IP/port response",
        /// Communication pipe answer (layout unknown).
        SWITCH_COMMUNICATION_PIPE_RESPONSE = 0x010C => "switch communication pipe response",
        /// Offline charge / start mode.
        OFFLINE_CHARGE_RESPONSE = 0x010D => "offline charge response",
        /// Weekly charge schedule.
        SCHEDULE_RESPONSE = 0x010E => "weekly schedule response",
        /// Display language.
        LANGUAGE_RESPONSE = 0x010F => "language response",
        /// Charge count answer (layout unknown).
        CHARGE_COUNT_RESPONSE = 0x0110 => "charge count response",
        /// Relaunch count answer (layout unknown).
        RELAUNCH_COUNT_RESPONSE = 0x0111 => "relaunch count response",
        /// Temperature display unit.
        TEMPERATURE_UNIT_RESPONSE = 0x0112 => "temperature unit response",
        /// Firmware upgrade answer (layout unknown).
        UPGRADE_RESPONSE = 0x0150 => "remote upgrade response",
        /// Firmware data package request (layout unknown).
        GET_DATA_PACKAGE = 0x0151 => "get data package",
        /// Firmware upgrade result (layout unknown).
        UPGRADE_RESULT = 0x0152 => "remote upgrade result",
        /// Firmware upgrade cancel answer (layout unknown).
        UPGRADE_CANCEL_RESPONSE = 0x0153 => "remote upgrade cancel response",
        /// Reset answer (layout unknown).
        RESET_DEVICE_RESPONSE = 0x0154 => "reset device response",
        /// The password in the request was wrong.
        PASSWORD_ERROR = 0x0155 => "password error",
        /// Screen brightness ("maneuver") answer.
        BRIGHTNESS_RESPONSE = 0x0162 => "brightness response",

        /// Third step of the login handshake.
        LOGIN_CONFIRM = 0x8001 => "login confirm",
        /// First step of the login handshake.
        REQUEST_LOGIN = 0x8002 => "request login",
        /// Answer to every [`Command::HEADING`].
        HEADING_RESPONSE = 0x8003 => "heading response",
        /// Acknowledgement of every [`Command::STATUS`].
        STATUS_ACK = 0x8004 => "status ack",
        /// Acknowledgement of [`Command::CHARGING_STATUS`].
        CHARGING_STATUS_ACK = 0x8005 => "charging status ack",
        /// Asks for a [`Command::CHARGING_STATUS_RESPONSE`].
        REQUEST_CHARGING_STATUS = 0x8006 => "request charging status",
        /// Start (or plan) a charge session.
        CHARGE_START = 0x8007 => "charge start",
        /// Stop a charge session (also cancels a planned one).
        CHARGE_STOP = 0x8008 => "charge stop",
        /// Acknowledgement of [`Command::CURRENT_CHARGE_RECORD`].
        CURRENT_CHARGE_RECORD_ACK = 0x8009 => "current charge record ack",
        /// Acknowledgement of [`Command::UPLOAD_LOCAL_CHARGE_RECORD`] (layout unknown).
        UPLOAD_LOCAL_CHARGE_RECORD_ACK = 0x800A => "upload local charge record ack",
        /// History request (layout unknown).
        REQUEST_HISTORY_CHARGE_RECORD = 0x800B => "request history charge record",
        /// History request by date (layout unknown).
        REQUEST_HISTORY_CHARGE_RECORD_BY_DATE = 0x800C => "request history charge record by date",
        /// Asks for a status record.
        REQUEST_STATUS_RECORD = 0x800D => "request status record",
        /// Set or get the charger clock.
        SYSTEM_TIME = 0x8101 => "system time",
        /// Set password (layout unknown).
        SET_PASSWORD = 0x8102 => "set password",
        /// Set secret (layout unknown).
        SET_SECRET = 0x8103 => "set secret",
        /// Set or get the charge fee (layout unknown).
        CHARGE_FEE = 0x8104 => "charge fee",
        /// Set or get the service fee (layout unknown).
        SERVICE_FEE = 0x8105 => "service fee",
        /// Asks for the versions.
        GET_VERSION = 0x8106 => "get version",
        /// Set or get the configured maximum current.
        MAX_CURRENT = 0x8107 => "max current",
        /// Set or get the nickname.
        NICKNAME = 0x8108 => "nickname",
        /// Set or get the Bluetooth password (layout unknown).
        BLE_PASSWORD = 0x8109 => "BLE password",
        /// Set or get the Wi-Fi settings.
        WIFI_INFO = 0x810A => "Wi-Fi info",
        /// Get the server address (layout unknown).
        SERVER_IP_PORT = 0x810B => "server IP/port",
        /// Switch the communication pipe (layout unknown).
        SWITCH_COMMUNICATION_PIPE = 0x810C => "switch communication pipe",
        /// Set or get the offline charge / start mode.
        OFFLINE_CHARGE = 0x810D => "offline charge",
        /// Set or get the weekly schedule.
        SCHEDULE = 0x810E => "weekly schedule",
        /// Set or get the language.
        LANGUAGE = 0x810F => "language",
        /// Get the charge count (layout unknown).
        CHARGE_COUNT = 0x8110 => "charge count",
        /// Get the relaunch count (layout unknown).
        RELAUNCH_COUNT = 0x8111 => "relaunch count",
        /// Set or get the temperature display unit.
        TEMPERATURE_UNIT = 0x8112 => "temperature unit",
        /// Start a firmware upgrade (layout unknown).
        UPGRADE = 0x8150 => "remote upgrade",
        /// Firmware data package answer (layout unknown).
        GET_DATA_PACKAGE_RESPONSE = 0x8151 => "get data package response",
        /// Firmware upgrade result answer (layout unknown).
        UPGRADE_RESULT_RESPONSE = 0x8152 => "remote upgrade result response",
        /// Cancel a firmware upgrade (layout unknown).
        UPGRADE_CANCEL = 0x8153 => "remote upgrade cancel",
        /// Reset the charger (layout unknown).
        RESET_DEVICE = 0x8154 => "reset device",
        /// Set or get the screen brightness ("maneuver").
        BRIGHTNESS = 0x8162 => "brightness",
    }
}

impl Command {
    /// Whether the id travels from the app to the charger (high bit set).
    pub const fn is_app_to_charger(self) -> bool {
        self.0 & 0x8000 != 0
    }

    /// Whether the id travels from the charger to the app (high bit clear).
    pub const fn is_charger_to_app(self) -> bool {
        !self.is_app_to_charger()
    }

    /// Whether a charger's address may be learnt from this command. Only the charger's own
    /// telemetry counts: the phone app has been seen echoing other `0x01xx` frames with the
    /// charger's serial.
    pub const fn identifies_charger(self) -> bool {
        matches!(self.0, 0x0001..=0x0005 | 0x0009 | 0x000A)
    }
}

code! {
    /// Device type code (login byte 0); it decides the phase count.
    DeviceType(u8) {
        /// Single-phase unit such as the Besen BS20.
        SINGLE_PHASE_1 = 1 => "single phase",
    }
}

impl DeviceType {
    /// Number of phases the type code implies: 3 for types 10–15 and 22–25, else 1.
    pub const fn phases(self) -> u8 {
        match self.0 {
            10..=15 | 22..=25 => 3,
            _ => 1,
        }
    }
}

code! {
    /// Gun (plug) state, status byte 18.
    GunState(u8) {
        /// Not known.
        UNKNOWN = 0 => "unknown",
        /// Nothing plugged in.
        DISCONNECTED = 1 => "disconnected",
        /// Plugged in, not locked.
        CONNECTED_UNLOCKED = 2 => "connected, unlocked",
        /// Meaning unknown; some call it negotiating.
        NEGOTIATING = 3 => "negotiating",
        /// Plugged in and locked (while charging).
        CONNECTED_LOCKED = 4 => "connected, locked",
    }
}

code! {
    /// Output state, status byte 19.
    OutputState(u8) {
        /// Power is flowing.
        CHARGING = 1 => "charging",
        /// No power flowing.
        IDLE = 2 => "idle",
    }
}

code! {
    /// Current (charger) state, status byte 20 and charging-status byte 1.
    CurrentState(u8) {
        /// Fault of the charger.
        EVSE_FAULT = 1 => "EVSE fault",
        /// Fault while charging.
        CHARGING_FAULT_2 = 2 => "charging fault",
        /// Fault while charging.
        CHARGING_FAULT_3 = 3 => "charging fault",
        /// Waiting for a card.
        WAITING_FOR_SWIPE = 10 => "waiting for card swipe",
        /// Waiting for the button.
        WAITING_FOR_BUTTON = 11 => "waiting for button",
        /// No car connected.
        NOT_CONNECTED = 12 => "not connected",
        /// Plugged in, ready to charge or finished.
        READY_TO_CHARGE = 13 => "ready to charge",
        /// Charging.
        CHARGING = 14 => "charging",
        /// Completed (stopped by the charger).
        COMPLETED = 15 => "completed",
        /// Completed with a full battery.
        COMPLETED_FULL = 17 => "completed, full charge",
        /// Only in the alternate state bytes; meaning uncertain (stopped by the car?).
        ALTERNATE_18 = 18 => "state 18",
        /// Only in the alternate state bytes; meaning uncertain.
        ALTERNATE_19 = 19 => "state 19",
        /// A planned (reserved) session is waiting.
        RESERVATION = 20 => "charging reservation",
    }
}

code! {
    /// Config action byte of the simple config items (and of the system time).
    ConfigAction(u8) {
        /// Unsolicited report (seen in system time answers).
        REPORT = 0 => "report",
        /// Set a value.
        SET = 1 => "set",
        /// Read a value.
        GET = 2 => "get",
    }
}

code! {
    /// Display language (0x8107 family, value byte).
    Language(u8) {
        /// English.
        ENGLISH = 1 => "English",
        /// Italian.
        ITALIAN = 2 => "Italian",
        /// German.
        GERMAN = 3 => "German",
        /// French.
        FRENCH = 4 => "French",
        /// Spanish.
        SPANISH = 5 => "Spanish",
        /// Hebrew.
        HEBREW = 6 => "Hebrew",
    }
}

code! {
    /// Temperature display unit; the wire always carries Celsius.
    TemperatureUnit(u8) {
        /// Degrees Celsius.
        CELSIUS = 1 => "Celsius",
        /// Degrees Fahrenheit.
        FAHRENHEIT = 2 => "Fahrenheit",
    }
}

code! {
    /// Offline charge / start mode. Sources disagree on the meaning of the values; the names
    /// follow the OEM app labels reported for an SQW49 unit.
    OfflineCharge(u8) {
        /// Start by app or button (EP: offline charging enabled).
        APP_AND_BUTTON = 0 => "app and button",
        /// Start by app only (EP: offline charging disabled).
        APP_ONLY = 1 => "app only",
        /// Start automatically on plug-in.
        AUTO = 2 => "auto",
    }
}

code! {
    /// Why a charge start failed (charge start response byte 3).
    StartError(u8) {
        /// No error.
        NONE = 0 => "none",
        /// The plug is not properly inserted.
        NOT_PLUGGED_IN = 1 => "not plugged in",
        /// System error.
        SYSTEM_ERROR = 2 => "system error",
        /// Already charging.
        ALREADY_CHARGING = 3 => "already charging",
        /// System maintenance.
        MAINTENANCE = 4 => "system maintenance",
        /// Incorrect fee set.
        INCORRECT_FEE = 5 => "incorrect fee set",
        /// Incorrect power set.
        INCORRECT_POWER = 6 => "incorrect power set",
        /// Incorrect time set.
        INCORRECT_TIME = 7 => "incorrect time set",
        /// Unknown error.
        UNKNOWN_ERROR = 8 => "unknown error",
        /// A reservation is already pending.
        RESERVATION_PENDING = 20 => "reservation already pending",
    }
}

code! {
    /// Outcome of the reservation part of a charge start (charge start response byte 1).
    ReservationResult(u8) {
        /// Started immediately, no reservation.
        IMMEDIATE = 0 => "immediate start",
        /// Reservation accepted.
        RESERVED = 1 => "reservation ok",
        /// Reservations not supported.
        NOT_SUPPORTED = 2 => "reservations not supported",
        /// Too far in the future.
        TOO_FAR = 3 => "too far in the future",
        /// In the past: charging starts immediately.
        IN_THE_PAST = 4 => "time in the past, started immediately",
        /// System error.
        SYSTEM_ERROR = 5 => "system error",
        /// A reservation already exists.
        ALREADY_RESERVED = 6 => "a reservation already exists",
        /// Already charging.
        ALREADY_CHARGING = 7 => "already charging",
        /// Incorrect fee.
        INCORRECT_FEE = 8 => "incorrect fee",
        /// Incorrect power.
        INCORRECT_POWER = 9 => "incorrect power",
        /// Incorrect time.
        INCORRECT_TIME = 10 => "incorrect time",
    }
}

impl ReservationResult {
    /// Whether the start counts as accepted (0, 1 and 4).
    pub const fn is_success(self) -> bool {
        matches!(self.0, 0 | 1 | 4)
    }
}

/// The error bitfield of a status (bytes 21..24): bit `n` set means error `n`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ErrorFlags(pub u32);

/// Names of the error bits, indexed by bit number; `None` for undefined bits.
const ERROR_NAMES: [Option<&str>; 32] = [
    Some("relay stuck L1"),
    Some("relay stuck L2"),
    Some("relay stuck L3"),
    Some("offline"),
    Some("CC error"),
    Some("CP error"),
    Some("emergency stop"),
    Some("over-temperature (inner)"),
    Some("over-temperature (outer)"),
    Some("unknown error 9"),
    Some("leakage protection"),
    Some("short circuit"),
    Some("over-current"),
    Some("no earth"),
    Some("over-voltage"),
    Some("under-voltage"),
    None,
    None,
    None,
    None,
    None,
    None,
    None,
    None,
    None,
    Some("input power error"),
    Some("mains overload"),
    Some("diode short circuit"),
    Some("RTC failure"),
    Some("flash memory failure"),
    Some("EEPROM failure"),
    Some("metering module failure"),
];

impl ErrorFlags {
    /// No error set.
    pub const NONE: Self = Self(0);

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The set bit numbers, lowest first.
    pub fn bits(self) -> impl Iterator<Item = u8> {
        (0u8..32).filter(move |b| self.0 & (1 << b) != 0)
    }

    /// The documented name of an error bit, `None` for bits 16–24 (undefined) or ≥ 32.
    pub fn bit_name(bit: u8) -> Option<&'static str> {
        ERROR_NAMES.get(usize::from(bit)).copied().flatten()
    }
}

impl fmt::Debug for ErrorFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ErrorFlags({:#010x}", self.0)?;
        for bit in self.bits() {
            match Self::bit_name(bit) {
                Some(n) => write!(f, ", {bit} {n}")?,
                None => write!(f, ", {bit} undefined")?,
            }
        }
        f.write_str(")")
    }
}
