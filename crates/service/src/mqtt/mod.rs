//! MQTT: every device's state on a broker, commands from it, and Home Assistant discovery.
//!
//! [`start`] connects one rumqttc client for the whole process and runs three kinds of task:
//!
//! - the **connection** task drives rumqttc's event loop, reconnects with a doubling backoff
//!   (`min_backoff` to `max_backoff`), and hands each incoming command to its device's queue
//!   without ever waiting on anything else;
//! - the **publisher** follows [`Service::subscribe`]: for each poll it publishes the device's
//!   JSON snapshot (`<prefix>/<device>/state`, the JSON `evctl read --format json` prints) and
//!   each value that changed on `<prefix>/<device>/state/<register>`, and availability
//!   changes on `<prefix>/<device>/availability`. After every (re)connection it publishes
//!   everything again: `online` on the bridge status topic, Home Assistant discovery, the
//!   availability and latest state of each device;
//! - one **command worker** per device runs the commands of `<prefix>/<device>/set/<register>`
//!   (payload: the value, as `evctl write` takes it) and `<prefix>/<device>/action/<name>`
//!   (payload: a JSON object of parameters) in order, through [`Service::write`] and
//!   [`Service::action`], so they are checked exactly as the CLI checks them, and publishes the
//!   outcome on `<prefix>/<device>/response`.
//!
//! # Key design decisions
//!
//! - **Ownership by subscription.** A process subscribes to the command topics of the devices
//!   it serves and to nothing else, so in a site split across processes (see [`Shard`]) the
//!   broker delivers a command only to the process that owns the device; a command for any
//!   other device is ignored all the same. Each process has its own client id and bridge
//!   status topic `<prefix>/bridge/<client_id>/status`, whose retained last will `offline`
//!   makes Home Assistant mark exactly that process's devices unavailable when it dies.
//! - **No command lost across a reconnect.** The session is persistent (`clean_session` off)
//!   and command subscriptions are QoS 1: while the connection is down the broker keeps the
//!   subscriptions and queues the commands, and delivers them when the same client id comes
//!   back. A command already received is in its device's queue and runs whatever the
//!   connection does; its response is queued by rumqttc and sent after the reconnection.
//!   Delivery is at least once: if the connection drops in the instant between receiving a
//!   command and acknowledging it, the broker sends it again (writes of a value are
//!   idempotent). The subscriptions are made again after every reconnection (harmless when
//!   the broker kept them, needed when it lost the session or a device joined this process).
//!   A device that left this process (a resharded site) may still have its commands
//!   delivered through the old session's subscription; they are ignored, since only the
//!   devices this process serves have a command queue.
//! - **Retained commands are refused.** A retained message on a command topic is replayed by
//!   the broker on every subscription; replaying a stale "start charging" after a restart is
//!   exactly what must not happen, so such messages are logged and dropped.
//! - **State is latest-wins, never a backlog.** While disconnected the publisher sends nothing
//!   (rumqttc would otherwise keep every message in memory); the reconnection publishes the
//!   latest state of every device instead. The poller never waits on the broker.
//! - **Secrets.** The password comes from the config or a file, never the command line; it
//!   lives only inside rumqttc's options, which are never logged.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo(service: service::Service) -> Result<(), service::mqtt::MqttError> {
//! let config = service::mqtt::MqttConfig {
//!     host: "broker.lan".into(),
//!     ..Default::default()
//! };
//! let mqtt = service::mqtt::start(&service, &config, None)?;
//! // ... later
//! mqtt.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod config;
mod connect;
mod discovery;
mod topics;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, Outgoing, Packet, Publish, QoS};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

pub use config::{MqttConfig, MqttTls};

use crate::config::Shard;
use crate::runtime::{CommandError, CommandReport, DeviceHandle, Service};
use topics::{CommandKind, CommandTopic, Topics};

/// Commands waiting per device before new ones are refused as busy.
const COMMAND_QUEUE: usize = 64;
/// Requests rumqttc buffers between us and its event loop.
const REQUEST_CHANNEL: usize = 1024;
/// Subscriptions per SUBSCRIBE packet.
const FILTERS_PER_SUBSCRIBE: usize = 64;
/// Time allowed for the goodbye (offline statuses, DISCONNECT) at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long after a connection the retained discovery configs on the broker are collected
/// before the stale ones of this site are deleted.
const CLEANUP_WINDOW: Duration = Duration::from_secs(2);

