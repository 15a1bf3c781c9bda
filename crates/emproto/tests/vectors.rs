//! Every datagram of `emproto-vectors.md`, stored as `tests/vectors/*.hex` (whole UDP packets)
//! and `tests/payloads/*.hex` (payload fragments), parsed, re-encoded and snapshotted; plus
//! whole-struct checks of the decodes the spec states.

use std::path::Path;

use emproto::model::{
    ChargerConfig, ChargerInfo, ChargerState, CurrentCharge, MetaState, StartParams,
};
use emproto::time::EmTime;
use emproto::wire::*;
use jiff::Timestamp;
use jiff::tz::{TimeZone, offset};

/// A fixture: `# key: value` header lines, then hex (whitespace ignored).
struct Fixture {
    name: String,
    headers: Vec<(String, String)>,
    bytes: Vec<u8>,
}

impl Fixture {
    fn load(path: &Path) -> Self {
        let text = std::fs::read_to_string(path).unwrap();
        let mut headers = Vec::new();
        let mut hex = String::new();
        for line in text.lines() {
            if let Some(h) = line.strip_prefix("# ") {
                if let Some((k, v)) = h.split_once(": ") {
                    headers.push((k.to_owned(), v.to_owned()));
                }
            } else {
                hex.extend(line.chars().filter(|c| !c.is_whitespace()));
            }
        }
        Self {
            name: path.file_stem().unwrap().to_string_lossy().into_owned(),
            headers,
            bytes: unhex(&hex),
        }
    }

