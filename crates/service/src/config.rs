//! The site configuration of `evctl serve`: the same YAML file the CLI reads for `evctl read
//! garage`, with the sections only the service uses (`http`, `influx`, `mqtt`, `log`, `shard`).
//!
//! ```yaml
//! maps: [./devices]                 # extra map folders, relative to this file
//! devices:
//!   garage:                         # the device id: unique across the whole site
//!     map: alfen-eve
//!     host: 192.168.1.40
//!     units: {socket: 1}
//!     interval: 5s
//!     timeout: 2s
//! http: {listen: "127.0.0.1:6345", token_file: /etc/evctl/token}
//! influx: {url: "http://127.0.0.1:8086", version: 2, org: home, bucket: energy, token_file: /etc/evctl/influx-token}
//! log: {level: info}
//! ```
//!
//! Every section denies unknown keys, so a typo is an error naming line and column. A device
//! entry is a [`DeviceConfig`] (`map`, `host`, `port`, `unit`, `units`, `timeout`, `interval`,
//! `options`), and the CLI reads its devices with that same type, so one file serves both.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::mqtt::MqttConfig;

/// The whole site configuration as `evctl serve` reads it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Extra map folders (resolved against the config file's folder by [`SiteConfig::load`]).
    #[serde(default)]
    pub maps: Vec<PathBuf>,
    /// Devices by id. Ids are global: metric labels, JSON ids and MQTT topics are derived from
    /// them, so two processes serving parts of one site never collide.
    #[serde(default)]
    pub devices: BTreeMap<String, DeviceConfig>,
    /// The HTTP API.
    #[serde(default)]
    pub http: HttpConfig,
    /// InfluxDB output; absent: off.
    #[serde(default)]
    pub influx: Option<InfluxConfig>,
    /// MQTT output; absent: off.
    #[serde(default)]
    pub mqtt: Option<MqttConfig>,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// Which part of the site this process serves; absent: all of it.
    #[serde(default)]
    pub shard: Option<Shard>,
    /// Polling defaults for every device.
    #[serde(default)]
    pub poll: PollConfig,
    /// The EVSEMaster driver, for devices with `map: evsemaster`.
    #[serde(default)]
    pub em: EmConfig,
    /// A Modbus TCP proxy in front of a device (`evctl proxy`, and `evctl serve` beside the
    /// pollers); absent: off.
    #[serde(default)]
    pub proxy: Option<crate::proxy::ProxyConfig>,
    /// The folder relative paths in `options` are resolved against (the config file's).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// The EVSEMaster driver (one UDP socket for every charger of the site).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmConfig {
    /// Local UDP address (default `0.0.0.0:28376`, where chargers broadcast).
    pub bind: String,
    /// Least time between two starts or stops of one charger (default 60 s).
    #[serde(deserialize_with = "duration")]
    pub min_switch_interval: Duration,
    /// Where known chargers and their last start/stop are kept, so the rate limit survives a
    /// restart (relative to the config file). Default: `$STATE_DIRECTORY` (systemd), else the
    /// folder `evctl em` uses, so both share one rate limit.
    pub state_dir: Option<PathBuf>,
}

impl Default for EmConfig {
    fn default() -> Self {
        Self {
            bind: "0.0.0.0:28376".to_owned(),
            min_switch_interval: Duration::from_secs(60),
            state_dir: None,
        }
    }
}