/// Why MQTT cannot start.
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    /// A setting is wrong.
    #[error("{message}")]
    Config {
        /// What is wrong and what to write instead.
        message: String,
        /// The underlying error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The `mqtt.tls` files cannot be used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// The state of the broker connection, as the connection task sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Down,
    /// Connected (the broker accepted us).
    Up,
}

/// A running MQTT bridge.
#[derive(Debug)]
pub struct MqttHandle {
    client_id: String,
    stop: watch::Sender<bool>,
    link: watch::Receiver<Link>,
    last_error: Arc<Mutex<Option<String>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl MqttHandle {
    /// Why the last connection attempt failed or the last connection ended (with its causes),
    /// if one did; for health checks and tests. Never holds credentials.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The client id in use (also the bridge status topic's level).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Whether the broker connection is up right now.
    pub fn is_connected(&self) -> bool {
        matches!(*self.link.borrow(), Link::Up)
    }

    /// Publishes `offline` for this process and its devices, disconnects, and stops every
    /// task (each step bounded in time).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let tasks = std::mem::take(&mut self.tasks);
        let all = async {
            for task in tasks {
                let _ = task.await;
            }
        };
        if tokio::time::timeout(SHUTDOWN_GRACE * 2, all).await.is_err() {
            tracing::warn!("mqtt: tasks did not stop in time");
        }
    }
}

