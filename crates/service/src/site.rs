//! Everything `evctl serve` runs, started and stopped as one: the pollers, the HTTP API, the
//! InfluxDB writer and the MQTT bridge, as the site config asks.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{ConfigError, SiteConfig, resolve_secret};
use crate::influx::Influx;
use crate::mqtt::{MqttError, MqttHandle};
use crate::runtime::{DeviceSpec, Service, ServiceOptions, StartError};

/// Why a site cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// A setting or secret file is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A device cannot be set up.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The HTTP address cannot be listened on.
    #[error("cannot listen on {address} for the HTTP API")]
    Bind {
        /// The address.
        address: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The EVSEMaster driver cannot start (its UDP port is taken).
    #[error("cannot start the EVSEMaster driver")]
    Em(#[source] Box<emproto::driver::DriverError>),
    /// The MQTT settings are wrong.
    #[error("cannot start MQTT")]
    Mqtt(#[source] Box<MqttError>),
    /// The proxy section is wrong.
    #[error(transparent)]
    ProxyConfig(#[from] crate::proxy::ProxyConfigError),
    /// The proxy cannot listen.
    #[error("cannot start the Modbus proxy")]
    Proxy(#[source] modbus_proxy::ProxyError),
}

/// A running site.
#[derive(Debug)]
pub struct RunningSite {
    /// The service (devices, updates, commands).
    pub service: Service,
    /// Where the HTTP API listens, when it is on.
    pub http_addr: Option<SocketAddr>,
    /// The InfluxDB writer, when configured.
    pub influx: Option<Influx>,
    /// The EVSEMaster driver's UDP address, when the site has chargers.
    pub em_addr: Option<SocketAddr>,
    /// The Modbus proxy, when the site config has a `proxy:` section.
    pub proxy: Option<modbus_proxy::ProxyHandle>,
    http_stop: watch::Sender<bool>,
    http_task: Option<JoinHandle<std::io::Result<()>>>,
    output_tasks: Vec<JoinHandle<()>>,
    mqtt: Option<MqttHandle>,
}

/// Starts everything for `specs` as `config` says. Secret files are read and the HTTP address
/// bound before this returns, so a mistake fails at once.
pub async fn start_site(
    config: &SiteConfig,
    specs: Vec<DeviceSpec>,
) -> Result<RunningSite, SiteError> {
    // The proxy forwards to devices the pollers know, with their maps: checked up front.
    let proxy_options = match &config.proxy {
        Some(proxy) => proxy_options(proxy, config, &specs)?,
        None => None,
    };
    let token = resolve_secret(
        config.http.token.as_ref(),
        config.http.token_file.as_deref(),
    )?;
    let influx = config.influx.as_ref().map(Influx::new).transpose()?;
    let listener = if config.http.enabled {
        let address = config.http.listen.clone();
        Some(
            tokio::net::TcpListener::bind(&address)
                .await
                .map_err(|source| SiteError::Bind { address, source })?,
        )
    } else {
        None
    };
    let chargers = crate::em::targets(config)?;
    let em = if chargers.is_empty() {
        None
    } else {
        let bind = config.em.bind.parse().map_err(|_| ConfigError::Invalid {
            message: format!("em.bind `{}` is not an IP address and port", config.em.bind),
        })?;
        let state_dir = em_state_dir(config, |name| std::env::var_os(name))?;
        tracing::debug!(state_dir = %state_dir.display(), "EVSEMaster state");
        let driver = emproto::driver::Driver::start(emproto::driver::DriverConfig {
            bind,
            min_switch_interval: config.em.min_switch_interval,
            state_dir: Some(state_dir),
            ..emproto::driver::DriverConfig::default()
        })
        .await
        .map_err(|source| SiteError::Em(Box::new(source)))?;
        Some(crate::em::EmSetup {
            driver: Arc::new(driver),
            chargers,
        })
    };
    let em_addr = em.as_ref().map(|e| e.driver.local_addr());
    let service = Service::start(
        specs,
        ServiceOptions {
            max_backoff: config.poll.max_backoff,
            em,
            ..ServiceOptions::default()
        },
    )?;
    let proxy = match proxy_options {
        Some(options) => Some(
            modbus_proxy::Proxy::start(options, service.pool())
                .await
                .map_err(SiteError::Proxy)?,
        ),
        None => None,
    };
    let mut output_tasks = Vec::new();
    if let Some(influx) = &influx {
        output_tasks.push(influx.follow(&service));
        output_tasks.push(influx.spawn(service.stopping()));
    }
    // The dashboard's charts: only when someone can look at them.
    let history = (config.http.enabled && !config.http.history.is_zero())
        .then(|| crate::history::History::new(config.http.history));
    if let Some(history) = &history {
        output_tasks.push(history.follow(&service));
    }
    let mqtt = match &config.mqtt {
        Some(mqtt) => Some(
            crate::mqtt::start(&service, mqtt, config.shard.as_ref())
                .map_err(|e| SiteError::Mqtt(Box::new(e)))?,
        ),
        None => None,
    };
    let (http_stop, mut stopped) = watch::channel(false);
    let mut http_addr = None;
    let http_task = match listener {
        Some(listener) => {
            http_addr = listener.local_addr().ok();
            if token.is_none() {
                tracing::info!("no http.token configured: the write and action endpoints are off");
            }
            let service = service.clone();
            let extras = crate::http::Extras {
                influx: influx.clone(),
                history: history.clone(),
            };
            Some(tokio::spawn(crate::http::serve(
                listener,
                service,
                token,
                extras,
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
            )))
        }
        None => None,
    };
    Ok(RunningSite {
        service,
        http_addr,
        influx,
        em_addr,
        proxy,
        http_stop,
        http_task,
        output_tasks,
        mqtt,
    })
}

/// The proxy's options under `evctl serve`: `None` when its device is another shard's (that
/// shard's process runs it, on the connection its poller holds).
fn proxy_options(
    proxy: &crate::proxy::ProxyConfig,
    config: &SiteConfig,
    specs: &[DeviceSpec],
) -> Result<Option<modbus_proxy::ProxyOptions>, SiteError> {
    if let Some(device) = &proxy.device
        && config.devices.contains_key(device)
        && !specs.iter().any(|s| &s.id == device)
    {
        tracing::info!(device = %device, "proxy: its device is served by another shard; not started here");
        return Ok(None);
    }
    let maps: Vec<Arc<device_maps::DeviceMap>> = specs.iter().map(|s| Arc::clone(&s.map)).collect();
    let find = |id: &str| -> Result<Option<Arc<device_maps::DeviceMap>>, std::convert::Infallible> {
        if let Some(map) = maps.iter().find(|m| m.id == id) {
            return Ok(Some(Arc::clone(map)));
        }
        Ok(device_maps::Registry::built_in()
            .ok()
            .and_then(|r| r.get(id).map(Arc::clone)))
    };
    Ok(Some(proxy.options(config, find)?))
}

/// Where the EVSEMaster driver keeps known chargers and their last start/stop: `em.state_dir`
/// (relative to the config file), else systemd's `$STATE_DIRECTORY` (its first entry), else
/// `$EVCTL_STATE_DIR`, `$XDG_STATE_HOME/evctl` or `~/.local/state/evctl`, the folder `evctl em`
/// uses, so a charger switched by either is rate-limited for both, across restarts.
fn em_state_dir(
    config: &SiteConfig,
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<PathBuf, ConfigError> {
    if let Some(dir) = &config.em.state_dir {
        return Ok(config.base_dir.join(dir));
    }
    let var = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(dirs) = var("STATE_DIRECTORY") {
        // systemd gives a colon-separated list when a unit names several.
        if let Some(first) = std::env::split_paths(&dirs).find(|p| !p.as_os_str().is_empty()) {
            return Ok(first);
        }
    }
    if let Some(dir) = var("EVCTL_STATE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = var("XDG_STATE_HOME") {
        return Ok(PathBuf::from(dir).join("evctl"));
    }
    if let Some(home) = var("HOME") {
        return Ok(PathBuf::from(home).join(".local/state/evctl"));
    }
    Err(ConfigError::Invalid {
        message: "no folder for the EVSEMaster state (known chargers, start/stop rate limit): \
                  set em.state_dir, or run under systemd with StateDirectory=evctl"
            .to_owned(),
    })
}

impl RunningSite {
    /// Stops the HTTP API, MQTT (publishing `offline`), the pollers and InfluxDB (one last
    /// flush), each bounded in time.
    pub async fn shutdown(mut self) {
        if let Some(proxy) = self.proxy.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), proxy.shutdown()).await;
        }
        let _ = self.http_stop.send(true);
        if let Some(task) = self.http_task.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
        }
        if let Some(mqtt) = self.mqtt.take() {
            mqtt.shutdown().await;
        }
        self.service.shutdown().await;
        for task in self.output_tasks.drain(..) {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(15), task).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::path::{Path, PathBuf};

    use super::em_state_dir;
    use crate::config::SiteConfig;

    fn config(text: &str) -> SiteConfig {
        let mut config =
            SiteConfig::parse(text, Path::new("/etc/evctl/site.yaml")).expect("valid config");
        config.base_dir = PathBuf::from("/etc/evctl");
        config
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn the_em_state_dir_is_configured_then_systemd_then_the_cli_default() {
        let all = [
            ("STATE_DIRECTORY", "/var/lib/evctl:/var/lib/other"),
            ("EVCTL_STATE_DIR", "/srv/em"),
            ("XDG_STATE_HOME", "/home/u/.state"),
            ("HOME", "/home/u"),
        ];
        let plain = config("devices: {}\n");
        let configured = config("em: {state_dir: state}\ndevices: {}\n");
        let dir = |c: &SiteConfig, vars: &[(&str, &str)]| em_state_dir(c, env(vars)).ok();
        assert_eq!(
            dir(&configured, &all),
            Some(PathBuf::from("/etc/evctl/state"))
        );
        assert_eq!(dir(&plain, &all), Some(PathBuf::from("/var/lib/evctl")));
        assert_eq!(dir(&plain, &all[1..]), Some(PathBuf::from("/srv/em")));
        assert_eq!(
            dir(&plain, &all[2..]),
            Some(PathBuf::from("/home/u/.state/evctl"))
        );
        assert_eq!(
            dir(&plain, &all[3..]),
            Some(PathBuf::from("/home/u/.local/state/evctl"))
        );
        assert_eq!(dir(&plain, &[("HOME", "")]), None);
    }
}