/// One device of the site, the one definition shared by `evctl serve` and every other evctl
/// command: unknown keys and bad durations are errors with line and column.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// Map id (`evctl list`).
    pub map: String,
    /// Host name or address.
    pub host: Option<String>,
    /// TCP port; default: the map's.
    pub port: Option<u16>,
    /// Unit id, for a map with a single unit.
    pub unit: Option<u8>,
    /// Unit ids by the map's unit names (e.g. `socket: 2`).
    #[serde(default)]
    pub units: BTreeMap<String, u8>,
    /// Request timeout, e.g. `2s`; default: the map's.
    #[serde(default, deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
    /// Poll interval, e.g. `10s`; default: `poll.interval`.
    #[serde(default, deserialize_with = "opt_duration")]
    pub interval: Option<Duration>,
    /// Whether the map's checks are read and must hold (default `true`); `false` trusts the
    /// device as it is, with a warning at start.
    #[serde(default)]
    pub verify: Option<bool>,
    /// How long a command's read-back keeps trying before the write counts as not
    /// confirmed, e.g. `5s`; default: the map's `write_confirm.within`.
    #[serde(default, deserialize_with = "opt_duration")]
    pub confirm_within: Option<Duration>,
    /// Free-form options for the device's driver (EVSEMaster: `serial`, `password_file`),
    /// kept as written.
    #[serde(default)]
    pub options: BTreeMap<String, serde_yaml::Value>,
}

/// Polling defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PollConfig {
    /// Interval of a device without its own (default 10 s).
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    /// Longest wait between two polls of a device that keeps failing (default 60 s). The wait
    /// doubles from the device's interval after each failed poll, up to this.
    #[serde(deserialize_with = "duration")]
    pub max_backoff: Duration,
}

impl Default for PollConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(10),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// The HTTP API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Whether to serve HTTP at all (default true).
    pub enabled: bool,
    /// Address to listen on (default `127.0.0.1:6345`).
    pub listen: String,
    /// Bearer token that unlocks the write and action endpoints.
    pub token: Option<Secret>,
    /// A file holding that token (first line, trimmed).
    pub token_file: Option<PathBuf>,
    /// How far back the dashboard's charts reach (default 1 h; `0s`: no history kept).
    #[serde(deserialize_with = "duration")]
    pub history: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: "127.0.0.1:6345".to_owned(),
            token: None,
            token_file: None,
            history: Duration::from_secs(3600),
        }
    }
}

/// InfluxDB output.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfluxConfig {
    /// Base URL, e.g. `http://127.0.0.1:8086`, or `https://influx.example:8086` over TLS.
    pub url: String,
    /// TLS files for an `https://` URL (absent: the system roots, no client certificate).
    pub tls: Option<crate::tls::TlsFiles>,
    /// API version: 1 (`/write`) or 2 (`/api/v2/write`); default 2.
    #[serde(default = "default_influx_version")]
    pub version: u8,
    /// 1.x database.
    pub database: Option<String>,
    /// 1.x retention policy.
    pub retention_policy: Option<String>,
    /// 1.x user name.
    pub username: Option<String>,
    /// 1.x password.
    pub password: Option<Secret>,
    /// File holding the 1.x password.
    pub password_file: Option<PathBuf>,
    /// 2.x organisation.
    pub org: Option<String>,
    /// 2.x bucket.
    pub bucket: Option<String>,
    /// 2.x API token.
    pub token: Option<Secret>,
    /// File holding the 2.x API token.
    pub token_file: Option<PathBuf>,
    /// Measurement name (default: outputs' default, `evctl`).
    pub measurement: Option<String>,
    /// Most lines per write request (default 5000).
    #[serde(default = "default_batch_lines")]
    pub batch_lines: usize,
    /// Longest a line waits before it is sent (default 1 s).
    #[serde(default = "default_flush", deserialize_with = "duration")]
    pub flush_interval: Duration,
    /// Most lines kept while the database is unreachable; the oldest are dropped beyond it
    /// (default 100,000).
    #[serde(default = "default_buffer_lines")]
    pub buffer_lines: usize,
    /// Time allowed for one write request (default 10 s).
    #[serde(default = "default_influx_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    /// Longest wait between retries of a failing write (default 30 s).
    #[serde(default = "default_influx_backoff", deserialize_with = "duration")]
    pub max_backoff: Duration,
}

fn default_influx_version() -> u8 {
    2
}
fn default_batch_lines() -> usize {
    5000
}
fn default_flush() -> Duration {
    Duration::from_secs(1)
}
fn default_buffer_lines() -> usize {
    100_000
}
fn default_influx_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_influx_backoff() -> Duration {
    Duration::from_secs(30)
}