impl Drop for MqttHandle {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Settings the tasks share.
struct Shared {
    service: Service,
    topics: Topics,
    discovery_prefix: Option<String>,
    per_value_topics: bool,
    retain: bool,
    client: AsyncClient,
    /// This process's shard: it cleans up the discovery of removed devices it would own.
    shard: Option<Shard>,
    /// Retained discovery config topics seen since the last connection, while collecting.
    seen_configs: Mutex<Option<Vec<String>>>,
}

/// Connects to the broker described by `config` and starts publishing the devices of
/// `service` and taking their commands. `shard` only shapes the default client id. Checks
/// every setting and reads the password and TLS files before returning; the connection
/// itself is made (and remade) in the background.
pub fn start(
    service: &Service,
    config: &MqttConfig,
    shard: Option<&Shard>,
) -> Result<MqttHandle, MqttError> {
    let invalid = |message: String| MqttError::Config {
        message,
        source: None,
    };
    if !topics::valid_prefix(&config.topic_prefix) {
        return Err(invalid(format!(
            "mqtt.topic_prefix `{}`: use topic levels separated by `/`, without `+`, `#` or \
             empty levels",
            config.topic_prefix
        )));
    }
    if !config.discovery_prefix.is_empty() && !topics::valid_prefix(&config.discovery_prefix) {
        return Err(invalid(format!(
            "mqtt.discovery_prefix `{}`: use topic levels separated by `/` (or empty for no \
             discovery)",
            config.discovery_prefix
        )));
    }
    let client_id = config.effective_client_id(shard);
    if !topics::valid_level(&client_id) {
        return Err(invalid(format!(
            "mqtt.client_id `{client_id}`: it names a topic level, so it may not contain `/`, \
             `+` or `#`"
        )));
    }
    if let Some(device) = service.devices().find(|d| !topics::valid_level(d.id())) {
        return Err(invalid(format!(
            "device id `{}` cannot be an MQTT topic level",
            device.id()
        )));
    }
    if config.min_backoff.is_zero() || config.max_backoff < config.min_backoff {
        return Err(invalid(
            "mqtt: min_backoff must be more than 0 and at most max_backoff".to_owned(),
        ));
    }
    let topics = Topics::new(&config.topic_prefix, &client_id);
    let resolved = connect::resolve(config, &client_id, &topics)?;
    let (client, eventloop) = AsyncClient::new(resolved.options, REQUEST_CHANNEL);
    let shared = Arc::new(Shared {
        service: service.clone(),
        topics,
        discovery_prefix: (!config.discovery_prefix.is_empty())
            .then(|| config.discovery_prefix.clone()),
        // Discovered entities read the per-value topics.
        per_value_topics: config.per_value_topics || !config.discovery_prefix.is_empty(),
        retain: config.retain,
        client,
        shard: shard.cloned(),
        seen_configs: Mutex::new(None),
    });
    let (stop, _) = watch::channel(false);
    let (link_tx, link) = watch::channel(Link::Down);

    let mut tasks = Vec::new();
    let mut queues = HashMap::new();
    for device in service.devices() {
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        queues.insert(device.id().to_owned(), tx);
        tasks.push(tokio::spawn(command_worker(
            Arc::clone(&shared),
            Arc::clone(device),
            rx,
        )));
    }
    tracing::info!(broker = %resolved.broker, client_id = %client_id, devices = queues.len(), "mqtt: starting");
    let updates = service.subscribe();
    let publisher = tokio::spawn(publisher(
        Arc::clone(&shared),
        updates,
        link.clone(),
        stop.subscribe(),
        service.stopping(),
    ));
    let last_error = Arc::new(Mutex::new(None));
    tasks.push(tokio::spawn(drive(
        Arc::clone(&shared),
        eventloop,
        queues,
        Connection {
            link: link_tx,
            last_error: Arc::clone(&last_error),
            min_backoff: config.min_backoff,
            max_backoff: config.max_backoff,
            broker: resolved.broker,
        },
        publisher,
    )));
    Ok(MqttHandle {
        client_id,
        stop,
        link,
        last_error,
        tasks,
    })
}

/// What the connection task reports and how it retries.
struct Connection {
    link: watch::Sender<Link>,
    last_error: Arc<Mutex<Option<String>>>,
    min_backoff: Duration,
    max_backoff: Duration,
    /// For logs: the broker's address, never with credentials.
    broker: String,
}

/// The connection task: polls rumqttc, reconnects with backoff, routes commands. Ends when
/// the publisher has said goodbye (or gave up) and the DISCONNECT went out.
async fn drive(
    shared: Arc<Shared>,
    mut eventloop: EventLoop,
    queues: HashMap<String, mpsc::Sender<Incoming>>,
    connection: Connection,
    mut publisher: JoinHandle<()>,
) {
    let Connection {
        link,
        last_error,
        min_backoff,
        max_backoff,
        broker,
    } = connection;
    let mut backoff = min_backoff;
    let mut publisher_done = false;
    loop {
        let event = tokio::select! {
            event = eventloop.poll() => event,
            _ = &mut publisher, if !publisher_done => {
                publisher_done = true;
                // The publisher asked for a DISCONNECT (or could not); give it a moment to go out.
                if matches!(*link.borrow(), Link::Up) {
                    let flush = flush_until_disconnect(&mut eventloop);
                    let _ = tokio::time::timeout(SHUTDOWN_GRACE, flush).await;
                }
                break;
            }
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                backoff = min_backoff;
                tracing::info!(%broker, session_present = ack.session_present, "mqtt: connected");
                let _ = link.send(Link::Up);
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => route(&shared, &queues, publish),
            Ok(_) => {}
            Err(err) => {
                let was_up = matches!(*link.borrow(), Link::Up);
                let _ = link.send(Link::Down);
                let error = crate::error_chain(&err);
                if was_up {
                    tracing::warn!(%broker, %error, retry = ?backoff, "mqtt: connection lost");
                } else {
                    tracing::warn!(%broker, %error, retry = ?backoff, "mqtt: cannot connect");
                }
                *last_error.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = &mut publisher, if !publisher_done => {
                        publisher_done = true;
                        break;
                    }
                }
                backoff = (backoff * 2).min(max_backoff);
            }
        }
    }
    let _ = link.send(Link::Down);
    if !publisher_done {
        publisher.abort();
    }
}

