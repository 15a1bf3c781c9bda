//! Session tests: a fake clock (plain `Instant`s moved by hand) and in-memory datagrams.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::*;
use crate::wire::{
    ChargeStartResponse, ChargeStopResponse, GunState, Login, OutputState, Status, parse_packet,
};

const SERIAL_HEX: &str = "9181102751219513";
/// Vector A5: a Besen BS20 announcing itself (70-byte login).
const LOGIN_A5: &str = "0601005f009181102751219513ffffffffffff000101424553454e000000000000000000000042533230000000000000000000000000432e333235322e31313241303038000000001b80205757572e455653452e434f4d00000000122f0f02";
/// Vector A1: a 25-byte status, plugged in, idle.
const STATUS_A1: &str = "06010032009181102751219513ffffffffffff000401092e00000000000000024081589258920102020d000000000b7b0f02";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
        .collect()
}

fn serial() -> Serial {
    SERIAL_HEX.parse().expect("serial")
}

fn pw() -> Password {
    Password::new("123456").expect("password")
}

fn charger_addr() -> SocketAddr {
    "127.0.0.1:30139".parse().expect("addr")
}

fn login_payload() -> Login {
    match parse_packet(&hex(LOGIN_A5)).remove(0).expect("A5").payload {
        Payload::Login(l) => l,
        other => panic!("unexpected {other:?}"),
    }
}

fn status(gun: GunState, output: OutputState) -> Status {
    let mut s = match parse_packet(&hex(STATUS_A1)).remove(0).expect("A1").payload {
        Payload::Status(s) => s,
        other => panic!("unexpected {other:?}"),
    };
    s.gun_state = gun;
    s.output_state = output;
    s
}

fn from_charger(payload: Payload) -> Vec<u8> {
    Datagram::from_charger(serial(), payload)
        .encode()
        .expect("encode")
}

/// The endpoint under test, a fake clock and the datagrams it sent.
struct Harness {
    ep: Endpoint,
    now: Instant,
    sent: Vec<(SocketAddr, Datagram)>,
    events: Vec<Event>,
}

impl Harness {
    fn new() -> Self {
        Self {
            ep: Endpoint::new(SessionConfig::default()),
            now: Instant::now(),
            sent: Vec::new(),
            events: Vec::new(),
        }
    }

    fn receive(&mut self, payload: Payload) {
        let bytes = from_charger(payload);
        self.ep.handle_packet(self.now, charger_addr(), &bytes);
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(t) = self.ep.poll_transmit() {
            for d in parse_packet(&t.contents) {
                let d = d.expect("the session sends valid datagrams");
                assert_eq!(d.command(), t.command);
                self.sent.push((t.destination, d));
            }
        }
        while let Some(e) = self.ep.poll_event() {
            self.events.push(e);
        }
    }

    /// Moves the clock to `until`, firing every timeout on the way, as a driver would.
    fn advance_to(&mut self, until: Instant) {
        while let Some(t) = self.ep.poll_timeout() {
            if t > until {
                break;
            }
            self.now = self.now.max(t);
            self.ep.handle_timeout(self.now);
            self.drain();
        }
        self.now = until;
        self.ep.handle_timeout(self.now);
        self.drain();
    }

    fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        self.advance_to(until);
    }

    fn commands_sent(&mut self) -> Vec<Command> {
        std::mem::take(&mut self.sent)
            .into_iter()
            .map(|(_, d)| d.command())
            .collect()
    }

    fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Calls the session at the current fake time and collects what it sends.
    fn call<T>(&mut self, f: impl FnOnce(&mut Session, Instant) -> T) -> T {
        let now = self.now;
        let r = f(self.session(), now);
        self.drain();
        r
    }

    fn session(&mut self) -> &mut Session {
        self.ep.session_mut(serial()).expect("session exists")
    }

    fn completed(&mut self) -> Vec<(RequestId, Result<Reply, RequestError>)> {
        self.take_events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Completed { id, outcome, .. } => Some((id, outcome)),
                _ => None,
            })
            .collect()
    }

    /// Broadcast, login, confirm, config answered: a charger ready for commands.
    fn logged_in(gun: GunState) -> Self {
        let mut h = Self::new();
        h.receive(Payload::Login(login_payload()));
        h.call(|s, now| s.login(now, pw())).expect("login");
        h.receive(Payload::LoginResponse(login_payload()));
        h.receive(Payload::Status(status(gun, OutputState::IDLE)));
        h.answer_config();
        h.sent.clear();
        h.events.clear();
        h
    }

    fn answer_config(&mut self) {
        self.receive(Payload::NicknameResponse(
            Nickname::set_display_name("Garage").expect("name"),
        ));
        self.receive(Payload::LanguageResponse(ConfigValue {
            action: ConfigAction::GET,
            value: Language::ENGLISH,
        }));
        self.receive(Payload::OfflineChargeResponse(ConfigValue {
            action: ConfigAction::GET,
            value: OfflineCharge(0),
        }));
        self.receive(Payload::MaxCurrentResponse(ConfigValue {
            action: ConfigAction::GET,
            value: 16,
        }));
        self.receive(Payload::TemperatureUnitResponse(ConfigValue {
            action: ConfigAction::GET,
            value: TemperatureUnit::CELSIUS,
        }));
    }
}

#[test]
fn broadcast_creates_a_charger_and_learns_its_port() {
    let mut h = Harness::new();
    h.receive(Payload::Login(login_payload()));
    let events = h.take_events();
    assert_eq!(events[0], Event::Added(serial()));
    assert!(events.contains(&Event::Changed(serial(), Change::Address)));
    assert!(events.contains(&Event::Changed(serial(), Change::Info)));
    assert!(events.contains(&Event::Changed(serial(), Change::Online(true))));
    // No password yet: nothing is sent.
    assert!(h.sent.is_empty());
    let view = h.session().view();
    assert_eq!(view.address, Some(charger_addr()));
    assert_eq!(
        (view.brand.as_str(), view.model.as_str()),
        ("BESEN", "BS20")
    );
    assert!(view.online && !view.logged_in);
    assert_eq!(view.meta_state, MetaState::NotLoggedIn);
}

#[test]
fn login_handshake_confirms_then_fetches_config() {
    let mut h = Harness::new();
    h.receive(Payload::Login(login_payload()));
    let id = h.call(|s, now| s.login(now, pw())).expect("login");
    let sent = std::mem::take(&mut h.sent);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].0,
        charger_addr(),
        "answers to the charger's source port"
    );
    assert_eq!(sent[0].1.command(), Command::REQUEST_LOGIN);
    assert_eq!(
        sent[0].1.password,
        pw(),
        "the password travels in the header"
    );
    assert_eq!(sent[0].1.payload, Payload::RequestLogin(Some(0)));

    h.receive(Payload::LoginResponse(login_payload()));
    assert_eq!(
        h.commands_sent(),
        vec![
            Command::LOGIN_CONFIRM,
            Command::NICKNAME,
            Command::LANGUAGE,
            Command::OFFLINE_CHARGE,
            Command::MAX_CURRENT,
            Command::TEMPERATURE_UNIT,
            Command::GET_VERSION,
        ]
    );
    let events = h.take_events();
    assert!(events.contains(&Event::Completed {
        serial: serial(),
        id,
        outcome: Ok(Reply::LoggedIn)
    }));
    assert!(events.contains(&Event::Changed(serial(), Change::LoggedIn(true))));
    assert!(h.session().is_logged_in());

    h.answer_config();
    let config = h.session().config().clone();
    assert_eq!(config.name.as_deref(), Some("Garage"));
    assert_eq!(config.max_current_a, Some(16));
    assert_eq!(config.language, Some(Language::ENGLISH));
    assert!(config.is_complete());
}

