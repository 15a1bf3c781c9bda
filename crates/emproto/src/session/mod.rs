//! The sans-IO session: one state machine per charger, and an [`Endpoint`] that routes UDP
//! packets to them.
//!
//! Nothing here owns a socket or reads a clock. Input is passed in as data, quinn style:
//! [`Endpoint::handle_packet`] takes `(now, source, bytes)`, [`Endpoint::handle_timeout`] takes
//! `now`; output is pulled with [`Endpoint::poll_transmit`] (datagrams to send, each with the
//! charger's learnt address and port), [`Endpoint::poll_event`] (added, changed, removed,
//! request completed) and [`Endpoint::poll_timeout`] (when to call `handle_timeout` next).
//! `now` is a plain [`Instant`]; tests pass made-up instants and never sleep.
//!
//! What a [`Session`] does, following spec §5:
//! - learns the charger's address and port from its own telemetry (0x0001–0x0005, 0x0009,
//!   0x000A; from any charger datagram while no address is known), never from app datagrams;
//! - logs in (RequestLogin → LoginResponse → LoginConfirm), automatically when a password is
//!   known: on every 5 s tick while not logged in, and at once on a Login broadcast; a password
//!   error stops automatic logins until a new password is given;
//! - answers every Heading (0x8003 `00`), status (0x8004 `01`) and unsolicited charging status
//!   (0x8005 `00`) while it holds a password;
//! - is *online* while a datagram arrived within 11 s, and *logged in* while online and a
//!   Heading was answered (or a login completed) within 15 s;
//! - fetches the configuration and version after each login and every 120 s;
//! - runs login, start, stop, config set and config fetch as requests with timeouts (3 s login,
//!   6 s config fetch, 5 s the others) and typed outcomes ([`Reply`] or [`RequestError`]).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use emproto::session::{Endpoint, Event, SessionConfig};
//! use emproto::wire::{Command, Datagram, Password, Payload, Serial};
//!
//! let mut ep = Endpoint::new(SessionConfig::default());
//! let t0 = Instant::now(); // any instant: the session never reads the clock itself
//! let serial: Serial = "0123456789abcdef".parse().unwrap();
//! let heading = Datagram::from_charger(serial, Payload::Heading).encode().unwrap();
//! ep.handle_packet(t0, "127.0.0.1:30139".parse().unwrap(), &heading);
//! assert_eq!(ep.poll_event(), Some(Event::Added(serial)));
//!
//! // With a password, the next tick starts the login, sent to the charger's own port.
//! ep.session_mut(serial).unwrap().set_password(Password::new("123456").unwrap());
//! ep.handle_timeout(t0 + Duration::from_secs(5));
//! let t = ep.poll_transmit().unwrap();
//! assert_eq!((t.command, t.destination.port()), (Command::REQUEST_LOGIN, 30139));
//! ```

mod report;

pub use report::{human_text, influx_lines, prometheus_text};

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use thiserror::Error;

use crate::model::{
    ChargerConfig, ChargerInfo, ChargerState, CurrentCharge, MetaState, StartParams,
    StartParamsError,
};
use crate::wire::{
    ChargeStartResponse, ChargeStop, ChargeStopResponse, Command, ConfigAction, ConfigValue,
    Datagram, Datagrams, EncodeError, FixedStr, FrameError, Language, Nickname, OfflineCharge,
    Password, Payload, ReservationResult, Serial, StartError, TemperatureUnit, TextTooLong,
};

/// Timers and the user's time zone. The defaults are the reference library's (spec §5.3).
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// A charger is online while a datagram arrived within this time (11 s).
    pub offline_after: Duration,
    /// Logged in while online and a Heading was answered (or a login completed) within this
    /// time (15 s).
    pub logged_in_for: Duration,
    /// Interval of the housekeeping tick: automatic login, config refresh (5 s).
    pub tick: Duration,
    /// Wait for LoginResponse or PasswordError (3 s).
    pub login_timeout: Duration,
    /// Wait for the config answers after the GETs (6 s).
    pub config_timeout: Duration,
    /// Wait for the answer to a start, stop or config SET (5 s).
    pub request_timeout: Duration,
    /// Refetch the configuration when older than this while logged in (120 s); `None` never.
    pub config_refresh: Option<Duration>,
    /// Forget a charger nothing was heard from for this long (`None`: never).
    pub forget_after: Option<Duration>,
    /// The user's time zone, for EM times (spec §3). Defaults to UTC; the driver passes the
    /// system zone.
    pub time_zone: TimeZone,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            offline_after: Duration::from_secs(11),
            logged_in_for: Duration::from_secs(15),
            tick: Duration::from_secs(5),
            login_timeout: Duration::from_secs(3),
            config_timeout: Duration::from_secs(6),
            request_timeout: Duration::from_secs(5),
            config_refresh: Some(Duration::from_secs(120)),
            forget_after: None,
            time_zone: TimeZone::UTC,
        }
    }
}

/// A datagram to send.
#[derive(Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The charger's address and port, as last learnt.
    pub destination: SocketAddr,
    /// The encoded datagram (it carries the password: see [`masked_hex`] for logging).
    pub contents: Vec<u8>,
    /// The charger.
    pub serial: Serial,
    /// The command, for logs.
    pub command: Command,
}

