//! The site config's `proxy:` section: a Modbus TCP proxy (modbus-proxy) in front of one
//! device of the site or of upstreams given by URL.
//!
//! ```yaml
//! proxy:
//!   listen: 0.0.0.0:5502
//!   device: garage            # forward to a device of this file (its map checks writes), or
//!   # routes: ["1-10=tcp://192.168.1.40:502", "rtu+tcp://192.168.1.50:8899"]
//!   # map: sdm630            # with routes: the map that checks writes and sets pacing
//!   cache: {input: 1s, holding: 10s}
//!   read_only: false
//!   metrics: 127.0.0.1:9502
//!   max_clients: 64
//!   max_client_connections: 8
//!   rate: 20                  # requests per second per client address
//! ```
//!
//! `evctl proxy` reads this section when given no upstream on its command line, and `evctl
//! serve` starts it beside the pollers, where a proxy for `device:` shares the poller's
//! connection (one modbus-client pool), so the device still sees one master.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use device_maps::DeviceMap;
use modbus_client::{ClientOptions, Endpoint};
use modbus_proxy::{CachePolicy, ProxyOptions, Route, RouteTable, UnitSet, Upstream, WriteGuard};
use serde::Deserialize;

use crate::config::{SiteConfig, opt_duration};

/// The `proxy:` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// Where Modbus clients connect (default `127.0.0.1:5502`).
    #[serde(default)]
    pub listen: Option<String>,
    /// A device of the site to forward to: its host, port, transport, map and timeout.
    #[serde(default)]
    pub device: Option<String>,
    /// With `device`: the unit ids forwarded to it (default every unit), as `*`, `1-10` or
    /// `1,3`.
    #[serde(default)]
    pub units: Option<String>,
    /// Instead of `device`: routes `[UNITS=]URL`.
    #[serde(default)]
    pub routes: Vec<String>,
    /// With `routes`: the map whose writable registers bound writes and whose connection
    /// settings (pacing, timeout) the upstreams use.
    #[serde(default)]
    pub map: Option<String>,
    /// Refuse every write.
    #[serde(default)]
    pub read_only: bool,
    /// Max age of cached answers by table (`input`, `holding`, `coil`, `discrete`).
    #[serde(default)]
    pub cache: BTreeMap<String, String>,
    /// Where to serve Prometheus metrics.
    #[serde(default)]
    pub metrics: Option<String>,
    /// Most client connections at once.
    #[serde(default)]
    pub max_clients: Option<usize>,
    /// Most connections from one client address.
    #[serde(default)]
    pub max_client_connections: Option<usize>,
    /// Most requests per second from one client address.
    #[serde(default)]
    pub rate: Option<NonZeroU32>,
    /// A client silent this long is disconnected.
    #[serde(default, deserialize_with = "opt_duration")]
    pub idle_timeout: Option<Duration>,
    /// Time allowed per upstream request (default: the device's or map's).
    #[serde(default, deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
    /// Extra attempts after a failed upstream request (default: the map's, else 2).
    #[serde(default)]
    pub retries: Option<u32>,
}

