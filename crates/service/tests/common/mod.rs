//! Helpers shared by the service's tests: simulated devices on loopback, a service over them,
//! and a small HTTP client.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use device_maps::{DeviceMap, Registry};
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use service::{DeviceUpdate, Service, ServiceOptions, SiteConfig};
use simulator::modbus::{Simulator, SimulatorHandle};
use tokio::sync::broadcast;

pub const WAIT: Duration = Duration::from_secs(20);

pub fn map(id: &str) -> Arc<DeviceMap> {
    let registry = Registry::built_in().expect("built-in maps load");
    Arc::clone(registry.get(id).expect("map exists"))
}

pub async fn modbus_simulator(map_id: &str, address: &str) -> SimulatorHandle {
    Simulator::builder(&map(map_id))
        .bind(address)
        .await
        .expect("simulator binds")
}

/// Starts a service from a site config text.
pub fn start(config_text: &str) -> (Service, SiteConfig) {
    let config = SiteConfig::parse(config_text, std::path::Path::new("test-site.yaml"))
        .expect("valid site config");
    let registry = Registry::built_in().expect("built-in maps load");
    let specs = service::device_specs(&config, |id| {
        Ok::<_, std::convert::Infallible>(registry.get(id).map(Arc::clone))
    })
    .expect("devices resolve");
    let options = ServiceOptions {
        max_backoff: config.poll.max_backoff,
        ..ServiceOptions::default()
    };
    (
        Service::start(specs, options).expect("service starts"),
        config,
    )
}

/// Waits (at most [`WAIT`]) for an update that satisfies `pred`, and returns it.
pub async fn wait_for(
    updates: &mut broadcast::Receiver<DeviceUpdate>,
    what: &str,
    mut pred: impl FnMut(&DeviceUpdate) -> bool,
) -> DeviceUpdate {
    let found = tokio::time::timeout(WAIT, async {
        loop {
            match updates.recv().await {
                Ok(u) if pred(&u) => return u,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("service stopped"),
            }
        }
    })
    .await;
    match found {
        Ok(u) => u,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// Waits until every device named has answered a poll.
pub async fn wait_available(service: &Service, ids: &[&str]) {
    let mut updates = service.subscribe();
    for id in ids {
        if service.device(id).is_some_and(|d| d.status().available) {
            continue;
        }
        wait_for(&mut updates, &format!("{id} available"), |u| {
            &*u.id == *id && u.available
        })
        .await;
    }
}

/// One HTTP exchange: status and body.
pub async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(format!("http://{addr}{path}"));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request
        .body(Full::new(Bytes::from(body.unwrap_or("").to_owned())))
        .expect("request");
    let response = tokio::time::timeout(WAIT, client.request(request))
        .await
        .expect("answer in time")
        .expect("HTTP exchange");
    let status = response.status().as_u16();
    let bytes = tokio::time::timeout(WAIT, response.into_body().collect())
        .await
        .expect("body in time")
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A device that accepts connections and never answers: it holds every connection open,
/// counts the connections and the Modbus TCP requests (whole MBAP frames) that reach it.
/// Dropping it closes them.
pub struct SilentDevice {
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    requests: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl SilentDevice {
    /// Accepts on `listener` from now on.
    pub fn start(listener: tokio::net::TcpListener) -> SilentDevice {
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        let frames = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            // Aborting this task drops the set, which aborts (and closes) every connection.
            let mut held = tokio::task::JoinSet::new();
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.spawn(count_frames(socket, Arc::clone(&frames)));
            }
        });
        SilentDevice {
            accepted,
            requests,
            task,
        }
    }

    /// Modbus TCP requests received so far, over every connection.
    pub fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits (at most [`WAIT`]) until a client has connected.
    pub async fn wait_for_a_client(&self, what: &str) {
        tokio::time::timeout(WAIT, async {
            while self.accepted.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{what}"));
    }

    /// Closes the listener and every connection, and waits until they are closed.
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for SilentDevice {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads `socket` until the peer closes it, counting whole MBAP frames (6 header bytes, then
/// the length the header gives), and never writes.
async fn count_frames(
    mut socket: tokio::net::TcpStream,
    frames: Arc<std::sync::atomic::AtomicUsize>,
) {
    use tokio::io::AsyncReadExt as _;
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 512];
    while let Ok(n) = socket.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&chunk[..n]);
        while pending.len() >= 6 {
            let total = 6 + usize::from(u16::from_be_bytes([pending[4], pending[5]]));
            if pending.len() < total {
                break;
            }
            pending.drain(..total);
            frames.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}
