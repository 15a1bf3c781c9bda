//! A Modbus server that serves any device map, with fault injection.
//!
//! [`Simulator::builder`] takes a device map and serves every unit id it names with every
//! register's example value, or with a values file ([`Values`]: YAML or JSON, by register
//! name; `null` serves "not available" as a map's `example: null` does). Writable registers change state when written; read-only ones answer an exception;
//! unmapped addresses answer illegal data address unless the map says the device spans gaps
//! (then those between a table's first and last register read 0xFFFF, as an Alfen does, and
//! the rest are still refused). [`Simulator::from_bank`] serves a hand-made
//! [`RegisterBank`] instead; banks of several devices, each built from its own map at its own
//! unit ids, merge with [`RegisterBank::absorb`], so one listener answers many devices as a
//! gateway does. Optional [`Faults`] and a [`Framing`] (Modbus TCP or RTU over TCP)
//! complete the picture, and [`SimulatorBuilder::bind`] starts serving on the address given
//! (tests bind `127.0.0.1:0`). The returned [`SimulatorHandle`] tells the bound address,
//! exposes the [`RequestLog`] so a test can count requests, lets a test read or poke registers,
//! and shuts the server down (dropping the handle shuts it down too).
//!
//! The server frames Modbus TCP (MBAP) and RTU over TCP itself rather than through
//! tokio-modbus's server: faults such as garbage bytes, a wrong transaction id or a connection
//! dropped mid-request have to break the protocol on purpose, which a correct server library
//! rightly does not allow.
//!
//! ```no_run
//! # async fn demo(map: &device_maps::DeviceMap) -> Result<(), simulator::modbus::Error> {
//! use simulator::modbus::{Faults, Simulator};
//!
//! let faults = Faults { drop_every: std::num::NonZeroU32::new(5), ..Faults::none() };
//! let sim = Simulator::builder(map).faults(faults).bind("127.0.0.1:0").await?;
//! println!("serving {} on {}", map.id, sim.local_addr());
//! // ... run a client against sim.local_addr() ...
//! println!("{} requests", sim.log().len());
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod bank;
mod faults;
mod map;
mod pdu;
mod server;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, PoisonError};

use device_maps::{DeviceMap, Units};
use modbus_core::Table;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use bank::{Access, GapPolicy, OverlapError, RegisterBank, UnitTaken};
pub use faults::Faults;
use map::MapSource;
pub use map::{MapError, Values};

/// A Modbus exception a simulated device answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exception {
    /// 0x01: the function is not supported here (also: a write to a read-only register or
    /// to a read-only device).
    IllegalFunction,
    /// 0x02: an address is not mapped.
    IllegalDataAddress,
    /// 0x03: a malformed request, a count out of range, or a write covering only part of a
    /// multi-register value.
    IllegalDataValue,
    /// 0x04: the device failed.
    ServerDeviceFailure,
    /// 0x05: accepted, still working.
    Acknowledge,
    /// 0x06: the device is busy; try again.
    ServerDeviceBusy,
    /// 0x0A: a gateway has no path to the target.
    GatewayPathUnavailable,
    /// 0x0B: the unit id is not answered (no such unit behind this address).
    GatewayTargetDevice,
}

impl Exception {
    /// The exception code on the wire.
    pub fn code(self) -> u8 {
        match self {
            Exception::IllegalFunction => 0x01,
            Exception::IllegalDataAddress => 0x02,
            Exception::IllegalDataValue => 0x03,
            Exception::ServerDeviceFailure => 0x04,
            Exception::Acknowledge => 0x05,
            Exception::ServerDeviceBusy => 0x06,
            Exception::GatewayPathUnavailable => 0x0A,
            Exception::GatewayTargetDevice => 0x0B,
        }
    }
}

/// An exception name that is not one of [`Exception`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a Modbus exception: use illegal-function, illegal-data-address, \
     illegal-data-value, server-device-failure, acknowledge, server-device-busy, \
     gateway-path-unavailable, gateway-target-device (or busy, or the code 1..11)"
)]
pub struct UnknownException(pub String);

impl std::str::FromStr for Exception {
    type Err = UnknownException;

