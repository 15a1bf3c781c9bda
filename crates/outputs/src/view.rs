//! The renderers' view of a snapshot: each reading next to its register in the map (when the
//! map has it), so every format sees the same values, labels and reasons.

use std::borrow::Cow;
use std::time::SystemTime;

use device_maps::{
    Derived, DeviceMap, Format as ValueFormat, Kind, Missing, Reading as MapReading, Register,
    Scale, Snapshot,
};
use modbus_core::{DataType, Value};

/// One reading and, when the map declares it, its register.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reading<'a> {
    pub reading: &'a MapReading,
    pub register: Option<&'a Register>,
    /// The derived value, when the reading is one.
    pub derived: Option<&'a Derived>,
}

impl<'a> Reading<'a> {
    pub fn name(&self) -> &'a str {
        &self.reading.name
    }

    pub fn title(&self) -> &'a str {
        &self.reading.title
    }

    /// The key within its group in nested output: the map's `key`, else the name.
    pub fn key(&self) -> &'a str {
        match (self.register, self.derived) {
            (Some(r), _) => r.output_key(),
            (None, Some(d)) => d.output_key(),
            (None, None) => &self.reading.name,
        }
    }

    pub fn group(&self) -> Option<&'a str> {
        self.reading.group.as_deref()
    }

    pub fn unit(&self) -> Option<&'a str> {
        self.reading
            .unit
            .as_deref()
            .filter(|u| !u.trim().is_empty())
    }

    pub fn kind(&self) -> Kind {
        self.reading.kind
    }

    /// The Modbus unit id the value was read from.
    pub fn unit_id(&self) -> u8 {
        self.reading.unit_id
    }

    /// The value when there is one and, for floats, when it is a number (NaN counts as
    /// missing).
    pub fn present(&self) -> Option<&'a Value> {
        match &self.reading.value {
            Ok(Value::Float(f)) if f.is_nan() => None,
            Ok(v) => Some(v),
            Err(_) => None,
        }
    }

    /// Why the value is missing, for people; `None` when it is present. A device's own "not
    /// available" needs no explanation and gives an empty reason.
    pub fn missing_reason(&self) -> Option<String> {
        match &self.reading.value {
            Ok(Value::Float(f)) if f.is_nan() => Some(String::new()),
            Ok(_) => None,
            Err(Missing::Sentinel) => Some(String::new()),
            Err(other) => Some(other.to_string()),
        }
    }

    /// The enumeration label (or `hh:mm` time) device-maps attached to the value.
    pub fn label(&self) -> Option<&'a str> {
        self.reading.label.as_deref()
    }

    /// Whether the register shows as a time of day.
    pub fn is_hhmm(&self) -> bool {
        self.register
            .is_some_and(|r| r.format == Some(ValueFormat::Hhmm))
    }

    /// The enumeration of the register or derived value (empty when unknown).
    pub fn enumeration(&self) -> &'a [(i64, String)] {
        match (self.register, self.derived) {
            (Some(r), _) => r.enumeration.as_slice(),
            (None, Some(d)) => d.enumeration.as_slice(),
            (None, None) => &[],
        }
    }

    /// The register's flag labels by bit (empty when unknown).
    pub fn flag_names(&self) -> &'a [(u32, String)] {
        self.register.map_or(&[], |r| r.flags.as_slice())
    }

    /// Whether the value is a bit field.
    pub fn is_flags(&self) -> bool {
        matches!(self.present(), Some(Value::Flags(_))) || !self.flag_names().is_empty()
    }

    /// The value as an integer when the register holds an integer and its scale and offset are
    /// whole numbers (GivEnergy's year: raw 26 + offset 2000 is `2026`, not `2026.0`), so JSON and
    /// InfluxDB keep the type of the register; `None` otherwise, and for anything but a float.
    pub fn whole(&self) -> Option<Value> {
        let register = self.register?;
        let Some(Value::Float(v)) = self.present() else {
            return None;
        };
        let integer_type = register
            .register_type
            .data_type()
            .is_some_and(|t| t.is_integer());
        let whole_scale = match &register.scale {
            Scale::Factor(f) => f.fract() == 0.0,
            Scale::PowerOfTen(_) => false,
        };
        (integer_type
            && whole_scale
            && register.offset.fract() == 0.0
            && v.fract() == 0.0
            && v.abs() < 9.0e15)
            .then_some(Value::Int(*v as i64))
    }

    /// Whether the register is a `float32` read without any scaling, so its value is exactly
    /// a single-precision number and prints best in single precision.
    pub fn is_plain_float32(&self) -> bool {
        self.register.is_some_and(|r| {
            r.register_type.data_type() == Some(DataType::Float32)
                && r.scale.is_identity()
                && r.offset == 0.0
        })
    }

    /// The description of the register, else its title; for a derived value, its description
    /// (or title) and the meaning of its states.
    pub fn description(&self) -> Cow<'a, str> {
        if let Some(d) = self.derived {
            let mut text = d
                .description
                .as_deref()
                .unwrap_or(&d.title)
                .trim()
                .to_owned();
            if !d.enumeration.is_empty() {
                let states: Vec<String> = d
                    .enumeration
                    .iter()
                    .map(|(v, l)| format!("{v} = {l}"))
                    .collect();
                text.push_str("; ");
                text.push_str(&states.join(", "));
            }
            return Cow::Owned(text);
        }
        Cow::Borrowed(
            self.register
                .and_then(|r| r.description.as_deref())
                .unwrap_or(&self.reading.title),
        )
    }
}

/// A whole snapshot, ready for rendering.
#[derive(Debug, Clone)]
pub(crate) struct View<'a> {
    pub map: &'a DeviceMap,
    pub readings: Vec<Reading<'a>>,
    pub read_at: SystemTime,
}

impl<'a> View<'a> {
    pub fn new(snapshot: &'a Snapshot, map: &'a DeviceMap) -> View<'a> {
        let readings = snapshot
            .readings
            .iter()
            .map(|reading| {
                let register = map.register(&reading.name);
                Reading {
                    reading,
                    register,
                    derived: register
                        .is_none()
                        .then(|| map.derived(&reading.name))
                        .flatten(),
                }
            })
            .collect();
        View {
            map,
            readings,
            read_at: snapshot.started_at,
        }
    }

    /// The unit ids present, in order of first appearance.
    pub fn units(&self) -> Vec<u8> {
        let mut units = Vec::new();
        for r in &self.readings {
            if !units.contains(&r.unit_id()) {
                units.push(r.unit_id());
            }
        }
        units
    }

    /// The device's serial number: the caller's, or the first non-empty text reading whose
    /// name mentions `serial`.
    pub fn serial(&self, given: Option<&'a str>) -> Option<&'a str> {
        given.or_else(|| {
            self.readings.iter().find_map(|r| {
                if !r.name().to_ascii_lowercase().contains("serial") {
                    return None;
                }
                match r.present() {
                    Some(Value::Text(t)) if !t.trim().is_empty() => Some(t.trim()),
                    _ => None,
                }
            })
        })
    }
}
