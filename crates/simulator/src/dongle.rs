//! A simulated GivEnergy dongle: the dongle framing on TCP over a [`RegisterBank`].
//!
//! It behaves as the real Wi-Fi/Ethernet dongle does where clients notice:
//!
//! - it speaks the dongle framing ([`givenergy_dongle`]), answers reads of holding and input
//!   registers with base and count echoed, and writes of single holding registers with the value
//!   read back; a read inside the whole blocks the map declares (`connection.blocks`) answers
//!   zeros for undeclared words, as the inverter answers every block of its model; a bank the
//!   device does not have (outside the blocks, no register mapped in the requested range)
//!   gets an error reply without exception code, and a unit id nobody answers for (an empty
//!   battery slot) gets an all-zero page;
//! - **every reply is sent to every connected client**, not only to the one that asked (the
//!   real dongle fans replies out to the cloud, the app and every local poller);
//! - it sends each client a heartbeat every 3 minutes (configurable) and counts the answers;
//! - requests with a bad CRC are dropped silently, as newer inverter firmware does;
//! - writes change the bank, so later reads see them (at once, or a moment later with
//!   [`DongleSimulatorOptions::apply_writes_after`], as a real inverter applies them).
//!
//! A test can also make the dongle drop a connection in the middle of a reply
//! ([`DongleSimulatorOptions::drop_after_requests`]) and can count the frames it received.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use givenergy_dongle::{
    ErrorResponse, Frame, Framer, Heartbeat, MAX_REGISTERS, ReadFunction, ReadResponse, Serial,
    WRITE_SINGLE, WriteResponse,
};
use modbus_core::Table;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::modbus::RegisterBank;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How the simulated dongle behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DongleSimulatorOptions {
    /// Time between heartbeats to each client (3 minutes on real dongles).
    pub heartbeat_interval: Duration,
    /// The dongle's adapter serial.
    pub adapter_serial: Serial,
    /// The inverter serial put in every reply.
    pub inverter_serial: Serial,
    /// Send every reply to every client (as the real dongle does); `false` answers only the
    /// asker.
    pub fan_out: bool,
    /// Fault: after this many requests in total, the connection carrying the last one gets
    /// half of its reply and is closed. Fires once.
    pub drop_after_requests: Option<u64>,
    /// Fault: a write is checked and acknowledged (its value echoed) at once, but the bank
    /// changes only this long later, as a real inverter applies writes after acknowledging
    /// them; reads in between see the old value.
    pub apply_writes_after: Option<Duration>,
}

impl Default for DongleSimulatorOptions {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(180),
            adapter_serial: Serial::from_bytes(*b"WF0000G000"),
            inverter_serial: Serial::from_bytes(*b"SA0000G000"),
            fan_out: true,
            drop_after_requests: None,
            apply_writes_after: None,
        }
    }
}

/// One frame the simulated dongle received from a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DongleLogEntry {
    /// Which accepted connection sent it (1 for the first).
    pub connection: u64,
    /// Device address (0 for heartbeats).
    pub device: u8,
    /// Function code (0x01 for a heartbeat reply, 0x03/0x04 reads, 0x06 writes).
    pub function: u8,
    /// Base register, or the register written.
    pub address: u16,
    /// Count read, or the value written.
    pub count_or_value: u16,
}

/// Counters of a running simulated dongle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DongleSimulatorStats {
    /// Connections accepted.
    pub connections: u64,
    /// Heartbeats sent (to all clients).
    pub heartbeats_sent: u64,
    /// Heartbeat replies received.
    pub heartbeat_replies: u64,
    /// Frames received that did not decode (bad CRC, garbage); dropped without reply.
    pub bad_frames: u64,
}

/// Why the simulated dongle could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DongleSimulatorError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {address}")]
    Bind {
        /// The address asked for.
        address: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}

struct Shared {
    bank: Mutex<RegisterBank>,
    read_only: HashSet<(u8, u16)>,
    options: DongleSimulatorOptions,
    log: Mutex<Vec<DongleLogEntry>>,
    replies: broadcast::Sender<Reply>,
    requests: AtomicU64,
    connections: AtomicU64,
    heartbeats_sent: AtomicU64,
    heartbeat_replies: AtomicU64,
    bad_frames: AtomicU64,
}