    /// Parses a name as the Modbus specification words it (any case, `-`, `_` or spaces), a
    /// short form (`busy`, `failure`) or the code (`6`, `0x06`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let name: String = text
            .trim()
            .chars()
            .map(|c| {
                if c == '_' || c == ' ' {
                    '-'
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        let code = name.strip_prefix("0x").map_or_else(
            || name.parse::<u8>().ok(),
            |hex| u8::from_str_radix(hex, 16).ok(),
        );
        let all = [
            Exception::IllegalFunction,
            Exception::IllegalDataAddress,
            Exception::IllegalDataValue,
            Exception::ServerDeviceFailure,
            Exception::Acknowledge,
            Exception::ServerDeviceBusy,
            Exception::GatewayPathUnavailable,
            Exception::GatewayTargetDevice,
        ];
        if let Some(code) = code {
            return all
                .into_iter()
                .find(|e| e.code() == code)
                .ok_or_else(|| UnknownException(text.to_owned()));
        }
        let exception = match name.as_str() {
            "illegal-function" => Exception::IllegalFunction,
            "illegal-data-address" | "illegal-address" => Exception::IllegalDataAddress,
            "illegal-data-value" | "illegal-value" => Exception::IllegalDataValue,
            "server-device-failure" | "failure" => Exception::ServerDeviceFailure,
            "acknowledge" => Exception::Acknowledge,
            "server-device-busy" | "busy" => Exception::ServerDeviceBusy,
            "gateway-path-unavailable" => Exception::GatewayPathUnavailable,
            "gateway-target-device" | "gateway-target-device-failed-to-respond" => {
                Exception::GatewayTargetDevice
            }
            _ => return Err(UnknownException(text.to_owned())),
        };
        Ok(exception)
    }
}

/// How requests and responses are framed on the TCP stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Framing {
    /// Modbus TCP: a 7-byte MBAP header with transaction id, then the PDU.
    #[default]
    Tcp,
    /// RTU frames (unit id, PDU, CRC-16) carried over TCP, as serial gateways speak.
    RtuOverTcp,
}

/// One request as the simulator received it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogEntry {
    /// Which accepted connection carried it (1 for the first connection, and so on).
    pub connection: u64,
    /// Unit id addressed.
    pub unit: u8,
    /// Function code (3 read holding, 4 read input, 6 write single, 16 write multiple, ...).
    pub function: u8,
    /// First address (0 when the request was too short to have one).
    pub address: u16,
    /// Registers or bits asked for or written (1 for FC5 and FC6).
    pub count: u16,
}

/// The requests the simulator received, in order, shared with the running server.
///
/// It keeps the most recent [`RequestLog::CAPACITY`] entries, so a simulator left running for
/// days does not grow without bound; tests stay far below that.
#[derive(Debug, Clone, Default)]
pub struct RequestLog {
    entries: Arc<Mutex<std::collections::VecDeque<LogEntry>>>,
}

impl RequestLog {
    /// Most entries kept; older ones are forgotten first.
    pub const CAPACITY: usize = 100_000;

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::VecDeque<LogEntry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, connection: u64, unit: u8, summary: pdu::Summary) {
        let entry = LogEntry {
            connection,
            unit,
            function: summary.function,
            address: summary.address,
            count: summary.count,
        };
        tracing::trace!(?entry, "simulator: request");
        let mut entries = self.lock();
        if entries.len() == Self::CAPACITY {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// A copy of the entries kept, oldest first.
    pub fn entries(&self) -> Vec<LogEntry> {
        self.lock().iter().copied().collect()
    }

    /// Number of entries kept (every request so far, up to [`RequestLog::CAPACITY`]).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no request has arrived yet (or since the last [`RequestLog::clear`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every entry (the fault counters keep counting).
    pub fn clear(&self) {
        self.lock().clear();
    }
}

/// Connection counters of a running simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted and served.
    pub accepted: u64,
    /// Connections closed at once because [`Faults::max_connections`] were open.
    pub refused: u64,
    /// Connections open right now.
    pub active: usize,
}

/// Why a simulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listening socket could not be bound.
    #[error("cannot listen on {address}")]
    Bind {
        /// The address asked for.
        address: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The map or the values could not be turned into registers.
    #[error(transparent)]
    Map(#[from] MapError),
}

/// Entry point: [`Simulator::builder`] for a device map, [`Simulator::from_bank`] for a
/// hand-made register bank.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Starts describing a simulator of the device `map` describes: every unit id the map names
    /// (including `connection.extra_unit_ids`, such as an Alfen dual station's socket 2), every
    /// register with its example value, unmapped addresses answering illegal data address
    /// unless the map says the device spans gaps (then those between a table's first and last
    /// register read 0xFFFF; beyond them the device still refuses). A map whose transport
    /// is RTU over TCP or serial RTU is served with RTU framing over TCP (as its gateway would).
    pub fn builder(map: &DeviceMap) -> SimulatorBuilder {
        // A device behind an RTU gateway, or on a serial line, is simulated as the gateway.
        let framing = match map.connection.transport {
            device_maps::Transport::RtuOverTcp | device_maps::Transport::SerialRtu => {
                Framing::RtuOverTcp
            }
            _ => Framing::Tcp,
        };
        SimulatorBuilder {
            source: Source::Map(Box::new(MapSource::new(map))),
            faults: Faults::none(),
            framing,
        }
    }

    /// Starts describing a simulator that serves `bank` as it is.
    pub fn from_bank(bank: RegisterBank) -> SimulatorBuilder {
        SimulatorBuilder {
            source: Source::Bank(bank),
            faults: Faults::none(),
            framing: Framing::Tcp,
        }
    }
}