/// Logging.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `service=debug,info`; `EVCTL_LOG` and `RUST_LOG`
    /// override it.
    pub level: Option<String>,
}

/// The part of a site one process serves: the devices whose id [`shard_of`] gives to `index`
/// of `count` (rendezvous hashing, so every process agrees without talking and a change of
/// `count` moves few devices), optionally narrowed to an explicit list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// This process's shard, from 0.
    #[serde(default)]
    pub index: u32,
    /// How many shards the site is split into (default 1).
    #[serde(default = "one")]
    pub count: u32,
    /// Serve exactly these device ids (overrides the hash when not empty).
    #[serde(default)]
    pub devices: Vec<String>,
}

fn one() -> u32 {
    1
}

/// `--shard auto`: the shard index, when the host name does not give it.
pub const SHARD_INDEX_ENV: &str = "EVCTL_SHARD_INDEX";
/// `--shard auto`: the number of shards.
pub const SHARD_COUNT_ENV: &str = "EVCTL_SHARD_COUNT";

impl Shard {
    /// `--shard auto`: the index from `EVCTL_SHARD_INDEX`, else the trailing number of the host
    /// name (a StatefulSet's pod `evctl-2` is shard 2); the count from `EVCTL_SHARD_COUNT`.
    pub fn from_environment() -> Result<Shard, String> {
        let hostname = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .ok()
                    .map(|h| h.trim().to_owned())
            });
        Shard::auto(
            hostname.as_deref(),
            std::env::var(SHARD_INDEX_ENV).ok().as_deref(),
            std::env::var(SHARD_COUNT_ENV).ok().as_deref(),
        )
    }

    /// [`Shard::from_environment`] with the values given.
    pub fn auto(
        hostname: Option<&str>,
        index: Option<&str>,
        count: Option<&str>,
    ) -> Result<Shard, String> {
        let count = count.filter(|c| !c.trim().is_empty()).ok_or_else(|| {
            format!(
                "--shard auto: {SHARD_COUNT_ENV} is not set; the manifest sets it to the \
                 StatefulSet's replica count"
            )
        })?;
        let count: u32 = count.trim().parse().map_err(|_| {
            format!("--shard auto: {SHARD_COUNT_ENV}=`{count}` is not a shard count")
        })?;
        let index = match index.filter(|i| !i.trim().is_empty()) {
            Some(i) => i.trim().parse().map_err(|_| {
                format!("--shard auto: {SHARD_INDEX_ENV}=`{i}` is not a shard index")
            })?,
            None => {
                let host = hostname.ok_or_else(|| {
                    format!(
                        "--shard auto: neither {SHARD_INDEX_ENV} nor a host name gives the shard \
                         index"
                    )
                })?;
                let digits: String = host
                    .chars()
                    .rev()
                    .take_while(char::is_ascii_digit)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                digits.parse().map_err(|_| {
                    format!(
                        "--shard auto: the host name `{host}` does not end in a number (a \
                         StatefulSet's pods are NAME-0, NAME-1, ...); set {SHARD_INDEX_ENV}"
                    )
                })?
            }
        };
        let shard = Shard {
            index,
            count,
            devices: Vec::new(),
        };
        shard.check().map_err(|e| format!("--shard auto: {e}"))?;
        Ok(shard)
    }

    /// Parses `I/N` (as `--shard 0/3` gives it), or `auto` ([`Shard::from_environment`]).
    pub fn parse(text: &str) -> Result<Shard, String> {
        if text.trim() == "auto" {
            return Shard::from_environment();
        }
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| format!("`{text}` is not a shard; write INDEX/COUNT, e.g. 0/3"))?;
        let index: u32 = i
            .trim()
            .parse()
            .map_err(|_| format!("`{i}` is not a shard index"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("`{n}` is not a shard count"))?;
        let shard = Shard {
            index,
            count,
            devices: Vec::new(),
        };
        shard.check()?;
        Ok(shard)
    }

    fn check(&self) -> Result<(), String> {
        if self.count == 0 || self.index >= self.count {
            return Err(format!(
                "shard {}/{}: the index must be below the count, which must be at least 1",
                self.index, self.count
            ));
        }
        Ok(())
    }

    /// Whether this shard serves the device `id`.
    pub fn owns(&self, id: &str) -> bool {
        if !self.devices.is_empty() {
            return self.devices.iter().any(|d| d == id);
        }
        self.count <= 1 || shard_of(id, self.count) == self.index
    }
}