/// A reply on its way to the clients: the bytes, who asked, and whether the asker's
/// connection is to be cut half-way through it.
#[derive(Debug, Clone)]
struct Reply {
    bytes: Arc<Vec<u8>>,
    asker: u64,
    cut: bool,
}

/// Entry point: `DongleSimulator::builder(bank)`.
#[derive(Debug)]
pub struct DongleSimulator;

impl DongleSimulator {
    /// Starts describing a dongle in front of `bank` (its unit ids are device addresses: 0x11
    /// inverter, 0x32.. battery packs).
    pub fn builder(bank: RegisterBank) -> DongleSimulatorBuilder {
        DongleSimulatorBuilder {
            bank,
            read_only: HashSet::new(),
            options: DongleSimulatorOptions::default(),
        }
    }
}

/// Options of a simulated dongle before it binds.
#[derive(Debug, Clone)]
pub struct DongleSimulatorBuilder {
    bank: RegisterBank,
    read_only: HashSet<(u8, u16)>,
    options: DongleSimulatorOptions,
}

impl DongleSimulatorBuilder {
    /// Uses these options.
    pub fn options(mut self, options: DongleSimulatorOptions) -> Self {
        self.options = options;
        self
    }

    /// Refuses writes to `count` holding registers from `address` of `device` (with an error
    /// reply), as the inverter refuses writes to identity registers.
    pub fn read_only(mut self, device: u8, address: u16, count: u16) -> Self {
        for offset in 0..count {
            if let Some(at) = address.checked_add(offset) {
                self.read_only.insert((device, at));
            }
        }
        self
    }

    /// Refuses writes to every holding register `map` declares read-only, at the unit ids
    /// `units` resolves, as the inverter refuses writes to its identity registers.
    pub fn read_only_from_map(
        mut self,
        map: &device_maps::DeviceMap,
        units: &device_maps::Units,
    ) -> Self {
        for r in &map.registers {
            if r.table == Table::Holding && r.access == device_maps::Access::Read {
                self = self.read_only(units.resolve(&r.unit_id), r.wire_address, r.count);
            }
        }
        self
    }

    /// The bank as it will be served; edit it before binding.
    pub fn bank_mut(&mut self) -> &mut RegisterBank {
        &mut self.bank
    }

    /// Binds `address` (tests use `127.0.0.1:0`) and serves until the handle is shut down or
    /// dropped. Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// [`DongleSimulatorError::Bind`] when the address cannot be bound.
    pub async fn bind(self, address: &str) -> Result<DongleSimulatorHandle, DongleSimulatorError> {
        let bind_error = |source| DongleSimulatorError::Bind {
            address: address.to_owned(),
            source,
        };
        let listener = TcpListener::bind(address).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let (replies, _) = broadcast::channel(256);
        let shared = Arc::new(Shared {
            bank: Mutex::new(self.bank),
            read_only: self.read_only,
            options: self.options,
            log: Mutex::new(Vec::new()),
            replies,
            requests: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            heartbeats_sent: AtomicU64::new(0),
            heartbeat_replies: AtomicU64::new(0),
            bad_frames: AtomicU64::new(0),
        });
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared), stopped));
        tracing::info!(%local_addr, "simulator: serving the GivEnergy dongle framing");
        Ok(DongleSimulatorHandle {
            local_addr,
            shared,
            stop,
            task: Some(task),
        })
    }
}

/// A running simulated dongle. Dropping it stops the server and closes its connections.
#[derive(Debug)]
pub struct DongleSimulatorHandle {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl DongleSimulatorHandle {
    /// The address the dongle listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Every frame received from clients so far, in order (heartbeat replies included).
    pub fn log(&self) -> Vec<DongleLogEntry> {
        lock(&self.shared.log).clone()
    }

