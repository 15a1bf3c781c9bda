//! Renderings of a device reading for people and for the tools they already run.
//!
//! A [`Snapshot`] read from a device (see device-maps) becomes aligned human text, JSON (flat
//! or nested by the map's groups), Prometheus text exposition, or InfluxDB line protocol. Every
//! function here is pure: a snapshot and its [`DeviceMap`] in, a string out, so the CLI, the
//! service and any other program render identically and tests need no device.
//!
//! The main entry point is [`render`], with a [`Format`] and [`Options`] (device name, serial
//! number, nesting, Influx measurement); [`human`], [`json`], [`prometheus`] and [`influx`] are
//! the same per format. [`Format`] parses from its name (`"json".parse()`), for command lines
//! and configuration files.
//!
//! Key decisions:
//!
//! - Values are shown as the map defines them, and a value that is missing (a sentinel, NaN, a
//!   failed request) is never a number: `n/a` for people, `null` in JSON, and left out of
//!   Prometheus and Influx, where an absent sample is the honest answer.
//! - JSON keeps the register names and raw values of the tools users come from (for
//!   `alfen-eve`, the keys and values of `alfen_eve_modbus_tcp --json`); labels are for people,
//!   unless the map asks for them (`output: {json_enums: label}`: GivTCP's `"Mode": "Eco"`).
//! - Prometheus metrics are in base units (`_volts`, `_watts`, `_joules`, `_seconds`), counters
//!   end in `_total`, a unit word in the register name is dropped rather than doubled
//!   (`Battery_Capacity_kWh` is `..._battery_capacity_joules`, unless that name is taken), and registers that differ only by phase share a metric with a `phase`
//!   label: the register's `phase:` from the map (`L1`, `L1N`, `L1L2`, ...), else the phase
//!   read from its name. A text value (a name, a version) is the label of an info metric whose value is 1.
//! - The renderers see the snapshot through the map, but a reading the map does not declare is
//!   still rendered from what the reading itself carries (name, title, unit, kind). The map's
//!   derived values (GivTCP's power flows) are readings like any other; nested JSON places every
//!   value under its group by its `key` (GivTCP's `Battery_SOC` in each battery's group).
//!
//! - People read a title once: a trailing unit word the value already shows is dropped
//!   (`PV Energy Today: 24.5 kWh`, from GivTCP's `PV_Energy_Today_kWh`), unless the short title
//!   belongs to another value or the word is a phase (`Current A`). An integer register with a
//!   whole scale and offset stays an integer in JSON and InfluxDB (a year is `2026`).
//!
//! - A `float32` register holds about seven significant digits, so people, Prometheus and
//!   Influx see it in its shortest single-precision form (`238.19`); JSON keeps the exact
//!   widened double (`238.1899871826172`), as the Alfen tool prints it.
//!
//! ```
//! use std::sync::Arc;
//! use device_maps::{MemoryDevice, block_on, parse_map};
//! use outputs::{Format, Options};
//!
//! let map = Arc::new(parse_map("demo-meter", r#"
//! manufacturer: Demo
//! model: Meter
//! connection: {unit_ids: {meter: 1}, address_base: 30001}
//! defaults: {table: input}
//! registers:
//!   - {name: voltage_l1, address: 30001, type: float32, unit: V, example: 230.5}
//!   - {name: energy, address: 30003, type: float32, unit: kWh, kind: counter, example: 1.5}
//! "#)?);
//! let plan = map.plan_read(&map.select::<&str>(&[])?, &map.units())?;
//! let snapshot = block_on(plan.execute(&mut MemoryDevice::with_examples(&map)));
//!
//! let options = Options { device: Some("garage".into()), ..Options::default() };
//! let text = outputs::render(&snapshot, &map, Format::Prometheus, &options);
//! assert!(text.contains("demo_meter_voltage_volts{device=\"garage\",unit=\"1\",phase=\"L1\"} 230.5"));
//! assert!(text.contains("demo_meter_energy_joules_total{device=\"garage\",unit=\"1\"} 5400000"));
//!
//! let json = outputs::render(&snapshot, &map, Format::Json, &Options::default());
//! assert_eq!(json, "{\n  \"voltage_l1\": 230.5,\n  \"energy\": 1.5\n}\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod human;
mod influx;
mod json;
mod naming;
mod prometheus;
mod time;
mod units;
mod view;