impl fmt::Debug for Transmit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transmit")
            .field("destination", &self.destination)
            .field("serial", &self.serial)
            .field("command", &self.command)
            .field("contents", &masked_hex(&self.contents))
            .finish()
    }
}

/// Identifies a request within its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// What changed about a charger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// Its address or port.
    Address,
    /// It came online (`true`) or went offline.
    Online(bool),
    /// The login became valid (`true`) or lapsed.
    LoggedIn(bool),
    /// Identity or ratings (login, version).
    Info,
    /// Live measurements.
    State,
    /// Configuration.
    Config,
    /// Current, planned or last charge session.
    Charge,
    /// The charger answered with a password error; automatic logins stop.
    PasswordRejected,
}

/// Something the application should know.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A charger was heard (or inserted) for the first time.
    Added(Serial),
    /// Something about a charger changed.
    Changed(Serial, Change),
    /// A charger was forgotten.
    Removed(Serial),
    /// A request finished.
    Completed {
        /// The charger.
        serial: Serial,
        /// The request, as returned when it was made.
        id: RequestId,
        /// How it ended.
        outcome: Result<Reply, RequestError>,
    },
    /// A datagram in a packet could not be read (the rest of the packet was still used when
    /// possible).
    Malformed {
        /// Where the packet came from.
        source: SocketAddr,
        /// What was wrong.
        error: FrameError,
    },
}

/// A successful request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The login handshake completed.
    LoggedIn,
    /// The charger accepted the start (immediately, as a reservation, or immediately because
    /// the time was in the past: see the reservation result).
    Started(ChargeStartResponse),
    /// The charger stopped (or cancelled the planned session).
    Stopped(ChargeStopResponse),
    /// The charger confirmed the new value.
    ConfigSet(ConfigItem),
    /// Every config item answered.
    ConfigFetched(ChargerConfig),
}

/// Why a request failed after it was sent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RequestError {
    /// No answer in time.
    #[error("no answer within {} ms", waited.as_millis())]
    Timeout {
        /// How long the session waited.
        waited: Duration,
    },
    /// The charger answered with a password error.
    #[error("the charger rejected the password")]
    WrongPassword,
    /// The charger refused the start.
    #[error("the charger refused to start: {error} (reservation result: {reservation})")]
    StartRefused {
        /// The error reason (byte 3).
        error: StartError,
        /// The reservation result (byte 1).
        reservation: ReservationResult,
    },
    /// The charger refused the stop.
    #[error("the charger refused to stop (fail reason {fail_reason})")]
    StopRefused {
        /// The fail reason (byte 2; only 0 = ok is documented).
        fail_reason: u8,
    },
    /// The charger answered a SET with another value than the one sent.
    #[error("the charger kept {echoed} instead of {requested}")]
    NotApplied {
        /// What was sent.
        requested: ConfigItem,
        /// What the charger answered.
        echoed: ConfigItem,
    },
    /// The charger was forgotten while the request was pending.
    #[error("the charger was forgotten")]
    Forgotten,
}

/// Why a request could not be sent at all.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The serial is not known to the endpoint.
    #[error("charger {0} is not known")]
    UnknownCharger(Serial),
    /// Nothing was heard from the charger yet, so its address is unknown.
    #[error("the address of charger {0} is not known yet")]
    NoAddress(Serial),
    /// No password was given for the charger.
    #[error("no password is known for charger {0}; log in first")]
    NoPassword(Serial),
    /// The charger's last answer was a password error.
    #[error("the password of charger {0} was rejected; log in again with the right one")]
    PasswordRejected(Serial),
    /// Nothing was heard from the charger within the offline time.
    #[error("charger {0} is offline")]
    Offline(Serial),
    /// A start or stop is already waiting for its answer.
    #[error("a {what} is already waiting for an answer from charger {serial}")]
    Busy {
        /// The charger.
        serial: Serial,
        /// "start" or "stop".
        what: &'static str,
    },
    /// The start parameters are invalid.
    #[error("invalid start for charger {serial}")]
    Start {
        /// The charger.
        serial: Serial,
        /// What is wrong.
        #[source]
        source: StartParamsError,
    },
    /// A config value is out of range.
    #[error("invalid value for charger {serial}: {problem}")]
    Config {
        /// The charger.
        serial: Serial,
        /// What is wrong.
        problem: String,
    },
    /// A text does not fit its field.
    #[error("text too long for charger {serial}")]
    Text {
        /// The charger.
        serial: Serial,
        /// The field error.
        #[source]
        source: TextTooLong,
    },
    /// The datagram could not be encoded.
    #[error("cannot encode a datagram for charger {serial}")]
    Encode {
        /// The charger.
        serial: Serial,
        /// The encoder error.
        #[source]
        source: EncodeError,
    },
}

/// One configuration item with its value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "item", content = "value")]
pub enum ConfigItem {
    /// Nickname (sent with the OEM app's `ACP#` prefix, at most 28 bytes).
    Name(String),
    /// Display language.
    Language(Language),
    /// Temperature display unit.
    TemperatureUnit(TemperatureUnit),
    /// Offline charge / start mode.
    OfflineCharge(OfflineCharge),
    /// Configured maximum current, A (6 up to the charger's maximum).
    MaxCurrent(u8),
}

