//! Register I/O through a GivEnergy Wi-Fi/Ethernet dongle (TCP port 8899).
//!
//! The dongle wraps Modbus in its own framing ([`givenergy_dongle`]) and behaves unlike a Modbus
//! TCP server in three ways this client is built around:
//!
//! - **Replies are matched by shape, never by order.** The transaction id is always `0x5959`
//!   and the dongle fans every reply out to every connected client (the vendor's cloud, the app,
//!   other pollers). A background task reads every frame; a request waits for the frame whose
//!   device address, function, base and count (register, for writes) match its own
//!   ([`givenergy_dongle::ReplyKey`]). Error replies carry no exception code and are matched the
//!   same way. Replies nobody waits for are kept in a cache ([`DongleClient::cached`]).
//! - **The dongle talks first.** It sends a heartbeat every three minutes and closes the socket
//!   after several go unanswered; the reader answers each one with the type byte echoed
//!   (switchable with [`DongleOptions::answer_heartbeats`]). Null and LAN-config frames are
//!   dropped, frames with a bad CRC are logged and dropped, never handed on.
//! - **The inverter serialises requests.** Requests go one at a time, at least
//!   [`DongleOptions::pacing`] apart (0.25 s by default, as GivTCP does), and reads are made of
//!   60-register pages at 60-aligned bases.
//!
//! The socket is disposable: a connection that closes, goes silent or times out twice in a row
//! is dropped and reopened on the next attempt.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use givenergy_dongle::{
    EncodeError, Frame, Framer, MAX_REGISTERS, RawFrame, ReadFunction, ReadRequest, ReplyKey,
    Serial, WriteRequest,
};
use modbus_core::Table;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::{Operation, Target};

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How patiently and politely to talk to a dongle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DongleOptions {
    /// Time allowed to open the TCP connection (GivTCP uses 2 s).
    pub connect_timeout: Duration,
    /// Time allowed for each request, from sending to the matching reply.
    pub request_timeout: Duration,
    /// Extra attempts after a timeout or a dropped connection.
    pub retries: u32,
    /// Wait before each retry (GivTCP and givenergy-modbus wait 0.5 s).
    pub retry_wait: Duration,
    /// Least time between two frames sent (0.25 s in GivTCP and givenergy-modbus).
    pub pacing: Duration,
    /// The adapter serial put in every frame sent; the dongle does not check it.
    pub adapter_serial: Serial,
    /// Answer the dongle's heartbeats (some Gen2 dongles are said to dislike the answer).
    pub answer_heartbeats: bool,
    /// Read whole 60-register pages at 60-aligned bases and slice them, as the vendor's tools
    /// do; `false` reads exactly the registers asked for, in chunks of at most 60.
    pub full_pages: bool,
    /// A connection that delivers no byte for this long is considered dead (the dongle sends a
    /// heartbeat every 3 minutes).
    pub silence_timeout: Duration,
}

impl Default for DongleOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(3),
            retries: 2,
            retry_wait: Duration::from_millis(500),
            pacing: Duration::from_millis(250),
            adapter_serial: Serial::CLIENT_DEFAULT,
            answer_heartbeats: true,
            full_pages: true,
            silence_timeout: Duration::from_secs(600),
        }
    }
}

impl DongleOptions {
    /// Options as a map's connection section says: its timeout (for connecting and for each
    /// request) and its pacing, never less than the dongle's 0.25 s; the rest as
    /// [`DongleOptions::default`].
    pub fn from_connection(connection: &device_maps::Connection) -> Self {
        let defaults = Self::default();
        Self {
            connect_timeout: connection.timeout,
            request_timeout: connection.timeout,
            pacing: connection.pacing.max(defaults.pacing),
            ..defaults
        }
    }
}

