//! The site configuration: a YAML file that names devices, so `evctl read garage` works.
//!
//! ```yaml
//! maps: [./devices]            # extra map folders, relative to this file
//! devices:
//!   garage:
//!     map: alfen-eve
//!     host: 192.168.1.40
//!     units: {socket: 1}      # or `unit: 1` for a map with one unit
//!     timeout: 2s
//! ```
//!
//! Other top-level sections (used by `evctl serve`: mqtt, http, influx, ...) are left alone here,
//! but every key of a device entry must be known: a typo is an error naming file, line and column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;

use crate::report::Usage;

/// The parsed site configuration and where it came from.
#[derive(Debug, Default)]
pub struct Site {
    /// Extra map folders, resolved against the file's folder.
    pub maps: Vec<PathBuf>,
    /// Devices by id.
    pub devices: BTreeMap<String, DeviceEntry>,
}

#[derive(Debug, Deserialize)]
struct RawSite {
    #[serde(default)]
    maps: Vec<PathBuf>,
    #[serde(default)]
    devices: BTreeMap<String, DeviceEntry>,
    /// Sections owned by other commands (serve), ignored here.
    #[serde(flatten)]
    _other: BTreeMap<String, serde_yaml::Value>,
}

/// One device of the site.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceEntry {
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
    /// Request timeout, e.g. `2s`.
    pub timeout: Option<String>,
    /// Poll interval, e.g. `10s` (used by `poll` and `serve`).
    pub interval: Option<String>,
    /// Free-form options for other commands (serve), kept as written.
    #[serde(default)]
    #[allow(dead_code)] // read by `evctl serve`, accepted here so one file serves both
    pub options: BTreeMap<String, serde_yaml::Value>,
}

impl DeviceEntry {
    pub fn timeout(&self) -> anyhow::Result<Option<Duration>> {
        parse_opt_duration(self.timeout.as_deref(), "timeout")
    }

    pub fn interval(&self) -> anyhow::Result<Option<Duration>> {
        parse_opt_duration(self.interval.as_deref(), "interval")
    }
}

fn parse_opt_duration(text: Option<&str>, what: &str) -> anyhow::Result<Option<Duration>> {
    text.map(|t| {
        crate::cli::parse_duration(t)
            .map_err(|msg| anyhow::Error::new(Usage(format!("device {what}: {msg}"))))
    })
    .transpose()
}

/// Where the site config is looked for when `--config` is not given.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("evctl").join("site.yaml"))
}

impl Site {
    /// Loads the site config: the explicit file (which must exist), else the default file if it
    /// exists, else an empty site.
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<Site> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => match default_path() {
                Some(p) if p.is_file() => p,
                _ => return Ok(Site::default()),
            },
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| Usage(format!("cannot read site config {}", path.display())))?;
        Site::parse(&text, &path)
    }

    pub fn parse(text: &str, path: &Path) -> anyhow::Result<Site> {
        let raw: RawSite = if text.trim().is_empty() {
            RawSite {
                maps: Vec::new(),
                devices: BTreeMap::new(),
                _other: BTreeMap::new(),
            }
        } else {
            serde_yaml::from_str(text)
                .with_context(|| Usage(format!("invalid site config {}", path.display())))?
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let maps = raw
            .maps
            .into_iter()
            .map(|m| if m.is_absolute() { m } else { dir.join(m) })
            .collect();
        for (id, device) in &raw.devices {
            device
                .timeout()
                .and_then(|_| device.interval())
                .with_context(|| {
                    Usage(format!("device `{id}` in site config {}", path.display()))
                })?;
        }
        Ok(Site {
            maps,
            devices: raw.devices,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices_and_ignores_other_sections() {
        let site = Site::parse(
            "maps: [devices]\nmqtt: {host: 127.0.0.1}\ndevices:\n  garage:\n    map: alfen-eve\n    host: 127.0.0.1\n    units: {socket: 2}\n    timeout: 2s\n",
            Path::new("/etc/evctl/site.yaml"),
        )
        .expect("valid config");
        assert_eq!(site.maps, vec![PathBuf::from("/etc/evctl/devices")]);
        let garage = &site.devices["garage"];
        assert_eq!(garage.map, "alfen-eve");
        assert_eq!(garage.units["socket"], 2);
        assert_eq!(
            garage.timeout().ok().flatten(),
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn unknown_device_key_is_a_usage_error_with_location() {
        let err = Site::parse(
            "devices:\n  garage:\n    map: alfen-eve\n    hots: 127.0.0.1\n",
            Path::new("site.yaml"),
        )
        .expect_err("typo must fail");
        assert!(err.downcast_ref::<Usage>().is_some());
        let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
        assert!(
            chain
                .iter()
                .any(|c| c.contains("hots") && c.contains("line 4")),
            "{chain:?}"
        );
    }
}
