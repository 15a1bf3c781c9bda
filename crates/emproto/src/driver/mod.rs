//! The tokio driver: one UDP socket and one task that runs the sans-IO [`Endpoint`].
//!
//! [`Driver::start`] binds the socket (0.0.0.0:28376 by default, so charger broadcasts arrive),
//! loads the known chargers from the state directory, and spawns a task that feeds every packet
//! and timer into the endpoint and sends what it asks for, each datagram to the charger's learnt
//! address and source port. The [`Driver`] handle makes requests (login, start, stop, config)
//! and awaits their typed outcome; [`Driver::subscribe`] gives the event stream (added,
//! changed, removed, and with `dump` every datagram as masked hex).
//!
//! The driver adds two things the session does not know: persistence (the known-chargers file,
//! rewritten atomically when a charger's address, label or confirmed password changes) and the
//! start/stop rate limit per charger, remembered across runs, because every start or stop
//! switches the charger's relays and the car's contactors.

pub mod store;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jiff::Timestamp;
use thiserror::Error;
use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::model::{ChargerConfig, StartParams};
use crate::session::{
    Change, ChargerView, CommandError, ConfigItem, Endpoint, Event, Reply, RequestError, RequestId,
    SessionConfig, masked_hex,
};
use crate::wire::{APP_PORT, ChargeStartResponse, ChargeStopResponse, Password, Serial};

pub use store::{KnownCharger, Secret, Store, StoreError};

/// How the driver binds, times and remembers.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Local address; `0.0.0.0:28376` receives charger broadcasts. Tests bind `127.0.0.1:0`.
    pub bind: SocketAddr,
    /// Session timers and time zone.
    pub session: SessionConfig,
    /// Where the known chargers are kept (`None`: in memory only).
    pub state_dir: Option<PathBuf>,
    /// Emit [`DriverEvent::Traffic`] for every datagram (password bytes masked).
    pub dump: bool,
    /// Minimum time between two starts or stops sent to one charger.
    pub min_switch_interval: Duration,
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), APP_PORT),
            session: SessionConfig {
                time_zone: jiff::tz::TimeZone::system(),
                ..SessionConfig::default()
            },
            state_dir: None,
            dump: false,
            min_switch_interval: Duration::from_secs(60),
        }
    }
}

/// What the driver reports.
#[derive(Debug, Clone)]
pub enum DriverEvent {
    /// A charger was heard or loaded for the first time.
    Added(ChargerView),
    /// Something about a charger changed; the view is the state after the change.
    Changed(ChargerView, Change),
    /// A charger was forgotten.
    Removed(Serial),
    /// A datagram went out or came in (only with `dump`); password bytes are masked.
    Traffic {
        /// `true` for datagrams sent.
        outgoing: bool,
        /// The other side.
        peer: SocketAddr,
        /// The UDP payload as hex, password bytes shown as `xx`.
        hex: String,
    },
    /// Something went wrong that does not stop the driver (a bad datagram, a failed send or
    /// save); the text never holds a password.
    Warning(String),
}

/// Errors of the driver and of its requests.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DriverError {
    /// The UDP socket could not be bound.
    #[error("cannot bind UDP {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The state directory could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The request could not be sent.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The charger did not do what was asked.
    #[error("charger {serial}: {what} failed")]
    Request {
        /// The charger.
        serial: Serial,
        /// What was asked ("login", "start", ...).
        what: &'static str,
        /// Why.
        #[source]
        source: RequestError,
    },
    /// A start or stop was sent to this charger too recently.
    #[error(
        "a start or stop was sent to charger {serial} {} s ago; wait {} s more (each start or stop \
         switches the charger's relays and the car's contactors), or force it",
        since.as_secs(),
        retry_after.as_secs().max(1)
    )]
    RateLimited {
        /// The charger.
        serial: Serial,
        /// Time since the last start or stop.
        since: Duration,
        /// Time until the next is allowed.
        retry_after: Duration,
    },
    /// Waiting for a condition took too long.
    #[error("{what} did not happen within {} s", waited.as_secs_f64())]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        waited: Duration,
    },
    /// The driver task has stopped.
    #[error("the EM driver has stopped")]
    Closed,
}