/// Why a dongle request failed. Every variant names the request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DongleError {
    /// The TCP connection could not be opened.
    #[error("{target}: cannot connect to the dongle{}", attempts_note(*attempts))]
    Connect {
        /// The request.
        target: Target,
        /// How many times it was tried.
        attempts: u32,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// Connecting took longer than the connect timeout.
    #[error("{target}: connecting to the dongle timed out after {timeout:?}{}", attempts_note(*attempts))]
    ConnectTimeout {
        /// The request.
        target: Target,
        /// How many times it was tried.
        attempts: u32,
        /// The connect timeout.
        timeout: Duration,
    },
    /// No matching reply arrived in time (the inverter drops requests with a bad CRC silently,
    /// and some banks are simply not answered).
    #[error("{target}: no matching reply within {timeout:?}{}", attempts_note(*attempts))]
    Timeout {
        /// The request.
        target: Target,
        /// How many times it was tried.
        attempts: u32,
        /// The request timeout.
        timeout: Duration,
    },
    /// The connection closed or failed while the request was under way.
    #[error("{target}: the dongle connection failed{}", attempts_note(*attempts))]
    Connection {
        /// The request.
        target: Target,
        /// How many times it was tried.
        attempts: u32,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The inverter answered with an error reply (function code with the high bit set). The
    /// dongle's error replies carry no exception code, so there is no reason to report.
    #[error(
        "{target}: the device refused the request (error reply {function:#04x}; the dongle gives no reason, the register bank may not exist on this model)"
    )]
    Refused {
        /// The request.
        target: Target,
        /// The function code of the error reply.
        function: u8,
    },
    /// A write was answered with a different value read back.
    #[error("{target}: wrote {written} but the device read back {read_back}")]
    WriteMismatch {
        /// The request.
        target: Target,
        /// The value sent.
        written: u16,
        /// The value echoed.
        read_back: u16,
    },
    /// The request cannot be carried by the dongle (coils, a range past 65535, ...). Nothing
    /// was sent.
    #[error("{target}: invalid request: {reason}")]
    InvalidRequest {
        /// The request.
        target: Target,
        /// What is wrong.
        reason: &'static str,
    },
    /// The request could not be encoded. Nothing was sent.
    #[error("{target}: cannot encode the request")]
    Encode {
        /// The request.
        target: Target,
        /// What the encoder said.
        #[source]
        source: EncodeError,
    },
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

impl DongleError {
    /// The request the error happened to.
    pub fn target(&self) -> &Target {
        match self {
            Self::Connect { target, .. }
            | Self::ConnectTimeout { target, .. }
            | Self::Timeout { target, .. }
            | Self::Connection { target, .. }
            | Self::Refused { target, .. }
            | Self::WriteMismatch { target, .. }
            | Self::InvalidRequest { target, .. }
            | Self::Encode { target, .. } => target,
        }
    }

    /// Whether the network failed, rather than the device answering "no".
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            Self::Connect { .. }
                | Self::ConnectTimeout { .. }
                | Self::Timeout { .. }
                | Self::Connection { .. }
        )
    }

    fn retryable(&self) -> bool {
        self.is_transport()
    }

    fn set_attempts(&mut self, n: u32) {
        match self {
            Self::Connect { attempts, .. }
            | Self::ConnectTimeout { attempts, .. }
            | Self::Timeout { attempts, .. }
            | Self::Connection { attempts, .. } => *attempts = n,
            _ => {}
        }
    }
}

/// Counters of one client, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DongleStats {
    /// TCP connections opened.
    pub connections: u64,
    /// Request frames sent (retries included).
    pub requests_sent: u64,
    /// Heartbeats received from the dongle.
    pub heartbeats_received: u64,
    /// Heartbeat replies sent.
    pub heartbeats_answered: u64,
    /// Replies that matched no waiting request (other clients' traffic, late replies).
    pub unsolicited: u64,
    /// Frames dropped because they did not decode (bad CRC, unknown function).
    pub bad_frames: u64,
    /// Null and LAN-config frames ignored.
    pub ignored: u64,
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    requests_sent: AtomicU64,
    heartbeats_received: AtomicU64,
    heartbeats_answered: AtomicU64,
    unsolicited: AtomicU64,
    bad_frames: AtomicU64,
    ignored: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A page of registers seen on the socket, with when it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedPage {
    /// The register values.
    pub values: Vec<u16>,
    /// When the page arrived.
    pub received: Instant,
}

struct Waiter {
    id: u64,
    generation: u64,
    key: ReplyKey,
    reply: oneshot::Sender<Frame>,
}

/// What the reader task shares with the requesters.
struct Shared {
    waiters: Mutex<Vec<Waiter>>,
    cache: Mutex<HashMap<ReplyKey, CachedPage>>,
    counters: Counters,
    adapter_serial: Serial,
    answer_heartbeats: bool,
    silence_timeout: Duration,
    write_timeout: Duration,
}

struct Connection {
    generation: u64,
    writer: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    reader: JoinHandle<()>,
}

impl Connection {
    fn is_open(&self) -> bool {
        !self.reader.is_finished()
    }
}

#[derive(Default)]
struct Slot {
    connection: Option<Connection>,
    last_sent: Option<Instant>,
    generation: u64,
    consecutive_timeouts: u32,
}

