//! From a device map (and a values file) to a register bank.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use device_maps::{DeviceMap, Register, Scale, UnitRef, Units};
use modbus_core::Value;

use super::bank::{Access, GapPolicy, RegisterBank};

/// Register values by name, overriding a map's examples: what a values file holds.
///
/// A values file is YAML or JSON (by its extension, `.json` for JSON), one mapping from register
/// name to value, written as a user would type it to `evctl write`: numbers in the register's
/// unit, enumeration labels, `"23:30"` for times, text, `true`/`false` for bits.
///
/// ```yaml
/// voltage_phase_L1N: 231.4
/// mode3_state: C2
/// c_name: GARAGE
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values {
    entries: Vec<(String, String)>,
}

/// Why a map or a values file could not be served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// The values file could not be read.
    #[error("cannot read values file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The values file is not valid YAML.
    #[error("values file {} is not a YAML mapping of register names to values", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's complaint, with line and column.
        #[source]
        source: Box<serde_yaml::Error>,
    },
    /// The values file is not valid JSON.
    #[error("values file {} is not a JSON object of register names to values", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's complaint, with line and column.
        #[source]
        source: Box<serde_json::Error>,
    },
    /// A value in the file is a list or a mapping, not a single value.
    #[error("values file {}: the value of `{name}` must be a number, text or true/false", path.display())]
    NotScalar {
        /// The file.
        path: PathBuf,
        /// The register name.
        name: String,
    },
    /// A name that is not a register of the map.
    #[error("map `{map}` has no register `{name}` (given a value to simulate)")]
    UnknownRegister {
        /// The map id.
        map: String,
        /// The name.
        name: String,
    },
    /// A value the register cannot hold.
    #[error("map `{map}`: `{value}` is not a value register `{name}` can hold")]
    BadValue {
        /// The map id.
        map: String,
        /// The register.
        name: String,
        /// The value as given.
        value: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Two registers land on the same address (unit overrides merged two roles).
    #[error("map `{map}`: register `{name}` overlaps another register")]
    Overlap {
        /// The map id.
        map: String,
        /// The register.
        name: String,
        /// Where.
        #[source]
        source: super::bank::OverlapError,
    },
}

fn scalar_text(value: &serde_yaml::Value) -> Option<String> {
    match value {
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

impl Values {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `value` (text as a user would type it).
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.entries.push((name.into(), value.into()));
        self
    }

    /// The values, in file order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Reads a values file: JSON when its extension is `.json`, YAML otherwise.
    pub fn load(path: &Path) -> Result<Self, MapError> {
        let text = std::fs::read_to_string(path).map_err(|source| MapError::Read {
            path: path.to_owned(),
            source,
        })?;
        let json = path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("json"));
        let mapping: serde_yaml::Mapping = if json {
            let value: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
                .map_err(|source| MapError::Json {
                    path: path.to_owned(),
                    source: Box::new(source),
                })?;
            let mut mapping = serde_yaml::Mapping::new();
            for (name, value) in value {
                let value = serde_yaml::to_value(value).unwrap_or(serde_yaml::Value::Null);
                mapping.insert(serde_yaml::Value::String(name), value);
            }
            mapping
        } else {
            serde_yaml::from_str(&text).map_err(|source| MapError::Yaml {
                path: path.to_owned(),
                source: Box::new(source),
            })?
        };
        let mut values = Values::new();
        for (name, value) in mapping {
            let name = scalar_text(&name).unwrap_or_default();
            let text = scalar_text(&value).ok_or_else(|| MapError::NotScalar {
                path: path.to_owned(),
                name: name.clone(),
            })?;
            values.set(name, text);
        }
        Ok(values)
    }
}

/// How a map becomes a bank.
#[derive(Debug, Clone)]
pub(crate) struct MapSource {
    pub(crate) map: DeviceMap,
    pub(crate) units: Units,
    pub(crate) also_main: Vec<u8>,
    pub(crate) values: Values,
    pub(crate) gap_fill: u16,
}

fn access_of(register: &Register) -> Access {
    match register.access {
        device_maps::Access::Read => Access::Read,
        device_maps::Access::ReadWrite => Access::ReadWrite,
        device_maps::Access::Write => Access::Write,
    }
}

impl MapSource {
    pub(crate) fn new(map: &DeviceMap) -> Self {
        Self {
            map: map.clone(),
            units: map.units(),
            also_main: Vec::new(),
            values: Values::new(),
            gap_fill: 0xFFFF,
        }
    }

    /// The value each register is served with: the values file's, else the example.
    fn value_of(&self, register: &Register) -> Result<Value, MapError> {
        let Some((_, text)) = self
            .values
            .iter()
            .rev()
            .find(|(name, _)| *name == register.name)
        else {
            return Ok(register.example.clone());
        };
        device_maps::parse_register_value(register, text).map_err(|source| MapError::BadValue {
            map: self.map.id.clone(),
            name: register.name.clone(),
            value: text.to_owned(),
            source: Box::new(source),
        })
    }

    pub(crate) fn bank(&self) -> Result<RegisterBank, MapError> {
        let map = &self.map;
        for (name, _) in self.values.iter() {
            if map.register(name).is_none() {
                return Err(MapError::UnknownRegister {
                    map: map.id.clone(),
                    name: name.to_owned(),
                });
            }
        }
        let gaps = if map.connection.span_gaps {
            GapPolicy::Fill(self.gap_fill)
        } else {
            GapPolicy::Exception
        };
        let mut bank = RegisterBank::new();
        let mut units: BTreeSet<u8> = self.units.roles().iter().map(|(_, id)| *id).collect();
        units.extend(&self.also_main);
        // The other unit ids the map declares for its roles (Alfen's second socket).
        for (_, ids) in &map.connection.extra_unit_ids {
            units.extend(ids);
        }
        for unit in &units {
            bank.add_unit(*unit, gaps);
        }
        let main_role = self.units.main_role().to_owned();
        for register in &map.registers {
            let overridden = self.values.iter().any(|(name, _)| name == register.name);
            let value = self.value_of(register)?;
            let sf = match &register.scale {
                Scale::PowerOfTen(name) => match map.register(name) {
                    Some(sf_register) => self.value_of(sf_register)?.as_i64(),
                    None => None,
                },
                Scale::Factor(_) => None,
            };
            // `example: null`: serve the map's "not available" words.
            let example_words = register.example_words.clone().filter(|_| !overridden);
            let words = match example_words {
                Some(words) => Ok(words),
                None => device_maps::encode_value(register, &value, sf),
            }
            .map_err(|source| MapError::BadValue {
                map: map.id.clone(),
                name: register.name.clone(),
                value: format!("{value:?}"),
                source: Box::new(source),
            })?;
            let mut targets = vec![self.units.resolve(&register.unit_id)];
            if register.unit_id == UnitRef::Role(main_role.clone()) {
                targets.extend(&self.also_main);
            }
            if let UnitRef::Role(role) = &register.unit_id {
                targets.extend(map.connection.extra_ids(role));
            }
            targets.sort_unstable();
            targets.dedup();
            for unit in targets {
                bank.insert(
                    unit,
                    register.table,
                    register.wire_address,
                    &words,
                    access_of(register),
                )
                .map_err(|source| MapError::Overlap {
                    map: map.id.clone(),
                    name: register.name.clone(),
                    source,
                })?;
            }
        }
        Ok(bank)
    }
}
