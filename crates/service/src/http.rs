//! The HTTP API (axum).
//!
//! | Method and path                   | What                                                   |
//! |-----------------------------------|--------------------------------------------------------|
//! | `GET /healthz`                    | the process is up; counts of devices and available ones |
//! | `GET /metrics`                    | Prometheus text for every device, plus poll metrics     |
//! | `GET /devices`                    | every device: map, address, availability, counters     |
//! | `GET /devices/{id}`               | latest readings as JSON, read time, age, stale names   |
//! | `POST /devices/{id}/registers`    | write: `{"charging_current": 16, ...}` (bearer token)  |
//! | `POST /devices/{id}/actions/{name}` | action: `{"start": "0100", ...}` (bearer token)      |
//! | `GET /devices/{id}/map`           | what the dashboard draws: groups, registers, write rules, actions |
//! | `GET /devices/{id}/history?register=R` | the recent values of one register (`http.history`) |
//! | `GET /site`                       | site totals from the registers whose map gives a `role` |
//! | `GET /events`                     | server-sent events: one `device` event per poll        |
//! | `GET /`, `/dashboard.js`, `/dashboard.css` | the dashboard, embedded in the binary          |
//!
//! Every error is `{"error": "...", "causes": [...]}` with a status that means what it says:
//! 400 a value the map refuses or a body that is not JSON, 401 a missing or wrong token, 403
//! writes disabled (no token configured), 404 an unknown device, register, action or path, 502
//! the device failed, 504 it did not answer in time.
//!
//! The token is compared in constant time and never logged; the request log holds method,
//! path and status only.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::config::Secret;
use crate::history::History;
use crate::influx::Influx;
use crate::runtime::{CommandError, DeviceHandle, Service};

/// What the API serves besides the devices: the outputs whose state it shows.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// The InfluxDB writer, whose counters join `/metrics`.
    pub influx: Option<Influx>,
    /// The dashboard's history (none: `/devices/{id}/history` says it is off).
    pub history: Option<History>,
}

#[derive(Clone)]
struct AppState {
    service: Service,
    token: Option<Arc<Secret>>,
    extras: Extras,
    /// Turns true when the server is shutting down, so event streams end.
    closing: tokio::sync::watch::Receiver<bool>,
}

/// The API's routes over `service`; `token` unlocks the write and action endpoints (none:
/// they answer 403).
pub fn router(service: Service, token: Option<Secret>, extras: Extras) -> Router {
    // Event streams end with the service when no server shutdown is wired in.
    router_closing(service.clone(), token, extras, service.stopping())
}

