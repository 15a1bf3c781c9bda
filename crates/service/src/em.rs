//! EVSEMaster chargers in the service, through emproto's driver.
//!
//! An EVSEMaster charger speaks UDP, not Modbus, and pushes its status rather than being
//! polled. To give it the same life as every other device (a snapshot per poll, availability,
//! Prometheus, InfluxDB, MQTT discovery, checked writes) the service describes it with a small
//! built-in map, `evsemaster`, whose "registers" are the values emproto's [`ChargerView`]
//! holds, and reads it through [`EmIo`], a [`RegisterIo`] that encodes the driver's latest view
//! of the charger as words. One [`Driver`] (one UDP socket) serves every charger of the site.
//!
//! Writes go the other way: `max_current` sets the charger's configured maximum current,
//! `charging` 1 starts a charge at that current and 0 stops it (the driver rate-limits starts
//! and stops). The map's write rules check the values before anything is sent.
//!
//! A device entry names the charger by its serial in `options`:
//!
//! ```yaml
//! devices:
//!   carport: {map: evsemaster, interval: 10s, options: {serial: 9181102751219513, password_file: em-password}}
//! em: {bind: "0.0.0.0:28376"}
//! ```

use std::future::Future;
use std::sync::Arc;

use device_maps::{DeviceMap, RegisterIo};
use emproto::driver::{Driver, DriverError};
use emproto::model::{ChargerState, MetaState, StartParams};
use emproto::session::{ChargerView, ConfigItem};
use emproto::wire::{Password, Serial};
use modbus_core::Table;

use crate::config::Secret;

/// The id of the built-in map of EVSEMaster chargers.
pub const MAP_ID: &str = "evsemaster";

const MAP_YAML: &str = r#"
manufacturer: EVSEMaster
model: EVSEMaster charger (UDP)
description: >-
  Chargers speaking the EVSEMaster UDP protocol (Besen, Telestar, Morec, Deltaco and others),
  as evctl serve sees them through emproto's driver. Addresses are positions in the service's
  encoding of the driver's view, not anything on the wire.
connection: {transport: modbus-tcp, port: 28376, unit_ids: {charger: 1}, address_base: 0,
             max_registers: 64, span_gaps: true, max_gap: 64, timeout: 5s}
defaults: {table: holding}
registers:
  - {name: meta_state, title: State, address: 0, type: uint16, kind: state, group: state,
     enum: {0: Offline, 1: NotLoggedIn, 2: Idle, 3: Error, 4: Charging, 5: PluggedIn}, example: 2}
  - {name: current_state, title: Charger State Code, address: 1, type: uint16, kind: state,
     group: state, example: 12}
  - {name: gun_state, title: Plug State Code, address: 2, type: uint16, kind: state, group: state,
     example: 1}
  - {name: output_state, title: Output State Code, address: 3, type: uint16, kind: state,
     group: state, example: 2}
  - {name: voltage_L1, title: Voltage L1, address: 10, type: uint16, scale: 0.1, unit: V,
     group: electrical, example: 230.1}
  - {name: voltage_L2, title: Voltage L2, address: 11, type: uint16, scale: 0.1, unit: V,
     sentinels: [0xFFFF], group: electrical, example: 230.2}
  - {name: voltage_L3, title: Voltage L3, address: 12, type: uint16, scale: 0.1, unit: V,
     sentinels: [0xFFFF], group: electrical, example: 230.3}
  - {name: current_L1, title: Current L1, address: 13, type: uint16, scale: 0.01, unit: A,
     group: electrical, example: 15.5}
  - {name: current_L2, title: Current L2, address: 14, type: uint16, scale: 0.01, unit: A,
     sentinels: [0xFFFF], group: electrical, example: 0}
  - {name: current_L3, title: Current L3, address: 15, type: uint16, scale: 0.01, unit: A,
     sentinels: [0xFFFF], group: electrical, example: 0}
  - {name: power, title: Power, address: 20, type: uint32, unit: W, group: electrical,
     example: 3565}
  - {name: energy, title: Energy, address: 22, type: uint32, scale: 0.01, unit: kWh,
     kind: counter, group: electrical, example: 1234.56}
  - {name: inner_temperature, title: Inner Temperature, address: 24, type: int16, scale: 0.1,
     unit: °C, sentinels: [0x8000], group: state, example: 35.5}
  - {name: outer_temperature, title: Outer Temperature, address: 25, type: int16, scale: 0.1,
     unit: °C, sentinels: [0x8000], group: state, example: 20.5}
  - {name: error_flags, title: Error Flags, address: 26, type: uint32, kind: state,
     group: state, example: 0}
  - {name: max_current, title: Max Current, address: 30, type: uint16, unit: A, kind: setting,
     access: rw, write: {min: 6, max: 32}, sentinels: [0xFFFF], group: settings, example: 16,
     description: "Configured maximum current; also the current a charge is started with"}
  - {name: charging, title: Charging, address: 31, type: uint16, kind: setting, access: rw,
     enum: {0: stopped, 1: started}, group: settings, example: 0,
     description: "Write 1 to start a charge at max_current, 0 to stop (rate-limited)"}