struct Inner {
    endpoint: String,
    options: DongleOptions,
    slot: tokio::sync::Mutex<Slot>,
    shared: Arc<Shared>,
    next_waiter: AtomicU64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(connection) = self.slot.get_mut().connection.take() {
            connection.reader.abort();
        }
    }
}

/// A client for one dongle, serving every device address behind it (inverter 0x11, battery
/// packs 0x32..). Cheap to clone; clones share the connection, the pacing clock and the cache.
/// No connection is opened until the first request.
///
/// ```no_run
/// use modbus_client::dongle::{DongleClient, DongleOptions};
/// use modbus_core::Table;
///
/// # async fn demo() -> Result<(), modbus_client::dongle::DongleError> {
/// let dongle = DongleClient::new("127.0.0.1:8899", DongleOptions::default());
/// let soc = dongle.read(0x11, Table::Input, 59, 1).await?;
/// dongle.write(0x11, Table::Holding, 116, &[80]).await?;
/// # let _ = soc;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct DongleClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for DongleClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DongleClient")
            .field("endpoint", &self.inner.endpoint)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl DongleClient {
    /// A client for the dongle at `host:port`.
    pub fn new(endpoint: impl Into<String>, options: DongleOptions) -> Self {
        let shared = Arc::new(Shared {
            waiters: Mutex::new(Vec::new()),
            cache: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            adapter_serial: options.adapter_serial,
            answer_heartbeats: options.answer_heartbeats,
            silence_timeout: options.silence_timeout,
            write_timeout: options.request_timeout,
        });
        Self {
            inner: Arc::new(Inner {
                endpoint: endpoint.into(),
                options,
                slot: tokio::sync::Mutex::new(Slot::default()),
                shared,
                next_waiter: AtomicU64::new(1),
            }),
        }
    }

    /// A client for the dongle of the device `map` describes at `host` (a host name or an IP
    /// address) on `port`, or the map's port (8899), with [`DongleOptions::from_connection`].
    pub fn for_map(map: &device_maps::DeviceMap, host: &str, port: Option<u16>) -> Self {
        let port = port.unwrap_or(map.connection.port);
        let address = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Self::new(address, DongleOptions::from_connection(&map.connection))
    }

    /// The `host:port` this client talks to.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// The options in force.
    pub fn options(&self) -> &DongleOptions {
        &self.inner.options
    }

    /// The counters so far.
    pub fn stats(&self) -> DongleStats {
        let c = &self.inner.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        DongleStats {
            connections: get(&c.connections),
            requests_sent: get(&c.requests_sent),
            heartbeats_received: get(&c.heartbeats_received),
            heartbeats_answered: get(&c.heartbeats_answered),
            unsolicited: get(&c.unsolicited),
            bad_frames: get(&c.bad_frames),
            ignored: get(&c.ignored),
        }
    }

    /// The last page of this exact shape seen on the socket (asked for by this client or by any
    /// other client of the dongle), if any.
    pub fn cached(&self, device: u8, table: Table, base: u16, count: u16) -> Option<CachedPage> {
        let function = read_function(table)?;
        let key = ReplyKey::Read {
            device,
            function,
            base,
            count,
        };
        lock(&self.inner.shared.cache).get(&key).cloned()
    }

    /// Closes the connection (the next request opens a new one).
    pub async fn close(&self) {
        let mut slot = self.inner.slot.lock().await;
        drop_connection(&mut slot).await;
    }

    fn target(
        &self,
        device: u8,
        operation: Operation,
        table: Table,
        address: u16,
        count: u16,
    ) -> Target {
        Target {
            endpoint: self.inner.endpoint.clone(),
            unit: device,
            operation,
            table,
            address,
            count,
        }
    }

    /// Reads `count` registers from `address` of `device` (holding or input registers).
    ///
    /// With [`DongleOptions::full_pages`] (the default) the 60-aligned pages covering the range
    /// are read whole, one request each, and sliced.
    ///
    /// # Errors
    /// [`DongleError`] naming the request: a timeout, a dropped connection, an error reply, or
    /// an invalid request (coils, a range past register 65535), which sends nothing.
    pub async fn read(
        &self,
        device: u8,
        table: Table,
        address: u16,
        count: u16,
    ) -> Result<Vec<u16>, DongleError> {
        let target = self.target(device, Operation::Read, table, address, count);
        let Some(function) = read_function(table) else {
            return Err(DongleError::InvalidRequest {
                target,
                reason: "the dongle reads holding and input registers only",
            });
        };
        let end = u32::from(address) + u32::from(count);
        if count == 0 || end > 0x1_0000 {
            return Err(DongleError::InvalidRequest {
                target,
                reason: "count must be at least 1 and the range end at 65535",
            });
        }
        let step = u32::from(MAX_REGISTERS);
        let mut chunks = Vec::new();
        let mut at = if self.inner.options.full_pages {
            u32::from(address) / step * step
        } else {
            u32::from(address)
        };
        while at < end {
            let len = if self.inner.options.full_pages {
                step.min(0x1_0000 - at)
            } else {
                step.min(end - at)
            };
            chunks.push((at, len));
            at += len;
        }
        let mut words = Vec::with_capacity(usize::from(count));
        for (base, len) in chunks {
            // Both fit: `base` < 65536 and `len` <= 60.
            let (base, len) = (
                u16::try_from(base).unwrap_or(u16::MAX),
                u16::try_from(len).unwrap_or(MAX_REGISTERS),
            );
            let page_target = self.target(device, Operation::Read, table, base, len);
            let request = Frame::ReadRequest(ReadRequest {
                adapter: self.inner.options.adapter_serial,
                device,
                function,
                base,
                count: len,
            });
            let reply = self.transact(&page_target, &request).await?;
            let values = match reply {
                Frame::ReadResponse(r) if r.values.len() == usize::from(len) => r.values,
                Frame::ErrorResponse(e) => {
                    return Err(DongleError::Refused {
                        target: page_target,
                        function: e.function | 0x80,
                    });
                }
                _ => {
                    return Err(DongleError::InvalidRequest {
                        target: page_target,
                        reason: "reply of the wrong shape",
                    });
                }
            };
            let from = u32::from(address).max(u32::from(base)) - u32::from(base);
            let to = end.min(u32::from(base) + u32::from(len)) - u32::from(base);
            words.extend_from_slice(&values[from as usize..to as usize]);
        }
        Ok(words)
    }

    /// Writes one holding register per request (function 0x06): `words` must hold exactly one
    /// value, because the dongle has no multi-register write and a value is never split across
    /// requests. The echo must equal the value written.
    ///
    /// # Errors
    /// [`DongleError`] naming the register; [`DongleError::InvalidRequest`] (nothing sent) for
    /// an input register or for other than one word.
    pub async fn write(
        &self,
        device: u8,
        table: Table,
        address: u16,
        words: &[u16],
    ) -> Result<(), DongleError> {
        let count = u16::try_from(words.len()).unwrap_or(u16::MAX);
        let target = self.target(device, Operation::Write, table, address, count);
        if table != Table::Holding {
            return Err(DongleError::InvalidRequest {
                target,
                reason: "only holding registers can be written",
            });
        }
        match words {
            [value] => self.write_register(device, address, *value).await,
            _ => Err(DongleError::InvalidRequest {
                target,
                reason: "the dongle writes exactly one register per request (it has no function 16)",
            }),
        }
    }

    /// Writes one holding register and checks the value read back.
    ///
    /// # Errors
    /// See [`DongleClient::write`].
    pub async fn write_register(
        &self,
        device: u8,
        register: u16,
        value: u16,
    ) -> Result<(), DongleError> {
        let target = self.target(device, Operation::Write, Table::Holding, register, 1);
        let request = Frame::WriteRequest(WriteRequest {
            adapter: self.inner.options.adapter_serial,
            device,
            register,
            value,
        });
        match self.transact(&target, &request).await? {
            Frame::WriteResponse(w) if w.value == value => Ok(()),
            Frame::WriteResponse(w) => Err(DongleError::WriteMismatch {
                target,
                written: value,
                read_back: w.value,
            }),
            Frame::ErrorResponse(e) => Err(DongleError::Refused {
                target,
                function: e.function | 0x80,
            }),
            _ => Err(DongleError::InvalidRequest {
                target,
                reason: "reply of the wrong shape",
            }),
        }
    }

    /// Sends `request` and waits for the frame that answers it, with retries.
    async fn transact(&self, target: &Target, request: &Frame) -> Result<Frame, DongleError> {
        let bytes = request.encode().map_err(|source| DongleError::Encode {
            target: target.clone(),
            source,
        })?;
        let Some(key) = request.reply_key() else {
            return Err(DongleError::InvalidRequest {
                target: target.clone(),
                reason: "not a request",
            });
        };
        let mut slot = self.inner.slot.lock().await;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.attempt(&mut slot, target, &bytes, key).await {
                Ok(frame) => return Ok(frame),
                Err(mut error) => {
                    if error.retryable() && attempt <= self.inner.options.retries {
                        tracing::debug!(%error, attempt, "dongle: retrying");
                        tokio::time::sleep(self.inner.options.retry_wait).await;
                        continue;
                    }
                    error.set_attempts(attempt);
                    return Err(error);
                }
            }
        }
    }

    async fn attempt(
        &self,
        slot: &mut Slot,
        target: &Target,
        bytes: &[u8],
        key: ReplyKey,
    ) -> Result<Frame, DongleError> {
        let options = &self.inner.options;
        let shared = &self.inner.shared;
        if slot.connection.as_ref().is_some_and(|c| !c.is_open()) {
            slot.connection = None;
        }
        if slot.connection.is_none() {
            let stream = match tokio::time::timeout(
                options.connect_timeout,
                TcpStream::connect(&self.inner.endpoint),
            )
            .await
            {
                Ok(Ok(stream)) => stream,
                Ok(Err(source)) => {
                    return Err(DongleError::Connect {
                        target: target.clone(),
                        attempts: 1,
                        source,
                    });
                }
                Err(_) => {
                    return Err(DongleError::ConnectTimeout {
                        target: target.clone(),
                        attempts: 1,
                        timeout: options.connect_timeout,
                    });
                }
            };
            // Frames are small and paced; send each at once.
            let _ = stream.set_nodelay(true);
            let (read_half, write_half) = stream.into_split();
            slot.generation += 1;
            let writer = Arc::new(tokio::sync::Mutex::new(write_half));
            let reader = tokio::spawn(read_loop(
                read_half,
                Arc::clone(&writer),
                Arc::clone(shared),
                slot.generation,
            ));
            bump(&shared.counters.connections);
            tracing::debug!(endpoint = %self.inner.endpoint, "dongle: connected");
            slot.connection = Some(Connection {
                generation: slot.generation,
                writer,
                reader,
            });
            slot.consecutive_timeouts = 0;
        }
        let Some(connection) = slot.connection.as_ref() else {
            return Err(DongleError::InvalidRequest {
                target: target.clone(),
                reason: "no connection",
            });
        };
        if let Some(last) = slot.last_sent {
            tokio::time::sleep_until(last + options.pacing).await;
        }
        let id = self.inner.next_waiter.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&shared.waiters).push(Waiter {
            id,
            generation: connection.generation,
            key,
            reply: tx,
        });
        let writer = Arc::clone(&connection.writer);
        let sent = tokio::time::timeout(options.request_timeout, async {
            writer.lock().await.write_all(bytes).await
        })
        .await;
        slot.last_sent = Some(Instant::now());
        bump(&shared.counters.requests_sent);
        let failure = match sent {
            Ok(Ok(())) => None,
            Ok(Err(source)) => Some(source),
            Err(_) => Some(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "sending the request timed out",
            )),
        };
        if let Some(source) = failure {
            remove_waiter(shared, id);
            drop_connection(slot).await;
            return Err(DongleError::Connection {
                target: target.clone(),
                attempts: 1,
                source,
            });
        }
        match tokio::time::timeout(options.request_timeout, rx).await {
            Ok(Ok(frame)) => {
                slot.consecutive_timeouts = 0;
                Ok(frame)
            }
            Ok(Err(_)) => {
                // The reader ended: the dongle closed the connection or went silent.
                drop_connection(slot).await;
                let source = std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "the dongle closed the connection",
                );
                Err(DongleError::Connection {
                    target: target.clone(),
                    attempts: 1,
                    source,
                })
            }
            Err(_) => {
                remove_waiter(shared, id);
                slot.consecutive_timeouts += 1;
                // Newer firmware drops requests it dislikes without a word: name the shape.
                tracing::warn!(request = %key, timeout = ?options.request_timeout, "dongle: no reply");
                if slot.consecutive_timeouts >= 2 {
                    tracing::debug!("dongle: two timeouts in a row, reconnecting");
                    drop_connection(slot).await;
                }
                Err(DongleError::Timeout {
                    target: target.clone(),
                    attempts: 1,
                    timeout: options.request_timeout,
                })
            }
        }
    }
}

