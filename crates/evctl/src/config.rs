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
//! A device entry is `service::DeviceConfig`, the one `evctl serve` reads, so one file serves
//! both: every key must be known and durations must parse, or the error names file, line and
//! column. Other top-level sections (used by `evctl serve`: mqtt, http, influx, ...) are left
//! alone here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;
use service::DeviceConfig;

use crate::report::Usage;

/// The parsed site configuration and where it came from.
#[derive(Debug, Default)]
pub struct Site {
    /// Extra map folders, resolved against the file's folder.
    pub maps: Vec<PathBuf>,
    /// Devices by id.
    pub devices: BTreeMap<String, DeviceConfig>,
}

#[derive(Debug, Deserialize)]
struct RawSite {
    #[serde(default)]
    maps: Vec<PathBuf>,
    #[serde(default)]
    devices: BTreeMap<String, DeviceConfig>,
    /// Sections owned by other commands (serve), ignored here.
    #[serde(flatten)]
    _other: BTreeMap<String, serde_yaml::Value>,
}

/// Where the site config is looked for when `--config` is not given.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("evctl").join("site.yaml"))
}

/// The site config to read: the explicit file (`--config`, which must then exist), else the
/// default file if it exists, else none.
pub fn site_path(explicit: Option<&Path>) -> Option<PathBuf> {
    match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => default_path().filter(|p| p.is_file()),
    }
}

impl Site {
    /// Loads the site config [`site_path`] names, or an empty site when there is none.
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<Site> {
        let Some(path) = site_path(explicit) else {
            return Ok(Site::default());
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
            match serde_yaml::from_str(text) {
                Ok(raw) => raw,
                Err(err) => {
                    // Several mistakes are all reported, each with its line and column.
                    if let Some(mistakes) = service::site_mistakes(text) {
                        let several = service::ConfigError::Several {
                            path: path.to_path_buf(),
                            mistakes,
                        };
                        return Err(anyhow::Error::new(several)
                            .context(Usage("the site config cannot be used".to_owned())));
                    }
                    return Err(anyhow::Error::new(err)
                        .context(Usage(format!("invalid site config {}", path.display()))));
                }
            }
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let maps = raw
            .maps
            .into_iter()
            .map(|m| if m.is_absolute() { m } else { dir.join(m) })
            .collect();
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
        assert_eq!(garage.timeout, Some(std::time::Duration::from_secs(2)));
    }

    /// Parses a site config that must fail with a usage error naming `what` and `line`.
    fn assert_usage_error(text: &str, what: &str, line: &str) {
        let err = Site::parse(text, Path::new("site.yaml")).expect_err("must fail");
        assert!(err.downcast_ref::<Usage>().is_some(), "{err:?}");
        let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
        assert!(
            chain.iter().any(|c| c.contains(what) && c.contains(line)),
            "{chain:?}"
        );
    }

    #[test]
    fn unknown_device_key_is_a_usage_error_with_location() {
        assert_usage_error(
            "devices:\n  garage:\n    map: alfen-eve\n    hots: 127.0.0.1\n",
            "hots",
            "line 4",
        );
    }

    #[test]
    fn bad_duration_is_a_usage_error_with_location() {
        assert_usage_error(
            "devices:\n  garage:\n    map: alfen-eve\n    timeout: 2 fortnights\n",
            "2 fortnights",
            "line 3",
        );
    }

    #[test]
    fn both_sample_site_configs_load() {
        for (name, text) in [
            (
                "examples/site.yaml",
                include_str!("../../../examples/site.yaml"),
            ),
            (
                "examples/site-serve.yaml",
                include_str!("../../../examples/site-serve.yaml"),
            ),
        ] {
            let site = Site::parse(text, Path::new(name)).expect(name);
            assert!(site.devices.contains_key("garage"), "{name}");
        }
    }
}