#[derive(Debug, Clone)]
enum Source {
    Bank(RegisterBank),
    Map(Box<MapSource>),
}

/// Options of a simulator before it binds.
#[derive(Debug, Clone)]
pub struct SimulatorBuilder {
    source: Source,
    faults: Faults,
    framing: Framing,
}

impl SimulatorBuilder {
    /// Injects these faults.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Frames requests and responses this way (Modbus TCP by default).
    pub fn framing(mut self, framing: Framing) -> Self {
        self.framing = framing;
        self
    }

    /// Serves the map's roles at these unit ids (after `--unit` overrides) instead of the
    /// map's own. No effect on a bank simulator.
    pub fn units(mut self, units: Units) -> Self {
        if let Source::Map(source) = &mut self.source {
            source.units = units;
        }
        self
    }

    /// Also serves the main role's registers at these unit ids, each with its own state: an
    /// Alfen double station answers socket 2 as well as socket 1 (`also_main_units(&[2])`).
    pub fn also_main_units(mut self, ids: &[u8]) -> Self {
        if let Source::Map(source) = &mut self.source {
            source.also_main.extend_from_slice(ids);
        }
        self
    }

    /// Serves these values instead of the examples of the registers they name.
    pub fn values(mut self, values: Values) -> Self {
        if let Source::Map(source) = &mut self.source {
            source.values = values;
        }
        self
    }

    /// Reads a values file (YAML, or JSON by its `.json` extension) and serves its values.
    pub fn values_file(self, path: &Path) -> Result<Self, Error> {
        let values = Values::load(path)?;
        Ok(self.values(values))
    }

    /// What unmapped addresses read as on a device whose map spans gaps (0xFFFF by default).
    pub fn gap_fill(mut self, word: u16) -> Self {
        if let Source::Map(source) = &mut self.source {
            source.gap_fill = word;
        }
        self
    }

    /// The register bank the simulator will serve (checks the map and the values).
    pub fn bank(&self) -> Result<RegisterBank, Error> {
        match &self.source {
            Source::Bank(bank) => Ok(bank.clone()),
            Source::Map(source) => Ok(source.bank()?),
        }
    }

    /// Binds `address` (for example `127.0.0.1:0`) and serves until the handle shuts it down
    /// or is dropped. Must be called inside a tokio runtime.
    pub async fn bind(self, address: &str) -> Result<SimulatorHandle, Error> {
        let bank = self.bank()?;
        let bind_error = |source| Error::Bind {
            address: address.to_owned(),
            source,
        };
        let listener = TcpListener::bind(address).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let shared = Arc::new(server::Shared {
            bank: Mutex::new(bank),
            faults: self.faults,
            framing: self.framing,
            log: RequestLog::default(),
            requests: AtomicU64::new(0),
            active: AtomicUsize::new(0),
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        });
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(server::accept_loop(listener, Arc::clone(&shared), stopped));
        tracing::info!(%local_addr, framing = ?self.framing, "simulator: serving Modbus");
        Ok(SimulatorHandle {
            local_addr,
            shared,
            stop,
            task: Some(task),
        })
    }
}

/// A running simulator. Dropping it stops the server and closes its connections.
#[derive(Debug)]
pub struct SimulatorHandle {
    local_addr: SocketAddr,
    shared: Arc<server::Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl SimulatorHandle {
    /// The address the server listens on (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The request log, shared with the running server.
    pub fn log(&self) -> RequestLog {
        self.shared.log.clone()
    }

    /// Connection counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// The current words at `count` addresses from `address` (`None` where unmapped).
    pub fn registers(&self, unit: u8, table: Table, address: u16, count: u16) -> Vec<Option<u16>> {
        self.shared
            .bank
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(unit, table, address, count)
    }

    /// Overwrites mapped words as if the device changed them itself (a car plugging in).
    /// Returns `false`, changing nothing, when an address is unmapped.
    pub fn set_registers(&self, unit: u8, table: Table, address: u16, words: &[u16]) -> bool {
        self.shared
            .bank
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .set(unit, table, address, words)
    }

    /// Stops accepting, closes every connection and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimulatorHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