impl ConfigItem {
    fn kind(&self) -> ConfigKind {
        match self {
            Self::Name(_) => ConfigKind::Name,
            Self::Language(_) => ConfigKind::Language,
            Self::TemperatureUnit(_) => ConfigKind::TemperatureUnit,
            Self::OfflineCharge(_) => ConfigKind::OfflineCharge,
            Self::MaxCurrent(_) => ConfigKind::MaxCurrent,
        }
    }
}

impl fmt::Display for ConfigItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(n) => write!(f, "name {n:?}"),
            Self::Language(l) => write!(f, "language {l}"),
            Self::TemperatureUnit(u) => write!(f, "temperature unit {u}"),
            Self::OfflineCharge(o) => write!(f, "offline charge {o}"),
            Self::MaxCurrent(a) => write!(f, "max current {a} A"),
        }
    }
}

/// The config items (and the version) fetched after a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ConfigKind {
    Name,
    Language,
    TemperatureUnit,
    OfflineCharge,
    MaxCurrent,
    Version,
}

const FETCHED: [ConfigKind; 6] = [
    ConfigKind::Name,
    ConfigKind::Language,
    ConfigKind::OfflineCharge,
    ConfigKind::MaxCurrent,
    ConfigKind::TemperatureUnit,
    ConfigKind::Version,
];

#[derive(Debug, Clone)]
enum PendingKind {
    Login,
    Start,
    Stop,
    Set(ConfigItem),
    Fetch { missing: Vec<ConfigKind> },
}

#[derive(Debug, Clone)]
struct Pending {
    /// `None` for requests the session made by itself (automatic login, config refresh).
    id: Option<RequestId>,
    kind: PendingKind,
    sent: Instant,
    deadline: Instant,
}

/// A snapshot of one charger for applications: everything known, no password.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChargerView {
    /// Serial.
    pub serial: Serial,
    /// Last learnt address and port.
    pub address: Option<SocketAddr>,
    /// Heard within the offline time.
    pub online: bool,
    /// Logged in (spec §5.3).
    pub logged_in: bool,
    /// One-word summary (spec §8.3).
    pub meta_state: MetaState,
    /// Whether a password is held.
    pub has_password: bool,
    /// Whether the charger rejected that password.
    pub password_rejected: bool,
    /// Brand (from the charger, or remembered).
    pub brand: String,
    /// Model (from the charger, or remembered).
    pub model: String,
    /// Identity and ratings, once a Login or LoginResponse was heard.
    pub info: Option<ChargerInfo>,
    /// Live measurements, once a status was heard.
    pub state: Option<ChargerState>,
    /// Configuration as far as answered.
    pub config: ChargerConfig,
    /// Whether config answers are still awaited (at most the config timeout).
    pub config_pending: bool,
    /// Current, planned or last session.
    pub charge: Option<CurrentCharge>,
}

impl ChargerView {
    /// Whether `pattern` is a case-insensitive part of the serial, brand or model.
    pub fn matches(&self, pattern: &str) -> bool {
        let p = pattern.to_lowercase();
        [
            self.serial.to_hex(),
            self.brand.to_lowercase(),
            self.model.to_lowercase(),
        ]
        .iter()
        .any(|field| field.contains(&p))
    }
}

/// Why [`select`] found no single charger.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SelectError {
    /// Nothing matches.
    #[error(
        "no known charger matches {pattern:?} (known: {})",
        list_or_none(known)
    )]
    NoMatch {
        /// The pattern.
        pattern: String,
        /// Serials known.
        known: Vec<String>,
    },
    /// Several chargers match.
    #[error("{pattern:?} matches several chargers: {}; use more of the serial", matching.join(", "))]
    Ambiguous {
        /// The pattern.
        pattern: String,
        /// Descriptions of the matching chargers.
        matching: Vec<String>,
    },
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

/// Picks the one charger whose serial, brand or model contains `pattern` (case-insensitive).
/// An exact serial wins over partial matches.
pub fn select<'a>(
    chargers: &'a [ChargerView],
    pattern: &str,
) -> Result<&'a ChargerView, SelectError> {
    if let Some(exact) = chargers
        .iter()
        .find(|c| c.serial.to_hex() == pattern.to_lowercase())
    {
        return Ok(exact);
    }
    let matching: Vec<&ChargerView> = chargers.iter().filter(|c| c.matches(pattern)).collect();
    match matching.as_slice() {
        [one] => Ok(one),
        [] => Err(SelectError::NoMatch {
            pattern: pattern.to_owned(),
            known: chargers.iter().map(describe).collect(),
        }),
        many => Err(SelectError::Ambiguous {
            pattern: pattern.to_owned(),
            matching: many.iter().map(|c| describe(c)).collect(),
        }),
    }
}

fn describe(c: &ChargerView) -> String {
    let label = format!("{} {}", c.brand, c.model);
    if label.trim().is_empty() {
        c.serial.to_hex()
    } else {
        format!("{} ({})", c.serial, label.trim())
    }
}