/// FNV-1a of `text`'s bytes: stable across processes, machines and versions.
pub fn fnv1a(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// A 64-bit finaliser (splitmix64's) that spreads every input bit over the output.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The shard (of `count`) a device id belongs to, by rendezvous (highest random weight)
/// hashing: every shard scores the id and the highest score wins. Going from N to N+1 shards
/// moves only the ids the new shard wins, about 1/(N+1) of them; no id moves between the old
/// shards. Stable across processes, machines and versions.
pub fn shard_of(id: &str, count: u32) -> u32 {
    let key = fnv1a(id);
    (0..count.max(1))
        .max_by_key(|&i| (mix(key ^ mix(u64::from(i) + 1)), std::cmp::Reverse(i)))
        .unwrap_or(0)
}

/// A password or token: never printed (its `Debug` and `Display` say `<redacted>`), compared
/// in constant time.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Reads a secret from the first line of a file.
    pub fn from_file(path: &Path) -> Result<Secret, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile {
            path: path.to_path_buf(),
            source,
        })?;
        let line = text.lines().next().unwrap_or("").trim();
        if line.is_empty() {
            return Err(ConfigError::EmptySecret {
                path: path.to_path_buf(),
            });
        }
        Ok(Secret(line.to_owned()))
    }

    /// Compares with `candidate` in time that depends only on the candidate's length, never on
    /// where the first difference is.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        let secret = self.0.as_bytes();
        let mut diff: u8 = u8::from(secret.len() != candidate.len());
        for (i, byte) in candidate.iter().enumerate() {
            let expected = secret.get(i % secret.len().max(1)).copied().unwrap_or(0);
            diff |= byte ^ expected;
        }
        std::hint::black_box(diff) == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// Resolves a secret given inline or as a file; the inline one wins.
pub fn resolve_secret(
    inline: Option<&Secret>,
    file: Option<&Path>,
) -> Result<Option<Secret>, ConfigError> {
    match (inline, file) {
        (Some(secret), _) => Ok(Some(secret.clone())),
        (None, Some(path)) => Secret::from_file(path).map(Some),
        (None, None) => Ok(None),
    }
}

/// What can be wrong with a site configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read site config {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The YAML does not describe a site (the source names line and column).
    #[error("invalid site config {}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What serde_yaml found.
        #[source]
        source: serde_yaml::Error,
    },
    /// Several mistakes in the file, each with its line and column, in file order.
    #[error("invalid site config {}: {} mistakes:{}", path.display(), mistakes.len(), Listed(path, mistakes))]
    Several {
        /// The file.
        path: PathBuf,
        /// The mistakes.
        mistakes: Vec<Mistake>,
    },
    /// A secret file could not be read.
    #[error("cannot read the secret file {}", path.display())]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A secret file is empty.
    #[error("the secret file {} is empty", path.display())]
    EmptySecret {
        /// The file.
        path: PathBuf,
    },
    /// A value is not allowed.
    #[error("site config: {message}")]
    Invalid {
        /// What is wrong and what to write instead.
        message: String,
    },
    /// TLS files that cannot be used (the error names the section and the file).
    #[error(transparent)]
    Tls(crate::tls::TlsError),
}

/// One mistake of a site config: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mistake {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
    /// The section or device concerned, as a path (`devices.garage`).
    pub path: String,
    /// What the YAML reader found.
    pub message: String,
}

struct Listed<'a>(&'a Path, &'a [Mistake]);

impl fmt::Display for Listed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for m in self.1 {
            write!(
                f,
                "\n  {}:{}:{}: {}: {}",
                self.0.display(),
                m.line,
                m.column,
                m.path,
                m.message
            )?;
        }
        Ok(())
    }
}

