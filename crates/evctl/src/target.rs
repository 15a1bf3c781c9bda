//! From `<map|device>` and flags to a device to talk to.
//!
//! A target is a device named in the site config or a map id. Flags override the config, which
//! overrides the map's defaults. The result names everything an error message needs: the
//! device, its map, `host:port` and the unit ids.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use device_maps::{DeviceMap, Units};
use service::DeviceConfig;

use crate::cli::{ConnectArgs, GlobalArgs};
use crate::config::Site;
use crate::maps::MapFolders;
use crate::report::{Usage, usage};

/// What every command starts from: the site config and where maps are.
pub struct Env {
    pub site: Site,
    pub maps: MapFolders,
}

impl Env {
    pub fn load(global: &GlobalArgs) -> anyhow::Result<Env> {
        let site = Site::load(global.config.as_deref())?;
        let maps = MapFolders::new(&global.maps, &site.maps)?;
        maps.warn();
        Ok(Env { site, maps })
    }

    /// The map `id`, or a usage error with a suggestion.
    pub fn map(&self, id: &str) -> anyhow::Result<Arc<DeviceMap>> {
        if let Some(map) = self.maps.find(id)? {
            return Ok(map);
        }
        let mut message = format!("no device map `{id}`");
        if let Some(device) = self.site.devices.get(id) {
            return self.map(&device.map).with_context(|| {
                Usage(format!(
                    "device `{id}` of the site config names map `{}`",
                    device.map
                ))
            });
        }
        if let Some(suggestion) = self.maps.suggest(id) {
            message.push_str(&format!("; did you mean `{suggestion}`?"));
        }
        message.push_str(" (`evctl list` shows every map)");
        Err(usage(message))
    }

    /// Resolves a map or device name plus flags into a [`Target`].
    pub fn target(&self, args: &ConnectArgs) -> anyhow::Result<Target> {
        let entry = self.site.devices.get(&args.target);
        let (name, map) = match entry {
            Some(entry) => {
                let map = self.map(&entry.map).with_context(|| {
                    Usage(format!(
                        "device `{}` of the site config names map `{}`",
                        args.target, entry.map
                    ))
                })?;
                (args.target.clone(), map)
            }
            None => {
                let map = self.map(&args.target).map_err(|err| {
                    if self.site.devices.is_empty() {
                        err
                    } else {
                        let devices: Vec<&str> =
                            self.site.devices.keys().map(String::as_str).collect();
                        err.context(Usage(format!(
                            "`{}` is neither a device of the site config ({}) nor a map",
                            args.target,
                            devices.join(", ")
                        )))
                    }
                })?;
                (map.id.clone(), map)
            }
        };
        let mut units = map.units();
        if let Some(entry) = entry {
            apply_entry_units(&mut units, entry)
                .with_context(|| Usage(format!("device `{name}` of the site config")))?;
        }
        for value in &args.unit {
            units
                .apply(value)
                .with_context(|| Usage(format!("--unit {value}")))?;
        }
        let host = args
            .host
            .clone()
            .or_else(|| entry.and_then(|e| e.host.clone()));
        let port = args
            .port
            .or_else(|| entry.and_then(|e| e.port))
            .unwrap_or(map.connection.port);
        let timeout = args
            .timeout
            .or_else(|| entry.and_then(|e| e.timeout))
            .unwrap_or(map.connection.timeout);
        let interval = entry.and_then(|e| e.interval);
        let verify = !args.no_verify && entry.and_then(|e| e.verify).unwrap_or(true);
        if !verify && !map.checks.is_empty() {
            eprintln!(
                "warning: not checking that {name} is a {} {} (--no-verify or `verify: false`): \
                 its values are trusted as they come",
                map.manufacturer, map.model
            );
        }
        let confirm_within = entry.and_then(|e| e.confirm_within);
        Ok(Target {
            verify,
            name,
            map,
            host,
            port,
            units,
            timeout,
            interval,
            confirm_within,
        })
    }
}

fn apply_entry_units(units: &mut Units, entry: &DeviceConfig) -> anyhow::Result<()> {
    if let Some(id) = entry.unit {
        units.set_main(id);
    }
    for (role, id) in &entry.units {
        units.set(role, *id)?;
    }
    Ok(())
}

/// Unit ids as people read them: `station 200, socket 1`.
pub fn units_text(units: &Units) -> String {
    units
        .roles()
        .iter()
        .map(|(role, id)| format!("{role} {id}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A device to talk to, fully resolved.
#[derive(Debug, Clone)]
pub struct Target {
    /// The device's name: its site-config id, or the map id.
    pub name: String,
    pub map: Arc<DeviceMap>,
    /// Host; none when neither a flag nor the config gives one (fine for `--simulated`).
    pub host: Option<String>,
    pub port: u16,
    pub units: Units,
    /// Time allowed per request.
    pub timeout: Duration,
    /// Poll interval from the site config.
    pub interval: Option<Duration>,
    /// Whether the map's checks are read and must hold (off with `--no-verify`).
    pub verify: bool,
    /// The read-back window of writes from the site config (`confirm_within`).
    pub confirm_within: Option<Duration>,
}

impl Target {
    /// `host:port`, or a usage error saying how to give a host.
    pub fn address(&self) -> anyhow::Result<String> {
        match &self.host {
            Some(host) if host.contains(':') && !host.starts_with('[') => {
                Ok(format!("[{host}]:{}", self.port))
            }
            Some(host) => Ok(format!("{host}:{}", self.port)),
            None => Err(usage(format!(
                "no host for `{}`: give --host, name a device with a host in the site config, \
                 or use --simulated for a simulated {}",
                self.name, self.map.id
            ))),
        }
    }

    /// The unit ids, as `station 200, socket 1`.
    pub fn units_text(&self) -> String {
        units_text(&self.units)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name == self.map.id {
            write!(f, "{}", self.name)?;
        } else {
            write!(f, "{} ({})", self.name, self.map.id)?;
        }
        match &self.host {
            Some(host) => write!(f, " at {host}:{}", self.port)?,
            None => write!(f, " (no host)")?,
        }
        write!(f, ", unit {}", self.units_text())
    }
}