"#;

/// The built-in `evsemaster` map (parsed on each call: it is small, and needed once per
/// charger at start-up).
pub fn map() -> Result<DeviceMap, device_maps::MapError> {
    device_maps::parse_map(MAP_ID, MAP_YAML)
}

/// A charger of the site: its serial and password.
#[derive(Debug, Clone)]
pub struct EmTarget {
    /// The serial (16 hex digits).
    pub serial: Serial,
    /// The password, if the charger needs a login.
    pub password: Option<Secret>,
}

/// The driver and the chargers of the site, handed to [`crate::Service::start`].
#[derive(Debug, Clone)]
pub struct EmSetup {
    /// The shared driver.
    pub driver: Arc<Driver>,
    /// Chargers by device id.
    pub chargers: std::collections::HashMap<String, EmTarget>,
}

/// The chargers among `config`'s served devices, read from their `options`
/// (`serial`, `password` or `password_file`).
pub fn targets(
    config: &crate::config::SiteConfig,
) -> Result<std::collections::HashMap<String, EmTarget>, crate::config::ConfigError> {
    let invalid = |message: String| crate::config::ConfigError::Invalid { message };
    let mut out = std::collections::HashMap::new();
    for (id, entry) in config.served_devices() {
        if entry.map != MAP_ID {
            continue;
        }
        let text = |key: &str| -> Option<String> {
            entry.options.get(key).map(|v| match v {
                serde_yaml::Value::String(s) => s.clone(),
                serde_yaml::Value::Number(n) => n.to_string(),
                other => serde_yaml::to_string(other)
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            })
        };
        let serial_text = text("serial").ok_or_else(|| {
            invalid(format!(
                "device `{id}` (evsemaster) needs `options: {{serial: ...}}` (`evctl em discover` shows it)"
            ))
        })?;
        let serial: Serial = serial_text.parse().map_err(|_| {
            invalid(format!(
                "device `{id}`: `{serial_text}` is not an EVSEMaster serial (16 hex digits)"
            ))
        })?;
        let inline = text("password").map(Secret::new);
        let file = text("password_file").map(|f| {
            let path = std::path::PathBuf::from(f);
            if path.is_relative() {
                config.base_dir.join(path)
            } else {
                path
            }
        });
        let password = crate::config::resolve_secret(inline.as_ref(), file.as_deref())?;
        if let Some(p) = &password
            && Password::new(p.expose()).is_err()
        {
            return Err(invalid(format!(
                "device `{id}`: the EVSEMaster password must be six ASCII characters"
            )));
        }
        out.insert(id.clone(), EmTarget { serial, password });
    }
    Ok(out)
}