#[test]
fn explicit_fetch_completes_without_a_version_answer() {
    let mut h = Harness::logged_in(GunState::CONNECTED_UNLOCKED);
    let id = h.call(|s, now| s.fetch_config(now)).expect("fetch");
    h.answer_config();
    // The version answer never comes (some firmware): the fetch still completes at its timeout.
    assert!(h.completed().is_empty());
    h.advance(Duration::from_secs(6));
    let done = h.completed();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, id);
    assert!(matches!(&done[0].1, Ok(Reply::ConfigFetched(c)) if c.max_current_a == Some(16)));
}

#[test]
fn wrong_password_fails_the_login_and_stops_retrying() {
    let mut h = Harness::new();
    h.receive(Payload::Login(login_payload()));
    let id = h
        .call(|s, now| s.login(now, Password::new("000000").expect("pw")))
        .expect("login");
    h.sent.clear();
    h.receive(Payload::PasswordError);
    let events = h.take_events();
    assert!(events.contains(&Event::Completed {
        serial: serial(),
        id,
        outcome: Err(RequestError::WrongPassword)
    }));
    assert!(events.contains(&Event::Changed(serial(), Change::PasswordRejected)));
    // Neither ticks nor further broadcasts send the rejected password again.
    h.receive(Payload::Login(login_payload()));
    h.advance(Duration::from_secs(20));
    assert!(h.sent.is_empty(), "sent {:?}", h.commands_sent());
    let view = h.session().view();
    assert!(view.password_rejected && !view.logged_in);
    let now = h.now;
    assert!(matches!(
        h.session().stop_charge(now, "x"),
        Err(CommandError::PasswordRejected(_))
    ));
}

#[test]
fn login_times_out_after_three_seconds_and_is_retried_on_the_tick() {
    let mut h = Harness::new();
    h.receive(Payload::Login(login_payload()));
    let id = h.call(|s, now| s.login(now, pw())).expect("login");
    h.sent.clear();
    h.advance(Duration::from_secs(3));
    let done = h.completed();
    assert_eq!(
        done,
        vec![(
            id,
            Err(RequestError::Timeout {
                waited: Duration::from_secs(3)
            })
        )]
    );
    // The 5 s tick tries again by itself.
    h.advance(Duration::from_secs(2));
    assert_eq!(h.commands_sent(), vec![Command::REQUEST_LOGIN]);
}

#[test]
fn heading_status_and_charging_status_are_answered() {
    let mut h = Harness::logged_in(GunState::CONNECTED_UNLOCKED);
    h.receive(Payload::Heading);
    h.receive(Payload::Status(status(
        GunState::CONNECTED_UNLOCKED,
        OutputState::IDLE,
    )));
    let sent = std::mem::take(&mut h.sent);
    assert_eq!(sent[0].1.payload, Payload::HeadingResponse(Some(0)));
    assert_eq!(sent[1].1.payload, Payload::StatusAck(Some(1)));
    assert!(sent.iter().all(|(to, _)| *to == charger_addr()));
}

#[test]
fn a_silent_charger_goes_offline_after_eleven_seconds() {
    let mut h = Harness::logged_in(GunState::CONNECTED_UNLOCKED);
    h.receive(Payload::Heading);
    let last = h.now;
    h.take_events();
    // Nothing more arrives. Walk the fake clock through every wakeup the session asks for.
    h.advance_to(last + Duration::from_millis(10_999));
    assert!(h.session().is_online(), "still online just before 11 s");
    assert!(
        h.take_events()
            .iter()
            .all(|e| !matches!(e, Event::Changed(_, Change::Online(false))))
    );
    h.advance_to(last + Duration::from_secs(11));
    let events = h.take_events();
    assert!(
        events.contains(&Event::Changed(serial(), Change::Online(false))),
        "{events:?}"
    );
    assert!(
        events.contains(&Event::Changed(serial(), Change::LoggedIn(false))),
        "{events:?}"
    );
    assert_eq!(h.session().view().meta_state, MetaState::Offline);
    // While offline with a password, the session keeps knocking at the last address.
    h.sent.clear();
    h.advance(Duration::from_secs(10));
    assert!(h.commands_sent().contains(&Command::REQUEST_LOGIN));
}