fn read_function(table: Table) -> Option<ReadFunction> {
    match table {
        Table::Holding => Some(ReadFunction::Holding),
        Table::Input => Some(ReadFunction::Input),
        Table::Coil | Table::Discrete => None,
    }
}

fn remove_waiter(shared: &Shared, id: u64) {
    lock(&shared.waiters).retain(|w| w.id != id);
}

async fn drop_connection(slot: &mut Slot) {
    if let Some(connection) = slot.connection.take() {
        connection.reader.abort();
        // Close cleanly so the dongle does not keep a stale socket.
        let mut writer = connection.writer.lock().await;
        let _ = tokio::time::timeout(Duration::from_millis(200), writer.shutdown()).await;
    }
    slot.consecutive_timeouts = 0;
}

/// Reads every frame from the dongle until the connection ends: answers heartbeats, hands
/// replies to whoever waits for their shape, caches read replies, drops the rest.
async fn read_loop(
    mut reader: OwnedReadHalf,
    writer: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    shared: Arc<Shared>,
    generation: u64,
) {
    let mut framer = Framer::new();
    let mut buf = vec![0_u8; 4096];
    loop {
        let n = match tokio::time::timeout(shared.silence_timeout, reader.read(&mut buf)).await {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => n,
            Ok(Err(error)) => {
                tracing::debug!(%error, "dongle: read failed");
                break;
            }
            Err(_) => {
                tracing::debug!(timeout = ?shared.silence_timeout, "dongle: connection silent, giving up");
                break;
            }
        };
        framer.push(&buf[..n]);
        while let Some(raw) = framer.next_frame() {
            dispatch(&shared, &writer, &raw).await;
        }
    }
    // Fail the requests of this connection at once instead of letting them time out.
    lock(&shared.waiters).retain(|w| w.generation != generation);
}

