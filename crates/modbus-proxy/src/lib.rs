//! A Modbus TCP proxy: many clients in front, one connection to each device behind.
//!
//! Chargers, inverters and meters often take a single Modbus master, and an RS-485 bus takes
//! one at a time by nature. This crate serves Modbus TCP to any number of clients and forwards
//! their requests to upstream devices, each over the one connection modbus-client keeps for it:
//! Modbus TCP, RTU over TCP or serial RTU. A [`RouteTable`] sends each unit id to its upstream,
//! so a bus of RTU meters appears as units of one TCP endpoint.
//!
//! The main types:
//!
//! - [`Route`], [`RouteTable`] and [`Upstream`]: the unit-id table, written `[UNITS=]URL`
//!   (`1-10=tcp://192.168.1.40:502`, `rtu+tcp://gw:8899`, `serial:///dev/ttyUSB0?baud=9600`);
//! - [`ProxyOptions`] with [`Limits`], [`CachePolicy`] and an optional [`WriteGuard`];
//! - [`Proxy::start`], which binds and returns a [`ProxyHandle`] (addresses, metrics text,
//!   shutdown).
//!
//! # How a request travels
//!
//! A client connection is one task that reads a frame, answers it and reads the next, every
//! wait under a timeout. A frame that is not Modbus TCP closes the connection with a log line
//! naming the client; a well-framed request the proxy cannot forward (bad length, count,
//! function, or a unit no route names) gets a Modbus exception. The client's transaction id
//! never goes upstream: the upstream connection numbers its own requests and checks every
//! answer against them (tokio-modbus does), and the answer goes back to the client under the
//! id it sent. An answer therefore reaches only the request it belongs to.
//!
//! Upstream requests run in tasks of their own, never in the client's, so a client that
//! disconnects mid-request cannot cancel a request halfway and leave the device's connection
//! with an answer nobody reads. modbus-client gives each upstream one connection and sends one
//! request at a time in arrival order, with the pacing, timeouts and retries of its
//! [`ClientOptions`](modbus_client::ClientOptions) (from the device map when there is one).
//! Failures reach the client as exceptions: the device's own, or 0x0B (gateway target failed
//! to respond) for a timeout or a garbled answer, 0x0A (gateway path unavailable) when the
//! device cannot be reached.
//!
//! # Less load on the device
//!
//! Identical reads (same unit, table, address and count) in flight at the same time become one
//! upstream request whose answer every waiter gets. With a [`CachePolicy`], answers are reused
//! for a max age per table. Writes are never coalesced or cached; a write invalidates the
//! cached answers it overlaps, and it advances a generation counter so that a read which was
//! already in flight when the write began is neither joined by later reads nor cached. A read
//! that starts after a write was acknowledged always goes to the device.
//!
//! # Safety
//!
//! With a [`WriteGuard`] (a device map), a write is checked by device-maps'
//! `check_wire_write` before it is forwarded: an address outside the map's writable registers
//! is refused with exception 2, a value outside a register's enumeration, bounds or step (or a
//! write covering part of a register) with exception 3. `read_only` refuses every write with
//! exception 1. Both are logged with the client's address. Per-client [`Limits`] bound
//! connections and requests per second.
//!
//! # What it never knows
//!
//! The proxy never decodes values or knows register names beyond asking the map whether a
//! write is allowed, never parses command lines or site files (evctl and service do), and never
//! frames upstream requests itself (modbus-client does).

mod cache;
mod metrics;
mod pdu;
mod route;
mod server;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use device_maps::{DeviceMap, Units};
use modbus_client::{ClientOptions, ModbusClient, Pool};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use cache::{CachePolicy, CachePolicyError};
pub use route::{Route, RouteError, RouteTable, UnitSet, Upstream};

/// Limits that protect the device and the proxy from its clients. Every network wait on a
/// client is bounded by one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most client connections open at once (default 64).
    pub max_clients: usize,
    /// Most connections open at once from one IP address (default 8).
    pub max_connections_per_client: usize,
    /// Most requests per second from one IP address, across its connections; more are
    /// answered "server device busy" (default: no limit).
    pub requests_per_second: Option<NonZeroU32>,
    /// A client silent this long is disconnected (default 5 minutes).
    pub idle_timeout: Duration,
    /// Time allowed for the rest of a frame once its header arrived, and for a client to take
    /// its answer (default 5 s).
    pub frame_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_clients: 64,
            max_connections_per_client: 8,
            requests_per_second: None,
            idle_timeout: Duration::from_secs(300),
            frame_timeout: Duration::from_secs(5),
        }
    }
}

/// The device map writes are checked against, with its unit ids.
#[derive(Debug, Clone)]
pub struct WriteGuard {
    /// The map.
    pub map: Arc<DeviceMap>,
    /// Its unit ids (after any overrides).
    pub units: Units,
}

impl WriteGuard {
    /// The guard of `map` with its own unit ids.
    pub fn new(map: Arc<DeviceMap>) -> Self {
        let units = map.units();
        Self { map, units }
    }
}