    /// Counters.
    pub fn stats(&self) -> DongleSimulatorStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        DongleSimulatorStats {
            connections: get(&self.shared.connections),
            heartbeats_sent: get(&self.shared.heartbeats_sent),
            heartbeat_replies: get(&self.shared.heartbeat_replies),
            bad_frames: get(&self.shared.bad_frames),
        }
    }

    /// The current words at `count` addresses from `address` (`None` where unmapped).
    pub fn registers(
        &self,
        device: u8,
        table: Table,
        address: u16,
        count: u16,
    ) -> Vec<Option<u16>> {
        lock(&self.shared.bank).get(device, table, address, count)
    }

    /// Overwrites mapped words as if the inverter changed them itself. Returns `false`,
    /// changing nothing, when an address is unmapped.
    pub fn set_registers(&self, device: u8, table: Table, address: u16, words: &[u16]) -> bool {
        lock(&self.shared.bank).set(device, table, address, words)
    }

    /// Sends `bytes` to every connected client at once, as if another client's reply were
    /// fanned out (for tests of unsolicited traffic).
    pub fn broadcast(&self, bytes: Vec<u8>) {
        let _ = self.shared.replies.send(Reply {
            bytes: Arc::new(bytes),
            asker: 0,
            cut: false,
        });
    }

    /// Stops accepting, closes every connection and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for DongleSimulatorHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = Vec::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Subscribe before counting the connection: from then on it gets every reply.
                    let replies = shared.replies.subscribe();
                    let id = shared.connections.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::debug!(%peer, id, "simulator: dongle client connected");
                    connections.push(tokio::spawn(serve(stream, id, Arc::clone(&shared), replies, stopped.clone())));
                    connections.retain(|c: &JoinHandle<()>| !c.is_finished());
                }
                Err(error) => {
                    tracing::warn!(%error, "simulator: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    for connection in connections {
        connection.abort();
    }
}