fn router_closing(
    service: Service,
    token: Option<Secret>,
    extras: Extras,
    closing: tokio::sync::watch::Receiver<bool>,
) -> Router {
    let state = AppState {
        service,
        token: token.map(Arc::new),
        extras,
        closing,
    };
    Router::new()
        .route("/", get(crate::dashboard::page))
        .route("/dashboard.js", get(crate::dashboard::script))
        .route("/dashboard.css", get(crate::dashboard::style))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/events", get(events))
        .route("/devices", get(devices))
        .route("/devices/{id}", get(device))
        .route("/site", get(site))
        .route("/devices/{id}/map", get(device_map))
        .route("/devices/{id}/history", get(history))
        .route("/devices/{id}/registers", post(write_registers))
        .route("/devices/{id}/actions/{name}", post(run_action))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(log_request))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` resolves; open event streams end then.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Service,
    token: Option<Secret>,
    extras: Extras,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (closing_tx, closing) = tokio::sync::watch::channel(false);
    let mut stopping = service.stopping();
    let router = router_closing(service, token, extras, closing);
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            tokio::select! {
                () = shutdown => {}
                _ = stopping.wait_for(|s| *s) => {}
            }
            let _ = closing_tx.send(true);
        })
        .await
}

async fn log_request(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    tracing::debug!(%method, %path, status = response.status().as_u16(), "http request");
    response
}

/// A JSON error response.
struct ApiError {
    status: StatusCode,
    message: String,
    causes: Vec<String>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            causes: Vec::new(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.message, "causes": self.causes});
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<CommandError> for ApiError {
    fn from(err: CommandError) -> Self {
        let status = if err.is_not_found() {
            StatusCode::NOT_FOUND
        } else if err.is_timeout() {
            StatusCode::GATEWAY_TIMEOUT
        } else {
            match err {
                CommandError::Invalid { .. } | CommandError::Empty { .. } => {
                    StatusCode::BAD_REQUEST
                }
                CommandError::Device { .. }
                | CommandError::Mismatch { .. }
                | CommandError::Unverified { .. } => StatusCode::BAD_GATEWAY,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            }
        };
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        ApiError {
            status,
            message: err.to_string(),
            causes,
        }
    }
}

/// Server-sent events: a `device` event with the body of `GET /devices/{id}` after every
/// poll of every device. A client that falls behind misses polls, never blocks one.
async fn events(
    State(state): State<AppState>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let updates = state.service.subscribe();
    let stream = futures_util::stream::unfold(
        (updates, state.service.clone(), state.closing.clone()),
        |(mut updates, service, mut closing)| async move {
            loop {
                let update = tokio::select! {
                    changed = closing.wait_for(|c| *c) => {
                        let _ = changed;
                        return None;
                    }
                    update = updates.recv() => update,
                };
                match update {
                    Ok(update) => {
                        let Some(device) = service.device(&update.id) else {
                            continue;
                        };
                        let Ok(body) = device_body(device, false) else {
                            continue;
                        };
                        let event = Event::default().event("device").data(body.to_string());
                        return Some((Ok(event), (updates, service, closing)));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// The site overview: for each role, the sum over the devices that answered their last poll
/// (the mean for state of charge), in W, kWh and %, and which devices and registers it adds.
async fn site(State(state): State<AppState>) -> Response {
    axum::Json(site_totals(&state.service)).into_response()
}

/// See [`site`].
pub fn site_totals(service: &Service) -> Json {
    let mut totals: Vec<(device_maps::Quantity, f64, usize, Vec<Json>)> = Vec::new();
    for device in service.devices() {
        let status = device.status();
        if !status.available {
            continue;
        }
        let Some(snapshot) = &status.snapshot else {
            continue;
        };
        for register in device.map().registers.iter() {
            let Some(role) = register.role else { continue };
            if status.stale.contains(&register.name) {
                continue;
            }
            let Some(Ok(value)) = snapshot.get(&register.name).map(|r| &r.value) else {
                continue;
            };
            let Some(value) = value
                .as_f64()
                .filter(|v| v.is_finite())
                .and_then(|v| role.site_value(v, register.unit.as_deref().unwrap_or("")))
            else {
                continue;
            };
            let from = json!({"device": device.id(), "register": register.name});
            match totals.iter_mut().find(|t| t.0 == role.quantity) {
                Some(t) => {
                    t.1 += value;
                    t.2 += 1;
                    t.3.push(from);
                }
                None => totals.push((role.quantity, value, 1, vec![from])),
            }
        }
    }
    let mut out = serde_json::Map::new();
    for quantity in device_maps::Quantity::ALL {
        let entry = match totals.iter().find(|t| t.0 == quantity) {
            Some((_, sum, n, from)) => {
                let value = if quantity == device_maps::Quantity::BatterySoc {
                    sum / *n as f64
                } else {
                    *sum
                };
                json!({
                    "value": (value * 1000.0).round() / 1000.0,
                    "unit": match quantity.dimension() {
                        device_maps::Dimension::Power => "W",
                        device_maps::Dimension::Energy => "kWh",
                        device_maps::Dimension::Percent => "%",
                    },
                    "from": from,
                })
            }
            None => Json::Null,
        };
        out.insert(quantity.name().to_owned(), entry);
    }
    Json::Object(out)
}

/// What the dashboard needs to draw a device: its registers by group, with their write rules
/// and choices, and its actions with their parameters.
async fn device_map(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let device = state
        .service
        .device(&id)
        .ok_or_else(|| unknown_device(&id))?;
    Ok(axum::Json(crate::dashboard::describe(device.map())).into_response())
}

async fn history(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let device = state
        .service
        .device(&id)
        .ok_or_else(|| unknown_device(&id))?;
    let Some(name) = query.get("register") else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "say which register: /devices/{id}/history?register=NAME",
        ));
    };
    let Some(register) = device.map().registers.iter().find(|r| &r.name == name) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "map `{}` has no register `{name}` (GET /devices/{id}/map lists them)",
                device.map().id
            ),
        ));
    };
    let Some(recorder) = &state.extras.history else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no history is kept (http.history is 0s)",
        ));
    };
    let points: Vec<Json> = recorder
        .series(&id, name)
        .into_iter()
        .map(|(at, value)| json!([at, value]))
        .collect();
    Ok(axum::Json(json!({
        "device": id,
        "register": register.name,
        "unit": register.unit,
        "capacity": recorder.capacity(device.spec().interval),
        "spacing_ms": recorder.spacing_ms(device.spec().interval),
        "points": points,
    }))
    .into_response())
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such endpoint (try /devices, /metrics or /healthz)",
    )
}

async fn healthz(State(state): State<AppState>) -> Response {
    let total = state.service.devices().count();
    let available = state
        .service
        .devices()
        .filter(|d| d.status().available)
        .count();
    let uptime = state
        .service
        .started()
        .elapsed()
        .unwrap_or_default()
        .as_secs_f64();
    axum::Json(json!({
        "status": "ok",
        "devices": total,
        "available": available,
        "uptime_seconds": (uptime * 1000.0).round() / 1000.0,
    }))
    .into_response()
}

fn device_summary(device: &DeviceHandle) -> Json {
    let status = device.status();
    let map = device.map();
    json!({
        "id": device.id(),
        "map": map.id,
        "manufacturer": map.manufacturer,
        "model": map.model,
        "address": device.address(),
        "interval_seconds": device.spec().interval.as_secs_f64(),
        "available": status.available,
        "last_success": status.last_success.map(rfc3339),
        "last_error": status.last_error.as_deref(),
        "polls": status.polls,
        "failures": status.failures,
        "consecutive_failures": status.consecutive_failures,
    })
}

async fn devices(State(state): State<AppState>) -> Response {
    let list: Vec<Json> = state.service.devices().map(|d| device_summary(d)).collect();
    axum::Json(json!({ "devices": list })).into_response()
}

async fn device(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let nested = match query.get("nested").map(String::as_str) {
        None | Some("false" | "0") => false,
        Some("true" | "1" | "") => true,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("nested={other}: write nested=true or nested=false"),
            ));
        }
    };
    let device = state
        .service
        .device(&id)
        .ok_or_else(|| unknown_device(&id))?;
    let body = device_body(device, nested)?;
    Ok(axum::Json(body).into_response())
}

/// A device's summary with its latest readings, as `GET /devices/{id}` and the event stream
/// give it.
fn device_body(device: &DeviceHandle, nested: bool) -> Result<Json, ApiError> {
    let status = device.status();
    let mut body = device_summary(device);
    let (values, read_at) = match &status.snapshot {
        Some(snapshot) => {
            let options = outputs::Options {
                device: Some(device.id().to_owned()),
                nested,
                ..outputs::Options::default()
            };
            let text = outputs::json(snapshot, device.map(), &options);
            let values: Json = serde_json::from_str(&text).map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!(
                        "cannot render the readings of `{}` as JSON: {e}",
                        device.id()
                    ),
                )
            })?;
            (values, Some(snapshot.started_at))
        }
        None => (Json::Null, None),
    };
    // The age of the newest successful read; stale values carry their own older times.
    let read_at = status.last_success.or(read_at);
    let age = read_at.and_then(|t| t.elapsed().ok());
    if let Json::Object(fields) = &mut body {
        fields.insert("read_at".into(), json!(read_at.map(rfc3339)));
        fields.insert(
            "age_seconds".into(),
            json!(age.map(|a| (a.as_secs_f64() * 1000.0).round() / 1000.0)),
        );
        fields.insert("stale".into(), json!(&*status.stale));
        fields.insert("values".into(), values);
    }
    Ok(body)
}

fn unknown_device(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no device `{id}` here (GET /devices lists them)"),
    )
}

/// Checks the bearer token; the comparison takes the same time wherever the tokens differ.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &state.token else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "writes are disabled: configure http.token or http.token_file to enable them",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    match given {
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this endpoint needs `Authorization: Bearer <token>`",
        )),
        Some(candidate) if token.matches(candidate.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong token")),
    }
}

/// A JSON object's members in the order they were written (serde_json's map sorts them).
struct Ordered(Vec<(String, Json)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object of names to values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Ordered, A::Error> {
                let mut members = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Json>()? {
                    members.push((k, v));
                }
                Ok(Ordered(members))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// The command body of `POST /devices/{id}/registers` (`allow_empty: false`) or
/// `.../actions/{name}` (`true`) as `(name, value as text)` pairs, or the message of the 400
/// the API answers; the parsing the HTTP handlers do, without a socket (the fuzz target's door).
pub fn parse_command_body(body: &[u8], allow_empty: bool) -> Result<Vec<(String, String)>, String> {
    assignments(&Bytes::copy_from_slice(body), allow_empty).map_err(|e| e.message)
}

/// Parses a body of `{"name": value}` into `(name, value as text)` pairs, in order.
fn assignments(body: &Bytes, allow_empty: bool) -> Result<Vec<(String, String)>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        if allow_empty {
            return Ok(Vec::new());
        }
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object of register names to values, e.g. {\"charging_current\": 16}",
        ));
    }
    let Ordered(members) = serde_json::from_slice(body).map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        message: "the body must be a JSON object of names to values".to_owned(),
        causes: vec![e.to_string()],
    })?;
    members
        .into_iter()
        .map(|(name, value)| {
            let text = match value {
                Json::String(s) => s,
                Json::Number(n) => n.to_string(),
                Json::Bool(b) => b.to_string(),
                other => {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        format!(
                            "`{name}`: {other} is not a value; give a number, text or true/false"
                        ),
                    ));
                }
            };
            Ok((name, text))
        })
        .collect()
}

async fn write_registers(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let pairs = assignments(&body, false)?;
    let report = state.service.write(&id, &pairs).await.map_err(|err| {
        // The URL names the device; a register is part of the body, so an unknown one is a
        // request that fails validation (400), not a missing resource (404).
        let unknown_register = matches!(
            &err,
            CommandError::Invalid { source, .. }
                if matches!(**source, device_maps::WriteError::UnknownRegister { .. })
        );
        let mut api = ApiError::from(err);
        if unknown_register {
            api.status = StatusCode::BAD_REQUEST;
        }
        api
    })?;
    Ok(axum::Json(report).into_response())
}

async fn run_action(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let params = assignments(&body, true)?;
    let report = state.service.action(&id, &name, &params).await?;
    Ok(axum::Json(report).into_response())
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut text = render_metrics(&state.service);
    if let Some(influx) = &state.extras.influx {
        text.push_str(&influx.metrics());
    }
    if let Some(history) = &state.extras.history {
        text.push_str(&history.metrics());
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

/// Prometheus text for every device (fresh readings only: a device that does not answer has
/// no values, and a value this poll could not read is left out rather than repeated), with
/// every metric family written once, followed by the service's own poll metrics.
pub fn render_metrics(service: &Service) -> String {
    let mut families = Families::default();
    for device in service.devices() {
        let status = device.status();
        if !status.available {
            continue;
        }
        let Some(snapshot) = &status.snapshot else {
            continue;
        };
        let mut fresh = (**snapshot).clone();
        fresh.readings.retain(|r| !status.stale.contains(&r.name));
        let options = outputs::Options {
            device: Some(device.id().to_owned()),
            ..outputs::Options::default()
        };
        families.add(&outputs::prometheus(&fresh, device.map(), &options));
    }
    let mut out = families.finish();
    let mut own = |name: &str, kind: &str, help: &str, value: &dyn Fn(&DeviceHandle) -> f64| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for device in service.devices() {
            let _ = writeln!(
                out,
                "{name}{{device=\"{}\",map=\"{}\"}} {}",
                device.id(),
                device.map().id,
                value(device)
            );
        }
    };
    own(
        "evctl_device_up",
        "gauge",
        "Whether the device answered its last poll",
        &|d| f64::from(u8::from(d.status().available)),
    );
    own(
        "evctl_device_polls_total",
        "counter",
        "Polls of the device",
        &|d| d.status().polls as f64,
    );
    own(
        "evctl_device_poll_failures_total",
        "counter",
        "Polls the device did not answer",
        &|d| d.status().failures as f64,
    );
    own(
        "evctl_device_poll_lag_seconds",
        "gauge",
        "How late the device's last scheduled poll started",
        &|d| d.status().last_lag.as_secs_f64(),
    );
    own(
        "evctl_device_last_success_timestamp_seconds",
        "gauge",
        "When the device last answered (Unix time)",
        &|d| {
            d.status()
                .last_success
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0.0, |t| t.as_secs_f64())
        },
    );
    out
}

/// Metric families merged from several renderings: each `# HELP`/`# TYPE` once, every sample
/// under its family, families in first-seen order.
#[derive(Default)]
struct Families {
    order: Vec<String>,
    by_name: std::collections::HashMap<String, Family>,
}

