//! Driver tests over real UDP on loopback, against a scripted charger socket.

use std::time::Duration;

use tokio::net::UdpSocket;

use super::*;
use crate::wire::{
    ChargeStartResponse, Command, ConfigAction, ConfigValue, Datagram, DeviceType, FixedStr,
    Language, Login, LoginExtension, Nickname, OfflineCharge, Payload, ReservationResult,
    StartError, TemperatureUnit, parse_packet,
};

const WAIT: Duration = Duration::from_secs(10);

fn serial() -> Serial {
    "0123456789abcdef".parse().expect("serial")
}

fn login() -> Login {
    Login {
        device_type: DeviceType::SINGLE_PHASE_1,
        brand: FixedStr::truncating("TEST"),
        model: FixedStr::truncating("SCRIPTED"),
        hardware_version: FixedStr::truncating("1"),
        max_power_w: 7360,
        max_current_a: 32,
        hot_line: FixedStr::EMPTY,
        extension: LoginExtension::None,
    }
}

/// A charger played by hand: a socket that sends what the test says and answers the usual
/// requests.
struct Scripted {
    socket: UdpSocket,
    client: SocketAddr,
}

impl Scripted {
    async fn new(client: SocketAddr) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        Self { socket, client }
    }

    async fn send(&self, payload: Payload) {
        let bytes = Datagram::from_charger(serial(), payload)
            .encode()
            .expect("encode");
        self.socket
            .send_to(&bytes, self.client)
            .await
            .expect("send");
    }

    /// Receives the next request; answers login and config requests the way a charger does.
    async fn next(&self) -> Datagram {
        let mut buf = [0u8; 2048];
        let (n, _) = tokio::time::timeout(WAIT, self.socket.recv_from(&mut buf))
            .await
            .expect("a request within the wait")
            .expect("recv");
        let d = parse_packet(&buf[..n]).remove(0).expect("valid datagram");
        let answer = match &d.payload {
            Payload::RequestLogin(_) => Some(Payload::LoginResponse(login())),
            Payload::Nickname(_) => Some(Payload::NicknameResponse(
                Nickname::set_display_name("Drive").expect("name"),
            )),
            Payload::Language(_) => Some(Payload::LanguageResponse(ConfigValue {
                action: ConfigAction::GET,
                value: Language::ENGLISH,
            })),
            Payload::OfflineCharge(_) => Some(Payload::OfflineChargeResponse(ConfigValue {
                action: ConfigAction::GET,
                value: OfflineCharge(0),
            })),
            Payload::MaxCurrent(_) => Some(Payload::MaxCurrentResponse(ConfigValue {
                action: ConfigAction::GET,
                value: 16,
            })),
            Payload::TemperatureUnit(_) => Some(Payload::TemperatureUnitResponse(ConfigValue {
                action: ConfigAction::GET,
                value: TemperatureUnit::CELSIUS,
            })),
            Payload::ChargeStart(cs) => Some(Payload::ChargeStartResponse(ChargeStartResponse {
                line_id: 1,
                reservation_result: ReservationResult::IMMEDIATE,
                start_result: 1,
                error: StartError::NONE,
                max_current_a: cs.max_current_a,
            })),
            _ => None,
        };
        if let Some(a) = answer {
            self.send(a).await;
        }
        d
    }

    /// Serves requests until `stop` is seen, returning the commands seen.
    async fn serve_until(&self, stop: Command) -> Vec<Command> {
        let mut seen = Vec::new();
        loop {
            let d = self.next().await;
            seen.push(d.command());
            if d.command() == stop {
                return seen;
            }
        }
    }
}

fn config(dir: &std::path::Path) -> DriverConfig {
    DriverConfig {
        bind: "127.0.0.1:0".parse().expect("addr"),
        state_dir: Some(dir.to_path_buf()),
        ..DriverConfig::default()
    }
}

fn params() -> StartParams {
    StartParams {
        max_current_a: 10,
        start_at: None,
        max_duration_min: None,
        max_energy_kwh: None,
        single_phase: false,
        user_id: "test".into(),
        charge_id: None,
    }
}

