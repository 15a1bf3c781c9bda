//! InfluxDB output: line protocol (outputs' rendering) over HTTP, batched, retried, bounded.
//!
//! [`Influx`] keeps a buffer of lines. [`Influx::follow`] fills it from the service's updates
//! (fresh readings only: a stale value was already written when it was read);
//! [`Influx::spawn`] empties it: every `flush_interval`, or as soon as `batch_lines` are
//! waiting, it posts up to `batch_lines` lines to `/write` (1.x) or `/api/v2/write` (2.x)
//! with nanosecond precision. A failed post is retried, the wait doubling from 1 s up to
//! `max_backoff`, while new lines keep arriving; beyond `buffer_lines` the oldest are dropped
//! and counted. A batch the database refuses as malformed (400) or too large (413) is dropped
//! and counted, since sending it again cannot succeed.
//!
//! An `https://` URL is written over TLS (rustls with the ring provider), trusting the CA of
//! `influx.tls.ca_file` or, without it, the system's roots; a client certificate can be given
//! for servers that ask for one. The certificate must name the URL's host (or IP address).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::config::{ConfigError, InfluxConfig, Secret, resolve_secret};
use crate::runtime::Service;

/// Counters of the InfluxDB output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InfluxStats {
    /// Lines the database accepted.
    pub written: u64,
    /// Lines dropped because the buffer was full (the oldest first).
    pub dropped: u64,
    /// Lines dropped because the database refused their batch (400, 413).
    pub rejected: u64,
    /// Write requests that failed and were retried.
    pub failed_requests: u64,
    /// Lines waiting now.
    pub buffered: u64,
}

#[derive(Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    rejected: AtomicU64,
    failed_requests: AtomicU64,
}

struct Buffer {
    lines: VecDeque<(u64, String)>,
    next_seq: u64,
}

/// The HTTP client of the writer: plain or TLS by the URL's scheme.
type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

struct Shared {
    url: String,
    tls: Arc<rustls::ClientConfig>,
    auth: Option<String>,
    measurement: Option<String>,
    batch_lines: usize,
    buffer_lines: usize,
    flush_interval: Duration,
    timeout: Duration,
    max_backoff: Duration,
    buffer: Mutex<Buffer>,
    full: Notify,
    counters: Counters,
    last_error: Mutex<Option<String>>,
}