/// Why the proxy section cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyConfigError {
    /// Neither `device` nor `routes`, or both.
    #[error("proxy: give either `device:` (a device of this site) or `routes:`, not {0}")]
    Upstreams(&'static str),
    /// `device` names no device of the site.
    #[error("proxy.device `{0}` is not a device of this site config")]
    UnknownDevice(String),
    /// A map named by the section or its device is not found.
    #[error("proxy: no device map `{0}`")]
    UnknownMap(String),
    /// The map lookup failed.
    #[error("proxy: cannot load map `{map}`: {reason}")]
    Map {
        /// The map id.
        map: String,
        /// Why.
        reason: String,
    },
    /// A route or unit list is wrong.
    #[error("proxy: {0}")]
    Route(#[from] modbus_proxy::RouteError),
    /// The cache section is wrong.
    #[error("proxy.cache: {0}")]
    Cache(#[from] modbus_proxy::CachePolicyError),
    /// The device's map cannot be reached over Modbus (a GivEnergy dongle, EVSEMaster).
    #[error("proxy.device `{device}`: {source}")]
    Transport {
        /// The device.
        device: String,
        /// Why.
        #[source]
        source: modbus_client::UnsupportedTransport,
    },
}

/// The default listening address: loopback, so a proxy is never opened to the network by
/// accident.
pub const DEFAULT_PROXY_LISTEN: &str = "127.0.0.1:5502";

impl ProxyConfig {
    /// The proxy's options, with the maps found by `find_map` (`Ok(None)`: no such map).
    pub fn options<E: std::fmt::Display>(
        &self,
        site: &SiteConfig,
        find_map: impl Fn(&str) -> Result<Option<Arc<DeviceMap>>, E>,
    ) -> Result<ProxyOptions, ProxyConfigError> {
        let load = |id: &str| -> Result<Arc<DeviceMap>, ProxyConfigError> {
            find_map(id)
                .map_err(|e| ProxyConfigError::Map {
                    map: id.to_owned(),
                    reason: e.to_string(),
                })?
                .ok_or_else(|| ProxyConfigError::UnknownMap(id.to_owned()))
                .and_then(|map| match map.sunspec {
                    // Its addresses are those of the example chain until a device is walked.
                    Some(_) => Err(ProxyConfigError::Map {
                        map: id.to_owned(),
                        reason: "a `sunspec:` map has the addresses of the device's model chain, \
                                 which the proxy does not walk; check writes with a map written \
                                 for the device's layout"
                            .to_owned(),
                    }),
                    None => Ok(map),
                })
        };
        let (routes, map, mut client_options) = match (&self.device, self.routes.is_empty()) {
            (Some(_), false) => return Err(ProxyConfigError::Upstreams("both")),
            (None, true) => return Err(ProxyConfigError::Upstreams("neither")),
            (Some(id), true) => {
                let entry = site
                    .devices
                    .get(id)
                    .ok_or_else(|| ProxyConfigError::UnknownDevice(id.clone()))?;
                let map = load(&entry.map)?;
                let host = entry.host.clone().unwrap_or_else(|| "127.0.0.1".to_owned());
                let endpoint = Endpoint::for_map(&map, &host, entry.port).map_err(|source| {
                    ProxyConfigError::Transport {
                        device: id.clone(),
                        source,
                    }
                })?;
                let units: Option<UnitSet> = self.units.as_deref().map(str::parse).transpose()?;
                let route = Route {
                    units: units.filter(|u| *u != UnitSet::all()),
                    upstream: Upstream::from_endpoint(endpoint),
                };
                let mut options = ClientOptions::from_connection(&map.connection);
                if let Some(timeout) = entry.timeout {
                    options.request_timeout = timeout;
                }
                (RouteTable::new(&[route])?, Some(map), options)
            }
            (None, false) => {
                let routes = RouteTable::parse(&self.routes)?;
                let map = self.map.as_deref().map(load).transpose()?;
                let options = map
                    .as_ref()
                    .map(|m| ClientOptions::from_connection(&m.connection))
                    .unwrap_or_default();
                (routes, map, options)
            }
        };
        if let Some(timeout) = self.timeout {
            client_options.request_timeout = timeout;
        }
        if let Some(retries) = self.retries {
            client_options.retries = retries;
        }
        let policy = self
            .cache
            .iter()
            .map(|(table, age)| format!("{table}={age}"))
            .collect::<Vec<_>>()
            .join(",");
        let cache: CachePolicy = policy.parse()?;
        let listen = self
            .listen
            .clone()
            .unwrap_or_else(|| DEFAULT_PROXY_LISTEN.to_owned());
        let mut options = ProxyOptions::new(listen, routes);
        options.client_options = client_options;
        options.cache = cache;
        options.read_only = self.read_only;
        options.guard = map.map(WriteGuard::new);
        options.metrics_listen = self.metrics.clone();
        if let Some(n) = self.max_clients {
            options.limits.max_clients = n;
        }
        if let Some(n) = self.max_client_connections {
            options.limits.max_connections_per_client = n;
        }
        options.limits.requests_per_second = self.rate;
        if let Some(idle) = self.idle_timeout {
            options.limits.idle_timeout = idle;
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(text: &str) -> SiteConfig {
        SiteConfig::parse(text, std::path::Path::new("site.yaml")).unwrap()
    }

    fn find(id: &str) -> Result<Option<Arc<DeviceMap>>, String> {
        let registry = device_maps::Registry::built_in().map_err(|e| e.to_string())?;
        Ok(registry.get(id).map(Arc::clone))
    }

    #[test]
    fn a_device_of_the_site_becomes_the_upstream_and_its_map_the_guard() {
        let config = site(
            "devices:\n  garage: {map: alfen-eve, host: 192.168.1.40, timeout: 2s}\n\
             proxy:\n  listen: 0.0.0.0:5502\n  device: garage\n  cache: {input: 1s, holding: 10s}\n  rate: 20\n",
        );
        let options = config
            .proxy
            .as_ref()
            .unwrap()
            .options(&config, find)
            .unwrap();
        assert_eq!(options.listen, "0.0.0.0:5502");
        assert_eq!(options.routes.upstreams()[0].url, "tcp://192.168.1.40:502");
        assert_eq!(options.routes.upstream_of(200), Some(0));
        assert_eq!(options.guard.as_ref().unwrap().map.id, "alfen-eve");
        assert_eq!(
            options.client_options.request_timeout,
            Duration::from_secs(2)
        );
        assert_eq!(options.cache.to_string(), "input=1s,holding=10s");
        assert_eq!(options.limits.requests_per_second, NonZeroU32::new(20));
    }

    #[test]
    fn routes_with_an_optional_map() {
        let config = site("proxy:\n  routes: ['1-10=tcp://127.0.0.1:5020']\n  read_only: true\n");
        let options = config
            .proxy
            .as_ref()
            .unwrap()
            .options(&config, find)
            .unwrap();
        assert_eq!(options.listen, DEFAULT_PROXY_LISTEN);
        assert_eq!(options.routes.upstream_of(11), None);
        assert!(options.read_only && options.guard.is_none());
    }

    #[test]
    fn mistakes_are_named() {
        let error = |text: &str| {
            let config = site(text);
            config
                .proxy
                .as_ref()
                .unwrap()
                .options(&config, find)
                .unwrap_err()
                .to_string()
        };
        assert!(error("proxy: {listen: '127.0.0.1:0'}\n").contains("not neither"));
        assert!(error("proxy: {device: nope}\n").contains("`nope` is not a device"));
        assert!(error("proxy: {routes: ['1=tcp://a:1'], map: nope}\n").contains("no device map"));
        assert!(error("proxy: {routes: ['x=tcp://a:1']}\n").contains("not a unit list"));
        assert!(
            error("proxy: {routes: ['tcp://a:1'], cache: {inputs: soon}}\n")
                .contains("not a cache policy")
        );
        assert!(SiteConfig::parse("proxy: {listne: x}\n", std::path::Path::new("s.yaml")).is_err());
    }
}