/// The state machine of one charger.
#[derive(Debug)]
pub struct Session {
    serial: Serial,
    cfg: SessionConfig,
    address: Option<SocketAddr>,
    password: Option<Password>,
    password_rejected: bool,
    brand: String,
    model: String,
    info: Option<ChargerInfo>,
    state: Option<ChargerState>,
    config: ChargerConfig,
    charge: Option<CurrentCharge>,
    last_heard: Option<Instant>,
    last_keepalive: Option<Instant>,
    online: bool,
    logged_in: bool,
    next_tick: Instant,
    config_fetched: Option<Instant>,
    pending: Vec<Pending>,
    next_id: u64,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Session {
    /// A session for `serial`, created at `now`.
    pub fn new(now: Instant, serial: Serial, cfg: SessionConfig) -> Self {
        Self {
            serial,
            cfg,
            address: None,
            password: None,
            password_rejected: false,
            brand: String::new(),
            model: String::new(),
            info: None,
            state: None,
            config: ChargerConfig::default(),
            charge: None,
            last_heard: None,
            last_keepalive: None,
            online: false,
            logged_in: false,
            next_tick: now,
            config_fetched: None,
            pending: Vec::new(),
            next_id: 1,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The charger's serial.
    pub fn serial(&self) -> Serial {
        self.serial
    }

    /// Last learnt address and port.
    pub fn address(&self) -> Option<SocketAddr> {
        self.address
    }

    /// Sets the address (e.g. remembered from an earlier run) until the charger is heard.
    pub fn set_address(&mut self, address: SocketAddr) {
        if self.address != Some(address) {
            self.address = Some(address);
            self.event(Change::Address);
        }
    }

    /// Remembered brand and model, shown until the charger describes itself.
    pub fn set_label(&mut self, brand: &str, model: &str) {
        brand.clone_into(&mut self.brand);
        model.clone_into(&mut self.model);
    }

    /// Sets the password without logging in (automatic login follows on the next tick).
    pub fn set_password(&mut self, password: Password) {
        self.password = Some(password);
        self.password_rejected = false;
    }

    /// The password, for persisting it; never print it.
    pub fn password(&self) -> Option<Password> {
        self.password
    }

    /// Online, as of the last call that passed `now`.
    pub fn is_online(&self) -> bool {
        self.online
    }

    /// Logged in, as of the last call that passed `now`.
    pub fn is_logged_in(&self) -> bool {
        self.logged_in
    }

    /// Identity and ratings.
    pub fn info(&self) -> Option<&ChargerInfo> {
        self.info.as_ref()
    }

    /// Live state.
    pub fn state(&self) -> Option<&ChargerState> {
        self.state.as_ref()
    }

    /// Configuration as far as known.
    pub fn config(&self) -> &ChargerConfig {
        &self.config
    }

    /// Current, planned or last session.
    pub fn charge(&self) -> Option<&CurrentCharge> {
        self.charge.as_ref()
    }

    /// A snapshot for applications.
    pub fn view(&self) -> ChargerView {
        ChargerView {
            serial: self.serial,
            address: self.address,
            online: self.online,
            logged_in: self.logged_in,
            meta_state: MetaState::derive(self.online, self.logged_in, self.state.as_ref()),
            has_password: self.password.is_some(),
            password_rejected: self.password_rejected,
            brand: self
                .info
                .as_ref()
                .map_or_else(|| self.brand.clone(), |i| i.brand.clone()),
            model: self
                .info
                .as_ref()
                .map_or_else(|| self.model.clone(), |i| i.model.clone()),
            info: self.info.clone(),
            state: self.state.clone(),
            config: self.config.clone(),
            config_pending: self
                .pending
                .iter()
                .any(|p| matches!(p.kind, PendingKind::Fetch { .. })),
            charge: self.charge.clone(),
        }
    }

    /// Handles one decoded datagram from `source`.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, datagram: &Datagram) {
        let command = datagram.command();
        if command.is_app_to_charger() {
            // Another app's request carrying this serial: not the charger speaking.
            return;
        }
        self.last_heard = Some(now);
        if (command.identifies_charger() || self.address.is_none()) && self.address != Some(source)
        {
            self.address = Some(source);
            self.event(Change::Address);
        }
        match &datagram.payload {
            Payload::Login(login) => {
                self.apply_login(login);
                if self.logged_in {
                    // A charger that announces itself has no client registered: our login
                    // lapsed (spec §5.1 item 5).
                    self.last_keepalive = None;
                    self.refresh_flags(now);
                }
                if self.may_auto_login() {
                    self.send_login(now, None);
                }
            }
            Payload::LoginResponse(login) => {
                self.apply_login(login);
                if let Some(pending) = self.take_pending(|k| matches!(k, PendingKind::Login)) {
                    self.send(Payload::LoginConfirm(Some(0)));
                    self.last_keepalive = Some(now);
                    self.password_rejected = false;
                    self.refresh_flags(now);
                    for p in pending {
                        self.complete(p.id, Ok(Reply::LoggedIn));
                    }
                    self.fetch_config_inner(now, None);
                }
            }
            Payload::Heading if self.can_answer() => {
                self.send(Payload::HeadingResponse(Some(0)));
                self.last_keepalive = Some(now);
            }
            Payload::Status(status) | Payload::StatusRecord(status) => {
                if self.can_answer() && command == Command::STATUS {
                    self.send(Payload::StatusAck(Some(1)));
                }
                let state = ChargerState::from_status(status);
                if self.state.as_ref() != Some(&state) {
                    self.state = Some(state);
                    self.event(Change::State);
                }
            }
            Payload::ChargingStatus(cs) | Payload::ChargingStatusResponse(cs) => {
                if self.can_answer() && command == Command::CHARGING_STATUS {
                    self.send(Payload::ChargingStatusAck(Some(0)));
                }
                let charge = CurrentCharge::from_charging_status(cs, &self.cfg.time_zone);
                if self.charge.as_ref() != Some(&charge) {
                    self.charge = Some(charge);
                    self.event(Change::Charge);
                }
            }
            Payload::ChargeStartResponse(resp) => {
                if let Some(p) = self.take_first(|k| matches!(k, PendingKind::Start)) {
                    let outcome = if resp.is_success() {
                        Ok(Reply::Started(*resp))
                    } else {
                        Err(RequestError::StartRefused {
                            error: resp.error,
                            reservation: resp.reservation_result,
                        })
                    };
                    self.complete(p.id, outcome);
                }
            }
            Payload::ChargeStopResponse(resp) => {
                if let Some(p) = self.take_first(|k| matches!(k, PendingKind::Stop)) {
                    let outcome = if resp.is_success() {
                        Ok(Reply::Stopped(*resp))
                    } else {
                        Err(RequestError::StopRefused {
                            fail_reason: resp.fail_reason,
                        })
                    };
                    self.complete(p.id, outcome);
                }
            }
            Payload::VersionResponse(version) => {
                if let Some(info) = &mut self.info
                    && info.apply_version(version)
                {
                    self.event(Change::Info);
                }
                self.config_answered(now, ConfigKind::Version, None);
            }
            Payload::MaxCurrentResponse(v) => {
                let item = ConfigItem::MaxCurrent(v.value);
                self.apply_config(now, &datagram.payload, v.action, item);
            }
            Payload::NicknameResponse(n) => {
                let item = ConfigItem::Name(n.display_name());
                self.apply_config(now, &datagram.payload, n.action, item);
            }
            Payload::OfflineChargeResponse(v) => {
                let item = ConfigItem::OfflineCharge(v.value);
                self.apply_config(now, &datagram.payload, v.action, item);
            }
            Payload::LanguageResponse(v) => {
                let item = ConfigItem::Language(v.value);
                self.apply_config(now, &datagram.payload, v.action, item);
            }
            Payload::TemperatureUnitResponse(v) => {
                let item = ConfigItem::TemperatureUnit(v.value);
                self.apply_config(now, &datagram.payload, v.action, item);
            }
            Payload::PasswordError => {
                let was_rejected = self.password_rejected;
                self.password_rejected = true;
                self.last_keepalive = None;
                let failed = self.take_pending(|k| {
                    matches!(
                        k,
                        PendingKind::Login
                            | PendingKind::Start
                            | PendingKind::Stop
                            | PendingKind::Set(_)
                    )
                });
                for p in failed.into_iter().flatten() {
                    self.complete(p.id, Err(RequestError::WrongPassword));
                }
                if !was_rejected {
                    self.event(Change::PasswordRejected);
                }
            }
            _ => {}
        }
        self.refresh_flags(now);
    }

    /// Advances timers: expires requests, updates online and logged-in, runs the periodic tick.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut expired = Vec::new();
        self.pending.retain(|p| {
            if p.deadline <= now {
                expired.push(p.clone());
                false
            } else {
                true
            }
        });
        for p in expired {
            let waited = now.saturating_duration_since(p.sent);
            match p.kind {
                PendingKind::Fetch { missing }
                    if missing.iter().all(|k| *k == ConfigKind::Version) =>
                {
                    // Some firmware never answers the version request; the config is complete.
                    self.config_fetched = Some(now);
                    self.complete(p.id, Ok(Reply::ConfigFetched(self.config.clone())));
                }
                _ => self.complete(p.id, Err(RequestError::Timeout { waited })),
            }
        }
        self.refresh_flags(now);
        if now >= self.next_tick {
            self.next_tick = now + self.cfg.tick;
            if self.may_auto_login() {
                self.send_login(now, None);
            }
            if self.logged_in
                && let Some(refresh) = self.cfg.config_refresh
                && self
                    .config_fetched
                    .is_none_or(|t| now.saturating_duration_since(t) >= refresh)
                && !self
                    .pending
                    .iter()
                    .any(|p| matches!(p.kind, PendingKind::Fetch { .. }))
            {
                self.fetch_config_inner(now, None);
            }
        }
    }

    /// When [`Session::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next = Some(self.next_tick);
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        for p in &self.pending {
            consider(p.deadline);
        }
        if self.online
            && let Some(t) = self.last_heard
        {
            consider(t + self.cfg.offline_after);
        }
        if self.logged_in
            && let Some(t) = self.last_keepalive
        {
            consider(t + self.cfg.logged_in_for);
        }
        next
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Starts the login handshake with `password` (remembered for automatic logins).
    pub fn login(&mut self, now: Instant, password: Password) -> Result<RequestId, CommandError> {
        if self.address.is_none() {
            return Err(CommandError::NoAddress(self.serial));
        }
        self.set_password(password);
        let id = self.next_id();
        self.send_login(now, Some(id));
        Ok(id)
    }

    /// Sends a charge start built from `params` (checked first: current within 6 and the
    /// charger's maximum, limits, texts). `wall_now` is the real time now; `suffix` gives the
    /// last four digits of a generated charge id.
    pub fn start_charge(
        &mut self,
        now: Instant,
        wall_now: Timestamp,
        params: &StartParams,
        suffix: u16,
    ) -> Result<RequestId, CommandError> {
        self.check_ready()?;
        self.check_not_switching()?;
        let payload = params
            .build(self.info.as_ref(), wall_now, &self.cfg.time_zone, suffix)
            .map_err(|source| CommandError::Start {
                serial: self.serial,
                source,
            })?;
        let id = self.next_id();
        self.send(Payload::ChargeStart(payload));
        self.push_pending(now, Some(id), PendingKind::Start, self.cfg.request_timeout);
        Ok(id)
    }

    /// Sends a charge stop (also cancels a planned session) on behalf of `user_id`.
    pub fn stop_charge(&mut self, now: Instant, user_id: &str) -> Result<RequestId, CommandError> {
        self.check_ready()?;
        self.check_not_switching()?;
        let user = FixedStr::new(user_id).map_err(|source| CommandError::Text {
            serial: self.serial,
            source,
        })?;
        let id = self.next_id();
        self.send(Payload::ChargeStop(ChargeStop::new(user)));
        self.push_pending(now, Some(id), PendingKind::Stop, self.cfg.request_timeout);
        Ok(id)
    }

    /// Sends a config SET; completes when the charger echoes the value.
    pub fn set_config(
        &mut self,
        now: Instant,
        item: ConfigItem,
    ) -> Result<RequestId, CommandError> {
        self.check_ready()?;
        let payload = match &item {
            ConfigItem::Name(name) => {
                Payload::Nickname(Nickname::set_display_name(name).map_err(|source| {
                    CommandError::Text {
                        serial: self.serial,
                        source,
                    }
                })?)
            }
            ConfigItem::Language(l) => Payload::Language(ConfigValue::set(*l)),
            ConfigItem::TemperatureUnit(u) => Payload::TemperatureUnit(ConfigValue::set(*u)),
            ConfigItem::OfflineCharge(o) => Payload::OfflineCharge(ConfigValue::set(*o)),
            ConfigItem::MaxCurrent(a) => {
                let max = self.info.as_ref().map_or(32, |i| i.max_current_a);
                if !(6..=max).contains(a) {
                    return Err(CommandError::Config {
                        serial: self.serial,
                        problem: format!("{a} A is outside the charger's range of 6 to {max} A"),
                    });
                }
                Payload::MaxCurrent(ConfigValue::set(*a))
            }
        };
        let id = self.next_id();
        self.send(payload);
        self.push_pending(
            now,
            Some(id),
            PendingKind::Set(item),
            self.cfg.request_timeout,
        );
        Ok(id)
    }

    /// Asks for every config item and the version; completes when all config items answered.
    pub fn fetch_config(&mut self, now: Instant) -> Result<RequestId, CommandError> {
        self.check_ready()?;
        let id = self.next_id();
        self.fetch_config_inner(now, Some(id));
        Ok(id)
    }

    fn check_ready(&self) -> Result<(), CommandError> {
        if self.address.is_none() {
            return Err(CommandError::NoAddress(self.serial));
        }
        if self.password.is_none() {
            return Err(CommandError::NoPassword(self.serial));
        }
        if self.password_rejected {
            return Err(CommandError::PasswordRejected(self.serial));
        }
        if !self.online {
            return Err(CommandError::Offline(self.serial));
        }
        Ok(())
    }

    fn check_not_switching(&self) -> Result<(), CommandError> {
        for p in &self.pending {
            let what = match p.kind {
                PendingKind::Start => "start",
                PendingKind::Stop => "stop",
                _ => continue,
            };
            return Err(CommandError::Busy {
                serial: self.serial,
                what,
            });
        }
        Ok(())
    }

    fn next_id(&mut self) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        id
    }

