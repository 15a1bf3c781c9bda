//! The running proxy: the accept loop, one task per client connection, and the dispatch of each
//! request to its upstream through the cache, the coalescing table and the upstream's client.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use modbus_client::{Error as ClientError, ModbusClient};
use modbus_core::Table;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

use crate::cache::{Cache, CachePolicy, ReadKey};
use crate::metrics::{ErrorKind, Metrics};
use crate::pdu::{self, Request, code};
use crate::route::RouteTable;
use crate::{Limits, WriteGuard};

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why an upstream request failed, as the client will hear it.
#[derive(Debug, Clone, Copy)]
struct Failure {
    code: u8,
    kind: ErrorKind,
}

type Outcome = Result<Arc<Vec<u16>>, Failure>;

/// The reads in flight to one upstream, by read and generation, with everyone waiting on each.
type InFlight = HashMap<(ReadKey, u64), Vec<oneshot::Sender<Outcome>>>;

/// Where an answer came from, for the request log.
#[derive(Debug, Clone, Copy)]
enum Source {
    Upstream,
    Coalesced,
    Cache,
    Proxy,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::Upstream => "upstream",
            Source::Coalesced => "coalesced",
            Source::Cache => "cache",
            Source::Proxy => "proxy",
        }
    }
}

/// One upstream device: its client (one connection, one request at a time), the reads in
/// flight, the cache and a generation counter that writes advance.
struct Upstream {
    url: String,
    client: ModbusClient,
    inflight: Mutex<InFlight>,
    cache: Mutex<Cache>,
    /// Advanced when a write starts and when it ends. A read joins only reads of the same
    /// generation and is cached only if no write started or ended while it ran, so a read
    /// begun after a write was acknowledged never returns what was there before it.
    generation: AtomicU64,
}

/// Per-client-address state: open connections and the request-rate bucket.
#[derive(Debug)]
struct ClientState {
    connections: usize,
    tokens: f64,
    refilled: Instant,
}

/// Everything the connection tasks share.
pub(crate) struct Shared {
    routes: RouteTable,
    upstreams: Vec<Arc<Upstream>>,
    cache_policy: CachePolicy,
    read_only: bool,
    guard: Option<WriteGuard>,
    limits: Limits,
    pub(crate) metrics: Arc<Metrics>,
    clients: Mutex<HashMap<IpAddr, ClientState>>,
    open: AtomicU64,
    /// Outer bound on one upstream request, beyond the client's own timeouts and retries.
    deadline: Duration,
}

impl Shared {
    pub(crate) fn new(
        routes: RouteTable,
        clients: Vec<ModbusClient>,
        cache_policy: CachePolicy,
        read_only: bool,
        guard: Option<WriteGuard>,
        limits: Limits,
    ) -> Self {
        let metrics = Arc::new(Metrics::default());
        let mut deadline = Duration::ZERO;
        let upstreams = routes
            .upstreams()
            .iter()
            .zip(clients)
            .map(|(upstream, client)| {
                metrics.register_upstream(&upstream.url);
                let o = client.options();
                let attempt = o.connect_timeout + o.request_timeout + o.max_backoff;
                deadline = deadline.max(o.queue_timeout + attempt * (o.retries + 2));
                Arc::new(Upstream {
                    url: upstream.url.clone(),
                    client,
                    inflight: Mutex::new(HashMap::new()),
                    cache: Mutex::new(Cache::default()),
                    generation: AtomicU64::new(0),
                })
            })
            .collect();
        Self {
            routes,
            upstreams,
            cache_policy,
            read_only,
            guard,
            limits,
            metrics,
            clients: Mutex::new(HashMap::new()),
            open: AtomicU64::new(0),
            deadline,
        }
    }

    pub(crate) fn upstream_requests(&self, index: usize) -> u64 {
        self.upstreams
            .get(index)
            .map_or(0, |u| self.metrics.upstream_requests(&u.url))
    }