use std::fmt;
use std::str::FromStr;

use device_maps::{DeviceMap, Snapshot};

pub use naming::{PhaseSplit, split_phase};
pub use units::{BaseUnit, base_unit};

use view::View;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Aligned `Title: value unit` lines under a header per group.
    Human,
    /// A JSON object, flat or nested by group ([`Options::nested`]).
    Json,
    /// Prometheus text exposition format 0.0.4.
    Prometheus,
    /// InfluxDB line protocol, one line per Modbus unit, nanosecond time stamps.
    Influx,
}

impl Format {
    /// Every format, in the order help texts list them.
    pub const ALL: [Format; 4] = [
        Format::Human,
        Format::Json,
        Format::Prometheus,
        Format::Influx,
    ];

    /// The name used on command lines and in configuration files.
    pub const fn name(self) -> &'static str {
        match self {
            Format::Human => "human",
            Format::Json => "json",
            Format::Prometheus => "prometheus",
            Format::Influx => "influx",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is not one of [`Format::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not an output format; use one of: human, json, prometheus, influx")]
pub struct UnknownFormat {
    /// What was given.
    pub given: String,
}

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownFormat {
                given: s.to_owned(),
            })
    }
}

/// What the renderings may add to the snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// The device's name (from a site configuration, e.g. `garage`): the `device` label and
    /// tag, and the name in the human header. Defaults to the map id.
    pub device: Option<String>,
    /// The serial number for the `serial` label and tag. Defaults to the first non-empty text
    /// reading whose name mentions `serial`; none when there is no such reading.
    pub serial: Option<String>,
    /// JSON nested by the map's groups (`Energy/Today` nests twice) instead of flat.
    pub nested: bool,
    /// The InfluxDB measurement. Defaults to the map id.
    pub measurement: Option<String>,
}

/// Renders `snapshot`, read with `map`, in `format`.
pub fn render(snapshot: &Snapshot, map: &DeviceMap, format: Format, options: &Options) -> String {
    match format {
        Format::Human => human(snapshot, map, options),
        Format::Json => json(snapshot, map, options),
        Format::Prometheus => prometheus(snapshot, map, options),
        Format::Influx => influx(snapshot, map, options),
    }
}

/// Aligned text for people, as the seed tools print it: `Availability: Operable`.
pub fn human(snapshot: &Snapshot, map: &DeviceMap, options: &Options) -> String {
    human::render(&View::new(snapshot, map), options)
}

/// A JSON object of register names to values, flat or nested by group; ends with a newline.
pub fn json(snapshot: &Snapshot, map: &DeviceMap, options: &Options) -> String {
    json::render(&View::new(snapshot, map), options.nested)
}

/// Prometheus text exposition format, with `HELP` and `TYPE` for every metric.
pub fn prometheus(snapshot: &Snapshot, map: &DeviceMap, options: &Options) -> String {
    prometheus::render(&View::new(snapshot, map), options)
}

/// InfluxDB line protocol with a nanosecond time stamp (when the read started).
pub fn influx(snapshot: &Snapshot, map: &DeviceMap, options: &Options) -> String {
    influx::render(&View::new(snapshot, map), options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_by_name() {
        for format in Format::ALL {
            assert_eq!(format.name().parse::<Format>(), Ok(format));
        }
        assert_eq!(" JSON ".parse::<Format>(), Ok(Format::Json));
        let err = "xml".parse::<Format>().expect_err("not a format");
        assert!(err.to_string().contains("human, json, prometheus, influx"));
    }
}
