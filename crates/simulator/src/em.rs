//! A simulated EVSEMaster charger on UDP, confined to loopback.
//!
//! [`EmCharger::start`] binds a UDP socket on a loopback address and behaves like the chargers
//! described in the protocol notes: while no client is registered it announces itself with a
//! `Login` datagram to a configured target (the stand-in for the LAN broadcast, always a loopback
//! address); it checks the password of every request and answers a wrong one with a password
//! error; after the login handshake it sends `Heading` and status datagrams to the client and
//! drops the registration when Headings go unanswered; it answers config GET and SET, version
//! and clock requests; it starts and stops sessions, refusing to start without a plugged car.
//!
//! Firmware profiles ([`EmProfile`]): `bs20` (the default) and `sqw49`, which differ in the
//! length of the version reply and in the idle output-state codes.
//!
//! Faults: go silent at once or after a delay (sends and answers nothing), reject every login,
//! unplug the car. [`EmCharger::snapshot`] and [`EmCharger::received`] let tests check what the
//! charger saw.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use emproto::model::MetaState;
use emproto::time::EmTime;
use emproto::wire::{
    ChargeStartResponse, ChargeStopResponse, ChargingStatus, Command, ConfigAction, ConfigValue,
    CurrentState, Datagram, DeviceType, Energy, ErrorFlags, FixedStr, GunState, Language, Limit,
    Login, LoginExtension, Nickname, OfflineCharge, OutputState, Password, Payload, PhaseReading,
    ReservationResult, Serial, StartError, Status, SystemTime, Temperature, TemperatureUnit,
    Version, Voltage, parse_packet,
};
use thiserror::Error;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

/// The charger firmware family the simulator imitates, where families differ on the wire
/// (specs/emproto-protocol.md §6.11 and §7.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum EmProfile {
    /// Besen BS20: a 36-byte GetVersionResponse (no "supportNew" byte, as captured), output
    /// state 2 whenever no power flows.
    #[default]
    Bs20,
    /// The SQW49 (Morec-type) family: a 37-byte GetVersionResponse ending in "supportNew", output
    /// state 0 when idle and 2 "ready" when a car is plugged in but not charging.
    Sqw49,
}

impl EmProfile {
    /// Every profile, in the order `--profile` lists them.
    pub const ALL: [EmProfile; 2] = [EmProfile::Bs20, EmProfile::Sqw49];

    /// The profile's name (`bs20`, `sqw49`).
    pub fn name(self) -> &'static str {
        match self {
            EmProfile::Bs20 => "bs20",
            EmProfile::Sqw49 => "sqw49",
        }
    }

    /// The answer to GetVersion: the simulator's own version texts, 36 bytes for a BS20 and
    /// 37 (a trailing "supportNew" byte, 1) for an SQW49.
    pub fn version(self) -> Version {
        Version {
            hardware_version: FixedStr::truncating("SIM.1"),
            software_version: FixedStr::truncating("evctl-sim-1"),
            feature: 0,
            support_new: match self {
                EmProfile::Bs20 => None,
                EmProfile::Sqw49 => Some(1),
            },
            tail: Vec::new(),
        }
    }

    /// Status byte 19 while no power flows.
    fn output_when_not_charging(self, car_plugged: bool) -> OutputState {
        match (self, car_plugged) {
            (EmProfile::Bs20, _) => OutputState::IDLE,
            (EmProfile::Sqw49, true) => OutputState(2),
            (EmProfile::Sqw49, false) => OutputState(0),
        }
    }
}

impl std::str::FromStr for EmProfile {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        EmProfile::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| format!("`{text}` is not a charger profile: use bs20 or sqw49"))
    }
}

