//! The connection manager and the request engine: pooling, pacing, timeouts, retries, holes.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use modbus_core::Table;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_modbus::client::Context;
use tokio_modbus::prelude::{Reader as _, Slave, SlaveContext as _, Writer as _};

use crate::error::{Error, Exception, Operation, Target};
use crate::holes::{Holes, Layout};
use crate::options::{ClientOptions, Endpoint, Transport};
use crate::stream::{Closed, Watched};

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A set of endpoints and their connections, shared by every client built from it.
///
/// Two clients for the same endpoint (say, the poller and a heartbeat, or two maps of one
/// gateway) get the same connections, so the device never sees more than its
/// [`ClientOptions::max_connections`]. The first client of an endpoint fixes its options.
#[derive(Debug, Clone, Default)]
pub struct Pool {
    devices: Arc<Mutex<HashMap<Endpoint, Arc<Device>>>>,
}

impl Pool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// A client for `endpoint`, sharing connections with every other client of it in this pool.
    pub fn client(&self, endpoint: Endpoint, options: ClientOptions) -> ModbusClient {
        let device = Arc::clone(
            lock(&self.devices)
                .entry(endpoint.clone())
                .or_insert_with(|| Arc::new(Device::new(endpoint, options))),
        );
        ModbusClient {
            device,
            layout: None,
        }
    }
}

/// An open connection resting in the pool.
struct Idle {
    context: Context,
    closed: Closed,
    since: Instant,
}

impl std::fmt::Debug for Idle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idle")
            .field("since", &self.since)
            .finish_non_exhaustive()
    }
}

/// One endpoint: its connections, its pacing clock and what it taught us about its holes.
#[derive(Debug)]
struct Device {
    endpoint: Endpoint,
    options: ClientOptions,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Idle>>,
    next_slot: Mutex<Option<Instant>>,
    holes: Mutex<Holes>,
    announced: Mutex<HashSet<(u8, Table)>>,
    opened: AtomicU64,
}

impl Device {
    fn new(endpoint: Endpoint, options: ClientOptions) -> Self {
        let permits = Arc::new(Semaphore::new(options.max_connections.max(1)));
        Self {
            endpoint,
            options,
            permits,
            idle: Mutex::new(Vec::new()),
            next_slot: Mutex::new(None),
            holes: Mutex::new(Holes::default()),
            announced: Mutex::new(HashSet::new()),
            opened: AtomicU64::new(0),
        }
    }
}

/// One request, ready to be sent.
#[derive(Debug, Clone, Copy)]
enum Op<'a> {
    Read,
    /// A write; `multiple` forces function 16 (15 for coils) even for one word.
    Write {
        words: &'a [u16],
        multiple: bool,
    },
}

/// A Modbus client for one endpoint, usable for every unit id behind it.
///
/// Cheap to clone; clones share connections. Built with [`ModbusClient::new`] (a private pool)
/// or [`Pool::client`]. Give it the map's [`Layout`] with [`ModbusClient::with_layout`] so it
/// can read around holes a device refuses to span.
#[derive(Debug, Clone)]
pub struct ModbusClient {
    device: Arc<Device>,
    layout: Option<Arc<Layout>>,
}

impl ModbusClient {
    /// A client with its own pool. No connection is opened until the first request.
    pub fn new(endpoint: Endpoint, options: ClientOptions) -> Self {
        Pool::new().client(endpoint, options)
    }

    /// The same client, knowing which addresses the device map declares.
    pub fn with_layout(mut self, layout: Layout) -> Self {
        self.layout = Some(Arc::new(layout));
        self
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.device.endpoint
    }

    /// The options the endpoint runs with.
    pub fn options(&self) -> &ClientOptions {
        &self.device.options
    }

    /// How many connections have been opened to the endpoint so far (reconnects included).
    pub fn connections_opened(&self) -> u64 {
        self.device.opened.load(Ordering::SeqCst)
    }

    /// Closes the idle connections (a busy one closes when its request ends).
    pub fn close_idle(&self) {
        lock(&self.device.idle).clear();
    }

    fn target(
        &self,
        unit: u8,
        operation: Operation,
        table: Table,
        address: u16,
        count: u16,
    ) -> Target {
        Target {
            endpoint: self.device.endpoint.address.clone(),
            unit,
            operation,
            table,
            address,
            count,
        }
    }