#[test]
fn login_lapses_without_headings_and_is_renewed() {
    let mut h = Harness::logged_in(GunState::CONNECTED_UNLOCKED);
    // Status keeps arriving (online), but no Heading: logged in lapses after 15 s.
    for _ in 0..4 {
        h.advance(Duration::from_secs(4));
        h.receive(Payload::Status(status(
            GunState::CONNECTED_UNLOCKED,
            OutputState::IDLE,
        )));
    }
    assert!(
        h.events
            .contains(&Event::Changed(serial(), Change::LoggedIn(false)))
    );
    assert!(h.commands_sent().contains(&Command::REQUEST_LOGIN));
    h.receive(Payload::LoginResponse(login_payload()));
    assert!(h.session().is_logged_in());
}

#[test]
fn a_login_broadcast_while_logged_in_means_the_registration_was_lost() {
    let mut h = Harness::logged_in(GunState::CONNECTED_UNLOCKED);
    h.receive(Payload::Login(login_payload()));
    assert!(
        h.events
            .contains(&Event::Changed(serial(), Change::LoggedIn(false)))
    );
    assert_eq!(h.commands_sent(), vec![Command::REQUEST_LOGIN]);
}

fn start_params(amps: u8) -> StartParams {
    StartParams {
        max_current_a: amps,
        start_at: None,
        max_duration_min: None,
        max_energy_kwh: None,
        single_phase: false,
        user_id: "evctl".into(),
        charge_id: None,
    }
}

fn wall() -> Timestamp {
    Timestamp::from_second(1_741_348_800).expect("2025-03-07T12:00:00Z")
}

#[test]
fn start_succeeds_with_the_chargers_answer() {
    let mut h = Harness::logged_in(GunState::CONNECTED_UNLOCKED);
    let now = h.now;
    let id = h
        .call(|s, now| s.start_charge(now, wall(), &start_params(10), 42))
        .expect("start");
    let sent = std::mem::take(&mut h.sent);
    let Payload::ChargeStart(cs) = &sent[0].1.payload else {
        panic!("{sent:?}")
    };
    assert_eq!(cs.max_current_a, 10);
    assert_eq!(cs.charge_id.as_str(), "2025030712000042");
    assert!(matches!(
        h.session().stop_charge(now, "x"),
        Err(CommandError::Busy { what: "start", .. })
    ));
    let resp = ChargeStartResponse {
        line_id: 1,
        reservation_result: ReservationResult::IMMEDIATE,
        start_result: 1,
        error: StartError::NONE,
        max_current_a: 10,
    };
    h.receive(Payload::ChargeStartResponse(resp));
    assert_eq!(h.completed(), vec![(id, Ok(Reply::Started(resp)))]);
}

#[test]
fn start_refusal_is_typed() {
    let mut h = Harness::logged_in(GunState::DISCONNECTED);
    let id = h
        .call(|s, now| s.start_charge(now, wall(), &start_params(16), 1))
        .expect("start");
    h.receive(Payload::ChargeStartResponse(ChargeStartResponse {
        line_id: 1,
        reservation_result: ReservationResult::IMMEDIATE,
        start_result: 0,
        error: StartError::NOT_PLUGGED_IN,
        max_current_a: 16,
    }));
    let done = h.completed();
    assert_eq!(
        done,
        vec![(
            id,
            Err(RequestError::StartRefused {
                error: StartError::NOT_PLUGGED_IN,
                reservation: ReservationResult::IMMEDIATE
            })
        )]
    );
    let msg = done[0].1.clone().expect_err("refused").to_string();
    assert!(msg.contains("not plugged in"), "{msg}");
}