/// How the simulated charger looks and behaves.
#[derive(Debug, Clone)]
pub struct EmChargerConfig {
    /// Address to bind; must be loopback (port 0 picks a free port).
    pub bind: SocketAddr,
    /// Where announcements go while nobody is registered; must be loopback.
    pub target: SocketAddr,
    /// Serial.
    pub serial: Serial,
    /// The password it accepts (six ASCII characters).
    pub password: String,
    /// Brand announced.
    pub brand: String,
    /// Model announced.
    pub model: String,
    /// Maximum current per phase, A.
    pub max_current_a: u8,
    /// 1 or 3.
    pub phases: u8,
    /// Whether a car is plugged in.
    pub car_plugged: bool,
    /// Interval of Login announcements while unregistered (about 3 s on real units).
    pub announce_every: Duration,
    /// Interval of Headings while registered (about 10 s).
    pub heading_every: Duration,
    /// Interval of status datagrams while registered (5 to 15 s).
    pub status_every: Duration,
    /// Drop the registration when no Heading was answered for this long (about 30 s).
    pub drop_after: Duration,
    /// Fault: silent (sends and answers nothing) from this long after start.
    pub silent_after: Option<Duration>,
    /// Fault: every login is answered with a password error.
    pub reject_login: bool,
    /// The firmware family imitated (version reply, status codes).
    pub profile: EmProfile,
}

impl EmChargerConfig {
    /// A single-phase 32 A charger with password "123456" announcing to `target`.
    pub fn new(target: SocketAddr) -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            target,
            serial: Serial([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]),
            password: "123456".into(),
            brand: "EVCTL".into(),
            model: "SIM-1P".into(),
            max_current_a: 32,
            phases: 1,
            car_plugged: true,
            announce_every: Duration::from_secs(3),
            heading_every: Duration::from_secs(10),
            status_every: Duration::from_secs(5),
            drop_after: Duration::from_secs(30),
            silent_after: None,
            reject_login: false,
            profile: EmProfile::Bs20,
        }
    }
}

/// Why the simulated charger could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EmSimError {
    /// The bind or target address is not on loopback.
    #[error("the simulated charger only talks on loopback; {addr} is not a loopback address")]
    NotLoopback {
        /// The address.
        addr: SocketAddr,
    },
    /// The password is not six ASCII characters.
    #[error("invalid simulator password")]
    Password(#[source] emproto::wire::PasswordError),
    /// The socket could not be bound.
    #[error("cannot bind the simulated charger to {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// What the simulated charger is doing, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmSnapshot {
    /// The registered client, if any.
    pub client: Option<SocketAddr>,
    /// Whether a session is running.
    pub charging: bool,
    /// Whether a session is planned.
    pub reserved: bool,
    /// Current of the running session, A.
    pub session_current_a: u8,
    /// User id of the last start.
    pub user_id: String,
    /// Name (without the `ACP#` prefix).
    pub name: String,
    /// Language.
    pub language: Language,
    /// Temperature unit.
    pub temperature_unit: TemperatureUnit,
    /// Offline charge mode.
    pub offline_charge: OfflineCharge,
    /// Configured maximum current.
    pub max_current_a: u8,
    /// Whether it is silent.
    pub silent: bool,
    /// Number of starts and stops performed.
    pub switches: u32,
}

impl EmSnapshot {
    /// The meta state a logged-in client should derive.
    pub fn expected_meta(&self, car_plugged: bool) -> MetaState {
        if self.charging {
            MetaState::Charging
        } else if car_plugged {
            MetaState::PluggedIn
        } else {
            MetaState::Idle
        }
    }
}

#[derive(Debug)]
struct State {
    cfg: EmChargerConfig,
    password: Password,
    client: Option<SocketAddr>,
    last_ack: Instant,
    silent: bool,
    charging: bool,
    reserved: bool,
    session_current_a: u8,
    session_start: Option<Instant>,
    session_start_energy: u32,
    charge_id: String,
    user_id: String,
    energy_hundredths: u32,
    energy_remainder: f64,
    last_energy_update: Instant,
    name: String,
    language: Language,
    temperature_unit: TemperatureUnit,
    offline_charge: OfflineCharge,
    max_current_a: u8,
    switches: u32,
    received: Vec<Command>,
}