type Outcome = Result<Reply, RequestError>;

enum Cmd {
    Views(oneshot::Sender<Vec<ChargerView>>),
    Login(
        Serial,
        Password,
        oneshot::Sender<Result<Outcome, DriverError>>,
    ),
    Start(
        Serial,
        Box<StartParams>,
        bool,
        oneshot::Sender<Result<Outcome, DriverError>>,
    ),
    Stop(
        Serial,
        String,
        bool,
        oneshot::Sender<Result<Outcome, DriverError>>,
    ),
    Set(
        Serial,
        ConfigItem,
        oneshot::Sender<Result<Outcome, DriverError>>,
    ),
    Fetch(Serial, oneshot::Sender<Result<Outcome, DriverError>>),
    Forget(Serial, oneshot::Sender<bool>),
    Shutdown(oneshot::Sender<Result<(), DriverError>>),
}

/// Handle to a running driver. Dropping it stops the task (without a final save; call
/// [`Driver::shutdown`] for that).
#[derive(Debug)]
pub struct Driver {
    local_addr: SocketAddr,
    commands: mpsc::Sender<Cmd>,
    events: broadcast::Sender<DriverEvent>,
}

/// The longest any request may wait in the driver, beyond the session's own timeouts.
const REQUEST_GUARD: Duration = Duration::from_secs(60);

impl Driver {
    /// Binds the socket, loads the state directory and starts the task.
    pub async fn start(config: DriverConfig) -> Result<Self, DriverError> {
        let store = match &config.state_dir {
            Some(dir) => Some(Store::load(dir)?),
            None => None,
        };
        let socket = UdpSocket::bind(config.bind)
            .await
            .map_err(|source| DriverError::Bind {
                addr: config.bind,
                source,
            })?;
        // Receiving broadcasts needs no option; sending to a broadcast address would.
        let _ = socket.set_broadcast(true);
        let local_addr = socket.local_addr().map_err(|source| DriverError::Bind {
            addr: config.bind,
            source,
        })?;
        let (commands, rx) = mpsc::channel(32);
        let (events, _) = broadcast::channel(1024);
        let mut task = Task {
            endpoint: Endpoint::new(config.session.clone()),
            socket,
            config,
            store,
            events: events.clone(),
            waiters: HashMap::new(),
            confirmed: HashSet::new(),
            last_switch: HashMap::new(),
        };
        task.load_known();
        tokio::spawn(task.run(rx));
        Ok(Self {
            local_addr,
            commands,
            events,
        })
    }