#[derive(Default)]
struct Family {
    help: Option<String>,
    kind: Option<String>,
    samples: Vec<String>,
}

impl Families {
    fn family(&mut self, name: &str) -> &mut Family {
        if !self.by_name.contains_key(name) {
            self.order.push(name.to_owned());
        }
        self.by_name.entry(name.to_owned()).or_default()
    }

    fn add(&mut self, text: &str) {
        let mut current: Option<String> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap_or("").to_owned();
                let family = self.family(&name);
                family.help.get_or_insert_with(|| line.to_owned());
                current = Some(name);
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap_or("").to_owned();
                let family = self.family(&name);
                family.kind.get_or_insert_with(|| line.to_owned());
                current = Some(name);
            } else if line.starts_with('#') || line.trim().is_empty() {
                continue;
            } else {
                let name = match &current {
                    Some(name) => name.clone(),
                    None => line.split(['{', ' ']).next().unwrap_or("").to_owned(),
                };
                self.family(&name).samples.push(line.to_owned());
            }
        }
    }

    fn finish(self) -> String {
        let mut out = String::new();
        for name in &self.order {
            let Some(family) = self.by_name.get(name) else {
                continue;
            };
            for line in family
                .help
                .iter()
                .chain(&family.kind)
                .chain(&family.samples)
            {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

/// `2026-11-20T23:24:07.250Z`.
pub fn rfc3339(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's era method).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_215_600_250);
        assert_eq!(rfc3339(t), "2026-11-20T23:00:00.250Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn families_are_merged() {
        let mut f = Families::default();
        f.add("# HELP a_volts V\n# TYPE a_volts gauge\na_volts{device=\"x\"} 1\n");
        f.add("# HELP a_volts V\n# TYPE a_volts gauge\na_volts{device=\"y\"} 2\n# HELP b B\n# TYPE b counter\nb_total 3\n");
        assert_eq!(
            f.finish(),
            "# HELP a_volts V\n# TYPE a_volts gauge\na_volts{device=\"x\"} 1\na_volts{device=\"y\"} 2\n# HELP b B\n# TYPE b counter\nb_total 3\n"
        );
    }
}