#[tokio::test]
async fn logs_in_persists_and_rate_limits_across_restarts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let driver = Driver::start(config(dir.path())).await.expect("driver");
    let charger = Scripted::new(driver.local_addr()).await;
    let charger_addr = charger.socket.local_addr().expect("addr");

    // Heard from its broadcast: the driver learns the charger's source port.
    charger.send(Payload::Login(login())).await;
    let view = driver
        .wait_for("added", WAIT, |v| v.first().cloned())
        .await
        .expect("added");
    assert_eq!(view.address, Some(charger_addr));

    let pw = Password::new("123456").expect("pw");
    let (logged_in, seen) = tokio::join!(
        driver.login(serial(), pw),
        charger.serve_until(Command::GET_VERSION)
    );
    logged_in.expect("login");
    assert_eq!(seen[0], Command::REQUEST_LOGIN);
    assert_eq!(seen[1], Command::LOGIN_CONFIRM);
    driver
        .wait_for("config", WAIT, |v| {
            v.first().filter(|c| c.config.is_complete()).cloned()
        })
        .await
        .expect("config answered");

    // The state file has the charger with its port and password, mode 0600.
    let store = Store::load(dir.path()).expect("load");
    let known = store.get(&serial().to_hex()).expect("saved");
    assert_eq!(known.socket_addr(), charger_addr);
    assert_eq!(known.password.as_ref().map(Secret::expose), Some("123456"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(store.path())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // A start, then an immediate second one is refused by the rate limit.
    let (started, _) = tokio::join!(
        driver.start_charge(serial(), params(), false),
        charger.serve_until(Command::CHARGE_START)
    );
    assert_eq!(started.expect("start").max_current_a, 10);
    let err = driver
        .start_charge(serial(), params(), false)
        .await
        .expect_err("rate limited");
    assert!(matches!(err, DriverError::RateLimited { .. }), "{err}");
    driver.shutdown().await.expect("shutdown");

    // A new driver on the same state directory remembers the address, the password and the
    // last start: it logs in without any broadcast and still refuses an early start.
    let driver = Driver::start(DriverConfig {
        bind: "127.0.0.1:0".parse().expect("addr"),
        ..config(dir.path())
    })
    .await
    .expect("driver");
    let charger = Scripted {
        socket: charger.socket,
        client: driver.local_addr(),
    };
    let seen = charger.serve_until(Command::LOGIN_CONFIRM).await;
    assert_eq!(seen, vec![Command::REQUEST_LOGIN, Command::LOGIN_CONFIRM]);
    let err = driver
        .stop_charge(serial(), "test", false)
        .await
        .expect_err("rate limited");
    assert!(matches!(err, DriverError::RateLimited { .. }), "{err}");
    assert!(err.to_string().contains("contactors"), "{err}");
    driver.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_wrong_password_is_a_typed_error_and_is_not_saved() {
    let dir = tempfile::tempdir().expect("temp dir");
    let driver = Driver::start(config(dir.path())).await.expect("driver");
    let charger = Scripted::new(driver.local_addr()).await;
    charger.send(Payload::Login(login())).await;
    driver
        .wait_for("added", WAIT, |v| v.first().cloned())
        .await
        .expect("added");
    let answer = async {
        let mut buf = [0u8; 512];
        let (n, _) = charger.socket.recv_from(&mut buf).await.expect("recv");
        assert_eq!(
            parse_packet(&buf[..n]).remove(0).expect("valid").command(),
            Command::REQUEST_LOGIN
        );
        charger.send(Payload::PasswordError).await;
    };
    let (result, ()) = tokio::join!(
        driver.login(serial(), Password::new("000000").expect("pw")),
        answer
    );
    let err = result.expect_err("rejected");
    assert!(
        matches!(
            err,
            DriverError::Request {
                source: RequestError::WrongPassword,
                ..
            }
        ),
        "{err}"
    );
    driver.shutdown().await.expect("shutdown");
    let store = Store::load(dir.path()).expect("load");
    assert!(
        store
            .get(&serial().to_hex())
            .is_some_and(|k| k.password.is_none())
    );
}

#[tokio::test]
async fn dump_masks_the_password() {
    let driver = Driver::start(DriverConfig {
        bind: "127.0.0.1:0".parse().expect("addr"),
        dump: true,
        ..DriverConfig::default()
    })
    .await
    .expect("driver");
    let mut events = driver.subscribe();
    let charger = Scripted::new(driver.local_addr()).await;
    charger.send(Payload::Login(login())).await;
    driver
        .wait_for("added", WAIT, |v| v.first().cloned())
        .await
        .expect("added");
    let (_, _) = tokio::join!(
        driver.login(serial(), Password::new("123456").expect("pw")),
        charger.serve_until(Command::GET_VERSION)
    );
    let mut outgoing = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let DriverEvent::Traffic {
            outgoing: true,
            hex,
            ..
        } = e
        {
            outgoing.push(hex);
        }
    }
    assert!(!outgoing.is_empty());
    for hex in &outgoing {
        assert!(
            hex.contains("xxxxxxxxxxxx") && !hex.contains("313233343536"),
            "{hex}"
        );
    }
}