    /// Reads `count` registers (or bits, as 0 and 1) of `table` from `address` on `unit`.
    ///
    /// When the device answers illegal data address and the layout shows the request spans
    /// undeclared addresses, the undeclared runs are learned as holes of this device (logged
    /// once per unit and table), the request is repeated as pieces around them, and every later
    /// request is split the same way. Words that fall in a hole read as 0: no register owns them.
    pub async fn read(
        &self,
        unit: u8,
        table: Table,
        address: u16,
        count: u16,
    ) -> Result<Vec<u16>, Error> {
        let target = self.target(unit, Operation::Read, table, address, count);
        let max = table.protocol_max_count();
        if count == 0 || count > max {
            return Err(Error::InvalidRequest {
                target,
                reason: "count must be 1..=125 registers or 1..=2000 bits",
            });
        }
        if u32::from(address) + u32::from(count) > 0x1_0000 {
            return Err(Error::InvalidRequest {
                target,
                reason: "range runs past address 65535",
            });
        }
        let pieces = lock(&self.device.holes).split(unit, table, address, count);
        if let Some(pieces) = pieces {
            return self.read_pieces(unit, table, address, count, &pieces).await;
        }
        match self.request(&target, Op::Read).await {
            Err(Error::Exception {
                exception: Exception::IllegalDataAddress,
                ..
            }) if self.learn_holes(unit, table, address, count) => {
                let pieces = lock(&self.device.holes)
                    .split(unit, table, address, count)
                    .unwrap_or_default();
                self.read_pieces(unit, table, address, count, &pieces).await
            }
            other => other,
        }
    }

    /// Learns the layout's gaps in the range as holes. False when the layout knows no gap
    /// there (the exception is then the device's real answer).
    fn learn_holes(&self, unit: u8, table: Table, address: u16, count: u16) -> bool {
        let Some(layout) = &self.layout else {
            return false;
        };
        let gaps = layout.interior_gaps(unit, table, address, count);
        if gaps.is_empty() {
            return false;
        }
        let new = lock(&self.device.holes).learn(unit, table, &gaps);
        let first = lock(&self.device.announced).insert((unit, table));
        if first && !new.is_empty() {
            let shown: Vec<String> = new
                .iter()
                .map(|(s, e)| {
                    if e - s == 1 {
                        s.to_string()
                    } else {
                        format!("{s}..{}", e - 1)
                    }
                })
                .collect();
            tracing::warn!(
                endpoint = %self.device.endpoint,
                unit,
                %table,
                holes = %shown.join(", "),
                "device refuses reads across unmapped addresses; reading around them for the rest of the run \
                 (set span_gaps: false in its map to plan around them from the start)"
            );
        }
        true
    }

    async fn read_pieces(
        &self,
        unit: u8,
        table: Table,
        address: u16,
        count: u16,
        pieces: &[(u16, u16)],
    ) -> Result<Vec<u16>, Error> {
        let mut words = vec![0u16; usize::from(count)];
        for &(start, len) in pieces {
            let target = self.target(unit, Operation::Read, table, start, len);
            let got = self.request(&target, Op::Read).await?;
            let offset = usize::from(start - address);
            if let Some(slot) = words.get_mut(offset..offset + got.len()) {
                slot.copy_from_slice(&got);
            }
        }
        Ok(words)
    }

    /// Writes `words` (bits as 0 and non-zero for coils) to `table` from `address` on `unit`, in
    /// one request: function 6 (5 for a coil) for one word, 16 (15) for more.
    pub async fn write(
        &self,
        unit: u8,
        table: Table,
        address: u16,
        words: &[u16],
    ) -> Result<(), Error> {
        self.write_with(unit, table, address, words, false).await
    }

    /// Writes `words` like [`ModbusClient::write`], but always with function 16 (15 for
    /// coils), even for a single word: some devices refuse function 6, and a proxy must send
    /// the function its client chose.
    pub async fn write_multiple(
        &self,
        unit: u8,
        table: Table,
        address: u16,
        words: &[u16],
    ) -> Result<(), Error> {
        self.write_with(unit, table, address, words, true).await
    }

    async fn write_with(
        &self,
        unit: u8,
        table: Table,
        address: u16,
        words: &[u16],
        multiple: bool,
    ) -> Result<(), Error> {
        let count = u16::try_from(words.len()).unwrap_or(u16::MAX);
        let target = self.target(unit, Operation::Write, table, address, count);
        if !table.is_writable() {
            return Err(Error::InvalidRequest {
                target,
                reason: "only holding registers and coils can be written",
            });
        }
        let max: usize = if table.is_bits() { 1968 } else { 123 };
        if words.is_empty() || max < words.len() {
            return Err(Error::InvalidRequest {
                target,
                reason: "a write carries 1..=123 registers or 1..=1968 coils",
            });
        }
        if u32::from(address) + u32::from(count) > 0x1_0000 {
            return Err(Error::InvalidRequest {
                target,
                reason: "range runs past address 65535",
            });
        }
        self.request(&target, Op::Write { words, multiple })
            .await
            .map(|_| ())
    }