/// The InfluxDB writer. Cheap to clone.
#[derive(Clone)]
pub struct Influx {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Influx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Influx")
            .field("url", &self.shared.url)
            .field("auth", &self.shared.auth.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteFailure {
    /// No HTTP answer (connection refused, reset, malformed).
    #[error("cannot reach InfluxDB")]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// No answer in time.
    #[error("InfluxDB did not answer within {}", crate::format_duration(*.0))]
    Timeout(Duration),
    /// An HTTP error status.
    #[error("InfluxDB answered {status}: {body}")]
    Status {
        /// The status.
        status: StatusCode,
        /// The start of its body (InfluxDB explains the problem there).
        body: String,
    },
}

impl WriteFailure {
    fn rejected(&self) -> bool {
        matches!(self, WriteFailure::Status { status, .. }
            if *status == StatusCode::BAD_REQUEST || *status == StatusCode::PAYLOAD_TOO_LARGE)
    }
}

fn encode_query(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Influx {
    /// A writer for `config` (its secret and TLS files are read now). Nothing is sent before
    /// [`Influx::spawn`].
    pub fn new(config: &InfluxConfig) -> Result<Influx, ConfigError> {
        let base = config.url.trim_end_matches('/');
        let tls = if base.starts_with("https://") {
            let files = config.tls.clone().unwrap_or_default();
            crate::tls::client_config(&files, "influx.tls").map_err(ConfigError::Tls)?
        } else if config.tls.is_some() {
            return Err(ConfigError::Invalid {
                message: format!(
                    "influx: `tls` is set but the url `{}` is plain http://; write https://",
                    config.url
                ),
            });
        } else {
            crate::tls::trust_nothing()
        };
        let (url, auth) = if config.version == 1 {
            let mut url = format!(
                "{base}/write?db={}&precision=ns",
                encode_query(config.database.as_deref().unwrap_or_default())
            );
            if let Some(rp) = &config.retention_policy {
                url.push_str(&format!("&rp={}", encode_query(rp)));
            }
            let password =
                resolve_secret(config.password.as_ref(), config.password_file.as_deref())?;
            let auth = config.username.as_ref().map(|user| {
                let pass = password.as_ref().map(Secret::expose).unwrap_or_default();
                format!("Basic {}", base64(format!("{user}:{pass}").as_bytes()))
            });
            (url, auth)
        } else {
            let url = format!(
                "{base}/api/v2/write?org={}&bucket={}&precision=ns",
                encode_query(config.org.as_deref().unwrap_or_default()),
                encode_query(config.bucket.as_deref().unwrap_or_default())
            );
            let token = resolve_secret(config.token.as_ref(), config.token_file.as_deref())?;
            (url, token.map(|t| format!("Token {}", t.expose())))
        };
        Ok(Influx {
            shared: Arc::new(Shared {
                url,
                tls: Arc::new(tls),
                auth,
                measurement: config.measurement.clone(),
                batch_lines: config.batch_lines.max(1),
                buffer_lines: config.buffer_lines.max(1),
                flush_interval: config.flush_interval,
                timeout: config.timeout,
                max_backoff: config.max_backoff.max(Duration::from_secs(1)),
                buffer: Mutex::new(Buffer {
                    lines: VecDeque::new(),
                    next_seq: 0,
                }),
                full: Notify::new(),
                counters: Counters::default(),
                last_error: Mutex::new(None),
            }),
        })
    }

    /// The counters.
    pub fn stats(&self) -> InfluxStats {
        let c = &self.shared.counters;
        InfluxStats {
            written: c.written.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            failed_requests: c.failed_requests.load(Ordering::Relaxed),
            buffered: self.lock().lines.len() as u64,
        }
    }

    /// Why the last write request failed, while writes are failing (`None` once one succeeds),
    /// with its causes: for a TLS server the certificate problem.
    pub fn last_error(&self) -> Option<String> {
        self.shared
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_last_error(&self, error: Option<String>) {
        *self
            .shared
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = error;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buffer> {
        self.shared
            .buffer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds line-protocol lines to the buffer, dropping the oldest beyond its bound.
    pub fn push_lines(&self, text: &str) {
        let mut dropped = 0;
        let full = {
            let mut buffer = self.lock();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let seq = buffer.next_seq;
                buffer.next_seq += 1;
                buffer.lines.push_back((seq, line.to_owned()));
                if buffer.lines.len() > self.shared.buffer_lines {
                    buffer.lines.pop_front();
                    dropped += 1;
                }
            }
            buffer.lines.len() >= self.shared.batch_lines
        };
        if dropped > 0 {
            let total = self
                .shared
                .counters
                .dropped
                .fetch_add(dropped, Ordering::Relaxed);
            // Say so once per thousand, not once per line.
            if total / 1000 != (total + dropped) / 1000 || total == 0 {
                tracing::warn!(
                    dropped = total + dropped,
                    "InfluxDB buffer full: oldest lines dropped"
                );
            }
        }
        if full {
            self.shared.full.notify_one();
        }
    }

    /// Feeds the buffer from `service`'s updates until it stops.
    pub fn follow(&self, service: &Service) -> JoinHandle<()> {
        let this = self.clone();
        service.follow_updates("influx", move |service, update| {
            if !update.available {
                return;
            }
            let Some(device) = service.device(&update.id) else {
                return;
            };
            let mut fresh = (*update.snapshot).clone();
            fresh.readings.retain(|r| !update.stale.contains(&r.name));
            let options = outputs::Options {
                device: Some(update.id.to_string()),
                measurement: this.shared.measurement.clone(),
                ..outputs::Options::default()
            };
            this.push_lines(&outputs::influx(&fresh, device.map(), &options));
        })
    }

    /// Starts the writer task; it flushes what is left (one attempt) when `stop` turns true.
    pub fn spawn(&self, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let connector = HttpsConnectorBuilder::new()
                .with_tls_config((*this.shared.tls).clone())
                .https_or_http()
                .enable_http1()
                .build();
            let client: HttpClient = Client::builder(TokioExecutor::new()).build(connector);
            let mut failures: u32 = 0;
            loop {
                let wait = if failures == 0 {
                    this.shared.flush_interval
                } else {
                    let factor = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX);
                    Duration::from_secs(1)
                        .saturating_mul(factor)
                        .min(this.shared.max_backoff)
                };
                let stopping = tokio::select! {
                    _ = stop.changed() => true,
                    () = tokio::time::sleep(wait) => false,
                    () = this.shared.full.notified(), if failures == 0 => false,
                };
                loop {
                    match this.flush_once(&client).await {
                        Ok(true) => {
                            failures = 0;
                            this.set_last_error(None);
                            continue;
                        }
                        Ok(false) => {
                            failures = 0;
                            this.set_last_error(None);
                            break;
                        }
                        Err(err) => {
                            failures = failures.saturating_add(1);
                            this.set_last_error(Some(crate::poller::error_chain(&err)));
                            this.shared
                                .counters
                                .failed_requests
                                .fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(error = %crate::poller::error_chain(&err), failures, "InfluxDB write failed; will retry");
                            break;
                        }
                    }
                }
                if stopping || *stop.borrow() {
                    break;
                }
            }
        })
    }

    /// Sends one batch. `Ok(true)`: sent (or rejected) and more are waiting; `Ok(false)`:
    /// nothing (more) to send.
    async fn flush_once(&self, client: &HttpClient) -> Result<bool, WriteFailure> {
        let (last_seq, body, count) = {
            let buffer = self.lock();
            if buffer.lines.is_empty() {
                return Ok(false);
            }
            let mut body = String::new();
            let mut last = 0;
            let mut count = 0u64;
            for (seq, line) in buffer.lines.iter().take(self.shared.batch_lines) {
                body.push_str(line);
                body.push('\n');
                last = *seq;
                count += 1;
            }
            (last, body, count)
        };
        let result = self.post(client, body).await;
        let done = |this: &Self| {
            let mut buffer = this.lock();
            while buffer
                .lines
                .front()
                .is_some_and(|(seq, _)| *seq <= last_seq)
            {
                buffer.lines.pop_front();
            }
            !buffer.lines.is_empty()
        };
        match result {
            Ok(()) => {
                self.shared
                    .counters
                    .written
                    .fetch_add(count, Ordering::Relaxed);
                Ok(done(self))
            }
            Err(err) if err.rejected() => {
                self.shared
                    .counters
                    .rejected
                    .fetch_add(count, Ordering::Relaxed);
                tracing::warn!(lines = count, error = %err, "InfluxDB refused a batch; dropped");
                Ok(done(self))
            }
            Err(err) => Err(err),
        }
    }

    async fn post(&self, client: &HttpClient, body: String) -> Result<(), WriteFailure> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(&self.shared.url)
            .header("content-type", "text/plain; charset=utf-8");
        if let Some(auth) = &self.shared.auth {
            request = request.header("authorization", auth);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| WriteFailure::Transport(Box::new(e)))?;
        let timeout = self.shared.timeout;
        let exchange = async {
            let response = client
                .request(request)
                .await
                .map_err(|e| WriteFailure::Transport(Box::new(e)))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| WriteFailure::Transport(Box::new(e)))?
                .to_bytes();
            if status.is_success() {
                Ok(())
            } else {
                let text = String::from_utf8_lossy(&body);
                Err(WriteFailure::Status {
                    status,
                    body: text.chars().take(300).collect(),
                })
            }
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| WriteFailure::Timeout(timeout))?
    }