/// Why a charger read or write failed.
#[derive(Debug, thiserror::Error)]
pub enum EmError {
    /// The driver has not heard the charger (recently).
    #[error("charger {serial} is offline (not heard within the driver's offline time)")]
    Offline {
        /// The serial.
        serial: String,
    },
    /// Logged in (or not), but no status yet.
    #[error("charger {serial} has sent no status yet{}", if *.logged_in { "" } else { " (not logged in: check its password)" })]
    NoStatus {
        /// The serial.
        serial: String,
        /// Whether the login succeeded.
        logged_in: bool,
    },
    /// The driver refused or failed the request.
    #[error("charger {serial}")]
    Driver {
        /// The serial.
        serial: String,
        /// Why.
        #[source]
        source: Box<DriverError>,
    },
    /// A write to a register that is not a setting, or a value out of its range.
    #[error("charger {serial}: register {address} cannot be written with {value}")]
    Unsupported {
        /// The serial.
        serial: String,
        /// The address.
        address: u16,
        /// The value.
        value: u16,
    },
}

/// One charger's register I/O through the shared driver.
#[derive(Clone)]
pub struct EmIo {
    driver: Arc<Driver>,
    serial: Serial,
    password: Option<Secret>,
}

impl std::fmt::Debug for EmIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmIo")
            .field("serial", &self.serial.to_string())
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

const WORDS: usize = 32;

fn meta_code(meta: MetaState) -> u16 {
    match meta {
        MetaState::Offline => 0,
        MetaState::NotLoggedIn => 1,
        MetaState::Idle => 2,
        MetaState::Error => 3,
        MetaState::Charging => 4,
        MetaState::PluggedIn => 5,
    }
}

fn scaled(value: f64, factor: f64) -> u16 {
    let v = (value * factor).round();
    if (0.0..65535.0).contains(&v) {
        v as u16
    } else {
        0xFFFF
    }
}

fn temperature(value: Option<f64>) -> u16 {
    match value {
        Some(t) if t.is_finite() && (-3276.0..3276.0).contains(&t) => {
            ((t * 10.0).round() as i16) as u16
        }
        _ => 0x8000,
    }
}

/// The words of the `evsemaster` map for one view of a charger.
fn encode(view: &ChargerView, state: &ChargerState) -> [u16; WORDS] {
    let mut w = [0u16; WORDS];
    w[0] = meta_code(view.meta_state);
    w[1] = u16::from(state.current_state.0);
    w[2] = u16::from(state.gun_state.0);
    w[3] = u16::from(state.output_state.0);
    for i in 0..3 {
        let phase = state.phases.get(i);
        w[10 + i] = phase.map_or(0xFFFF, |p| scaled(p.voltage_v, 10.0));
        w[13 + i] = phase.map_or(0xFFFF, |p| scaled(p.current_a, 100.0));
    }
    let power = state.power_w.max(0.0).round().min(f64::from(u32::MAX)) as u32;
    w[20] = (power >> 16) as u16;
    w[21] = power as u16;
    let energy = (state.energy_kwh.max(0.0) * 100.0)
        .round()
        .min(f64::from(u32::MAX)) as u32;
    w[22] = (energy >> 16) as u16;
    w[23] = energy as u16;
    w[24] = temperature(state.inner_temperature_c);
    w[25] = temperature(state.outer_temperature_c);
    w[26] = (state.error_flags.0 >> 16) as u16;
    w[27] = state.error_flags.0 as u16;
    w[30] = view.config.max_current_a.map_or(0xFFFF, u16::from);
    w[31] = u16::from(view.meta_state == MetaState::Charging);
    w
}

impl EmIo {
    /// The I/O of the charger `serial` through `driver`, logging in with `password` when the
    /// charger is heard but not logged in.
    pub fn new(driver: Arc<Driver>, serial: Serial, password: Option<Secret>) -> Self {
        Self {
            driver,
            serial,
            password,
        }
    }

    /// The charger's serial.
    pub fn serial(&self) -> Serial {
        self.serial
    }

    fn driver_err(&self, source: DriverError) -> EmError {
        EmError::Driver {
            serial: self.serial.to_string(),
            source: Box::new(source),
        }
    }