    fn header(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn unhex(s: &str) -> Vec<u8> {
    assert_eq!(s.len() % 2, 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn vector(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(format!("{name}.hex"));
    Fixture::load(&path).bytes
}

fn one(name: &str) -> Datagram {
    let mut all = parse_packet(&vector(name));
    assert_eq!(all.len(), 1, "{name}: {all:?}");
    all.remove(0).unwrap()
}

#[test]
fn every_packet_vector() {
    let mut seen = 0;
    insta::glob!("vectors/*.hex", |path| {
        seen += 1;
        let fx = Fixture::load(path);
        let parsed = parse_packet(&fx.bytes);
        assert!(!parsed.is_empty(), "{}", fx.name);
        match fx.header("expect").unwrap() {
            "canonical" => {
                let mut out = Vec::new();
                for d in &parsed {
                    let d = d.as_ref().unwrap_or_else(|e| panic!("{}: {e}", fx.name));
                    d.encode_into(&mut out).unwrap();
                }
                assert_eq!(
                    hex(&out),
                    hex(&fx.bytes),
                    "{} re-encodes differently",
                    fx.name
                );
            }
            "checksum-mod-65535" => {
                // Accepted; re-encoded with the mod-65536 checksum, otherwise identical.
                let d = parsed[0].as_ref().unwrap();
                let out = d.encode().unwrap();
                let n = out.len();
                assert_eq!(out[..n - 4], fx.bytes[..n - 4]);
                assert_ne!(out[n - 4..n - 2], fx.bytes[n - 4..n - 2]);
            }
            "error" => assert!(parsed.iter().any(Result::is_err), "{}", fx.name),
            other => panic!("{}: unknown expectation {other}", fx.name),
        }
        insta::assert_debug_snapshot!(parsed);
    });
    assert!(seen >= 60, "only {seen} vectors found");
}

#[test]
fn every_payload_vector() {
    insta::glob!("payloads/*.hex", |path| {
        let fx = Fixture::load(path);
        let command = fx.header("command").unwrap();
        let command = Command(u16::from_str_radix(command.trim_start_matches("0x"), 16).unwrap());
        let payload =
            Payload::parse(command, &fx.bytes).unwrap_or_else(|e| panic!("{}: {e}", fx.name));
        assert_eq!(payload.command(), command);
        assert!(!matches!(payload, Payload::Raw { .. }), "{}", fx.name);
        let mut out = Vec::new();
        payload.encode(&mut out);
        assert_eq!(out, fx.bytes, "{}", fx.name);
        insta::assert_debug_snapshot!(payload);
    });
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

const PHIL: Serial = Serial([0x91, 0x81, 0x10, 0x27, 0x51, 0x21, 0x95, 0x13]);
const SIM: Serial = Serial([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);

fn s<const N: usize>(text: &str) -> FixedStr<N> {
    FixedStr::new(text).unwrap()
}

fn password() -> Password {
    Password::new("123456").unwrap()
}

#[test]
fn a1_single_phase_status() {
    let status = Status {
        line_id: 1,
        l1: PhaseReading {
            voltage: Voltage(2350),
            current: Current(0),
        },
        power_w: 0,
        energy_counter: Energy(147_585),
        inner_temperature: Temperature(22674),
        outer_temperature: Temperature(22674),
        emergency: 1,
        gun_state: GunState::CONNECTED_UNLOCKED,
        output_state: OutputState::IDLE,
        current_state: CurrentState::READY_TO_CHARGE,
        errors: ErrorFlags::NONE,
        l2_l3: None,
        tail: vec![],
    };
    assert_eq!(
        one("A1"),
        Datagram::from_charger(PHIL, Payload::Status(status.clone()))
    );
    let state = ChargerState::from_status(&status);
    assert_eq!(state.phases.len(), 1);
    assert_eq!(state.phases[0].voltage_v, 235.0);
    assert_eq!(state.energy_kwh, 1475.85);
    assert_eq!(state.inner_temperature_c, Some(26.74));
    assert_eq!(state.outer_temperature_c, Some(26.74));
    assert!(state.errors.is_empty());
    assert_eq!(
        MetaState::derive(true, true, Some(&state)),
        MetaState::PluggedIn
    );
    assert_eq!(
        MetaState::derive(true, false, Some(&state)),
        MetaState::NotLoggedIn
    );
    assert_eq!(
        MetaState::derive(false, true, Some(&state)),
        MetaState::Offline
    );
    assert_eq!(MetaState::derive(true, true, None), MetaState::Idle);
}

#[test]
fn d6_three_phase_status_with_errors() {
    let d = one("D6");
    let Payload::Status(status) = &d.payload else {
        panic!("{d:?}")
    };
    assert_eq!(
        *status,
        Status {
            line_id: 1,
            l1: PhaseReading {
                voltage: Voltage(2301),
                current: Current(1598)
            },
            power_w: 11000,
            energy_counter: Energy(123_456),
            inner_temperature: Temperature(23150),
            outer_temperature: Temperature::UNAVAILABLE,
            emergency: 1,
            gun_state: GunState::CONNECTED_LOCKED,
            output_state: OutputState::CHARGING,
            current_state: CurrentState::CHARGING,
            errors: ErrorFlags(0x1020),
            l2_l3: Some([
                PhaseReading {
                    voltage: Voltage(2302),
                    current: Current(1597)
                },
                PhaseReading {
                    voltage: Voltage(2299),
                    current: Current(1601)
                },
            ]),
            tail: vec![],
        }
    );
    let state = ChargerState::from_status(status);
    assert_eq!(state.phases.len(), 3);
    assert_eq!(state.inner_temperature_c, Some(31.5));
    assert_eq!(state.outer_temperature_c, None);
    let bits: Vec<_> = state.errors.iter().map(|e| (e.bit, e.name)).collect();
    assert_eq!(bits, [(5, "CP error"), (12, "over-current")]);
    // Σ V·I = 230.1·15.98 + 230.2·15.97 + 229.9·16.01 = 11033.99 W > 11000 W reported.
    assert_eq!(state.power_w, 11034.0);
    assert_eq!(
        MetaState::derive(true, true, Some(&state)),
        MetaState::Error
    );
}

#[test]
fn a5_login_and_a4_version_give_charger_info() {
    let login = Login {
        device_type: DeviceType(1),
        brand: s("BESEN"),
        model: s("BS20"),
        hardware_version: s("C.3252.112A008"),
        max_power_w: 7040,
        max_current_a: 32,
        hot_line: s("WWW.EVSE.COM"),
        extension: LoginExtension::None,
    };
    assert_eq!(
        one("A5"),
        Datagram::from_charger(PHIL, Payload::Login(login.clone()))
    );
    let version = Version {
        hardware_version: s("C.3252.112A008"),
        software_version: s("C.3252.112A008"),
        feature: 0x4229_6d48,
        support_new: None,
        tail: vec![],
    };
    assert_eq!(
        one("A4"),
        Datagram::from_charger(PHIL, Payload::VersionResponse(version.clone()))
    );
    let mut info = ChargerInfo::from_login(PHIL, &login);
    assert!(info.apply_version(&version));
    assert_eq!(
        info,
        ChargerInfo {
            serial: PHIL,
            brand: "BESEN".into(),
            model: "BS20".into(),
            hardware_version: "C.3252.112A008".into(),
            software_version: Some("C.3252.112A008".into()),
            max_power_w: 7040,
            max_current_a: 32,
            phases: 1,
            device_type: DeviceType(1),
            hot_line: "WWW.EVSE.COM".into(),
            feature: Some(0x4229_6d48),
            support_new: None,
            can_force_single_phase: false,
        }
    );
    assert!(
        !info.update_from_login(&login),
        "a repeated login changes nothing"
    );
    assert_eq!(PHIL.to_string(), "9181102751219513");
}

#[test]
fn d10_version_with_support_new() {
    let Payload::VersionResponse(v) = one("D10").payload else {
        panic!()
    };
    assert_eq!(
        v,
        Version {
            hardware_version: s("HW1.0"),
            software_version: s("SW2.3.4"),
            feature: 0,
            support_new: Some(0),
            tail: vec![]
        }
    );
}

#[test]
fn a6_charging_status_and_current_charge() {
    let cs = ChargingStatus {
        line_id: 1,
        current_state: CurrentState::READY_TO_CHARGE,
        charge_id: s("1649453528618249"),
        start_type: 1,
        charge_type: 1,
        max_duration_min: Limit::NONE,
        max_energy: Limit::NONE,
        param3: Limit::NONE,
        reservation_time: EmTime(0x6250_5578),
        user_id: s("8600797985789243"),
        max_current_a: 13,
        start_time: EmTime(0x6250_5578),
        duration_s: 73,
        start_energy: Energy(147_579),
        current_energy: Energy(147_584),
        charged_energy: Energy(5),
        price: 5,
        fee_type: 1,
        fee: 100,
        tail: vec![],
    };
    assert_eq!(
        one("A6"),
        Datagram::from_charger(PHIL, Payload::ChargingStatus(cs.clone()))
    );
    // The charge id embeds the phone's Unix time; the phone was at UTC+2.
    let phone = TimeZone::fixed(offset(2));
    let charge = CurrentCharge::from_charging_status(&cs, &phone);
    let started = Timestamp::from_second(1_649_453_528).unwrap();
    assert_eq!(charge.start_time, Some(started));
    assert_eq!(charge.reservation_time, Some(started));
    assert_eq!(charge.max_duration_min, None);
    assert_eq!(charge.max_energy_kwh, None);
    assert_eq!(charge.charged_energy_kwh, 0.05);
    assert_eq!(charge.start_energy_kwh, 1475.79);
    assert_eq!(charge.fee, 1.0);
    assert_eq!(charge.user_id, "8600797985789243");
}

#[test]
fn a8_d7_d8_charge_start_responses() {
    let ok = ChargeStartResponse {
        line_id: 1,
        reservation_result: ReservationResult::IMMEDIATE,
        start_result: 1,
        error: StartError::NONE,
        max_current_a: 16,
    };
    assert_eq!(one("A8").payload, Payload::ChargeStartResponse(ok));
    assert_eq!(one("D7").payload, Payload::ChargeStartResponse(ok));
    let Payload::ChargeStartResponse(refused) = one("D8").payload else {
        panic!()
    };
    assert_eq!(refused.error, StartError::NOT_PLUGGED_IN);
    assert!(!refused.is_success());
    assert_eq!(refused.error.to_string(), "not plugged in");
    let Payload::ChargeStopResponse(stop) = one("D9").payload else {
        panic!()
    };
    assert_eq!(
        stop,
        ChargeStopResponse {
            line_id: 1,
            stop_result: 1,
            fail_reason: 0
        }
    );
}

#[test]
fn a10_a12_oem_app_stop_and_start() {
    assert_eq!(
        one("A10"),
        Datagram::to_charger(
            PHIL,
            password(),
            Payload::ChargeStop(ChargeStop::Full {
                line_id: 1,
                user_id: s("8600797985789243")
            })
        )
    );
    assert_eq!(
        one("A12").payload,
        Payload::ChargeStart(ChargeStart {
            line_id: 1,
            user_id: s("8600797985789243"),
            charge_id: s("1649455421288096"),
            is_reservation: false,
            start_time: EmTime(0x6250_5cdd),
            start_type: 1,
            charge_type: 1,
            max_duration_min: Limit::NONE,
            max_energy: Limit::NONE,
            param3: Limit::NONE,
            max_current_a: 16,
        })
    );
    assert_eq!(
        EmTime(0x6250_5cdd).wall_clock().to_string(),
        "2022-04-09T00:03:41"
    );
}

#[test]
fn start_params_reproduce_c16_and_d21() {
    let noon = Timestamp::from_second(1_741_348_800).unwrap(); // 2025-03-07T12:00:00Z
    let amsterdam = TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
    let params = StartParams {
        max_current_a: 16,
        start_at: None,
        max_duration_min: None,
        max_energy_kwh: None,
        single_phase: false,
        user_id: "emmgr".into(),
        charge_id: Some("2025030712000042".into()),
    };
    for (zone, name) in [(TimeZone::UTC, "C16a"), (amsterdam.clone(), "C16b")] {
        let start = params.build(None, noon, &zone, 0).unwrap();
        let d = Datagram::to_charger(SIM, password(), Payload::ChargeStart(start));
        assert_eq!(hex(&d.encode().unwrap()), hex(&vector(name)), "{name}");
    }
    // D21: a reservation for 13:00 wall clock, 90 min, 7.50 kWh, 10 A, user at UTC.
    let reservation = StartParams {
        max_current_a: 10,
        start_at: Some(Timestamp::from_second(1_741_352_400).unwrap()),
        max_duration_min: Some(90),
        max_energy_kwh: Some(7.5),
        ..params.clone()
    };
    let start = reservation.build(None, noon, &TimeZone::UTC, 0).unwrap();
    let d = Datagram::to_charger(SIM, password(), Payload::ChargeStart(start));
    assert_eq!(hex(&d.encode().unwrap()), hex(&vector("D21")));
    // The default charge id is the charger's wall clock plus four digits.
    let start = StartParams {
        charge_id: None,
        ..params.clone()
    }
    .build(None, noon, &amsterdam, 42)
    .unwrap();
    assert_eq!(start.charge_id.as_str(), "2025030713000042");
    // Refusals.
    assert!(
        StartParams {
            max_current_a: 5,
            ..params.clone()
        }
        .build(None, noon, &TimeZone::UTC, 0)
        .is_err()
    );
    assert!(
        StartParams {
            max_current_a: 33,
            ..params.clone()
        }
        .build(None, noon, &TimeZone::UTC, 0)
        .is_err()
    );
    assert!(
        StartParams {
            single_phase: true,
            ..params.clone()
        }
        .build(None, noon, &TimeZone::UTC, 0)
        .is_err()
    );
    assert!(
        StartParams {
            max_duration_min: Some(0),
            ..params.clone()
        }
        .build(None, noon, &TimeZone::UTC, 0)
        .is_err()
    );
    assert!(
        StartParams {
            max_energy_kwh: Some(700.0),
            ..params.clone()
        }
        .build(None, noon, &TimeZone::UTC, 0)
        .is_err()
    );
    assert!(
        StartParams {
            user_id: "x".repeat(17),
            ..params
        }
        .build(None, noon, &TimeZone::UTC, 0)
        .is_err()
    );
}

#[test]
fn c17_stop_and_c_requests_from_constructors() {
    let cases: Vec<(&str, Payload)> = vec![
        ("C1", Payload::RequestLogin(Some(0))),
        ("C2", Payload::LoginConfirm(Some(0))),
        ("C3", Payload::HeadingResponse(Some(0))),
        ("C4", Payload::StatusAck(Some(1))),
        ("C5", Payload::Nickname(Nickname::GET)),
        ("C6", Payload::Language(ConfigValue::get())),
        ("C7", Payload::OfflineCharge(ConfigValue::get())),
        ("C8", Payload::MaxCurrent(ConfigValue::get())),
        ("C9", Payload::TemperatureUnit(ConfigValue::get())),
        ("C10", Payload::GetVersion),
        ("C11", Payload::MaxCurrent(ConfigValue::set(10))),
        (
            "C12",
            Payload::Nickname(Nickname::set_display_name("Garage").unwrap()),
        ),
        (
            "C13b",
            Payload::TemperatureUnit(ConfigValue::set(TemperatureUnit::FAHRENHEIT)),
        ),
        (
            "C15a",
            Payload::SystemTime(SystemTime::set(EmTime(0x67ca_6f40))),
        ),
        ("C17", Payload::ChargeStop(ChargeStop::new(s("emmgr")))),
        ("D16", Payload::ChargingStatusAck(Some(0))),
        ("D17", Payload::MaxCurrent(ConfigValue::set(16))),
        (
            "D18",
            Payload::OfflineCharge(ConfigValue::set(OfflineCharge::APP_ONLY)),
        ),
        ("D19", Payload::Language(ConfigValue::set(Language::GERMAN))),
        (
            "D20",
            Payload::TemperatureUnit(ConfigValue::set(TemperatureUnit::FAHRENHEIT)),
        ),
    ];
    for (name, payload) in cases {
        let d = Datagram::to_charger(SIM, password(), payload);
        assert_eq!(hex(&d.encode().unwrap()), hex(&vector(name)), "{name}");
    }
}

#[test]
fn d11_to_d15_config_answers() {
    let mut config = ChargerConfig::default();
    for name in ["D11", "D12", "D13", "D14", "D15"] {
        assert!(config.apply(&one(name).payload), "{name}");
    }
    assert!(
        !config.apply(&one("D15").payload),
        "the same answer again changes nothing"
    );
    assert_eq!(
        config,
        ChargerConfig {
            name: Some("Garage".into()),
            language: Some(Language::ENGLISH),
            temperature_unit: Some(TemperatureUnit::CELSIUS),
            offline_charge: Some(OfflineCharge::APP_ONLY),
            max_current_a: Some(16),
        }
    );
    assert!(config.is_complete());
    let Payload::TemperatureUnitResponse(unit) = one("A3").payload else {
        panic!()
    };
    assert_eq!(
        unit,
        ConfigValue {
            action: ConfigAction::GET,
            value: TemperatureUnit::CELSIUS
        }
    );
}

#[test]
fn system_time_forms() {
    assert_eq!(
        one("A7").payload,
        Payload::SystemTimeResponse(SystemTime {
            action: ConfigAction::SET,
            time: EmTime(0x6250_5cdc),
            form: SystemTimeForm::Short
        })
    );
    assert_eq!(
        one("B6").payload,
        Payload::SystemTime(SystemTime {
            action: ConfigAction::SET,
            time: EmTime(0x6abf_d235),
            form: SystemTimeForm::Padded
        })
    );
    assert_eq!(
        one("B7").payload,
        Payload::SystemTimeResponse(SystemTime {
            action: ConfigAction::REPORT,
            time: EmTime(0x6abf_d235),
            form: SystemTimeForm::Short
        })
    );
    // The recommended GET is the single byte 02.
    let mut out = Vec::new();
    Payload::SystemTime(SystemTime::GET).encode(&mut out);
    assert_eq!(out, [2]);
}

#[test]
fn handshake_and_password_error() {
    let Payload::LoginResponse(login) = one("D2").payload else {
        panic!()
    };
    assert_eq!(login.brand.as_str(), "SIMBRAND");
    assert_eq!(login.full_hot_line(), "WWW.EXAMPLE");
    assert_eq!(
        one("D3"),
        Datagram::from_charger(SIM, Payload::PasswordError)
    );
    assert_eq!(one("D4"), Datagram::from_charger(SIM, Payload::Heading));
}

#[test]
fn e1_two_datagrams_in_one_packet() {
    let all = parse_packet(&vector("E1"));
    let commands: Vec<_> = all.iter().map(|d| d.as_ref().unwrap().command()).collect();
    assert_eq!(commands, [Command::HEADING, Command::STATUS]);
}

#[test]
fn e2_both_checksum_conventions_are_accepted() {
    for (name, convention) in [
        ("E2a", ChecksumConvention::Mod65536),
        ("E2b", ChecksumConvention::Mod65535),
    ] {
        let bytes = vector(name);
        let (frame, rest) = RawFrame::parse(&bytes, 0).unwrap();
        assert!(rest.is_empty());
        assert_eq!(frame.convention, convention, "{name}");
        assert_eq!(frame.payload.len(), 300);
        let d = frame.decode().unwrap();
        assert_eq!(d.command(), Command::CURRENT_CHARGE_RECORD);
        // What we send is the mod-65536 sum.
        assert_eq!(d.encode().unwrap(), vector("E2a"));
    }
}

#[test]
fn e3_bad_checksum_is_typed_and_does_not_stop_the_packet() {
    let bad = vector("E3");
    let good = vector("D4");
    let all = parse_packet(&[bad.clone(), good].concat());
    assert_eq!(
        all[0],
        Err(FrameError::BadChecksum {
            serial: SIM,
            command: Command::HEADING,
            declared: 0x09de,
            mod_65536: 0x09dd,
            mod_65535: 0x09dd
        })
    );
    assert_eq!(all[1], Ok(Datagram::from_charger(SIM, Payload::Heading)));
}

#[test]
fn e5_unknown_command_is_skipped_by_its_length() {
    let all = parse_packet(&vector("E5"));
    let raw = Payload::Raw {
        command: Command(0x0151),
        bytes: vec![1, 2, 3, 4, 5],
    };
    assert_eq!(
        all,
        [
            Ok(Datagram::from_charger(SIM, raw.clone())),
            Ok(Datagram::from_charger(SIM, Payload::Heading)),
            Ok(Datagram::from_charger(SIM, raw)),
        ]
    );
}

#[test]
fn envelope_errors_are_typed() {
    let heading = vector("D4");
    let mut bad_magic = heading.clone();
    bad_magic[1] = 0x02;
    assert_eq!(
        parse_packet(&bad_magic),
        [Err(FrameError::BadMagic {
            offset: 0,
            found: [6, 2]
        })]
    );
    let mut bad_tail = heading.clone();
    bad_tail[24] = 0x03;
    assert_eq!(
        parse_packet(&bad_tail),
        [Err(FrameError::BadTail {
            offset: 0,
            found: [0x0f, 0x03]
        })]
    );
    let mut short_len = heading.clone();
    short_len[3] = 24;
    assert_eq!(
        parse_packet(&short_len),
        [Err(FrameError::BadLength {
            offset: 0,
            declared: 24,
            available: 25
        })]
    );
    let mut long_len = heading.clone();
    long_len[3] = 26;
    assert_eq!(
        parse_packet(&long_len),
        [Err(FrameError::BadLength {
            offset: 0,
            declared: 26,
            available: 25
        })]
    );
    // A good datagram followed by 10 stray bytes.
    let trailing = [heading.clone(), vec![0; 10]].concat();
    let all = parse_packet(&trailing);
    assert!(all[0].is_ok());
    assert_eq!(
        all[1],
        Err(FrameError::TooShort {
            offset: 25,
            available: 10
        })
    );
    assert!(parse_packet(&[]).is_empty());
    // A known command with a payload that fits no layout is an error for that datagram only.
    let short_status = Datagram::from_charger(
        SIM,
        Payload::Raw {
            command: Command::STATUS,
            bytes: vec![1; 10],
        },
    )
    .encode()
    .unwrap();
    let all = parse_packet(&[short_status, heading].concat());
    assert!(matches!(
        &all[0],
        Err(FrameError::Payload {
            command: Command::STATUS,
            len: 10,
            source: PayloadError::Length { .. },
            ..
        })
    ));
    assert!(all[1].is_ok());
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let d = one("A12");
    let text = format!("{d:?}");
    assert!(!text.contains("123456"), "{text}");
    assert!(!text.contains("31, 32, 33"), "{text}");
    assert!(text.contains("Password(******)"));
}

/// Both firmware forms of GetVersionResponse parse, and each re-encodes to its own bytes: 36
/// bytes (BS20, no supportNew), 37 (SQW49, supportNew), and longer (supportNew and a kept
/// tail); shorter than 36 is a length error.
#[test]
fn version_response_accepts_the_bs20_and_sqw49_forms() {
    let mut bs20 = vec![b'H'; 16];
    bs20.extend([b'S'; 16]);
    bs20.extend(0x4229_6d48_u32.to_be_bytes());
    let mut sqw49 = bs20.clone();
    sqw49.push(1);
    let mut longer = sqw49.clone();
    longer.extend([7, 8]);
    for (bytes, support_new, tail) in [
        (&bs20, None, &[][..]),
        (&sqw49, Some(1), &[][..]),
        (&longer, Some(1), &[7, 8][..]),
    ] {
        let payload = Payload::parse(Command::VERSION_RESPONSE, bytes).expect("accepted");
        let Payload::VersionResponse(v) = &payload else {
            panic!("{payload:?}")
        };
        assert_eq!((v.support_new, v.tail.as_slice()), (support_new, tail));
        let mut out = Vec::new();
        payload.encode(&mut out);
        assert_eq!(
            hex(&out),
            hex(bytes),
            "{} bytes re-encode as they came",
            bytes.len()
        );
    }
    assert!(Payload::parse(Command::VERSION_RESPONSE, &bs20[..35]).is_err());
}