#[test]
fn current_outside_the_range_is_refused_before_sending() {
    let mut h = Harness::logged_in(GunState::CONNECTED_UNLOCKED);
    for amps in [5, 33] {
        let err = h
            .call(|s, now| s.start_charge(now, wall(), &start_params(amps), 1))
            .expect_err("range");
        assert!(matches!(
            err,
            CommandError::Start {
                source: StartParamsError::Current { max: 32, .. },
                ..
            }
        ));
    }
    let err = h
        .call(|s, now| s.set_config(now, ConfigItem::MaxCurrent(40)))
        .expect_err("range");
    assert!(matches!(err, CommandError::Config { .. }));
    assert!(h.sent.is_empty());
}

#[test]
fn stop_times_out_after_five_seconds() {
    let mut h = Harness::logged_in(GunState::CONNECTED_LOCKED);
    let id = h.call(|s, now| s.stop_charge(now, "evctl")).expect("stop");
    h.advance(Duration::from_millis(4900));
    assert!(h.completed().is_empty());
    h.advance(Duration::from_millis(100));
    assert_eq!(
        h.completed(),
        vec![(
            id,
            Err(RequestError::Timeout {
                waited: Duration::from_secs(5)
            })
        )]
    );
    // And an answered stop succeeds.
    h.receive(Payload::Heading);
    let id = h.call(|s, now| s.stop_charge(now, "evctl")).expect("stop");
    let resp = ChargeStopResponse {
        line_id: 1,
        stop_result: 1,
        fail_reason: 0,
    };
    h.receive(Payload::ChargeStopResponse(resp));
    assert_eq!(h.completed(), vec![(id, Ok(Reply::Stopped(resp)))]);
}

#[test]
fn config_set_is_confirmed_by_the_echo() {
    let mut h = Harness::logged_in(GunState::CONNECTED_UNLOCKED);
    let id = h
        .call(|s, now| {
            s.set_config(
                now,
                ConfigItem::TemperatureUnit(TemperatureUnit::FAHRENHEIT),
            )
        })
        .expect("set");
    assert_eq!(
        h.sent[0].1.payload,
        Payload::TemperatureUnit(ConfigValue {
            action: ConfigAction::SET,
            value: TemperatureUnit::FAHRENHEIT
        })
    );
    h.receive(Payload::TemperatureUnitResponse(ConfigValue {
        action: ConfigAction::SET,
        value: TemperatureUnit::FAHRENHEIT,
    }));
    assert_eq!(
        h.completed(),
        vec![(
            id,
            Ok(Reply::ConfigSet(ConfigItem::TemperatureUnit(
                TemperatureUnit::FAHRENHEIT
            )))
        )]
    );
    assert_eq!(
        h.session().config().temperature_unit,
        Some(TemperatureUnit::FAHRENHEIT)
    );

    let id = h
        .call(|s, now| s.set_config(now, ConfigItem::MaxCurrent(10)))
        .expect("set");
    h.receive(Payload::MaxCurrentResponse(ConfigValue {
        action: ConfigAction::SET,
        value: 16,
    }));
    assert_eq!(
        h.completed(),
        vec![(
            id,
            Err(RequestError::NotApplied {
                requested: ConfigItem::MaxCurrent(10),
                echoed: ConfigItem::MaxCurrent(16)
            })
        )]
    );
}

#[test]
fn app_datagrams_with_the_serial_do_not_move_the_charger() {
    let mut h = Harness::logged_in(GunState::CONNECTED_UNLOCKED);
    let phone: SocketAddr = "127.0.0.2:28376".parse().expect("addr");
    let echo = Datagram::to_charger(serial(), pw(), Payload::HeadingResponse(Some(0)))
        .encode()
        .expect("enc");
    h.ep.handle_packet(h.now, phone, &echo);
    // Nor do config answers (the phone has been seen echoing 0x01xx frames).
    let cfg = from_charger(Payload::LanguageResponse(ConfigValue {
        action: ConfigAction::GET,
        value: Language::GERMAN,
    }));
    h.ep.handle_packet(h.now, phone, &cfg);
    assert_eq!(h.session().address(), Some(charger_addr()));
    // The charger's own status from a new port does.
    let moved: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
    let st = from_charger(Payload::Status(status(
        GunState::CONNECTED_UNLOCKED,
        OutputState::IDLE,
    )));
    h.ep.handle_packet(h.now, moved, &st);
    assert_eq!(h.session().address(), Some(moved));
}