/// Everything a proxy needs to start.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// Where clients connect, `host:port` (port 0 picks a free one).
    pub listen: String,
    /// Which upstream answers which unit.
    pub routes: RouteTable,
    /// Timeouts, retries and pacing of every upstream connection. `max_connections` is
    /// forced to 1.
    pub client_options: ClientOptions,
    /// What is cached, for how long.
    pub cache: CachePolicy,
    /// Refuse every write.
    pub read_only: bool,
    /// Check writes against a device map.
    pub guard: Option<WriteGuard>,
    /// Client limits.
    pub limits: Limits,
    /// Where to serve Prometheus metrics (`GET /metrics`); `None`: nowhere (the handle still
    /// renders them).
    pub metrics_listen: Option<String>,
}

impl ProxyOptions {
    /// Options with the defaults for everything but where to listen and where to forward.
    pub fn new(listen: impl Into<String>, routes: RouteTable) -> Self {
        Self {
            listen: listen.into(),
            routes,
            client_options: ClientOptions::default(),
            cache: CachePolicy::none(),
            read_only: false,
            guard: None,
            limits: Limits::default(),
            metrics_listen: None,
        }
    }
}

/// Why a proxy could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// A listening socket could not be bound.
    #[error("cannot listen for {what} on {address}")]
    Bind {
        /// "Modbus clients" or "metrics".
        what: &'static str,
        /// The address asked for.
        address: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}

/// Entry point: [`Proxy::start`].
#[derive(Debug)]
pub struct Proxy;

impl Proxy {
    /// Binds the listener (and the metrics endpoint), and serves until the handle is shut
    /// down or dropped. Upstream clients come from `pool`, so a program that already talks to
    /// the device (`evctl serve`) shares its connection with the proxy; an endpoint already in
    /// the pool keeps the options it was opened with. Must be called inside a tokio runtime.
    pub async fn start(options: ProxyOptions, pool: &Pool) -> Result<ProxyHandle, ProxyError> {
        let client_options = ClientOptions {
            max_connections: 1,
            ..options.client_options.clone()
        };
        let clients: Vec<ModbusClient> = options
            .routes
            .upstreams()
            .iter()
            .map(|u| pool.client(u.endpoint.clone(), client_options.clone()))
            .collect();
        let bind = |what: &'static str, address: &str| {
            let address = address.to_owned();
            async move {
                let listener =
                    TcpListener::bind(&address)
                        .await
                        .map_err(|source| ProxyError::Bind {
                            what,
                            address: address.clone(),
                            source,
                        })?;
                let local = listener.local_addr().map_err(|source| ProxyError::Bind {
                    what,
                    address,
                    source,
                })?;
                Ok::<_, ProxyError>((listener, local))
            }
        };
        let (listener, local_addr) = bind("Modbus clients", &options.listen).await?;
        let metrics_listener = match &options.metrics_listen {
            Some(address) => Some(bind("metrics", address).await?),
            None => None,
        };
        let shared = Arc::new(server::Shared::new(
            options.routes.clone(),
            clients,
            options.cache,
            options.read_only,
            options.guard.clone(),
            options.limits.clone(),
        ));
        let (stop, stopped) = watch::channel(false);
        let mut tasks = vec![tokio::spawn(server::accept_loop(
            listener,
            Arc::clone(&shared),
            stopped.clone(),
        ))];
        let metrics_addr = metrics_listener.as_ref().map(|(_, a)| *a);
        if let Some((listener, _)) = metrics_listener {
            tasks.push(tokio::spawn(metrics::serve(
                listener,
                Arc::clone(&shared.metrics),
                stopped,
            )));
        }
        for (units, url) in options.routes.describe() {
            if !units.is_empty() {
                tracing::info!(%local_addr, units = %units, upstream = %url, "proxy: routing");
            }
        }
        tracing::info!(
            %local_addr,
            metrics = %metrics::describe(metrics_addr),
            cache = %options.cache,
            read_only = options.read_only,
            map = options.guard.as_ref().map_or("none", |g| g.map.id.as_str()),
            "proxy: serving Modbus TCP"
        );
        Ok(ProxyHandle {
            local_addr,
            metrics_addr,
            shared,
            stop,
            tasks,
        })
    }
}

/// A running proxy. Dropping it stops accepting and closes every client connection.
#[derive(Debug)]
pub struct ProxyHandle {
    local_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    shared: Arc<server::Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for server::Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl ProxyHandle {
    /// Where clients connect (the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where the metrics endpoint listens, if it was asked for.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The metrics in Prometheus text exposition format.
    pub fn metrics(&self) -> String {
        self.shared.metrics.render()
    }

    /// Requests sent so far to the upstream at `index` in [`RouteTable::upstreams`].
    pub fn upstream_requests(&self, index: usize) -> u64 {
        self.shared.upstream_requests(index)
    }

    /// Stops accepting, closes client connections and waits for the listeners to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