/// One client connection: reads its frames, answers them (to everyone), writes whatever is
/// broadcast, and sends heartbeats.
async fn serve(
    stream: TcpStream,
    id: u64,
    shared: Arc<Shared>,
    mut replies: broadcast::Receiver<Reply>,
    mut stopped: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let mut framer = Framer::new();
    let mut buf = vec![0_u8; 4096];
    let period = shared
        .options
        .heartbeat_interval
        .max(Duration::from_millis(1));
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            read = reader.read(&mut buf) => {
                let n = match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                framer.push(&buf[..n]);
                while let Some(raw) = framer.next_frame() {
                    handle(&shared, id, raw.decode());
                }
            }
            reply = replies.recv() => match reply {
                Ok(reply) => {
                    if !shared.options.fan_out && reply.asker != 0 && reply.asker != id {
                        continue;
                    }
                    if reply.cut && reply.asker == id {
                        let half = reply.bytes.len() / 2;
                        let _ = writer.write_all(&reply.bytes[..half]).await;
                        let _ = writer.shutdown().await;
                        tracing::debug!(id, "simulator: dropping the connection mid-reply (fault)");
                        break;
                    }
                    if writer.write_all(&reply.bytes).await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(id, n, "simulator: client too slow, replies skipped");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = heartbeat.tick() => {
                let frame = Frame::Heartbeat(Heartbeat { adapter: shared.options.adapter_serial, adapter_type: 1 });
                if let Ok(bytes) = frame.encode() {
                    if writer.write_all(&bytes).await.is_err() {
                        break;
                    }
                    shared.heartbeats_sent.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

fn log(shared: &Shared, entry: DongleLogEntry) {
    tracing::trace!(?entry, "simulator: dongle frame");
    lock(&shared.log).push(entry);
}

/// Answers one decoded frame from connection `id`.
fn handle(shared: &Arc<Shared>, id: u64, frame: Result<Frame, givenergy_dongle::FrameError>) {
    let frame = match frame {
        Ok(frame) => frame,
        Err(error) => {
            // The inverter silently drops what it cannot check.
            shared.bad_frames.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%error, "simulator: dropping a bad frame");
            return;
        }
    };
    let adapter = shared.options.adapter_serial;
    let inverter = shared.options.inverter_serial;
    let reply = match frame {
        Frame::Heartbeat(_) => {
            shared.heartbeat_replies.fetch_add(1, Ordering::Relaxed);
            log(
                shared,
                DongleLogEntry {
                    connection: id,
                    device: 0,
                    function: 0x01,
                    address: 0,
                    count_or_value: 0,
                },
            );
            return;
        }
        Frame::ReadRequest(r) => {
            log(
                shared,
                DongleLogEntry {
                    connection: id,
                    device: r.device,
                    function: r.function.code(),
                    address: r.base,
                    count_or_value: r.count,
                },
            );
            let refuse = Frame::ErrorResponse(ErrorResponse {
                adapter,
                device: r.device,
                function: r.function.code(),
                inverter,
                base: r.base,
                count: r.count,
            });
            let table = match r.function {
                ReadFunction::Holding => Some(Table::Holding),
                ReadFunction::Input => Some(Table::Input),
                ReadFunction::MeterProduct => None,
            };
            let end = u32::from(r.base) + u32::from(r.count);
            match table {
                Some(table) if (1..=MAX_REGISTERS).contains(&r.count) && end <= 0x1_0000 => {
                    let bank = lock(&shared.bank);
                    let known = bank.units().any(|u| u == r.device);
                    let words = bank.get(r.device, table, r.base, r.count);
                    let whole_block = bank.in_blocks(r.device, table, r.base, r.count);
                    if known && !whole_block && words.iter().all(Option::is_none) {
                        // A bank this model does not have.
                        refuse
                    } else {
                        // An empty battery slot answers zeros; undeclared words read as 0.
                        let values = words.into_iter().map(|w| w.unwrap_or(0)).collect();
                        Frame::ReadResponse(ReadResponse {
                            adapter,
                            device: r.device,
                            function: r.function,
                            inverter,
                            base: r.base,
                            values,
                        })
                    }
                }
                _ => refuse,
            }
        }
        Frame::WriteRequest(w) => {
            log(
                shared,
                DongleLogEntry {
                    connection: id,
                    device: w.device,
                    function: WRITE_SINGLE,
                    address: w.register,
                    count_or_value: w.value,
                },
            );
            let mut guard = lock(&shared.bank);
            // With the delayed-apply fault the write is checked and answered on a copy; the
            // bank itself changes later.
            let mut copy = shared.options.apply_writes_after.map(|_| guard.clone());
            let bank = copy.as_mut().unwrap_or(&mut *guard);
            let mapped = bank
                .get(w.device, Table::Holding, w.register, 1)
                .first()
                .copied()
                .flatten()
                .is_some();
            if mapped
                && !shared.read_only.contains(&(w.device, w.register))
                && bank.set(w.device, Table::Holding, w.register, &[w.value])
            {
                let value = bank
                    .get(w.device, Table::Holding, w.register, 1)
                    .first()
                    .copied()
                    .flatten()
                    .unwrap_or(0);
                if let Some(delay) = shared.options.apply_writes_after {
                    let shared = Arc::clone(shared);
                    let (device, register) = (w.device, w.register);
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        lock(&shared.bank).set(device, Table::Holding, register, &[value]);
                        tracing::debug!(device, register, "simulator: delayed write applied");
                    });
                }
                Frame::WriteResponse(WriteResponse {
                    adapter,
                    device: w.device,
                    inverter,
                    register: w.register,
                    value,
                })
            } else {
                Frame::ErrorResponse(ErrorResponse {
                    adapter,
                    device: w.device,
                    function: WRITE_SINGLE,
                    inverter,
                    base: w.register,
                    count: 1,
                })
            }
        }
        // Clients do not send these; ignore them.
        Frame::ReadResponse(_)
        | Frame::WriteResponse(_)
        | Frame::ErrorResponse(_)
        | Frame::Null(_)
        | Frame::LanConfig(_) => {
            return;
        }
    };
    let Ok(bytes) = reply.encode() else { return };
    let n = shared.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let cut = shared.options.drop_after_requests == Some(n);
    let _ = shared.replies.send(Reply {
        bytes: Arc::new(bytes),
        asker: id,
        cut,
    });
}