    /// Prometheus lines for the counters.
    pub fn metrics(&self) -> String {
        let s = self.stats();
        format!(
            "# HELP evctl_influx_lines_written_total Lines InfluxDB accepted\n\
             # TYPE evctl_influx_lines_written_total counter\n\
             evctl_influx_lines_written_total {}\n\
             # HELP evctl_influx_lines_dropped_total Lines dropped because the buffer was full\n\
             # TYPE evctl_influx_lines_dropped_total counter\n\
             evctl_influx_lines_dropped_total {}\n\
             # HELP evctl_influx_lines_rejected_total Lines InfluxDB refused\n\
             # TYPE evctl_influx_lines_rejected_total counter\n\
             evctl_influx_lines_rejected_total {}\n\
             # HELP evctl_influx_failed_requests_total Write requests that failed and were retried\n\
             # TYPE evctl_influx_failed_requests_total counter\n\
             evctl_influx_failed_requests_total {}\n\
             # HELP evctl_influx_lines_buffered Lines waiting to be written\n\
             # TYPE evctl_influx_lines_buffered gauge\n\
             evctl_influx_lines_buffered {}\n",
            s.written, s.dropped, s.rejected, s.failed_requests, s.buffered
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_examples() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode_query("my db&x=1"), "my%20db%26x%3D1");
    }

    #[test]
    fn buffer_drops_the_oldest() {
        let config: InfluxConfig = serde_yaml::from_str(
            "{url: 'http://127.0.0.1:1', version: 2, org: o, bucket: b, buffer_lines: 3}",
        )
        .expect("config");
        let influx = Influx::new(&config).expect("writer");
        influx.push_lines("a\nb\n");
        influx.push_lines("c\nd\ne\n");
        let stats = influx.stats();
        assert_eq!((stats.buffered, stats.dropped), (3, 2));
        let lines: Vec<String> = influx.lock().lines.iter().map(|(_, l)| l.clone()).collect();
        assert_eq!(lines, ["c", "d", "e"]);
        assert!(!format!("{influx:?}").contains("Token"));
    }
}