#[test]
fn several_datagrams_in_one_packet_and_a_broken_one() {
    let mut h = Harness::logged_in(GunState::CONNECTED_UNLOCKED);
    let mut packet = from_charger(Payload::Heading);
    packet.extend(from_charger(Payload::Status(status(
        GunState::CONNECTED_LOCKED,
        OutputState::CHARGING,
    ))));
    let mut bad = from_charger(Payload::Heading);
    bad[21] ^= 0xff; // break the checksum
    packet.extend(bad);
    h.ep.handle_packet(h.now, charger_addr(), &packet);
    h.drain();
    assert_eq!(
        h.commands_sent(),
        vec![Command::HEADING_RESPONSE, Command::STATUS_ACK]
    );
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::Malformed { .. }))
    );
    assert_eq!(h.session().view().meta_state, MetaState::Charging);
}

#[test]
fn known_chargers_are_reached_without_a_broadcast() {
    let mut ep = Endpoint::new(SessionConfig::default());
    let now = Instant::now();
    ep.insert_known(now, serial(), charger_addr(), Some(pw()), "BESEN", "BS20");
    assert_eq!(
        ep.poll_timeout(),
        Some(now),
        "the first tick is due at once"
    );
    ep.handle_timeout(now);
    let t = ep.poll_transmit().expect("login sent");
    assert_eq!(
        (t.destination, t.command),
        (charger_addr(), Command::REQUEST_LOGIN)
    );
    let views = ep.views();
    assert_eq!(select(&views, "bs2").map(|v| v.serial), Ok(serial()));
    assert_eq!(select(&views, "besen").map(|v| v.serial), Ok(serial()));
    assert!(matches!(
        select(&views, "telestar"),
        Err(SelectError::NoMatch { .. })
    ));
    assert!(ep.forget(serial()));
    let mut removed = false;
    while let Some(e) = ep.poll_event() {
        removed |= e == Event::Removed(serial());
    }
    assert!(removed);
}

#[test]
fn ambiguous_selection_names_the_candidates() {
    let mut ep = Endpoint::new(SessionConfig::default());
    let now = Instant::now();
    let a: Serial = "0123456789abcdef".parse().expect("serial");
    let b: Serial = "0123456789abcd00".parse().expect("serial");
    ep.insert_known(now, a, charger_addr(), None, "BESEN", "BS20");
    ep.insert_known(now, b, charger_addr(), None, "BESEN", "BS20");
    let views = ep.views();
    let err = select(&views, "besen").expect_err("two match");
    assert!(matches!(&err, SelectError::Ambiguous { matching, .. } if matching.len() == 2));
    assert_eq!(select(&views, "abcdef").map(|v| v.serial), Ok(a));
    assert_eq!(select(&views, "0123456789abcd00").map(|v| v.serial), Ok(b));
}

#[test]
fn masked_hex_hides_the_password_of_every_datagram() {
    let one = Datagram::to_charger(serial(), pw(), Payload::RequestLogin(Some(0)))
        .encode()
        .expect("enc");
    let mut packet = one.clone();
    packet.extend(&one);
    let text = masked_hex(&packet);
    assert!(!text.contains("313233343536"), "{text}");
    assert_eq!(text.matches("xxxxxxxxxxxx").count(), 2);
    assert!(text.starts_with("0601001a009181102751219513xxxxxxxxxxxx8002"));
    let debug = format!(
        "{:?}",
        Transmit {
            destination: charger_addr(),
            contents: one,
            serial: serial(),
            command: Command::REQUEST_LOGIN
        }
    );
    assert!(!debug.contains("313233343536"));
}

/// Vector A6: a charging status (finished session of 0.05 kWh).
const CHARGING_A6: &str = "06010063009181102751219513ffffffffffff0005010d313634393435333532383631383234390101ffffffffffff62505578383630303739373938353738393234330d62505578000000490002407b0002408000000005000000050100641ac10f02";