    fn can_answer(&self) -> bool {
        self.password.is_some() && !self.password_rejected
    }

    fn may_auto_login(&self) -> bool {
        self.can_answer()
            && self.address.is_some()
            && !self.logged_in
            && !self
                .pending
                .iter()
                .any(|p| matches!(p.kind, PendingKind::Login))
    }

    fn send_login(&mut self, now: Instant, id: Option<RequestId>) {
        if let Some(p) = self
            .pending
            .iter()
            .find(|p| matches!(p.kind, PendingKind::Login))
        {
            // One handshake at a time: a second caller waits for the same answer.
            if id.is_some() {
                let extra = Pending { id, ..p.clone() };
                self.pending.push(extra);
            }
            return;
        }
        self.send(Payload::RequestLogin(Some(0)));
        self.push_pending(now, id, PendingKind::Login, self.cfg.login_timeout);
    }

    fn fetch_config_inner(&mut self, now: Instant, id: Option<RequestId>) {
        let payloads = [
            Payload::Nickname(Nickname::GET),
            Payload::Language(ConfigValue::get()),
            Payload::OfflineCharge(ConfigValue::get()),
            Payload::MaxCurrent(ConfigValue::get()),
            Payload::TemperatureUnit(ConfigValue::get()),
            Payload::GetVersion,
        ];
        for p in payloads {
            self.send(p);
        }
        let missing = FETCHED.to_vec();
        self.push_pending(
            now,
            id,
            PendingKind::Fetch { missing },
            self.cfg.config_timeout,
        );
    }