/// A running simulated charger. Dropping it stops it.
#[derive(Debug)]
pub struct EmCharger {
    local_addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for EmCharger {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl EmCharger {
    /// Binds and starts the charger.
    pub async fn start(cfg: EmChargerConfig) -> Result<Self, EmSimError> {
        for addr in [cfg.bind, cfg.target] {
            if !addr.ip().is_loopback() {
                return Err(EmSimError::NotLoopback { addr });
            }
        }
        let password = Password::new(&cfg.password).map_err(EmSimError::Password)?;
        let socket = UdpSocket::bind(cfg.bind)
            .await
            .map_err(|source| EmSimError::Bind {
                addr: cfg.bind,
                source,
            })?;
        let local_addr = socket.local_addr().map_err(|source| EmSimError::Bind {
            addr: cfg.bind,
            source,
        })?;
        let now = Instant::now();
        let state = Arc::new(Mutex::new(State {
            password,
            client: None,
            last_ack: now,
            silent: false,
            charging: false,
            reserved: false,
            session_current_a: 0,
            session_start: None,
            session_start_energy: 0,
            charge_id: String::new(),
            user_id: String::new(),
            energy_hundredths: 147_585,
            energy_remainder: 0.0,
            last_energy_update: now,
            name: "Simulated".into(),
            language: Language::ENGLISH,
            temperature_unit: TemperatureUnit::CELSIUS,
            offline_charge: OfflineCharge::APP_AND_BUTTON,
            max_current_a: cfg.max_current_a.min(16),
            switches: 0,
            received: Vec::new(),
            cfg,
        }));
        let task = tokio::spawn(run(socket, Arc::clone(&state)));
        Ok(Self {
            local_addr,
            state,
            task,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Goes silent (or speaks again).
    pub fn set_silent(&self, silent: bool) {
        lock(&self.state).silent = silent;
    }

    /// Plugs the car in or out.
    pub fn set_car_plugged(&self, plugged: bool) {
        let mut s = lock(&self.state);
        s.cfg.car_plugged = plugged;
        if !plugged {
            s.charging = false;
        }
    }

    /// What the charger is doing.
    pub fn snapshot(&self) -> EmSnapshot {
        let s = lock(&self.state);
        EmSnapshot {
            client: s.client,
            charging: s.charging,
            reserved: s.reserved,
            session_current_a: s.session_current_a,
            user_id: s.user_id.clone(),
            name: s.name.clone(),
            language: s.language,
            temperature_unit: s.temperature_unit,
            offline_charge: s.offline_charge,
            max_current_a: s.max_current_a,
            silent: s.silent,
            switches: s.switches,
        }
    }

    /// Every app → charger command received so far, in order.
    pub fn received(&self) -> Vec<Command> {
        lock(&self.state).received.clone()
    }

    /// Stops the charger.
    pub fn stop(self) {
        self.task.abort();
    }
}

async fn run(socket: UdpSocket, state: Arc<Mutex<State>>) {
    let (announce_every, heading_every, status_every, silent_after) = {
        let s = lock(&state);
        (
            s.cfg.announce_every,
            s.cfg.heading_every,
            s.cfg.status_every,
            s.cfg.silent_after,
        )
    };
    let started = Instant::now();
    let mut announce = tokio::time::interval(announce_every.max(Duration::from_millis(10)));
    let mut heading = tokio::time::interval(heading_every.max(Duration::from_millis(10)));
    let mut status = tokio::time::interval(status_every.max(Duration::from_millis(10)));
    for i in [&mut announce, &mut heading, &mut status] {
        i.set_missed_tick_behavior(MissedTickBehavior::Delay);
    }
    let mut buf = vec![0u8; 4096];
    loop {
        let mut out: Vec<(SocketAddr, Payload)> = Vec::new();
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                let Ok((n, src)) = r else { continue };
                let mut s = lock(&state);
                check_silence(&mut s, started, silent_after);
                if !s.silent {
                    for d in parse_packet(&buf[..n]).into_iter().flatten() {
                        s.handle(src, &d, &mut out);
                    }
                }
            }
            _ = announce.tick() => {
                let mut s = lock(&state);
                check_silence(&mut s, started, silent_after);
                if !s.silent && s.client.is_none() {
                    out.push((s.cfg.target, Payload::Login(s.login())));
                }
            }
            _ = heading.tick() => {
                let mut s = lock(&state);
                check_silence(&mut s, started, silent_after);
                if let Some(client) = s.client
                    && !s.silent
                {
                    if s.last_ack.elapsed() > s.cfg.drop_after {
                        // Headings went unanswered: back to announcing.
                        s.client = None;
                    } else {
                        out.push((client, Payload::Heading));
                    }
                }
            }
            _ = status.tick() => {
                let mut s = lock(&state);
                check_silence(&mut s, started, silent_after);
                if let Some(client) = s.client
                    && !s.silent
                {
                    out.push((client, Payload::Status(s.status())));
                    out.push((client, Payload::ChargingStatus(s.charging_status())));
                }
            }
        }
        let serial = lock(&state).cfg.serial;
        for (to, payload) in out {
            if let Ok(bytes) = Datagram::from_charger(serial, payload).encode() {
                // A lost datagram is what UDP does; the client must cope.
                let _ = socket.send_to(&bytes, to).await;
            }
        }
    }
}

fn check_silence(s: &mut State, started: Instant, silent_after: Option<Duration>) {
    if silent_after.is_some_and(|d| started.elapsed() >= d) {
        s.silent = true;
    }
}

impl State {
    fn handle(&mut self, src: SocketAddr, d: &Datagram, out: &mut Vec<(SocketAddr, Payload)>) {
        let command = d.command();
        if d.serial != self.cfg.serial || !command.is_app_to_charger() {
            return;
        }
        self.received.push(command);
        if d.password != self.password {
            out.push((src, Payload::PasswordError));
            return;
        }
        self.accumulate_energy();
        let reply = match &d.payload {
            Payload::RequestLogin(_) if self.cfg.reject_login => Payload::PasswordError,
            Payload::RequestLogin(_) => Payload::LoginResponse(self.login()),
            Payload::LoginConfirm(_) => {
                self.client = Some(src);
                self.last_ack = Instant::now();
                out.push((src, Payload::Status(self.status())));
                Payload::ChargingStatus(self.charging_status())
            }
            Payload::HeadingResponse(_) => {
                if self.client == Some(src) {
                    self.last_ack = Instant::now();
                }
                return;
            }
            Payload::RequestChargingStatus(_) => {
                Payload::ChargingStatusResponse(self.charging_status())
            }
            Payload::GetVersion => Payload::VersionResponse(self.cfg.profile.version()),
            Payload::SystemTime(t) => {
                // The charger clock as a client in UTC would set it: Unix time − 8 h.
                let unix = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let now = EmTime(u32::try_from(unix.saturating_sub(8 * 3600)).unwrap_or(u32::MAX));
                let action = if t.action == ConfigAction::SET {
                    ConfigAction::SET
                } else {
                    ConfigAction::REPORT
                };
                Payload::SystemTimeResponse(SystemTime {
                    action,
                    time: now,
                    form: emproto::wire::SystemTimeForm::Short,
                })
            }
            Payload::MaxCurrent(v) => {
                if v.action == ConfigAction::SET && (6..=self.cfg.max_current_a).contains(&v.value)
                {
                    self.max_current_a = v.value;
                }
                Payload::MaxCurrentResponse(ConfigValue {
                    action: v.action,
                    value: self.max_current_a,
                })
            }
            Payload::Nickname(n) => {
                if n.action == ConfigAction::SET {
                    self.name = n.display_name();
                }
                let name = Nickname::set_display_name(&self.name)
                    .map(|x| x.name)
                    .unwrap_or_default();
                Payload::NicknameResponse(Nickname {
                    action: n.action,
                    name,
                    short_form: false,
                })
            }
            Payload::Language(v) => {
                if v.action == ConfigAction::SET {
                    self.language = v.value;
                }
                Payload::LanguageResponse(ConfigValue {
                    action: v.action,
                    value: self.language,
                })
            }
            Payload::TemperatureUnit(v) => {
                if v.action == ConfigAction::SET {
                    self.temperature_unit = v.value;
                }
                Payload::TemperatureUnitResponse(ConfigValue {
                    action: v.action,
                    value: self.temperature_unit,
                })
            }
            Payload::OfflineCharge(v) => {
                if v.action == ConfigAction::SET {
                    self.offline_charge = v.value;
                }
                Payload::OfflineChargeResponse(ConfigValue {
                    action: v.action,
                    value: self.offline_charge,
                })
            }
            Payload::ChargeStart(cs) => {
                let (error, reservation) = if !self.cfg.car_plugged {
                    (StartError::NOT_PLUGGED_IN, ReservationResult::IMMEDIATE)
                } else if self.charging {
                    (
                        StartError::ALREADY_CHARGING,
                        ReservationResult::ALREADY_CHARGING,
                    )
                } else if self.reserved && cs.is_reservation {
                    (
                        StartError::RESERVATION_PENDING,
                        ReservationResult::ALREADY_RESERVED,
                    )
                } else if !(6..=self.cfg.max_current_a).contains(&cs.max_current_a) {
                    (
                        StartError::INCORRECT_POWER,
                        ReservationResult::INCORRECT_POWER,
                    )
                } else if cs.is_reservation {
                    (StartError::NONE, ReservationResult::RESERVED)
                } else {
                    (StartError::NONE, ReservationResult::IMMEDIATE)
                };
                let ok = error == StartError::NONE;
                if ok {
                    self.switches += 1;
                    self.user_id = cs.user_id.as_str();
                    self.charge_id = cs.charge_id.as_str();
                    self.session_current_a = cs.max_current_a;
                    if cs.is_reservation {
                        self.reserved = true;
                    } else {
                        self.charging = true;
                        self.session_start = Some(Instant::now());
                        self.session_start_energy = self.energy_hundredths;
                    }
                }
                out.push((
                    src,
                    Payload::ChargeStartResponse(ChargeStartResponse {
                        line_id: cs.line_id,
                        reservation_result: reservation,
                        start_result: u8::from(ok),
                        error,
                        max_current_a: cs.max_current_a,
                    }),
                ));
                if ok && let Some(client) = self.client {
                    out.push((client, Payload::Status(self.status())));
                }
                return;
            }
            Payload::ChargeStop(_) => {
                if self.charging || self.reserved {
                    self.switches += 1;
                }
                self.charging = false;
                self.reserved = false;
                out.push((
                    src,
                    Payload::ChargeStopResponse(ChargeStopResponse {
                        line_id: 1,
                        stop_result: 1,
                        fail_reason: 0,
                    }),
                ));
                if let Some(client) = self.client {
                    out.push((client, Payload::Status(self.status())));
                }
                return;
            }
            _ => return,
        };
        out.push((src, reply));
    }

    fn login(&self) -> Login {
        Login {
            device_type: if self.cfg.phases == 3 {
                DeviceType(10)
            } else {
                DeviceType::SINGLE_PHASE_1
            },
            brand: FixedStr::truncating(&self.cfg.brand),
            model: FixedStr::truncating(&self.cfg.model),
            hardware_version: FixedStr::truncating("SIM.1"),
            max_power_w: u32::from(self.cfg.max_current_a) * 230 * u32::from(self.cfg.phases),
            max_current_a: self.cfg.max_current_a,
            hot_line: FixedStr::truncating("LOOPBACK ONLY"),
            extension: LoginExtension::None,
        }
    }

    fn accumulate_energy(&mut self) {
        let now = Instant::now();
        if self.charging {
            let hours = now.duration_since(self.last_energy_update).as_secs_f64() / 3600.0;
            let kw =
                230.0 * f64::from(self.session_current_a) * f64::from(self.cfg.phases) / 1000.0;
            self.energy_remainder += kw * hours * 100.0;
            let whole = self.energy_remainder.floor();
            self.energy_remainder -= whole;
            // A few hundredths per call at most; saturating keeps a long run from overflowing.
            self.energy_hundredths = self.energy_hundredths.saturating_add(whole as u32);
        }
        self.last_energy_update = now;
    }

    fn status(&mut self) -> Status {
        self.accumulate_energy();
        let amps = if self.charging {
            self.session_current_a
        } else {
            0
        };
        let phase = PhaseReading {
            voltage: Voltage(2300),
            current: emproto::wire::Current(u16::from(amps) * 100),
        };
        let three = self.cfg.phases == 3;
        let idle = self
            .cfg
            .profile
            .output_when_not_charging(self.cfg.car_plugged);
        let (gun, output, state) = match (self.cfg.car_plugged, self.charging, self.reserved) {
            (_, true, _) => (
                GunState::CONNECTED_LOCKED,
                OutputState::CHARGING,
                CurrentState::CHARGING,
            ),
            (_, false, true) => (
                GunState::CONNECTED_UNLOCKED,
                idle,
                CurrentState::RESERVATION,
            ),
            (true, false, false) => (
                GunState::CONNECTED_UNLOCKED,
                idle,
                CurrentState::READY_TO_CHARGE,
            ),
            (false, false, false) => (GunState::DISCONNECTED, idle, CurrentState::NOT_CONNECTED),
        };
        Status {
            line_id: 1,
            l1: phase,
            power_w: u32::from(amps) * 230 * u32::from(self.cfg.phases),
            energy_counter: Energy(self.energy_hundredths),
            inner_temperature: Temperature::from_celsius(26.5),
            outer_temperature: Temperature::from_celsius(26.5),
            emergency: 1,
            gun_state: gun,
            output_state: output,
            current_state: state,
            errors: ErrorFlags::NONE,
            l2_l3: three.then_some([phase, phase]),
            tail: Vec::new(),
        }
    }

    fn charging_status(&mut self) -> ChargingStatus {
        self.accumulate_energy();
        let state = if self.charging {
            CurrentState::CHARGING
        } else if self.reserved {
            CurrentState::RESERVATION
        } else {
            CurrentState::READY_TO_CHARGE
        };
        let duration_s = self.session_start.map_or(0, |t| {
            u32::try_from(t.elapsed().as_secs()).unwrap_or(u32::MAX)
        });
        let charged = self
            .energy_hundredths
            .saturating_sub(self.session_start_energy);
        ChargingStatus {
            line_id: 1,
            current_state: state,
            charge_id: FixedStr::truncating(&self.charge_id),
            start_type: 1,
            charge_type: 1,
            max_duration_min: Limit::NONE,
            max_energy: Limit::NONE,
            param3: Limit::NONE,
            reservation_time: EmTime(0),
            user_id: FixedStr::truncating(&self.user_id),
            max_current_a: self.session_current_a,
            start_time: EmTime(0),
            duration_s,
            start_energy: Energy(if self.charging {
                self.session_start_energy
            } else {
                0
            }),
            current_energy: Energy(self.energy_hundredths),
            charged_energy: Energy(if self.session_start.is_some() {
                charged
            } else {
                0
            }),
            price: 0,
            fee_type: 1,
            fee: 0,
            tail: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_addresses_outside_loopback() {
        let mut cfg = EmChargerConfig::new("127.0.0.1:9".parse().expect("addr"));
        cfg.target = "192.0.2.1:28376".parse().expect("addr");
        assert!(matches!(
            EmCharger::start(cfg).await,
            Err(EmSimError::NotLoopback { .. })
        ));
    }

    #[tokio::test]
    async fn announces_checks_the_password_and_answers_a_login() {
        let client = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let mut cfg = EmChargerConfig::new(client.local_addr().expect("addr"));
        cfg.announce_every = Duration::from_millis(50);
        let sim = EmCharger::start(cfg.clone()).await.expect("start");
        let mut buf = [0u8; 1024];
        let (n, from) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
            .await
            .expect("announcement within 5 s")
            .expect("recv");
        assert_eq!(from, sim.local_addr());
        let d = parse_packet(&buf[..n]).remove(0).expect("valid");
        assert!(matches!(d.payload, Payload::Login(_)));

        let wrong = Datagram::to_charger(
            cfg.serial,
            Password::new("000000").expect("pw"),
            Payload::RequestLogin(Some(0)),
        );
        client
            .send_to(&wrong.encode().expect("enc"), sim.local_addr())
            .await
            .expect("send");
        let reply = next_non_login(&client).await;
        assert_eq!(reply.payload, Payload::PasswordError);

        let right = Datagram::to_charger(
            cfg.serial,
            Password::new("123456").expect("pw"),
            Payload::RequestLogin(Some(0)),
        );
        client
            .send_to(&right.encode().expect("enc"), sim.local_addr())
            .await
            .expect("send");
        let reply = next_non_login(&client).await;
        assert!(
            matches!(reply.payload, Payload::LoginResponse(ref l) if l.brand.as_str() == "EVCTL")
        );
        assert_eq!(
            sim.received(),
            vec![Command::REQUEST_LOGIN, Command::REQUEST_LOGIN]
        );
    }

    async fn next_non_login(client: &UdpSocket) -> Datagram {
        let mut buf = [0u8; 1024];
        loop {
            let (n, _) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
                .await
                .expect("answer within 5 s")
                .expect("recv");
            let d = parse_packet(&buf[..n]).remove(0).expect("valid");
            if !matches!(d.payload, Payload::Login(_)) {
                return d;
            }
        }
    }
}