async fn dispatch(shared: &Shared, writer: &tokio::sync::Mutex<OwnedWriteHalf>, raw: &RawFrame) {
    let frame = match raw.decode() {
        Ok(frame) => frame,
        Err(error) => {
            bump(&shared.counters.bad_frames);
            tracing::warn!(%error, "dongle: dropping a frame");
            return;
        }
    };
    match &frame {
        Frame::Heartbeat(heartbeat) => {
            bump(&shared.counters.heartbeats_received);
            tracing::debug!(adapter = %heartbeat.adapter, "dongle: heartbeat received");
            if shared.answer_heartbeats {
                let reply = Frame::Heartbeat(heartbeat.reply(shared.adapter_serial));
                if let Ok(bytes) = reply.encode() {
                    let sent = tokio::time::timeout(shared.write_timeout, async {
                        writer.lock().await.write_all(&bytes).await
                    })
                    .await;
                    if matches!(sent, Ok(Ok(()))) {
                        bump(&shared.counters.heartbeats_answered);
                    }
                }
            }
        }
        Frame::ReadResponse(_) | Frame::WriteResponse(_) | Frame::ErrorResponse(_) => {
            if let Frame::ReadResponse(r) = &frame
                && let Some(key) = frame.reply_key()
            {
                lock(&shared.cache).insert(
                    key,
                    CachedPage {
                        values: r.values.clone(),
                        received: Instant::now(),
                    },
                );
            }
            let mut waiters = lock(&shared.waiters);
            let mut delivered = false;
            let mut kept = Vec::with_capacity(waiters.len());
            for waiter in waiters.drain(..) {
                if waiter.key.answered_by(&frame) {
                    delivered = true;
                    let _ = waiter.reply.send(frame.clone());
                } else {
                    kept.push(waiter);
                }
            }
            *waiters = kept;
            if !delivered {
                bump(&shared.counters.unsolicited);
            }
        }
        Frame::Null(_) | Frame::LanConfig(_) => bump(&shared.counters.ignored),
        // The dongle does not echo other clients' requests; if one ever appears, ignore it.
        Frame::ReadRequest(_) | Frame::WriteRequest(_) => bump(&shared.counters.ignored),
    }
}

impl device_maps::RegisterIo for DongleClient {
    type Error = DongleError;

    fn read(
        &mut self,
        unit: u8,
        table: Table,
        address: u16,
        count: u16,
    ) -> impl Future<Output = Result<Vec<u16>, DongleError>> + Send {
        let client = self.clone();
        async move { client.read(unit, table, address, count).await }
    }

    fn write(
        &mut self,
        unit: u8,
        table: Table,
        address: u16,
        values: &[u16],
    ) -> impl Future<Output = Result<(), DongleError>> + Send {
        let client = self.clone();
        let values = values.to_vec();
        async move { client.write(unit, table, address, &values).await }
    }
}