    fn apply_login(&mut self, login: &crate::wire::Login) {
        let changed = match &mut self.info {
            Some(info) => info.update_from_login(login),
            None => {
                self.info = Some(ChargerInfo::from_login(self.serial, login));
                true
            }
        };
        if changed {
            self.event(Change::Info);
        }
    }

    fn apply_config(
        &mut self,
        now: Instant,
        payload: &Payload,
        action: ConfigAction,
        item: ConfigItem,
    ) {
        if self.config.apply(payload) {
            self.event(Change::Config);
        }
        let kind = item.kind();
        // A SET answer completes the matching SET; anything else counts for a fetch.
        if action == ConfigAction::SET
            && let Some(p) =
                self.take_first(|k| matches!(k, PendingKind::Set(i) if i.kind() == kind))
        {
            let PendingKind::Set(requested) = p.kind else {
                return;
            };
            let outcome = if requested == item {
                Ok(Reply::ConfigSet(item))
            } else {
                Err(RequestError::NotApplied {
                    requested,
                    echoed: item,
                })
            };
            self.complete(p.id, outcome);
            return;
        }
        self.config_answered(now, kind, Some(item));
    }

    fn config_answered(&mut self, now: Instant, kind: ConfigKind, _item: Option<ConfigItem>) {
        let mut done = Vec::new();
        for p in &mut self.pending {
            if let PendingKind::Fetch { missing } = &mut p.kind {
                missing.retain(|k| *k != kind);
                if missing.is_empty() {
                    done.push(p.clone());
                }
            }
        }
        if done.is_empty() {
            return;
        }
        self.pending
            .retain(|p| !matches!(&p.kind, PendingKind::Fetch { missing } if missing.is_empty()));
        self.config_fetched = Some(now);
        for p in done {
            self.complete(p.id, Ok(Reply::ConfigFetched(self.config.clone())));
        }
    }