    /// Sends one request with retries: transport failures and busy/acknowledge exceptions are
    /// retried after a backoff; a pooled connection that turns out dead is replaced once without
    /// counting an attempt.
    async fn request(&self, target: &Target, op: Op<'_>) -> Result<Vec<u16>, Error> {
        let options = &self.device.options;
        let mut attempt: u32 = 0;
        let mut replaced_stale = false;
        loop {
            attempt += 1;
            let (result, reused) = self.attempt(target, op).await;
            let mut err = match result {
                Ok(words) => return Ok(words),
                Err(err) => err,
            };
            if reused && !replaced_stale && matches!(err, Error::Transport { .. }) {
                tracing::debug!(%target, error = %err, "pooled connection was dead; reconnecting");
                replaced_stale = true;
                attempt -= 1;
                continue;
            }
            let retryable = match &err {
                Error::Exception { exception, .. } => exception.is_transient(),
                Error::Connect { .. }
                | Error::ConnectTimeout { .. }
                | Error::Timeout { .. }
                | Error::Transport { .. }
                | Error::Protocol { .. } => true,
                _ => false,
            };
            if !retryable || attempt > options.retries {
                err.set_attempts(attempt);
                return Err(err);
            }
            let wait = options.backoff_before(attempt);
            tracing::debug!(%target, error = %err, attempt, ?wait, "request failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt: take a connection (or open one), pace, send, wait for the answer. Returns
    /// whether the connection came from the pool.
    async fn attempt(&self, target: &Target, op: Op<'_>) -> (Result<Vec<u16>, Error>, bool) {
        let device = &self.device;
        let options = &device.options;
        let permit = match tokio::time::timeout(
            options.queue_timeout,
            Arc::clone(&device.permits).acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => permit,
            _ => {
                let err = Error::NoConnection {
                    target: target.clone(),
                    max_connections: options.max_connections,
                    timeout: options.queue_timeout,
                };
                return (Err(err), false);
            }
        };
        let pooled = self.take_idle();
        let reused = pooled.is_some();
        let (mut context, closed) = match pooled {
            Some(connection) => connection,
            None => match self.open(target).await {
                Ok(connection) => connection,
                Err(err) => return (Err(err), false),
            },
        };
        self.pace().await;
        context.set_slave(Slave(target.unit));
        let outcome =
            tokio::time::timeout(options.request_timeout, perform(&mut context, target, op)).await;
        let result = match outcome {
            Err(_) => Err(Error::Timeout {
                target: target.clone(),
                attempts: 1,
                timeout: options.request_timeout,
            }),
            Ok(Err(tokio_modbus::Error::Transport(source))) => Err(Error::Transport {
                target: target.clone(),
                attempts: 1,
                // tokio-modbus reports the end of the stream with a stale OS error; say what
                // happened instead.
                source: if closed.get() {
                    std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the device closed the connection",
                    )
                } else {
                    source
                },
            }),
            Ok(Err(tokio_modbus::Error::Protocol(source))) => Err(Error::Protocol {
                target: target.clone(),
                attempts: 1,
                source: Box::new(source),
            }),
            Ok(Ok(answer)) => {
                lock(&device.idle).push(Idle {
                    context,
                    closed,
                    since: Instant::now(),
                });
                match answer {
                    Ok(words) if op_expects(op, target) == words.len() => Ok(words),
                    Ok(words) => Err(Error::ShortResponse {
                        target: target.clone(),
                        got: words.len(),
                    }),
                    Err(code) => Err(Error::Exception {
                        target: target.clone(),
                        attempts: 1,
                        exception: code.into(),
                    }),
                }
            }
        };
        drop(permit);
        (result, reused)
    }

    /// A pooled connection young enough that the device has not closed it for idleness.
    fn take_idle(&self) -> Option<(Context, Closed)> {
        let mut idle = lock(&self.device.idle);
        while let Some(entry) = idle.pop() {
            let expired = self.device.options.idle_timeout.is_some_and(|limit| {
                // Leave a margin: a device closing at exactly its timeout races the request.
                entry.since.elapsed() + limit / 10 >= limit
            });
            if !expired && !entry.closed.get() {
                return Some((entry.context, entry.closed));
            }
        }
        None
    }

    async fn open(&self, target: &Target) -> Result<(Context, Closed), Error> {
        let options = &self.device.options;
        let endpoint = &self.device.endpoint;
        let connect_error = |source| Error::Connect {
            target: target.clone(),
            attempts: 1,
            source,
        };
        let (context, closed) = match &endpoint.transport {
            Transport::Tcp | Transport::RtuOverTcp => {
                let stream = tokio::time::timeout(
                    options.connect_timeout,
                    TcpStream::connect(&endpoint.address),
                )
                .await
                .map_err(|_| Error::ConnectTimeout {
                    target: target.clone(),
                    attempts: 1,
                    timeout: options.connect_timeout,
                })?
                .map_err(connect_error)?;
                let _ = stream.set_nodelay(true);
                let (stream, closed) = Watched::new(stream);
                let context = if endpoint.transport == Transport::Tcp {
                    tokio_modbus::client::tcp::attach_slave(stream, Slave(target.unit))
                } else {
                    tokio_modbus::client::rtu::attach_slave(stream, Slave(target.unit))
                };
                (context, closed)
            }
            Transport::Serial { baud_rate } => (
                open_serial(&endpoint.address, *baud_rate, target.unit).map_err(connect_error)?,
                Closed::default(),
            ),
        };
        let n = self.device.opened.fetch_add(1, Ordering::SeqCst) + 1;
        tracing::debug!(endpoint = %endpoint, transport = %endpoint.transport, connection = n, "connected");
        Ok((context, closed))
    }

    /// Waits for the endpoint's next pacing slot (start-to-start spacing of requests).
    async fn pace(&self) {
        let pacing = self.device.options.pacing;
        if pacing.is_zero() {
            return;
        }
        let slot = reserve_slot(&mut lock(&self.device.next_slot), Instant::now(), pacing);
        tokio::time::sleep_until(slot.into()).await;
    }
}

/// Takes the next pacing slot: now, or the slot after the last one taken, whichever is later.
/// Requests from any task and any connection of the endpoint queue up `pacing` apart.
fn reserve_slot(next: &mut Option<Instant>, now: Instant, pacing: Duration) -> Instant {
    let slot = next.map_or(now, |at| at.max(now));
    *next = Some(slot + pacing);
    slot
}

fn op_expects(op: Op<'_>, target: &Target) -> usize {
    match op {
        Op::Read => usize::from(target.count),
        Op::Write { .. } => 0,
    }
}

async fn perform(
    context: &mut Context,
    target: &Target,
    op: Op<'_>,
) -> tokio_modbus::Result<Vec<u16>> {
    let (address, count) = (target.address, target.count);
    let bits = |bits: Vec<bool>| bits.into_iter().map(u16::from).collect::<Vec<u16>>();
    match (op, target.table) {
        (Op::Read, Table::Holding) => context.read_holding_registers(address, count).await,
        (Op::Read, Table::Input) => context.read_input_registers(address, count).await,
        (Op::Read, Table::Coil) => Ok(context.read_coils(address, count).await?.map(bits)),
        (Op::Read, Table::Discrete) => Ok(context
            .read_discrete_inputs(address, count)
            .await?
            .map(bits)),
        (Op::Write { words, multiple }, Table::Coil) => {
            let result = if let ([word], false) = (words, multiple) {
                context.write_single_coil(address, *word != 0).await?
            } else {
                let coils: Vec<bool> = words.iter().map(|w| *w != 0).collect();
                context.write_multiple_coils(address, &coils).await?
            };
            Ok(result.map(|()| Vec::new()))
        }
        (Op::Write { words, multiple }, _) => {
            let result = if let ([word], false) = (words, multiple) {
                context.write_single_register(address, *word).await?
            } else {
                context.write_multiple_registers(address, words).await?
            };
            Ok(result.map(|()| Vec::new()))
        }
    }
}

#[cfg(feature = "serial")]
fn open_serial(path: &str, baud_rate: u32, unit: u8) -> std::io::Result<Context> {
    let builder = tokio_serial::new(path, baud_rate);
    let port = tokio_serial::SerialStream::open(&builder)?;
    Ok(tokio_modbus::client::rtu::attach_slave(port, Slave(unit)))
}

#[cfg(not(feature = "serial"))]
fn open_serial(path: &str, _baud_rate: u32, _unit: u8) -> std::io::Result<Context> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        format!("serial RTU on {path} needs evctl built with the `serial` feature"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_slots_queue_up_and_reset_after_a_pause() {
        let pacing = Duration::from_millis(100);
        let start = Instant::now();
        let mut next = None;
        let slots: Vec<Duration> = (0..3)
            .map(|_| reserve_slot(&mut next, start, pacing) - start)
            .collect();
        assert_eq!(slots, [Duration::ZERO, pacing, pacing * 2]);
        // Long after the queue drained, a request goes at once.
        let later = start + Duration::from_secs(5);
        assert_eq!(reserve_slot(&mut next, later, pacing), later);
    }
}
