//! The proxy's counters and their Prometheus text exposition, plus the small HTTP endpoint that
//! serves them.
//!
//! Clients are labelled by IP address, not by port: a client reconnecting every poll would
//! otherwise grow a new series each time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Upper bounds of the upstream latency histogram, in seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// What went wrong, as the `kind` label of `evctl_proxy_errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ErrorKind {
    /// A frame that is not Modbus TCP; the connection was closed.
    MalformedFrame,
    /// A well-framed PDU the proxy refused (bad length, count or function).
    BadRequest,
    /// No route for the unit.
    UnknownUnit,
    /// A write outside the map.
    WriteRefused,
    /// A write while read-only.
    ReadOnly,
    /// Over the client's requests per second.
    RateLimited,
    /// A connection over a limit, closed at once.
    ConnectionRefused,
    /// A client that sent half a frame, or would not take its answer, in time.
    ClientTimeout,
    /// The upstream did not answer in time (after retries).
    UpstreamTimeout,
    /// The upstream could not be reached, or its connection broke.
    UpstreamUnavailable,
    /// The upstream answered with a Modbus exception.
    UpstreamException,
    /// The upstream answered something that is not a valid answer.
    UpstreamProtocol,
}

impl ErrorKind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            ErrorKind::MalformedFrame => "malformed_frame",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::UnknownUnit => "unknown_unit",
            ErrorKind::WriteRefused => "write_refused",
            ErrorKind::ReadOnly => "read_only",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::ConnectionRefused => "connection_refused",
            ErrorKind::ClientTimeout => "client_timeout",
            ErrorKind::UpstreamTimeout => "upstream_timeout",
            ErrorKind::UpstreamUnavailable => "upstream_unavailable",
            ErrorKind::UpstreamException => "upstream_exception",
            ErrorKind::UpstreamProtocol => "upstream_protocol",
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, slot) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if seconds <= *bound {
                *slot += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

#[derive(Debug, Default)]
struct Counters {
    client_requests: BTreeMap<String, u64>,
    upstream_requests: BTreeMap<String, u64>,
    coalesced: BTreeMap<String, u64>,
    cache_hits: BTreeMap<String, u64>,
    errors: BTreeMap<ErrorKind, u64>,
    latency: BTreeMap<String, Histogram>,
    connections_accepted: u64,
    connections_open: u64,
}

/// Every counter of one proxy.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    counters: Mutex<Counters>,
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    if let Some(n) = map.get_mut(key) {
        *n += 1;
    } else {
        map.insert(key.to_owned(), 1);
    }
}