    /// The bound address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DriverEvent> {
        self.events.subscribe()
    }

    /// Snapshots of every known charger.
    pub async fn chargers(&self) -> Result<Vec<ChargerView>, DriverError> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Views(tx)).await?;
        rx.await.map_err(|_| DriverError::Closed)
    }

    /// Waits until `check` returns something for the current chargers, re-checking after every
    /// event, for at most `timeout`. `what` names the condition in the timeout error.
    pub async fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&[ChargerView]) -> Option<T>,
    ) -> Result<T, DriverError> {
        let mut events = self.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(found) = check(&self.chargers().await?) {
                return Ok(found);
            }
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Err(_) => {
                    return Err(DriverError::Timeout {
                        what: what.to_owned(),
                        waited: timeout,
                    });
                }
                Ok(Err(broadcast::error::RecvError::Closed)) => return Err(DriverError::Closed),
                Ok(_) => {}
            }
        }
    }

    /// Logs in with `password`; on success the password is remembered (and saved).
    pub async fn login(&self, serial: Serial, password: Password) -> Result<(), DriverError> {
        self.request(serial, "login", |tx| Cmd::Login(serial, password, tx))
            .await
            .map(|_| ())
    }

    /// Fetches the configuration.
    pub async fn fetch_config(&self, serial: Serial) -> Result<ChargerConfig, DriverError> {
        match self
            .request(serial, "config fetch", |tx| Cmd::Fetch(serial, tx))
            .await?
        {
            Reply::ConfigFetched(c) => Ok(c),
            _ => Err(DriverError::Closed),
        }
    }

    /// Changes one config item; returns the value the charger confirmed.
    pub async fn set_config(
        &self,
        serial: Serial,
        item: ConfigItem,
    ) -> Result<ConfigItem, DriverError> {
        match self
            .request(serial, "config set", |tx| Cmd::Set(serial, item, tx))
            .await?
        {
            Reply::ConfigSet(c) => Ok(c),
            _ => Err(DriverError::Closed),
        }
    }

    /// Starts (or plans) a charge session. Refused with [`DriverError::RateLimited`] when a start
    /// or stop was sent to this charger within the minimum interval, unless `force`.
    pub async fn start_charge(
        &self,
        serial: Serial,
        params: StartParams,
        force: bool,
    ) -> Result<ChargeStartResponse, DriverError> {
        let params = Box::new(params);
        match self
            .request(serial, "start", |tx| Cmd::Start(serial, params, force, tx))
            .await?
        {
            Reply::Started(r) => Ok(r),
            _ => Err(DriverError::Closed),
        }
    }

    /// Stops the session (or cancels a planned one); rate-limited like [`Driver::start_charge`].
    pub async fn stop_charge(
        &self,
        serial: Serial,
        user_id: &str,
        force: bool,
    ) -> Result<ChargeStopResponse, DriverError> {
        let user = user_id.to_owned();
        match self
            .request(serial, "stop", |tx| Cmd::Stop(serial, user, force, tx))
            .await?
        {
            Reply::Stopped(r) => Ok(r),
            _ => Err(DriverError::Closed),
        }
    }

    /// Forgets a charger (and removes it from the state file).
    pub async fn forget(&self, serial: Serial) -> Result<bool, DriverError> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Forget(serial, tx)).await?;
        rx.await.map_err(|_| DriverError::Closed)
    }

    /// Saves the state file and stops the task.
    pub async fn shutdown(self) -> Result<(), DriverError> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Shutdown(tx)).await?;
        rx.await.map_err(|_| DriverError::Closed)?
    }

    async fn send(&self, cmd: Cmd) -> Result<(), DriverError> {
        self.commands
            .send(cmd)
            .await
            .map_err(|_| DriverError::Closed)
    }

    async fn request(
        &self,
        serial: Serial,
        what: &'static str,
        make: impl FnOnce(oneshot::Sender<Result<Outcome, DriverError>>) -> Cmd,
    ) -> Result<Reply, DriverError> {
        let (tx, rx) = oneshot::channel();
        self.send(make(tx)).await?;
        let outcome = tokio::time::timeout(REQUEST_GUARD, rx)
            .await
            .map_err(|_| DriverError::Timeout {
                what: what.to_owned(),
                waited: REQUEST_GUARD,
            })?
            .map_err(|_| DriverError::Closed)??;
        outcome.map_err(|source| DriverError::Request {
            serial,
            what,
            source,
        })
    }
}

struct Task {
    endpoint: Endpoint,
    socket: UdpSocket,
    config: DriverConfig,
    store: Option<Store>,
    events: broadcast::Sender<DriverEvent>,
    waiters: HashMap<(Serial, RequestId), oneshot::Sender<Result<Outcome, DriverError>>>,
    /// Chargers whose password is known to be right (loaded, or a login succeeded).
    confirmed: HashSet<Serial>,
    last_switch: HashMap<Serial, SystemTime>,
}