    fn take_first(&mut self, pred: impl Fn(&PendingKind) -> bool) -> Option<Pending> {
        let pos = self.pending.iter().position(|p| pred(&p.kind))?;
        Some(self.pending.remove(pos))
    }

    fn take_pending(&mut self, pred: impl Fn(&PendingKind) -> bool) -> Option<Vec<Pending>> {
        let (taken, kept): (Vec<_>, Vec<_>) = self.pending.drain(..).partition(|p| pred(&p.kind));
        self.pending = kept;
        (!taken.is_empty()).then_some(taken)
    }

    fn push_pending(
        &mut self,
        now: Instant,
        id: Option<RequestId>,
        kind: PendingKind,
        wait: Duration,
    ) {
        self.pending.push(Pending {
            id,
            kind,
            sent: now,
            deadline: now + wait,
        });
    }

    fn complete(&mut self, id: Option<RequestId>, outcome: Result<Reply, RequestError>) {
        if let Some(id) = id {
            self.events.push_back(Event::Completed {
                serial: self.serial,
                id,
                outcome,
            });
        }
    }

    fn event(&mut self, change: Change) {
        self.events.push_back(Event::Changed(self.serial, change));
    }

    fn send(&mut self, payload: Payload) {
        let Some(destination) = self.address else {
            return;
        };
        let password = self.password.unwrap_or(Password::ZERO);
        let datagram = Datagram::to_charger(self.serial, password, payload);
        // Every payload the session builds is far below the 16-bit length limit.
        if let Ok(contents) = datagram.encode() {
            self.transmits.push_back(Transmit {
                destination,
                contents,
                serial: self.serial,
                command: datagram.command(),
            });
        }
    }

    fn refresh_flags(&mut self, now: Instant) {
        let online = self
            .last_heard
            .is_some_and(|t| now.saturating_duration_since(t) < self.cfg.offline_after);
        let logged_in = online
            && !self.password_rejected
            && self
                .last_keepalive
                .is_some_and(|t| now.saturating_duration_since(t) < self.cfg.logged_in_for);
        if online != self.online {
            self.online = online;
            self.event(Change::Online(online));
        }
        if logged_in != self.logged_in {
            self.logged_in = logged_in;
            self.event(Change::LoggedIn(logged_in));
        }
    }

    fn fail_all(&mut self, error: RequestError) {
        for p in std::mem::take(&mut self.pending) {
            self.complete(p.id, Err(error.clone()));
        }
    }
}

/// All chargers heard or inserted, and the routing of UDP packets to their sessions.
#[derive(Debug)]
pub struct Endpoint {
    cfg: SessionConfig,
    sessions: BTreeMap<Serial, Session>,
    events: VecDeque<Event>,
}