impl Metrics {
    fn with<T>(&self, f: impl FnOnce(&mut Counters) -> T) -> T {
        f(&mut self.counters.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn register_upstream(&self, url: &str) {
        self.with(|c| {
            for map in [
                &mut c.upstream_requests,
                &mut c.coalesced,
                &mut c.cache_hits,
            ] {
                map.entry(url.to_owned()).or_insert(0);
            }
            c.latency.entry(url.to_owned()).or_default();
        });
    }

    pub(crate) fn client_request(&self, client: &str) {
        self.with(|c| bump(&mut c.client_requests, client));
    }

    pub(crate) fn upstream_request(&self, upstream: &str, latency: Duration) {
        self.with(|c| {
            bump(&mut c.upstream_requests, upstream);
            c.latency
                .entry(upstream.to_owned())
                .or_default()
                .observe(latency.as_secs_f64());
        });
    }

    pub(crate) fn coalesced(&self, upstream: &str) {
        self.with(|c| bump(&mut c.coalesced, upstream));
    }

    pub(crate) fn cache_hit(&self, upstream: &str) {
        self.with(|c| bump(&mut c.cache_hits, upstream));
    }

    pub(crate) fn error(&self, kind: ErrorKind) {
        self.with(|c| *c.errors.entry(kind).or_insert(0) += 1);
    }

    pub(crate) fn connection_opened(&self) {
        self.with(|c| {
            c.connections_accepted += 1;
            c.connections_open += 1;
        });
    }

    pub(crate) fn connection_closed(&self) {
        self.with(|c| c.connections_open = c.connections_open.saturating_sub(1));
    }

    /// Requests sent to `upstream` so far (retries not counted separately).
    pub(crate) fn upstream_requests(&self, upstream: &str) -> u64 {
        self.with(|c| c.upstream_requests.get(upstream).copied().unwrap_or(0))
    }

    /// The Prometheus text exposition of every counter.
    pub(crate) fn render(&self) -> String {
        let c = self.with(|c| {
            (
                c.client_requests.clone(),
                c.upstream_requests.clone(),
                c.coalesced.clone(),
                c.cache_hits.clone(),
                c.errors.clone(),
                c.latency.clone(),
                c.connections_accepted,
                c.connections_open,
            )
        });
        let (clients, upstreams, coalesced, hits, errors, latency, accepted, open) = c;
        let mut out = String::new();
        let family = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
        };
        let labelled = |out: &mut String, name: &str, label: &str, map: &BTreeMap<String, u64>| {
            for (key, n) in map {
                let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {n}", escape(key));
            }
        };
        family(
            &mut out,
            "evctl_proxy_client_requests_total",
            "counter",
            "Requests received, by client IP address.",
        );
        labelled(
            &mut out,
            "evctl_proxy_client_requests_total",
            "client",
            &clients,
        );
        family(
            &mut out,
            "evctl_proxy_upstream_requests_total",
            "counter",
            "Requests sent to each upstream (a request retried counts once).",
        );
        labelled(
            &mut out,
            "evctl_proxy_upstream_requests_total",
            "upstream",
            &upstreams,
        );
        family(
            &mut out,
            "evctl_proxy_coalesced_total",
            "counter",
            "Reads answered by joining an identical read already in flight.",
        );
        labelled(
            &mut out,
            "evctl_proxy_coalesced_total",
            "upstream",
            &coalesced,
        );
        family(
            &mut out,
            "evctl_proxy_cache_hits_total",
            "counter",
            "Reads answered from the cache.",
        );
        labelled(&mut out, "evctl_proxy_cache_hits_total", "upstream", &hits);
        family(
            &mut out,
            "evctl_proxy_errors_total",
            "counter",
            "Requests and connections that failed, by kind.",
        );
        for (kind, n) in &errors {
            let _ = writeln!(
                out,
                "evctl_proxy_errors_total{{kind=\"{}\"}} {n}",
                kind.label()
            );
        }
        family(
            &mut out,
            "evctl_proxy_client_connections_total",
            "counter",
            "Client connections accepted.",
        );
        let _ = writeln!(out, "evctl_proxy_client_connections_total {accepted}");
        family(
            &mut out,
            "evctl_proxy_client_connections",
            "gauge",
            "Client connections open now.",
        );
        let _ = writeln!(out, "evctl_proxy_client_connections {open}");
        let name = "evctl_proxy_upstream_latency_seconds";
        family(
            &mut out,
            name,
            "histogram",
            "Time from sending a request upstream to its answer, retries included.",
        );
        for (upstream, h) in &latency {
            let upstream = escape(upstream);
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "{name}_bucket{{upstream=\"{upstream}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{upstream=\"{upstream}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "{name}_sum{{upstream=\"{upstream}\"}} {}", h.sum);
            let _ = writeln!(out, "{name}_count{{upstream=\"{upstream}\"}} {}", h.count);
        }
        out
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Serves `GET /metrics` on `listener` until `stop` turns true. Anything else is a 404; a
/// request that does not arrive within a few seconds is dropped.
pub(crate) async fn serve(
    listener: TcpListener,
    metrics: std::sync::Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let Ok((stream, peer)) = accepted else {
            continue;
        };
        let metrics = std::sync::Arc::clone(&metrics);
        tokio::spawn(async move {
            let exchange = answer(stream, &metrics);
            match tokio::time::timeout(Duration::from_secs(5), exchange).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    tracing::debug!(%peer, error = %err, "proxy metrics: request failed")
                }
                Err(_) => tracing::debug!(%peer, "proxy metrics: request timed out"),
            }
        });
    }
}

async fn answer(mut stream: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() + n > 8192 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|b| *b == b' ');
    let (method, path) = (parts.next(), parts.next());
    let (status, body) = match (method, path) {
        (Some(b"GET"), Some(b"/metrics")) => ("200 OK", metrics.render()),
        _ => (
            "404 Not Found",
            "only GET /metrics is served here\n".to_owned(),
        ),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// The address a metrics listener bound, for logs.
pub(crate) fn describe(addr: Option<SocketAddr>) -> String {
    addr.map_or_else(|| "off".to_owned(), |a| format!("http://{a}/metrics"))
}