impl Task {
    fn load_known(&mut self) {
        let Some(store) = &self.store else { return };
        let now = Instant::now();
        for known in store.chargers().to_vec() {
            let Ok(serial) = known.serial.parse::<Serial>() else {
                let _ = self.events.send(DriverEvent::Warning(format!(
                    "skipping {:?} in {}: not a serial",
                    known.serial,
                    store.path().display()
                )));
                continue;
            };
            let password = known
                .password
                .as_ref()
                .and_then(|p| Password::new(p.expose()).ok());
            if password.is_some() {
                self.confirmed.insert(serial);
            }
            if let Some(t) = known.last_switch_unix {
                self.last_switch
                    .insert(serial, UNIX_EPOCH + Duration::from_secs(t));
            }
            self.endpoint.insert_known(
                now,
                serial,
                known.socket_addr(),
                password,
                &known.brand,
                &known.model,
            );
        }
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Cmd>) {
        let mut buf = vec![0u8; 65_536];
        loop {
            self.flush().await;
            let timeout = self.endpoint.poll_timeout();
            let sleep = async {
                match timeout {
                    Some(t) => tokio::time::sleep_until(t.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((n, source)) => {
                        let packet = &buf[..n];
                        if self.config.dump {
                            let _ = self.events.send(DriverEvent::Traffic {
                                outgoing: false,
                                peer: source,
                                hex: masked_hex(packet),
                            });
                        }
                        self.endpoint.handle_packet(Instant::now(), source, packet);
                    }
                    Err(e) => {
                        // ICMP port unreachable and the like surface here on some systems.
                        self.warn(format!("UDP receive failed: {e}"));
                    }
                },
                () = sleep => self.endpoint.handle_timeout(Instant::now()),
                cmd = commands.recv() => match cmd {
                    Some(Cmd::Shutdown(reply)) => {
                        let _ = reply.send(self.save());
                        return;
                    }
                    Some(cmd) => self.command(cmd),
                    None => return,
                },
            }
        }
    }

    /// Sends what the endpoint wants sent and dispatches its events.
    async fn flush(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(t) = self.endpoint.poll_transmit() {
                progressed = true;
                if self.config.dump {
                    let _ = self.events.send(DriverEvent::Traffic {
                        outgoing: true,
                        peer: t.destination,
                        hex: masked_hex(&t.contents),
                    });
                }
                if let Err(e) = self.socket.send_to(&t.contents, t.destination).await {
                    self.warn(format!(
                        "sending {} to {} failed: {e}",
                        t.command, t.destination
                    ));
                }
            }
            while let Some(event) = self.endpoint.poll_event() {
                progressed = true;
                self.event(event);
            }
            if !progressed {
                return;
            }
        }
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::Added(serial) => {
                if let Some(s) = self.endpoint.session(serial) {
                    let _ = self.events.send(DriverEvent::Added(s.view()));
                }
                self.remember(serial);
            }
            Event::Changed(serial, change) => {
                match change {
                    Change::LoggedIn(true) => {
                        self.confirmed.insert(serial);
                    }
                    Change::PasswordRejected => {
                        self.confirmed.remove(&serial);
                    }
                    _ => {}
                }
                if matches!(
                    change,
                    Change::Address
                        | Change::Info
                        | Change::LoggedIn(true)
                        | Change::PasswordRejected
                ) {
                    self.remember(serial);
                }
                if let Some(s) = self.endpoint.session(serial) {
                    let _ = self.events.send(DriverEvent::Changed(s.view(), change));
                }
            }
            Event::Removed(serial) => {
                if let Some(store) = &mut self.store
                    && store.remove(&serial.to_hex())
                {
                    self.save_or_warn();
                }
                let _ = self.events.send(DriverEvent::Removed(serial));
            }
            Event::Completed {
                serial,
                id,
                outcome,
            } => {
                if let Some(waiter) = self.waiters.remove(&(serial, id)) {
                    let _ = waiter.send(Ok(outcome));
                }
            }
            Event::Malformed { source, error } => {
                self.warn(format!("unreadable datagram from {source}: {error}"));
            }
        }
    }

    fn command(&mut self, cmd: Cmd) {
        let now = Instant::now();
        match cmd {
            Cmd::Views(reply) => {
                let _ = reply.send(self.endpoint.views());
            }
            Cmd::Forget(serial, reply) => {
                let _ = reply.send(self.endpoint.forget(serial));
            }
            Cmd::Login(serial, password, reply) => {
                let r = self
                    .endpoint
                    .require(serial)
                    .and_then(|s| s.login(now, password));
                self.register(serial, r, reply);
            }
            Cmd::Fetch(serial, reply) => {
                let r = self
                    .endpoint
                    .require(serial)
                    .and_then(|s| s.fetch_config(now));
                self.register(serial, r, reply);
            }
            Cmd::Set(serial, item, reply) => {
                let r = self
                    .endpoint
                    .require(serial)
                    .and_then(|s| s.set_config(now, item));
                self.register(serial, r, reply);
            }
            Cmd::Start(serial, params, force, reply) => {
                if let Err(e) = self.check_rate(serial, force) {
                    let _ = reply.send(Err(e));
                    return;
                }
                let wall = Timestamp::now();
                let suffix = (wall.subsec_nanosecond() / 1000 % 10_000) as u16;
                let r = self
                    .endpoint
                    .require(serial)
                    .and_then(|s| s.start_charge(now, wall, &params, suffix));
                if r.is_ok() {
                    self.record_switch(serial);
                }
                self.register(serial, r, reply);
            }
            Cmd::Stop(serial, user, force, reply) => {
                if let Err(e) = self.check_rate(serial, force) {
                    let _ = reply.send(Err(e));
                    return;
                }
                let r = self
                    .endpoint
                    .require(serial)
                    .and_then(|s| s.stop_charge(now, &user));
                if r.is_ok() {
                    self.record_switch(serial);
                }
                self.register(serial, r, reply);
            }
            Cmd::Shutdown(_) => {}
        }
    }

    fn register(
        &mut self,
        serial: Serial,
        sent: Result<RequestId, CommandError>,
        reply: oneshot::Sender<Result<Outcome, DriverError>>,
    ) {
        match sent {
            Ok(id) => {
                self.waiters.insert((serial, id), reply);
            }
            Err(e) => {
                let _ = reply.send(Err(e.into()));
            }
        }
    }

    fn check_rate(&self, serial: Serial, force: bool) -> Result<(), DriverError> {
        if force {
            return Ok(());
        }
        let Some(last) = self.last_switch.get(&serial) else {
            return Ok(());
        };
        // A last switch "in the future" (clock set back) counts as just now.
        let since = SystemTime::now()
            .duration_since(*last)
            .unwrap_or(Duration::ZERO);
        if since < self.config.min_switch_interval {
            return Err(DriverError::RateLimited {
                serial,
                since,
                retry_after: self.config.min_switch_interval - since,
            });
        }
        Ok(())
    }

    fn record_switch(&mut self, serial: Serial) {
        self.last_switch.insert(serial, SystemTime::now());
        self.remember(serial);
    }

    /// Updates the state file entry of `serial` and saves when it changed.
    fn remember(&mut self, serial: Serial) {
        let Some(store) = &mut self.store else { return };
        let Some(session) = self.endpoint.session(serial) else {
            return;
        };
        let Some(address) = session.address() else {
            return;
        };
        let view = session.view();
        let password = if self.confirmed.contains(&serial) {
            session
                .password()
                .map(|p| Secret::new(String::from_utf8_lossy(p.expose()).into_owned()))
        } else {
            None
        };
        let entry = KnownCharger {
            serial: serial.to_hex(),
            address: address.ip(),
            port: address.port(),
            password,
            brand: view.brand,
            model: view.model,
            last_switch_unix: self
                .last_switch
                .get(&serial)
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs()),
        };
        if store.upsert(entry) {
            self.save_or_warn();
        }
    }

    fn save(&self) -> Result<(), DriverError> {
        match &self.store {
            Some(store) => Ok(store.save()?),
            None => Ok(()),
        }
    }

    fn save_or_warn(&self) {
        if let Err(e) = self.save() {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            self.warn(text);
        }
    }

    fn warn(&self, text: String) {
        let _ = self.events.send(DriverEvent::Warning(text));
    }
}

#[cfg(test)]
mod tests;