/// The most mistakes one load of a site config reports.
const MAX_MISTAKES: usize = 20;

/// Every section and device entry of a site config that does not deserialise, each judged on
/// its own, in file order (at most 20), or `None` when there are fewer than two (the reader's
/// first error says it all then). The CLI, which reads only `maps` and `devices`, uses it too.
pub fn site_mistakes(text: &str) -> Option<Vec<Mistake>> {
    let serde_yaml::Value::Mapping(top) = serde_yaml::from_str::<serde_yaml::Value>(text).ok()?
    else {
        return None;
    };
    let locations = device_maps::Locations::build(text);
    let mut mistakes = Vec::new();
    let mut note = |path: String, value: &serde_yaml::Value, err: serde_yaml::Error| {
        let full = err.to_string();
        let full = full.split(" at line ").next().unwrap_or(&full).to_owned();
        // serde puts the path of the value at fault in front ("http.port: invalid type ...",
        // relative to what was deserialised) and names an unknown field in backquotes.
        let (at, message) = match full.split_once(": ") {
            Some((p, rest)) if !p.is_empty() && !p.contains(' ') => {
                let p = if p == path || p.starts_with(&format!("{path}.")) {
                    p.to_owned()
                } else {
                    format!("{path}.{p}")
                };
                (p, rest.to_owned())
            }
            _ => (path.clone(), full.clone()),
        };
        let (at, line, column) = match message
            .strip_prefix("unknown field `")
            .and_then(|t| t.split('`').next())
        {
            Some(field) => {
                let (line, column) = locations.key(&format!("{at}.{field}"));
                (at, line, column)
            }
            None => {
                // A value our own parsers refuse (`soon` is not a duration) is quoted: find
                // which key holds it.
                let quoted = message
                    .strip_prefix('`')
                    .and_then(|t| t.split('`').next())
                    .and_then(|token| holding(value, token))
                    .map(|inner| format!("{path}.{inner}"));
                let at = quoted.unwrap_or(at);
                let (line, column) = locations.value(&at);
                (at, line, column)
            }
        };
        mistakes.push(Mistake {
            line,
            column,
            path: at,
            message,
        });
    };
    for (key, section) in &top {
        let Some(name) = key.as_str() else { continue };
        if let (Some("devices"), serde_yaml::Value::Mapping(devices)) = (Some(name), section) {
            for (id, entry) in devices {
                let id = id
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("{id:?}"));
                if let Err(e) = serde_yaml::from_value::<DeviceConfig>(entry.clone()) {
                    note(format!("devices.{id}"), entry, e);
                }
            }
            continue;
        }
        let mut alone = serde_yaml::Mapping::new();
        alone.insert(key.clone(), section.clone());
        if let Err(e) = serde_yaml::from_value::<SiteConfig>(serde_yaml::Value::Mapping(alone)) {
            // The section's own path is in front of serde's message already.
            note(name.to_owned(), section, e);
        }
    }
    mistakes.sort_by_key(|m| (m.line, m.column));
    mistakes.truncate(MAX_MISTAKES);
    (mistakes.len() >= 2).then_some(mistakes)
}

/// The path (below `value`) of the string scalar `token`, e.g. `timeout` or `tls.ca_file`.
fn holding(value: &serde_yaml::Value, token: &str) -> Option<String> {
    let serde_yaml::Value::Mapping(map) = value else {
        return None;
    };
    map.iter().find_map(|(k, v)| {
        let key = k.as_str()?;
        match v {
            serde_yaml::Value::String(s) if s == token => Some(key.to_owned()),
            serde_yaml::Value::Mapping(_) => holding(v, token).map(|p| format!("{key}.{p}")),
            _ => None,
        }
    })
}