impl Endpoint {
    /// An endpoint whose sessions use `cfg`.
    pub fn new(cfg: SessionConfig) -> Self {
        Self {
            cfg,
            sessions: BTreeMap::new(),
            events: VecDeque::new(),
        }
    }

    /// The session configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    /// Handles one UDP packet (one or more datagrams) from `source`.
    pub fn handle_packet(&mut self, now: Instant, source: SocketAddr, packet: &[u8]) {
        for result in Datagrams::new(packet) {
            match result {
                Ok(datagram) => {
                    if datagram.command().is_app_to_charger() {
                        continue;
                    }
                    self.session_entry(now, datagram.serial)
                        .handle_datagram(now, source, &datagram);
                }
                Err(error) => self.events.push_back(Event::Malformed { source, error }),
            }
        }
    }

    /// Advances every session's timers and forgets long-silent chargers when configured.
    pub fn handle_timeout(&mut self, now: Instant) {
        for session in self.sessions.values_mut() {
            session.handle_timeout(now);
        }
        if let Some(after) = self.cfg.forget_after {
            let stale: Vec<Serial> = self
                .sessions
                .values()
                .filter(|s| {
                    s.last_heard
                        .is_some_and(|t| now.saturating_duration_since(t) >= after)
                })
                .map(|s| s.serial)
                .collect();
            for serial in stale {
                self.forget(serial);
            }
        }
    }

    /// The earliest time any session needs [`Endpoint::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next = self
            .sessions
            .values()
            .filter_map(Session::poll_timeout)
            .min();
        if let Some(after) = self.cfg.forget_after {
            let forget = self
                .sessions
                .values()
                .filter_map(|s| s.last_heard)
                .min()
                .map(|t| t + after);
            next = match (next, forget) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        next
    }

    /// The next datagram to send, from any session.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.sessions.values_mut().find_map(Session::poll_transmit)
    }

    /// The next event, from the endpoint or any session.
    pub fn poll_event(&mut self) -> Option<Event> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        self.sessions.values_mut().find_map(Session::poll_event)
    }

    /// Adds a charger known from elsewhere (e.g. a state file) with its address, password and
    /// label. With a password, the first tick sends a login to that address, so a charger that
    /// no longer broadcasts is still reached.
    pub fn insert_known(
        &mut self,
        now: Instant,
        serial: Serial,
        address: SocketAddr,
        password: Option<Password>,
        brand: &str,
        model: &str,
    ) {
        let session = self.session_entry(now, serial);
        session.set_address(address);
        session.set_label(brand, model);
        if let Some(p) = password {
            session.set_password(p);
        }
    }

    /// Forgets a charger; its pending requests fail with [`RequestError::Forgotten`].
    pub fn forget(&mut self, serial: Serial) -> bool {
        match self.sessions.remove(&serial) {
            Some(mut session) => {
                session.fail_all(RequestError::Forgotten);
                while let Some(e) = session.poll_event() {
                    self.events.push_back(e);
                }
                self.events.push_back(Event::Removed(serial));
                true
            }
            None => false,
        }
    }

    /// One session.
    pub fn session(&self, serial: Serial) -> Option<&Session> {
        self.sessions.get(&serial)
    }

    /// One session, mutable (to make requests).
    pub fn session_mut(&mut self, serial: Serial) -> Option<&mut Session> {
        self.sessions.get_mut(&serial)
    }

    /// Every session, ordered by serial.
    pub fn sessions(&self) -> impl Iterator<Item = &Session> {
        self.sessions.values()
    }

    /// Snapshots of every charger, ordered by serial.
    pub fn views(&self) -> Vec<ChargerView> {
        self.sessions.values().map(Session::view).collect()
    }

    /// The session for `serial`, or a [`CommandError::UnknownCharger`].
    pub fn require(&mut self, serial: Serial) -> Result<&mut Session, CommandError> {
        self.sessions
            .get_mut(&serial)
            .ok_or(CommandError::UnknownCharger(serial))
    }

    fn session_entry(&mut self, now: Instant, serial: Serial) -> &mut Session {
        let cfg = &self.cfg;
        let events = &mut self.events;
        self.sessions.entry(serial).or_insert_with(|| {
            events.push_back(Event::Added(serial));
            Session::new(now, serial, cfg.clone())
        })
    }
}

/// A UDP packet as lower-case hex with the password bytes (offsets 13..19) of every datagram
/// replaced by `xx`, for dumps and logs. Walks the packet by the length fields; bytes that do not
/// form a datagram are shown as they are.
pub fn masked_hex(packet: &[u8]) -> String {
    let mut masked = vec![false; packet.len()];
    let mut offset = 0;
    while packet.len() >= offset + 25 && packet[offset..offset + 2] == crate::wire::MAGIC {
        for m in &mut masked[offset + 13..offset + 19] {
            *m = true;
        }
        let len = usize::from(u16::from_be_bytes([packet[offset + 2], packet[offset + 3]]));
        if len < 25 {
            break;
        }
        offset += len;
    }
    let mut out = String::with_capacity(packet.len() * 2);
    for (b, m) in packet.iter().zip(masked) {
        if m {
            out.push_str("xx");
        } else {
            out.push_str(&format!("{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