    async fn view(&self) -> Result<ChargerView, EmError> {
        let views = self
            .driver
            .chargers()
            .await
            .map_err(|e| self.driver_err(e))?;
        let offline = || EmError::Offline {
            serial: self.serial.to_string(),
        };
        let view = views
            .into_iter()
            .find(|v| v.serial == self.serial)
            .ok_or_else(offline)?;
        if !view.online {
            return Err(offline());
        }
        if !view.logged_in
            && let Some(password) = &self.password
            && let Ok(password) = Password::new(password.expose())
        {
            self.driver
                .login(self.serial, password)
                .await
                .map_err(|e| self.driver_err(e))?;
            return self.view_after_login().await;
        }
        Ok(view)
    }

    async fn view_after_login(&self) -> Result<ChargerView, EmError> {
        let views = self
            .driver
            .chargers()
            .await
            .map_err(|e| self.driver_err(e))?;
        views
            .into_iter()
            .find(|v| v.serial == self.serial)
            .ok_or_else(|| EmError::Offline {
                serial: self.serial.to_string(),
            })
    }

    async fn read_words(&self, address: u16, count: u16) -> Result<Vec<u16>, EmError> {
        let view = self.view().await?;
        let Some(state) = &view.state else {
            return Err(EmError::NoStatus {
                serial: self.serial.to_string(),
                logged_in: view.logged_in,
            });
        };
        let words = encode(&view, state);
        let start = usize::from(address);
        Ok((start..start + usize::from(count))
            .map(|i| words.get(i).copied().unwrap_or(0))
            .collect())
    }

    async fn write_words(&self, address: u16, values: &[u16]) -> Result<(), EmError> {
        let unsupported = |value| EmError::Unsupported {
            serial: self.serial.to_string(),
            address,
            value,
        };
        let value = values.first().copied().unwrap_or(0);
        match (address, value) {
            (30, amps) => {
                let amps = u8::try_from(amps).map_err(|_| unsupported(amps))?;
                self.driver
                    .set_config(self.serial, ConfigItem::MaxCurrent(amps))
                    .await
                    .map_err(|e| self.driver_err(e))?;
            }
            (31, 1) => {
                let view = self.view().await?;
                let amps = view
                    .config
                    .max_current_a
                    .or(view.info.as_ref().map(|i| i.max_current_a))
                    .unwrap_or(16);
                let params = StartParams {
                    max_current_a: amps,
                    start_at: None,
                    max_duration_min: None,
                    max_energy_kwh: None,
                    single_phase: false,
                    user_id: "evctl".to_owned(),
                    charge_id: None,
                };
                self.driver
                    .start_charge(self.serial, params, false)
                    .await
                    .map_err(|e| self.driver_err(e))?;
            }
            (31, 0) => {
                self.driver
                    .stop_charge(self.serial, "evctl", false)
                    .await
                    .map_err(|e| self.driver_err(e))?;
            }
            (_, value) => return Err(unsupported(value)),
        }
        Ok(())
    }
}

impl RegisterIo for EmIo {
    type Error = EmError;

    fn read(
        &mut self,
        _unit: u8,
        _table: Table,
        address: u16,
        count: u16,
    ) -> impl Future<Output = Result<Vec<u16>, EmError>> + Send {
        let this = self.clone();
        async move { this.read_words(address, count).await }
    }

    fn write(
        &mut self,
        _unit: u8,
        _table: Table,
        address: u16,
        values: &[u16],
    ) -> impl Future<Output = Result<(), EmError>> + Send {
        let this = self.clone();
        let values = values.to_vec();
        async move { this.write_words(address, &values).await }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_map_loads_and_plans_one_request() {
        let map = Arc::new(map().expect("the built-in evsemaster map loads"));
        let selection = map.select::<&str>(&[]).expect("select");
        let plan = map.plan_read(&selection, &map.units()).expect("plan");
        assert_eq!(plan.requests().len(), 1);
        assert_eq!(map.id, MAP_ID);
    }
}