/// Polls until the DISCONNECT we asked for has been written (or the connection fails).
async fn flush_until_disconnect(eventloop: &mut EventLoop) {
    loop {
        match eventloop.poll().await {
            Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// A command taken off the broker, waiting for its device's worker.
#[derive(Debug)]
struct Incoming {
    topic: String,
    kind: CommandKind,
    payload: bytes::Bytes,
}

/// Hands a command to its device's queue without waiting. Anything that is not a command
/// for a device of this process is ignored.
fn route(shared: &Shared, queues: &HashMap<String, mpsc::Sender<Incoming>>, publish: Publish) {
    if let Some(prefix) = &shared.discovery_prefix
        && publish.topic.starts_with(&format!("{prefix}/"))
        && publish.topic.ends_with("/config")
    {
        // A retained discovery config (ours or anyone's), collected for the cleanup.
        if publish.retain && !publish.payload.is_empty() {
            let mut seen = shared
                .seen_configs
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(seen) = seen.as_mut() {
                seen.push(publish.topic);
            }
        }
        return;
    }
    let Some(CommandTopic { device, kind }) = shared.topics.parse_command(&publish.topic) else {
        tracing::debug!(topic = %publish.topic, "mqtt: not a command topic; ignored");
        return;
    };
    let Some(queue) = queues.get(&device) else {
        tracing::debug!(topic = %publish.topic, "mqtt: command for a device another process owns; ignored");
        return;
    };
    if publish.retain {
        tracing::warn!(
            topic = %publish.topic,
            "mqtt: ignored a retained command (a retained message is replayed on every \
             subscription); publish commands without the retain flag"
        );
        return;
    }
    let incoming = Incoming {
        topic: publish.topic,
        kind,
        payload: publish.payload,
    };
    if let Err(mpsc::error::TrySendError::Full(incoming)) = queue.try_send(incoming) {
        let response = Response::refused(
            &incoming,
            "busy",
            format!("device `{device}` has {COMMAND_QUEUE} commands waiting; try again later"),
        );
        let _ = shared.client.try_publish(
            shared.topics.response(&device),
            QoS::AtLeastOnce,
            false,
            response.to_json(),
        );
    }
}

/// What `<prefix>/<device>/response` carries after each command.
#[derive(Debug, Serialize)]
struct Response<'a> {
    /// The command topic.
    topic: &'a str,
    /// `set` or `action`.
    command: &'static str,
    /// The register or action.
    name: &'a str,
    /// Whether it was carried out.
    ok: bool,
    /// On failure: `invalid`, `not_found`, `busy`, `timeout` or `device`.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    /// On failure: what went wrong, with its causes.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// On success: the requests sent and the read-backs.
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<CommandReport>,
}

impl<'a> Response<'a> {
    fn base(incoming: &'a Incoming) -> Response<'a> {
        let (command, name) = match &incoming.kind {
            CommandKind::Set(name) => ("set", name.as_str()),
            CommandKind::Action(name) => ("action", name.as_str()),
        };
        Response {
            topic: &incoming.topic,
            command,
            name,
            ok: false,
            reason: None,
            error: None,
            report: None,
        }
    }

    fn refused(incoming: &'a Incoming, reason: &'static str, error: String) -> Response<'a> {
        Response {
            reason: Some(reason),
            error: Some(error),
            ..Response::base(incoming)
        }
    }

    fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{\"ok\":false}".to_owned())
    }
}

/// Runs the commands of one device, in order of arrival.
async fn command_worker(
    shared: Arc<Shared>,
    device: Arc<DeviceHandle>,
    mut commands: mpsc::Receiver<Incoming>,
) {
    let id = device.id().to_owned();
    let response_topic = shared.topics.response(&id);
    while let Some(incoming) = commands.recv().await {
        let outcome = run_command(&shared.service, &id, &incoming).await;
        let response = match &outcome {
            Ok(report) => {
                tracing::info!(topic = %incoming.topic, "mqtt: command carried out");
                Response {
                    ok: true,
                    report: Some(report.clone()),
                    ..Response::base(&incoming)
                }
            }
            Err(Refusal::Payload(message)) => {
                tracing::info!(topic = %incoming.topic, error = %message, "mqtt: command refused");
                Response::refused(&incoming, "invalid", message.clone())
            }
            Err(Refusal::Command(err)) => {
                let error = crate::error_chain(err);
                tracing::info!(topic = %incoming.topic, %error, "mqtt: command failed");
                let reason = if err.is_not_found() {
                    "not_found"
                } else if err.is_timeout() {
                    "timeout"
                } else if matches!(err, CommandError::Device { .. }) {
                    "device"
                } else {
                    "invalid"
                };
                Response::refused(&incoming, reason, error)
            }
        };
        // Waits for room in rumqttc's queue; sent after a reconnection if need be.
        if shared
            .client
            .publish(&response_topic, QoS::AtLeastOnce, false, response.to_json())
            .await
            .is_err()
        {
            return; // The client is gone: shutting down.
        }
    }
}

enum Refusal {
    Payload(String),
    Command(CommandError),
}

async fn run_command(
    service: &Service,
    device: &str,
    incoming: &Incoming,
) -> Result<CommandReport, Refusal> {
    let text = std::str::from_utf8(&incoming.payload)
        .map_err(|_| Refusal::Payload("the payload is not UTF-8 text".to_owned()))?
        .trim();
    match &incoming.kind {
        CommandKind::Set(register) => {
            if text.is_empty() {
                return Err(Refusal::Payload(format!(
                    "the payload is empty: publish the value to write to `{register}`"
                )));
            }
            service
                .write(device, &[(register.clone(), text.to_owned())])
                .await
                .map_err(Refusal::Command)
        }
        CommandKind::Action(name) => {
            let params = action_params(text).map_err(Refusal::Payload)?;
            service
                .action(device, name, &params)
                .await
                .map_err(Refusal::Command)
        }
    }
}

/// The parameters of an action from its payload: nothing, or a JSON object whose values are
/// strings, numbers or booleans, each passed on as the CLI's `key=value` text.
fn action_params(text: &str) -> Result<Vec<(String, String)>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let shape = || {
        "the payload of an action must be a JSON object of parameters, e.g. \
         {\"start\": \"01:00\", \"chargeToPercent\": 55}"
            .to_owned()
    };
    let json: serde_json::Value = serde_json::from_str(text).map_err(|_| shape())?;
    let serde_json::Value::Object(object) = json else {
        return Err(shape());
    };
    object
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => {
                    return Err(format!(
                        "parameter `{key}`: give a string, a number or a boolean"
                    ));
                }
            };
            Ok((key, text))
        })
        .collect()
}