impl SiteConfig {
    /// Reads and checks a site config file; map folders are resolved against its folder.
    pub fn load(path: &Path) -> Result<SiteConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = SiteConfig::parse(&text, path)?;
        // Map folders and secret files are relative to the config file, wherever it is run from.
        let dir = path.parent().unwrap_or(Path::new("."));
        config.base_dir = dir.to_path_buf();
        let absolute = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        config.maps.iter_mut().for_each(absolute);
        config.http.token_file.as_mut().map(absolute);
        if let Some(influx) = &mut config.influx {
            influx.password_file.as_mut().map(absolute);
            influx.token_file.as_mut().map(absolute);
        }
        if let Some(mqtt) = &mut config.mqtt {
            mqtt.password_file.as_mut().map(absolute);
        }
        Ok(config)
    }

    /// Parses a site config text (`path` only names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<SiteConfig, ConfigError> {
        let config: SiteConfig = if text.trim().is_empty() {
            SiteConfig::default()
        } else {
            serde_yaml::from_str(text).map_err(|source| match site_mistakes(text) {
                Some(mistakes) => ConfigError::Several {
                    path: path.to_path_buf(),
                    mistakes,
                },
                None => ConfigError::Parse {
                    path: path.to_path_buf(),
                    source,
                },
            })?
        };
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid { message });
        if let Some(shard) = &self.shard {
            shard.check().or_else(&invalid)?;
        }
        for (id, device) in &self.devices {
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return invalid(format!(
                    "device id `{id}`: use letters, digits, `_` and `-` only (ids become metric \
                     labels, URL paths and MQTT topics)"
                ));
            }
            if device.interval.is_some_and(|d| d.is_zero()) {
                return invalid(format!("device `{id}`: the interval must be more than 0"));
            }
        }
        let empty = |s: &Option<Secret>| s.as_ref().is_some_and(|s| s.expose().trim().is_empty());
        if empty(&self.http.token) {
            return invalid("http.token is empty; give a long random token or leave it out".into());
        }
        if let Some(influx) = &self.influx
            && (empty(&influx.token) || empty(&influx.password))
        {
            return invalid("influx: an empty token or password; leave it out instead".into());
        }
        if self.poll.interval.is_zero() {
            return invalid("poll.interval must be more than 0".to_owned());
        }
        if let Some(influx) = &self.influx {
            match influx.version {
                1 if influx.database.is_none() => {
                    return invalid("influx: version 1 needs `database`".to_owned());
                }
                2 if influx.org.is_none() || influx.bucket.is_none() => {
                    return invalid("influx: version 2 needs `org` and `bucket`".to_owned());
                }
                1 | 2 => {}
                other => return invalid(format!("influx: version {other}; write 1 or 2")),
            }
            let https = influx.url.starts_with("https://");
            if !https && !influx.url.starts_with("http://") {
                return invalid(format!(
                    "influx: url `{}` must start with http:// or https://",
                    influx.url
                ));
            }
            if !https && influx.tls.is_some() {
                return invalid(format!(
                    "influx: `tls` is set but the url `{}` is plain http://; write https://",
                    influx.url
                ));
            }
            if influx.batch_lines == 0 || influx.buffer_lines == 0 {
                return invalid("influx: batch_lines and buffer_lines must be at least 1".into());
            }
        }
        Ok(())
    }

    /// The devices this process serves (all of them without a shard).
    pub fn served_devices(&self) -> impl Iterator<Item = (&String, &DeviceConfig)> {
        self.devices
            .iter()
            .filter(|(id, _)| self.shard.as_ref().is_none_or(|s| s.owns(id)))
    }
}

