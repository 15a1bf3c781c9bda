//! `evctl serve` as a library: poll every device of a site on its own schedule, keep the
//! heartbeats the maps declare, survive outages, and hand each reading to the outputs people
//! run (an HTTP API with Prometheus metrics, InfluxDB, MQTT with Home Assistant discovery).
//!
//! The main types:
//!
//! - [`SiteConfig`]: the site YAML file (the same one `evctl read garage` uses) with the
//!   sections only the service reads: `http`, `influx`, `mqtt`, `log`, `poll`, `shard`.
//! - [`Service`]: the running fleet. [`Service::start`] takes resolved [`DeviceSpec`]s and
//!   spawns one task per device; [`Service::subscribe`] hands out a broadcast of
//!   [`DeviceUpdate`]s (latest snapshot, availability, lag); [`Service::write`] and
//!   [`Service::action`] run checked commands, validated by device-maps exactly as `evctl
//!   write` and `evctl call` validate them.
//! - [`http`]: the axum API (`/metrics`, `/devices`, `/devices/{id}`, `/healthz`, and the
//!   token-guarded write and action endpoints).
//! - [`influx`]: a batching InfluxDB 1.x/2.x line-protocol writer with a bounded buffer.
//! - [`mqtt`]: the MQTT publisher and command subscriber.
//! - [`em`]: EVSEMaster chargers (UDP) through emproto's driver, described by a built-in map
//!   so they are polled, served and written like every other device.
//! - [`heartbeat`]: the heartbeats a map declares and their schedule, over any `RegisterIo`.
//! - [`proxy`]: the `proxy:` section, a modbus-proxy in front of a device of the site; under
//!   `evctl serve` it shares the poller's connection.
//! - [`start_site`]: everything above, started from a site config and stopped as one.
//!
//! # Key design decisions
//!
//! Every device is its own tokio task with its own schedule, and every network wait in it has
//! a timeout, so a device that hangs delays nobody else. Connections are the scarce resource:
//! every device's client comes from one modbus-client pool, so two devices behind one gateway
//! share its connections and never exceed its limit. A poll that gets no answer marks the
//! device unavailable at once and backs off (doubling from its interval up to
//! `poll.max_backoff`); the first answer marks it available again. A value that could not be
//! read is served as the last value read with its own read time (stale), never as a 0.
//!
//! Outputs are subscribers, not part of the poll: the poller never waits on the HTTP API,
//! InfluxDB or the broker. A site is split across processes by giving each a [`Shard`]; since
//! device ids are global, metric labels and topics never collide.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! let config = service::SiteConfig::load(std::path::Path::new("site.yaml"))?;
//! let registry = device_maps::Registry::built_in()?;
//! let specs = service::device_specs(&config, |id| {
//!     Ok::<_, std::convert::Infallible>(registry.get(id).map(Arc::clone))
//! })?;
//! let service = service::Service::start(specs, service::ServiceOptions::default())?;
//! let mut updates = service.subscribe();
//! while let Ok(update) = updates.recv().await {
//!     println!("{} available: {}", update.id, update.available);
//! }
//! # Ok(())
//! # }
//! ```

mod client;
mod config;
mod dashboard;
pub mod em;
pub mod heartbeat;
pub mod history;
pub mod http;
pub mod influx;
pub mod mqtt;
mod poller;
pub mod proxy;
mod runtime;
mod site;
pub mod tls;

pub use client::{DeviceClient, FailFast, IoError};
pub use config::{
    ConfigError, DeviceConfig, EmConfig, HttpConfig, InfluxConfig, LogConfig, Mistake, PollConfig,
    SHARD_COUNT_ENV, SHARD_INDEX_ENV, Secret, Shard, SiteConfig, fnv1a, format_duration,
    resolve_secret, shard_of, site_mistakes,
};
pub use poller::{backoff, error_chain, with_stale};
pub use runtime::{
    CommandError, CommandReport, Confirmation, DeviceHandle, DeviceSpec, DeviceStatus,
    DeviceUpdate, Service, ServiceOptions, StartError, device_specs,
};
pub use site::{RunningSite, SiteError, start_site};