#[test]
fn renderings_of_a_logged_in_charger() {
    let mut h = Harness::logged_in(GunState::CONNECTED_UNLOCKED);
    let bytes = hex(CHARGING_A6);
    h.ep.handle_packet(h.now, charger_addr(), &bytes);
    h.drain();
    let views = h.ep.views();
    insta::assert_snapshot!("human", human_text(&views));
    insta::assert_snapshot!("prometheus", prometheus_text(&views));
    insta::assert_snapshot!(
        "influx",
        influx_lines(&views, Some(1_700_000_000_000_000_000))
    );
    insta::assert_json_snapshot!("json", views[0]);
}

/// Prometheus metrics are in base units, as the Modbus renderings of the outputs crate are:
/// the A6 energy counter of 1475.85 kWh is 5313060000 J, its 0.05 kWh session 180000 J, and
/// every metric name ends in a base unit unless it is a state, a flag or a count.
#[test]
fn prometheus_metrics_are_in_base_units() {
    let mut h = Harness::logged_in(GunState::CONNECTED_UNLOCKED);
    let bytes = hex(CHARGING_A6);
    h.ep.handle_packet(h.now, charger_addr(), &bytes);
    h.drain();
    let text = prometheus_text(&h.ep.views());
    let sample = |name: &str| -> Option<f64> {
        let prefix = format!("{name}{{");
        text.lines()
            .find(|l| l.starts_with(&prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    assert_eq!(
        sample("evctl_em_energy_joules_total"),
        Some(5_313_060_000.0)
    );
    assert_eq!(sample("evctl_em_session_energy_joules"), Some(180_000.0));
    assert_eq!(sample("evctl_em_power_watts"), Some(0.0));
    assert_eq!(sample("evctl_em_voltage_volts"), Some(235.0));
    assert_eq!(sample("evctl_em_session_duration_seconds"), Some(73.0));
    const BASE_UNITS: [&str; 7] = [
        "_watts",
        "_volts",
        "_amperes",
        "_celsius",
        "_seconds",
        "_joules",
        "_joules_total",
    ];
    const UNITLESS: [&str; 8] = [
        "evctl_em_online",
        "evctl_em_logged_in",
        "evctl_em_meta_state",
        "evctl_em_gun_state",
        "evctl_em_output_state",
        "evctl_em_current_state",
        "evctl_em_errors",
        "evctl_em_error",
    ];
    let mut names = 0;
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split(' ').nth(2).unwrap_or_default();
        names += 1;
        assert!(
            BASE_UNITS.iter().any(|u| name.ends_with(u)) || UNITLESS.contains(&name),
            "{name} is not named after a base unit"
        );
    }
    assert!(names >= 15, "{text}");
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Arbitrary packets, valid frames with arbitrary payloads and arbitrary clock steps
        /// never make the endpoint panic.
        #[test]
        fn on_any_input(
            packets in proptest::collection::vec(
                (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..120), 0u64..20_000),
                1..30,
            ),
        ) {
            let mut ep = Endpoint::new(SessionConfig::default());
            let mut now = Instant::now();
            ep.insert_known(now, serial(), charger_addr(), Some(pw()), "", "");
            for (command, payload, step_ms) in packets {
                // Half raw noise, half well-framed datagrams with a random command and payload.
                let bytes = if command % 2 == 0 {
                    payload.clone()
                } else {
                    Datagram::from_charger(
                        serial(),
                        Payload::Raw { command: Command(command & 0x7fff), bytes: payload },
                    )
                    .encode()
                    .unwrap_or_default()
                };
                ep.handle_packet(now, charger_addr(), &bytes);
                now += Duration::from_millis(step_ms);
                ep.handle_timeout(now);
                while ep.poll_transmit().is_some() {}
                while ep.poll_event().is_some() {}
                let _ = ep.session_mut(serial()).map(|s| s.start_charge(now, wall(), &start_params(16), 1));
            }
        }
    }
}