/// The publisher task: see the module documentation.
async fn publisher(
    shared: Arc<Shared>,
    mut updates: broadcast::Receiver<crate::runtime::DeviceUpdate>,
    mut link: watch::Receiver<Link>,
    mut stop: watch::Receiver<bool>,
    mut service_stopping: watch::Receiver<bool>,
) {
    let mut cache = Published::default();
    let mut connected = false;
    let mut cleanup_at: Option<tokio::time::Instant> = None;
    enum Step {
        Stop,
        Link(Link),
        Update(Result<crate::runtime::DeviceUpdate, broadcast::error::RecvError>),
        Cleanup,
    }
    loop {
        let cleanup = async {
            match cleanup_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let step = tokio::select! {
            () = cleanup => Step::Cleanup,
            _ = stop.wait_for(|s| *s) => Step::Stop,
            _ = service_stopping.wait_for(|s| *s) => Step::Stop,
            changed = link.changed() => match changed {
                Ok(()) => Step::Link(*link.borrow_and_update()),
                Err(_) => return,
            },
            update = updates.recv() => Step::Update(update),
        };
        let result = match step {
            Step::Stop => break,
            Step::Link(Link::Up) => {
                connected = true;
                cache = Published::default();
                let result = resync(&shared, &mut cache).await;
                if shared.discovery_prefix.is_some() {
                    cleanup_at = Some(tokio::time::Instant::now() + CLEANUP_WINDOW);
                }
                result
            }
            Step::Link(Link::Down) => {
                connected = false;
                cleanup_at = None;
                Ok(())
            }
            Step::Cleanup => {
                cleanup_at = None;
                remove_stale_discovery(&shared).await
            }
            Step::Update(Ok(update)) if connected => {
                publish_update(&shared, &mut cache, &update).await
            }
            // Published from the device's status after the reconnection.
            Step::Update(Ok(_)) => Ok(()),
            Step::Update(Err(broadcast::error::RecvError::Lagged(missed))) => {
                tracing::debug!(
                    missed,
                    "mqtt: publisher fell behind; republishing every device"
                );
                if connected {
                    publish_all_devices(&shared, &mut cache).await
                } else {
                    Ok(())
                }
            }
            Step::Update(Err(broadcast::error::RecvError::Closed)) => break,
        };
        if result.is_err() {
            return; // The event loop is gone.
        }
    }
    if connected {
        // Goodbye: the devices and the bridge go offline; a clean DISCONNECT does not
        // trigger the last will, so the bridge status is published here.
        let goodbye = async {
            for device in shared.service.devices() {
                publish(
                    &shared,
                    shared.topics.availability(device.id()),
                    true,
                    "offline",
                )
                .await?;
            }
            publish(&shared, shared.topics.bridge_status(), true, "offline").await?;
            shared.client.disconnect().await
        };
        if tokio::time::timeout(SHUTDOWN_GRACE, goodbye).await.is_err() {
            tracing::warn!("mqtt: could not say goodbye in time");
        }
    }
}

/// Payloads already published, so values that did not change are not sent again.
#[derive(Default)]
struct Published {
    values: HashMap<String, String>,
    availability: HashMap<String, bool>,
}

async fn publish(
    shared: &Shared,
    topic: String,
    retain: bool,
    payload: impl Into<Vec<u8>>,
) -> Result<(), rumqttc::ClientError> {
    shared
        .client
        .publish(topic, QoS::AtLeastOnce, retain, payload)
        .await
}

/// Everything, after a (re)connection.
///
/// The command subscriptions are made again even when the broker kept the session: a device
/// may have joined this process since (a site resharded), and subscribing again to a filter
/// the session has replaces it without interrupting the flow of queued messages (MQTT 3.1.1,
/// 3.8.4).
async fn resync(shared: &Shared, cache: &mut Published) -> Result<(), rumqttc::ClientError> {
    let filters: Vec<rumqttc::SubscribeFilter> = shared
        .service
        .devices()
        .flat_map(|d| shared.topics.command_filters(d.id()))
        .map(|f| rumqttc::SubscribeFilter::new(f, QoS::AtLeastOnce))
        .collect();
    for chunk in filters.chunks(FILTERS_PER_SUBSCRIBE) {
        shared.client.subscribe_many(chunk.to_vec()).await?;
    }
    if let Some(prefix) = &shared.discovery_prefix {
        // The broker replays every retained discovery config; the stale ones of this site
        // are deleted once the window has passed (`remove_stale_discovery`).
        *shared
            .seen_configs
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Vec::new());
        shared
            .client
            .subscribe(discovery_filter(prefix), QoS::AtLeastOnce)
            .await?;
    }
    publish(shared, shared.topics.bridge_status(), true, "online").await?;
    for device in shared.service.devices() {
        publish_discovery(shared, device, device.status().snapshot.as_deref()).await?;
    }
    publish_all_devices(shared, cache).await
}