    /// Admits a new connection from `ip`, or says which limit it is over.
    fn admit(&self, ip: IpAddr) -> Result<(), &'static str> {
        if self.open.load(Ordering::SeqCst) >= self.limits.max_clients as u64 {
            return Err("the proxy's connection limit (--max-clients) is reached");
        }
        let mut clients = lock(&self.clients);
        let state = clients.entry(ip).or_insert_with(|| ClientState {
            connections: 0,
            tokens: self.burst(),
            refilled: Instant::now(),
        });
        if state.connections >= self.limits.max_connections_per_client {
            return Err("this client's connection limit (--max-client-connections) is reached");
        }
        state.connections += 1;
        self.open.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn release(&self, ip: IpAddr) {
        let mut clients = lock(&self.clients);
        if let Some(state) = clients.get_mut(&ip) {
            state.connections = state.connections.saturating_sub(1);
            if state.connections == 0 && state.tokens >= self.burst() {
                clients.remove(&ip);
            }
        }
        self.open.fetch_sub(1, Ordering::SeqCst);
    }

    fn burst(&self) -> f64 {
        self.limits
            .requests_per_second
            .map_or(f64::MAX, |r| f64::from(r.get()))
    }

    /// Takes one request from `ip`'s bucket (refilled at the rate, holding one second's worth).
    fn within_rate(&self, ip: IpAddr) -> bool {
        let Some(rate) = self.limits.requests_per_second else {
            return true;
        };
        let rate = f64::from(rate.get());
        let now = Instant::now();
        let mut clients = lock(&self.clients);
        let Some(state) = clients.get_mut(&ip) else {
            return true;
        };
        let elapsed = now.saturating_duration_since(state.refilled).as_secs_f64();
        state.tokens = (state.tokens + elapsed * rate).min(rate);
        state.refilled = now;
        if state.tokens >= 1.0 {
            state.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Answers one request PDU from `peer` for `unit` with a response or exception PDU.
    async fn handle(self: &Arc<Self>, peer: SocketAddr, unit: u8, pdu: &[u8]) -> Vec<u8> {
        let client = peer.ip().to_string();
        self.metrics.client_request(&client);
        let function = pdu::function_of(pdu);
        if !self.within_rate(peer.ip()) {
            self.metrics.error(ErrorKind::RateLimited);
            tracing::debug!(client = %peer, unit, function, "over --rate; answered server device busy");
            return pdu::exception(function, code::SERVER_DEVICE_BUSY);
        }
        let request = match pdu::parse_request(pdu) {
            Ok(request) => request,
            Err(refusal) => {
                self.metrics.error(ErrorKind::BadRequest);
                tracing::info!(client = %peer, unit, function, reason = refusal.reason, code = refusal.code, "request refused");
                return pdu::exception(function, refusal.code);
            }
        };
        let Some(index) = self.routes.upstream_of(unit) else {
            self.metrics.error(ErrorKind::UnknownUnit);
            tracing::info!(client = %peer, unit, function, "no route for this unit; answered gateway path unavailable");
            return pdu::exception(function, code::GATEWAY_PATH_UNAVAILABLE);
        };
        let upstream = &self.upstreams[index];
        let (table, address, count) = (request.table(), request.address(), request.count());
        let (outcome, source) = match &request {
            Request::Read { .. } => {
                let key = ReadKey {
                    unit,
                    table,
                    address,
                    count,
                };
                self.read(index, key).await
            }
            Request::Write {
                words, multiple, ..
            } => match self.refuse_write(peer, unit, table, address, words) {
                Some(failure) => (Err(failure), Source::Proxy),
                None => {
                    self.write(index, unit, table, address, words, *multiple)
                        .await
                }
            },
        };
        match outcome {
            Ok(words) => {
                tracing::debug!(client = %peer, unit, function, address, count, source = source.label(), upstream = %upstream.url, "answered");
                pdu::response(&request, function, &words)
            }
            Err(failure) => {
                tracing::debug!(client = %peer, unit, function, address, count, source = source.label(), upstream = %upstream.url, exception = failure.code, kind = failure.kind.label(), "answered with an exception");
                pdu::exception(function, failure.code)
            }
        }
    }

    /// The refusal of a write by `--read-only` or by the map, logged; `None` lets it through.
    fn refuse_write(
        &self,
        peer: SocketAddr,
        unit: u8,
        table: Table,
        address: u16,
        words: &[u16],
    ) -> Option<Failure> {
        if self.read_only {
            self.metrics.error(ErrorKind::ReadOnly);
            tracing::warn!(client = %peer, unit, %table, address, count = words.len(), "write refused: the proxy is read-only");
            return Some(Failure {
                code: code::ILLEGAL_FUNCTION,
                kind: ErrorKind::ReadOnly,
            });
        }
        let guard = self.guard.as_ref()?;
        match guard
            .map
            .check_wire_write(&guard.units, unit, table, address, words)
        {
            Ok(()) => None,
            Err(refusal) => {
                self.metrics.error(ErrorKind::WriteRefused);
                tracing::warn!(client = %peer, unit, %table, address, count = words.len(), map = %guard.map.id, reason = %refusal, "write refused");
                Some(Failure {
                    code: refusal.exception_code(),
                    kind: ErrorKind::WriteRefused,
                })
            }
        }
    }

    async fn read(self: &Arc<Self>, index: usize, key: ReadKey) -> (Outcome, Source) {
        let upstream = &self.upstreams[index];
        let generation = upstream.generation.load(Ordering::SeqCst);
        if let Some(max_age) = self.cache_policy.max_age(key.table)
            && let Some(words) = lock(&upstream.cache).get(&key, max_age, Instant::now())
        {
            self.metrics.cache_hit(&upstream.url);
            return (Ok(words), Source::Cache);
        }
        let (tx, rx) = oneshot::channel();
        let source = {
            let mut inflight = lock(&upstream.inflight);
            match inflight.get_mut(&(key, generation)) {
                Some(waiters) => {
                    waiters.push(tx);
                    Source::Coalesced
                }
                None => {
                    inflight.insert((key, generation), vec![tx]);
                    // The request runs in its own task, so a client that goes away does not
                    // cancel it halfway and leave the upstream connection mid-answer.
                    tokio::spawn(Arc::clone(self).forward_read(index, key, generation));
                    Source::Upstream
                }
            }
        };
        if matches!(source, Source::Coalesced) {
            self.metrics.coalesced(&upstream.url);
        }
        (self.wait(rx).await, source)
    }

    async fn forward_read(self: Arc<Self>, index: usize, key: ReadKey, generation: u64) {
        let upstream = &self.upstreams[index];
        let started = Instant::now();
        let result = upstream
            .client
            .read(key.unit, key.table, key.address, key.count)
            .await;
        self.metrics
            .upstream_request(&upstream.url, started.elapsed());
        let outcome = match result {
            Ok(words) => Ok(Arc::new(words)),
            Err(err) => Err(self.failure(upstream, &err)),
        };
        if let Ok(words) = &outcome
            && self.cache_policy.max_age(key.table).is_some()
        {
            let mut cache = lock(&upstream.cache);
            // Checked under the cache lock, which writes take to invalidate.
            if upstream.generation.load(Ordering::SeqCst) == generation {
                cache.put(key, Arc::clone(words), started, &self.cache_policy);
            }
        }
        let waiters = lock(&upstream.inflight)
            .remove(&(key, generation))
            .unwrap_or_default();
        for waiter in waiters {
            let _ = waiter.send(outcome.clone());
        }
    }

    async fn write(
        self: &Arc<Self>,
        index: usize,
        unit: u8,
        table: Table,
        address: u16,
        words: &[u16],
        multiple: bool,
    ) -> (Outcome, Source) {
        let (tx, rx) = oneshot::channel();
        let words = words.to_vec();
        let shared = Arc::clone(self);
        tokio::spawn(async move {
            let upstream = &shared.upstreams[index];
            let count = words.len() as u16;
            let invalidate = || {
                let mut cache = lock(&upstream.cache);
                upstream.generation.fetch_add(1, Ordering::SeqCst);
                cache.invalidate(unit, table, address, count);
            };
            invalidate();
            let started = Instant::now();
            let result = if multiple {
                upstream
                    .client
                    .write_multiple(unit, table, address, &words)
                    .await
            } else {
                upstream.client.write(unit, table, address, &words).await
            };
            shared
                .metrics
                .upstream_request(&upstream.url, started.elapsed());
            invalidate();
            let outcome = match result {
                Ok(()) => Ok(Arc::new(Vec::new())),
                Err(err) => Err(shared.failure(upstream, &err)),
            };
            let _ = tx.send(outcome);
        });
        (self.wait(rx).await, Source::Upstream)
    }

    async fn wait(&self, rx: oneshot::Receiver<Outcome>) -> Outcome {
        let gone = Failure {
            code: code::GATEWAY_TARGET_FAILED,
            kind: ErrorKind::UpstreamTimeout,
        };
        match tokio::time::timeout(self.deadline, rx).await {
            Ok(Ok(outcome)) => outcome,
            _ => {
                self.metrics.error(ErrorKind::UpstreamTimeout);
                Err(gone)
            }
        }
    }

    /// The exception a client hears for an upstream failure, counted and logged.
    fn failure(&self, upstream: &Upstream, err: &ClientError) -> Failure {
        let failure = match err {
            ClientError::Exception { exception, .. } => Failure {
                code: exception.code(),
                kind: ErrorKind::UpstreamException,
            },
            ClientError::Timeout { .. } => Failure {
                code: code::GATEWAY_TARGET_FAILED,
                kind: ErrorKind::UpstreamTimeout,
            },
            ClientError::Protocol { .. } | ClientError::ShortResponse { .. } => Failure {
                code: code::GATEWAY_TARGET_FAILED,
                kind: ErrorKind::UpstreamProtocol,
            },
            ClientError::InvalidRequest { .. } => Failure {
                code: code::ILLEGAL_DATA_VALUE,
                kind: ErrorKind::BadRequest,
            },
            // Connect, connect timeout, no free connection, broken connection.
            _ => Failure {
                code: code::GATEWAY_PATH_UNAVAILABLE,
                kind: ErrorKind::UpstreamUnavailable,
            },
        };
        self.metrics.error(failure.kind);
        if failure.kind == ErrorKind::UpstreamException {
            tracing::debug!(upstream = %upstream.url, error = %err, "upstream answered an exception");
        } else {
            tracing::warn!(upstream = %upstream.url, error = %err, "upstream request failed");
        }
        failure
    }
}

/// Accepts clients until `stop` turns true.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                tracing::warn!(error = %err, "proxy: accept failed");
                // Out of file descriptors and the like: do not spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(why) = shared.admit(peer.ip()) {
            shared.metrics.error(ErrorKind::ConnectionRefused);
            tracing::warn!(client = %peer, "connection closed at once: {why}");
            drop(stream);
            continue;
        }
        shared.metrics.connection_opened();
        tracing::debug!(client = %peer, "client connected");
        let shared = Arc::clone(&shared);
        let stop = stop.clone();
        tokio::spawn(async move {
            serve_client(stream, peer, &shared, stop).await;
            shared.release(peer.ip());
            shared.metrics.connection_closed();
        });
    }
}

