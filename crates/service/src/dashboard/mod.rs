//! The dashboard: one page, a script and a style sheet, embedded in the binary (no CDN, no
//! framework, nothing fetched from outside), and the description of a map that the page draws
//! its cards and forms from. The page reads `/devices`, `/devices/{id}`, `/devices/{id}/map`
//! and `/devices/{id}/history`, listens to `/events`, and writes through the same
//! `POST /devices/{id}/registers` and `/actions/{name}` endpoints as any other client, so a
//! write from the page passes exactly the checks of `evctl write` and `evctl call`.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use device_maps::DeviceMap;
use serde_json::{Value as Json, json};

const PAGE: &str = include_str!("index.html");
const SCRIPT: &str = include_str!("dashboard.js");
const STYLE: &str = include_str!("dashboard.css");

/// Only this server's own files; no inline script, no frames, no other origin.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                      connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE)
}

pub(crate) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

pub(crate) async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// A map as the dashboard draws it: registers by group in file order (the ungrouped last),
/// with what a form needs to offer only what `evctl write` accepts, and the actions.
pub fn describe(map: &DeviceMap) -> Json {
    let mut groups: Vec<(String, Vec<Json>)> = Vec::new();
    let mut ungrouped = Vec::new();
    for register in &map.registers {
        let options: Vec<Json> = register
            .enumeration
            .iter()
            .map(|(value, label)| json!({"value": value, "label": label}))
            .chain(
                register
                    .text_enumeration
                    .iter()
                    .map(|(value, label)| json!({"value": value, "label": label})),
            )
            .collect();
        let write = register.write.as_ref().map(|rule| {
            json!({
                "min": rule.min.as_ref().map(ToString::to_string),
                "max": rule.max.as_ref().map(ToString::to_string),
                "step": rule.step,
                "also": rule.also,
            })
        });
        let entry = json!({
            "name": register.name,
            "title": register.title,
            "unit": register.unit,
            "kind": register.kind.name(),
            "role": register.role.map(|r| r.to_string()),
            "readable": register.access.readable(),
            "writable": register.access.writable(),
            "write": write,
            "options": options,
            "format": register.format.map(|_| "hhmm"),
            "description": register.description,
        });
        match &register.group {
            Some(group) => match groups.iter_mut().find(|(name, _)| name == group) {
                Some((_, list)) => list.push(entry),
                None => groups.push((group.clone(), vec![entry])),
            },
            None => ungrouped.push(entry),
        }
    }
    if !ungrouped.is_empty() {
        groups.push((String::new(), ungrouped));
    }
    let actions: Vec<Json> = map
        .actions
        .iter()
        .map(|action| {
            let params: Vec<Json> = action
                .params
                .iter()
                .map(|p| {
                    json!({
                        "name": p.name,
                        "type": p.param_type.name(),
                        "min": p.min,
                        "max": p.max,
                        "step": p.step,
                        "optional": p.optional,
                        "description": p.description,
                    })
                })
                .collect();
            json!({"name": action.name, "description": action.description, "params": params})
        })
        .collect();
    json!({
        "id": map.id,
        "manufacturer": map.manufacturer,
        "model": map.model,
        "groups": groups
            .into_iter()
            .map(|(name, registers)| json!({"name": name, "registers": registers}))
            .collect::<Vec<_>>(),
        "actions": actions,
    })
}