fn discovery_filter(prefix: &str) -> String {
    format!("{prefix}/+/+/+/config")
}

/// Deletes (an empty retained payload) every retained discovery config of this site that the
/// current site config no longer gives: an entity of a served device that its map no longer
/// has, and every entity of a device no longer in the site config that this process's shard
/// would own (so two shards never delete each other's devices). Configs of other programs are
/// left alone.
async fn remove_stale_discovery(shared: &Shared) -> Result<(), rumqttc::ClientError> {
    let Some(prefix) = &shared.discovery_prefix else {
        return Ok(());
    };
    let seen = shared
        .seen_configs
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
        .unwrap_or_default();
    shared.client.unsubscribe(discovery_filter(prefix)).await?;
    let current: std::collections::HashSet<String> = shared
        .service
        .devices()
        .flat_map(|d| discovery::messages(&shared.topics, prefix, d.id(), d.map(), None))
        .map(|m| m.topic)
        .collect();
    let node_prefix = discovery::node_prefix(&shared.topics);
    let mut removed = 0;
    for topic in seen {
        if current.contains(&topic) {
            continue;
        }
        let Some(rest) = topic.strip_prefix(&format!("{prefix}/")) else {
            continue;
        };
        let levels: Vec<&str> = rest.split('/').collect();
        let [_component, node, _object, "config"] = levels[..] else {
            continue;
        };
        let Some(device) = node.strip_prefix(&node_prefix) else {
            continue;
        };
        let ours = shared.service.device(device).is_some()
            || shared.shard.as_ref().is_none_or(|s| s.owns(device));
        if ours {
            tracing::info!(%topic, "mqtt: removing Home Assistant discovery the site config no longer gives");
            publish(shared, topic, true, Vec::new()).await?;
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(removed, "mqtt: stale Home Assistant entities removed");
    }
    Ok(())
}

/// The Home Assistant discovery of one device (when discovery is on), with the bounds its
/// latest readings give.
async fn publish_discovery(
    shared: &Shared,
    device: &DeviceHandle,
    snapshot: Option<&device_maps::Snapshot>,
) -> Result<(), rumqttc::ClientError> {
    let Some(prefix) = &shared.discovery_prefix else {
        return Ok(());
    };
    let messages = discovery::messages(&shared.topics, prefix, device.id(), device.map(), snapshot);
    for message in messages {
        publish(shared, message.topic, true, message.payload).await?;
    }
    Ok(())
}

async fn publish_all_devices(
    shared: &Shared,
    cache: &mut Published,
) -> Result<(), rumqttc::ClientError> {
    for device in shared.service.devices() {
        let status = device.status();
        publish_device(
            shared,
            cache,
            device,
            status.available,
            status.snapshot.as_deref(),
        )
        .await?;
    }
    Ok(())
}

async fn publish_update(
    shared: &Shared,
    cache: &mut Published,
    update: &crate::runtime::DeviceUpdate,
) -> Result<(), rumqttc::ClientError> {
    let Some(device) = shared.service.device(&update.id) else {
        return Ok(());
    };
    if update.available && update.availability_changed {
        // Bounds read from the device (a charger's maximum current) are known now.
        publish_discovery(shared, device, Some(&update.snapshot)).await?;
    }
    publish_device(
        shared,
        cache,
        device,
        update.available,
        Some(&update.snapshot),
    )
    .await
}

async fn publish_device(
    shared: &Shared,
    cache: &mut Published,
    device: &DeviceHandle,
    available: bool,
    snapshot: Option<&device_maps::Snapshot>,
) -> Result<(), rumqttc::ClientError> {
    let id = device.id();
    let map = device.map();
    if let Some(snapshot) = snapshot {
        let json = outputs::json(snapshot, map, &outputs::Options::default());
        shared
            .client
            .publish(
                shared.topics.state(id),
                QoS::AtMostOnce,
                shared.retain,
                json.trim_end().as_bytes().to_vec(),
            )
            .await?;
        if shared.per_value_topics {
            for reading in &snapshot.readings {
                let register = map.register(&reading.name);
                if register.is_some_and(|r| !discovery::has_value_topic(r)) {
                    continue;
                }
                let payload = discovery::value_payload(register, reading);
                let key = format!("{id}/{}", reading.name);
                if cache.values.get(&key) == Some(&payload) {
                    continue;
                }
                shared
                    .client
                    .publish(
                        shared.topics.value(id, &reading.name),
                        QoS::AtMostOnce,
                        shared.retain,
                        payload.clone().into_bytes(),
                    )
                    .await?;
                cache.values.insert(key, payload);
            }
        }
    }
    if cache.availability.get(id) != Some(&available) {
        let payload = if available { "online" } else { "offline" };
        publish(shared, shared.topics.availability(id), true, payload).await?;
        cache.availability.insert(id.to_owned(), available);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_payloads() {
        assert_eq!(action_params(""), Ok(vec![]));
        assert_eq!(action_params("{}"), Ok(vec![]));
        // serde_json may keep insertion order or sort keys, depending on its features.
        let mut got = action_params(r#"{"start": "0100", "chargeToPercent": 55, "enable": true}"#)
            .expect("valid parameters");
        got.sort();
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        assert_eq!(
            got,
            vec![
                pair("chargeToPercent", "55"),
                pair("enable", "true"),
                pair("start", "0100")
            ]
        );
        assert!(action_params("[1]").is_err());
        assert!(action_params("start=0100").is_err());
        assert!(action_params(r#"{"a": null}"#).is_err());
        assert!(action_params(r#"{"a": [1]}"#).is_err());
    }
}