/// One client connection: frames in, one request at a time, answers out under the client's own
/// transaction id.
async fn serve_client(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: &Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let limits = &shared.limits;
    loop {
        let mut header = [0u8; pdu::HEADER_LEN];
        let read = tokio::select! {
            read = tokio::time::timeout(limits.idle_timeout, stream.read_exact(&mut header)) => read,
            _ = stop.changed() => return,
        };
        match read {
            Ok(Ok(_)) => {}
            Ok(Err(err)) if err.kind() == std::io::ErrorKind::UnexpectedEof => {
                tracing::debug!(client = %peer, "client disconnected");
                return;
            }
            Ok(Err(err)) => {
                tracing::debug!(client = %peer, error = %err, "client connection failed");
                return;
            }
            Err(_) => {
                tracing::info!(client = %peer, idle = ?limits.idle_timeout, "client idle too long; closing");
                return;
            }
        }
        let header = match pdu::parse_header(&header) {
            Ok(header) => header,
            Err(err) => {
                shared.metrics.error(ErrorKind::MalformedFrame);
                tracing::warn!(client = %peer, error = %err, "not a Modbus TCP frame; closing the connection");
                return;
            }
        };
        let mut body = vec![0u8; header.pdu_len];
        match tokio::time::timeout(limits.frame_timeout, stream.read_exact(&mut body)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => {
                shared.metrics.error(ErrorKind::MalformedFrame);
                tracing::info!(client = %peer, "client closed the connection in the middle of a frame");
                return;
            }
            Err(_) => {
                shared.metrics.error(ErrorKind::ClientTimeout);
                tracing::warn!(client = %peer, timeout = ?limits.frame_timeout, "client sent half a frame; closing");
                return;
            }
        }
        let answer = shared.handle(peer, header.unit, &body).await;
        let frame = pdu::frame(header.transaction_id, header.unit, &answer);
        match tokio::time::timeout(limits.frame_timeout, stream.write_all(&frame)).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                tracing::debug!(client = %peer, error = %err, "client went away before its answer");
                return;
            }
            Err(_) => {
                shared.metrics.error(ErrorKind::ClientTimeout);
                tracing::warn!(client = %peer, "client does not take its answers; closing");
                return;
            }
        }
    }
}