/// A duration as people write it in a site config or a map, and as every evctl message shows
/// it: `500ms`, `25s`, `1.5s`, `1m`, `2h`, `0s`. The largest unit that divides it exactly is
/// used (`90s`, not `1.5m`), and the text reads back to the same duration with the config's
/// own duration syntax.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(service::format_duration(Duration::from_millis(500)), "500ms");
/// assert_eq!(service::format_duration(Duration::from_secs(60)), "1m");
/// assert_eq!(service::format_duration(Duration::from_millis(1500)), "1.5s");
/// ```
pub fn format_duration(d: Duration) -> String {
    /// `whole.fraction` with the fraction's trailing zeros (and a bare point) dropped.
    fn decimal(whole: u128, fraction: u128, digits: usize) -> String {
        let text = format!("{whole}.{fraction:0digits$}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
    let nanos = d.as_nanos();
    const MS: u128 = 1_000_000;
    const S: u128 = 1_000 * MS;
    if nanos == 0 {
        "0s".to_owned()
    } else if nanos.is_multiple_of(3600 * S) {
        format!("{}h", nanos / (3600 * S))
    } else if nanos.is_multiple_of(60 * S) {
        format!("{}m", nanos / (60 * S))
    } else if nanos >= S {
        format!("{}s", decimal(nanos / S, nanos % S, 9))
    } else {
        format!("{}ms", decimal(nanos / MS, nanos % MS, 6))
    }
}

fn parse_duration_text(text: &str) -> Result<Duration, String> {
    device_maps::parse_duration(text)
        .ok_or_else(|| format!("`{text}` is not a duration; write e.g. 500ms, 10s or 1m"))
}

fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_duration_text(&text).map_err(serde::de::Error::custom)
}

pub(crate) fn opt_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?;
    text.map(|t| parse_duration_text(&t).map_err(serde::de::Error::custom))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_formatted_as_written_and_read_back() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_micros(250), "0.25ms"),
            (Duration::from_nanos(1), "0.000001ms"),
            (Duration::from_secs(25), "25s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(1001), "1.001s"),
            (Duration::from_secs(60), "1m"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_secs(600), "10m"),
            (Duration::from_secs(7200), "2h"),
        ];
        for (duration, text) in cases {
            assert_eq!(format_duration(duration), text);
            assert_eq!(parse_duration_text(text), Ok(duration), "{text}");
        }
    }

    #[test]
    fn secret_is_redacted_and_compared() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?} {secret}"), "<redacted> <redacted>");
        assert!(secret.matches(b"hunter2"));
        assert!(!secret.matches(b"hunter3"));
        assert!(!secret.matches(b"hunter"));
        assert!(!secret.matches(b""));
        assert!(!secret.matches(b"hunter22"));
    }

    #[test]
    fn an_empty_token_is_refused() {
        let err = SiteConfig::parse("http: {token: ''}\n", Path::new("s")).expect_err("empty");
        assert!(err.to_string().contains("http.token is empty"), "{err}");
    }

    #[test]
    fn shards_partition_the_devices() {
        let ids: Vec<String> = (0..100).map(|i| format!("dev{i}")).collect();
        let mut owners = vec![0; ids.len()];
        for index in 0..3 {
            let shard = Shard::parse(&format!("{index}/3")).expect("valid");
            for (i, id) in ids.iter().enumerate() {
                if shard.owns(id) {
                    owners[i] += 1;
                }
            }
        }
        assert!(owners.iter().all(|&n| n == 1), "{owners:?}");
        assert!(Shard::parse("3/3").is_err());
        assert!(Shard::parse("x").is_err());
    }

    #[test]
    fn typo_in_a_section_names_the_line() {
        let err = SiteConfig::parse("http:\n  listen: 127.0.0.1:0\n  tokn: x\n", Path::new("s"))
            .expect_err("typo");
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert!(
            source
                .as_deref()
                .is_some_and(|s| s.contains("tokn") && s.contains("line 3")),
            "{source:?}"
        );
    }

    #[test]
    fn the_sample_site_config_is_valid() {
        let text = include_str!("../../../examples/site-serve.yaml");
        let config = SiteConfig::parse(text, Path::new("examples/site-serve.yaml"))
            .expect("examples/site-serve.yaml is valid");
        assert_eq!(config.devices.len(), 4);
        assert!(config.influx.is_some() && config.mqtt.is_some());
        assert_eq!(config.http.listen, "127.0.0.1:6345");
    }

    #[test]
    fn debug_of_a_config_hides_secrets() {
        let config = SiteConfig::parse(
            "http: {token: sekrit-token}\ninflux: {url: 'http://127.0.0.1:1', org: o, bucket: b, token: sekrit-influx}\n",
            Path::new("s"),
        )
        .expect("valid");
        let text = format!("{config:?}");
        assert!(!text.contains("sekrit"), "{text}");
    }
}
