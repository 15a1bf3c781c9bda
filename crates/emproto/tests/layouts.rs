//! Layout variants the captured vectors do not cover: the longer login payloads, status and
//! charging status with the alternate state byte, the short nickname and charge stop forms, the
//! current charge record and its ack. Each is built, encoded, checked byte by byte where the spec
//! fixes offsets, and parsed back.

use emproto::model::{ChargerInfo, ChargerState};
use emproto::time::EmTime;
use emproto::wire::*;

const SIM: Serial = Serial([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);

fn s<const N: usize>(text: &str) -> FixedStr<N> {
    FixedStr::new(text).unwrap()
}

/// Encodes from the charger, parses back, and returns the bytes.
fn round_trip(payload: Payload) -> Vec<u8> {
    let d = Datagram::from_charger(SIM, payload);
    let bytes = d.encode().unwrap();
    assert_eq!(parse_packet(&bytes), [Ok(d)]);
    bytes
}

fn login(device_type: u8, extension: LoginExtension) -> Login {
    Login {
        device_type: DeviceType(device_type),
        brand: s("TELESTAR"),
        model: s("EC311S"),
        hardware_version: s("HW"),
        max_power_w: 11000,
        max_current_a: 16,
        hot_line: s("0123456789ABCDEF"),
        extension,
    }
}

#[test]
fn login_length_variants() {
    let cases = [
        (LoginExtension::None, 70),
        (LoginExtension::HotLine(s("-more")), 118),
        (
            LoginExtension::Flag {
                byte70: 7,
                hot_line: s("-more"),
            },
            119,
        ),
        (
            LoginExtension::Long {
                byte70: 12,
                hot_line: s("-more"),
                brand: s(" EUROPE"),
                model: s(" PLUS"),
            },
            151,
        ),
        (LoginExtension::Other(vec![1, 2, 3]), 73),
    ];
    for (ext, len) in cases {
        let bytes = round_trip(Payload::Login(login(22, ext.clone())));
        assert_eq!(bytes.len(), 25 + len, "{ext:?}");
    }
    let long = login(
        22,
        LoginExtension::Long {
            byte70: 12,
            hot_line: s("-more"),
            brand: s(" EUROPE"),
            model: s(" PLUS"),
        },
    );
    assert_eq!(long.full_brand(), "TELESTAR EUROPE");
    assert_eq!(long.full_model(), "EC311S PLUS");
    assert_eq!(long.full_hot_line(), "0123456789ABCDEF-more");
    // Byte 70 sits right after the first 16 bytes of hot line.
    let mut payload = Vec::new();
    long.encode(&mut payload);
    assert_eq!(payload[70], 12);
    assert_eq!(&payload[119..127], b" EUROPE\0");

    // Single phase can be forced only on types 22..=25 with byte 70 < 11.
    let flag = |t, b| {
        login(
            t,
            LoginExtension::Flag {
                byte70: b,
                hot_line: FixedStr::EMPTY,
            },
        )
    };
    assert!(ChargerInfo::from_login(SIM, &flag(22, 7)).can_force_single_phase);
    assert!(!ChargerInfo::from_login(SIM, &flag(22, 11)).can_force_single_phase);
    assert!(!ChargerInfo::from_login(SIM, &flag(10, 7)).can_force_single_phase);
    assert!(!ChargerInfo::from_login(SIM, &login(22, LoginExtension::None)).can_force_single_phase);
    assert_eq!(ChargerInfo::from_login(SIM, &flag(10, 7)).phases, 3);
    assert_eq!(ChargerInfo::from_login(SIM, &flag(9, 7)).phases, 1);
}

#[test]
fn short_login_keeps_its_length() {
    // 54 bytes: everything up to the max current, no hot line at all; 60: six bytes of it.
    for len in [54usize, 60, 69] {
        let mut payload = Vec::new();
        login(1, LoginExtension::None).encode(&mut payload);
        payload.truncate(len);
        let Payload::Login(parsed) = Payload::parse(Command::LOGIN, &payload).unwrap() else {
            panic!()
        };
        assert_eq!(parsed.extension, LoginExtension::Short(len as u8));
        assert_eq!(parsed.hot_line.as_str(), &"0123456789ABCDEF"[..len - 54]);
        let mut again = Vec::new();
        parsed.encode(&mut again);
        assert_eq!(again, payload);
    }
    assert!(matches!(
        Payload::parse(Command::LOGIN, &[0; 53]),
        Err(PayloadError::Length { found: 53, .. })
    ));
}

fn status(tail: Vec<u8>) -> Status {
    Status {
        line_id: 1,
        l1: PhaseReading {
            voltage: Voltage(2300),
            current: Current(1000),
        },
        power_w: 2300,
        energy_counter: Energy(100),
        inner_temperature: Temperature::from_celsius(25.0),
        outer_temperature: Temperature::UNAVAILABLE,
        emergency: 1,
        gun_state: GunState(16),
        output_state: OutputState::IDLE,
        current_state: CurrentState::READY_TO_CHARGE,
        errors: ErrorFlags(0x8000_0001),
        l2_l3: Some([PhaseReading::default(); 2]),
        tail,
    }
}

#[test]
fn longer_status_with_alternate_state() {
    let with_alt = status(vec![0, 18, 0]);
    let bytes = round_trip(Payload::Status(with_alt.clone()));
    assert_eq!(bytes.len(), 25 + 36);
    assert_eq!(bytes[21 + 34], 18);
    assert_eq!(with_alt.effective_state(), CurrentState(18));
    assert_eq!(
        status(vec![0, 17]).effective_state(),
        CurrentState::READY_TO_CHARGE
    );
    // 0x000D carries the same layout.
    round_trip(Payload::StatusRecord(with_alt.clone()));

    let state = ChargerState::from_status(&with_alt);
    assert_eq!(state.current_state, CurrentState(18));
    assert_eq!(
        state.gun_state,
        GunState(16),
        "an unknown plug state is kept"
    );
    assert_eq!(state.inner_temperature_c, Some(25.0));
    let names: Vec<_> = state.errors.iter().map(|e| (e.bit, e.name)).collect();
    assert_eq!(
        names,
        [(0, "relay stuck L1"), (31, "metering module failure")]
    );
    assert_eq!(ErrorFlags(1 << 20).bits().collect::<Vec<_>>(), [20]);
    assert_eq!(ErrorFlags::bit_name(20), None);
}

#[test]
fn longer_charging_status_with_alternate_state() {
    let cs = ChargingStatus {
        line_id: 1,
        current_state: CurrentState::CHARGING,
        charge_id: s("202503071200ABCD"),
        start_type: 1,
        charge_type: 1,
        max_duration_min: Limit(90),
        max_energy: Limit(750),
        param3: Limit::NONE,
        reservation_time: EmTime::UNSET,
        user_id: s("emmgr"),
        max_current_a: 10,
        start_time: EmTime(0x67ca_7d50),
        duration_s: 600,
        start_energy: Energy(1000),
        current_energy: Energy(1100),
        charged_energy: Energy(100),
        price: 0,
        fee_type: 0,
        fee: 0,
        tail: vec![19],
    };
    let bytes = round_trip(Payload::ChargingStatusResponse(cs.clone()));
    assert_eq!(bytes.len(), 25 + 75);
    assert_eq!(bytes[21 + 46], 10, "max current at offset 46");
    assert_eq!(
        &bytes[21 + 47..21 + 51],
        &[0x67, 0xca, 0x7d, 0x50],
        "start time at offset 47"
    );
    assert_eq!(cs.effective_state(), CurrentState(19));
    assert!(matches!(
        Payload::parse(Command::CHARGING_STATUS, &bytes[21..21 + 73]),
        Err(PayloadError::Length { found: 73, .. })
    ));
}

#[test]
fn nickname_and_stop_short_forms() {
    let short = Nickname {
        action: ConfigAction::GET,
        name: s("ACP#Carport"),
        short_form: true,
    };
    let bytes = round_trip(Payload::NicknameResponse(short));
    assert_eq!(bytes.len(), 25 + 17);
    assert_eq!(short.display_name(), "Carport");
    assert!(Nickname::set_display_name(&"x".repeat(29)).is_err());
    assert_eq!(
        round_trip(Payload::ChargeStop(ChargeStop::LineOnly(1))).len(),
        26
    );
    assert_eq!(round_trip(Payload::ChargeStop(ChargeStop::Empty)).len(), 25);
    assert_eq!(round_trip(Payload::RequestLogin(None)).len(), 25);
}

#[test]
fn current_charge_record_and_ack() {
    let record = CurrentChargeRecord {
        line_id: 1,
        start_user_id: s("emmgr"),
        stop_user_id: s("app"),
        charge_id: s("2025030712000042"),
        has_reservation: 0,
        start_type: 1,
        charge_type: 1,
        param1: Limit(60),
        param2: Limit::NONE,
        param3: Limit::NONE,
        stop_reason: 2,
        has_stop_charge: 1,
        reservation_time: EmTime(0),
        start_time: EmTime(0x67ca_7d50),
        stop_time: EmTime(0x67ca_8b60),
        charged_seconds: 3600,
        start_energy: Energy(1000),
        stop_energy: Energy(1700),
        charged_energy: Energy(700),
        price: 0,
        fee_type: 1,
        fee: 100,
        log_length: 0,
        tail: vec![0; 60 * 2 - 1],
    };
    let bytes = round_trip(Payload::CurrentChargeRecord(record));
    assert_eq!(bytes.len(), 25 + 97 + 119);
    assert_eq!(bytes[21 + 58], 2, "stop reason at offset 58");
    assert_eq!(
        &bytes[21 + 68..21 + 72],
        &[0x67, 0xca, 0x8b, 0x60],
        "stop time at offset 68"
    );
    let ack = CurrentChargeRecordAck {
        line_id: 1,
        charge_id: s("2025030712000042"),
        status: 1,
    };
    let d = Datagram::to_charger(
        SIM,
        Password::new("123456").unwrap(),
        Payload::CurrentChargeRecordAck(ack),
    );
    let bytes = d.encode().unwrap();
    assert_eq!(bytes.len(), 25 + 18);
    assert_eq!(parse_packet(&bytes), [Ok(d)]);
}

#[test]
fn code_newtypes_keep_unknown_values() {
    for (command, payload) in [
        (Command::LANGUAGE_RESPONSE, [2u8, 9]),
        (Command::TEMPERATURE_UNIT_RESPONSE, [2, 7]),
        (Command::OFFLINE_CHARGE_RESPONSE, [1, 2]),
    ] {
        let p = Payload::parse(command, &payload).unwrap();
        let mut out = Vec::new();
        p.encode(&mut out);
        assert_eq!(out, payload);
    }
    assert_eq!(Language(9).name(), None);
    assert_eq!(Language(9).to_string(), "unknown (9)");
    assert_eq!(format!("{:?}", GunState(16)), "GunState(16 unknown)");
    assert_eq!(Command(0x0151).to_string(), "get data package");
    assert!(Command::CHARGE_START.is_app_to_charger());
    assert!(Command::STATUS.identifies_charger());
    assert!(!Command::NICKNAME_RESPONSE.identifies_charger());
    assert!(ReservationResult::IN_THE_PAST.is_success());
    assert!(!ReservationResult::TOO_FAR.is_success());
}

#[test]
fn serial_and_password_text() {
    assert_eq!("0123456789ABCDEF".parse::<Serial>(), Ok(SIM));
    assert!("0123".parse::<Serial>().is_err());
    assert!("0123456789abcdeg".parse::<Serial>().is_err());
    assert!(Password::new("12345").is_err());
    assert!(Password::new("1234567").is_err());
    assert!(Password::CHARGER.is_unset());
    assert_eq!(format!("{}", Password::new("123456").unwrap()), "******");
}

#[test]
fn wifi_passphrase_never_reaches_debug_output() {
    let info = WifiInfo {
        action: ConfigAction::GET,
        ssid: s("home"),
        passphrase: s("correct horse battery"),
        server_ip: [0, 0, 0, 0],
        server_port: 28376,
    };
    let bytes = round_trip(Payload::WifiInfoResponse(info.clone()));
    assert_eq!(bytes.len(), 25 + 105);
    assert_eq!(
        &bytes[21 + 103..21 + 105],
        &28376u16.to_be_bytes(),
        "port at offset 103"
    );
    let shown = format!("{:?}", parse_packet(&bytes));
    assert!(shown.contains("home") && shown.contains("28376"), "{shown}");
    assert!(!shown.contains("horse"), "{shown}");
}
