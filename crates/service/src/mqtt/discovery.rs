//! Home Assistant MQTT discovery, generated from a device map, and the per-value payloads the
//! discovered entities read.
//!
//! Each register becomes one entity, chosen by what the map says about it:
//!
//! | register                                   | component       |
//! |--------------------------------------------|-----------------|
//! | read-only bit (coil, discrete input)       | `binary_sensor` |
//! | read-only anything else                    | `sensor` (`enum` class when labelled) |
//! | writable bit                               | `switch`        |
//! | writable with labels and no range          | `select`        |
//! | writable time of day (`format: hhmm`)      | `text` (`HH:MM`)|
//! | writable text                              | `text`          |
//! | writable number                            | `number` (min, max, step from the write rule) |
//! | action without parameters                  | `button`        |
//!
//! `device_class`, `state_class` and `unit_of_measurement` come from the register's unit and
//! kind (W: power; kWh: energy, `total_increasing` when it is a counter; V, A, °C, Hz, ...;
//! `%` is `battery` only for a state of charge). The payloads are built from serde structs,
//! so their key order is fixed whatever serde_json features the build turns on.

use device_maps::{
    Access, Action, Bound, DeviceMap, Format, HeartbeatWrite, Kind, Reading, Register, Scale,
    Snapshot,
};
use modbus_core::{DataType, Value};
use serde::Serialize;

use super::topics::Topics;

/// The payload of a value that could not be read: Home Assistant shows `unknown`.
pub(crate) const MISSING: &str = "None";

/// One discovery message: its topic and JSON payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Discovery {
    pub topic: String,
    pub payload: String,
}

#[derive(Serialize)]
struct Availability {
    topic: String,
}

#[derive(Serialize)]
struct DeviceBlock<'a> {
    identifiers: [String; 1],
    name: &'a str,
    manufacturer: &'a str,
    model: &'a str,
    model_id: &'a str,
}

#[derive(Serialize)]
struct Origin {
    name: &'static str,
    sw_version: &'static str,
}

#[derive(Serialize)]
struct EntityConfig<'a> {
    name: &'a str,
    unique_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_class: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_class: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit_of_measurement: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    step: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pattern: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_on: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_off: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_on: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_off: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_press: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entity_category: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    qos: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retain: Option<bool>,
    availability: [Availability; 2],
    availability_mode: &'static str,
    device: &'a DeviceBlock<'a>,
    origin: &'a Origin,
}

impl<'a> EntityConfig<'a> {
    fn new(
        name: &'a str,
        unique_id: String,
        availability: [Availability; 2],
        device: &'a DeviceBlock<'a>,
        origin: &'a Origin,
    ) -> Self {
        EntityConfig {
            name,
            unique_id,
            state_topic: None,
            command_topic: None,
            device_class: None,
            state_class: None,
            unit_of_measurement: None,
            options: None,
            min: None,
            max: None,
            step: None,
            mode: None,
            pattern: None,
            payload_on: None,
            payload_off: None,
            state_on: None,
            state_off: None,
            payload_press: None,
            entity_category: None,
            qos: None,
            retain: None,
            availability,
            availability_mode: "all",
            device,
            origin,
        }
    }
}

/// `text` reduced to what Home Assistant accepts in a node or object id.
fn id_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// What every node id of this bridge starts with: the node of device `d` is this and `d`.
pub(crate) fn node_prefix(topics: &Topics) -> String {
    format!("{}_", id_part(topics.prefix()))
}

/// Every discovery message of device `device` read with `map`, retained by the caller.
/// `snapshot`, the device's latest readings when there are some, gives the bounds a map
/// takes from other registers (a charger's maximum current).
pub(crate) fn messages(
    topics: &Topics,
    discovery_prefix: &str,
    device: &str,
    map: &DeviceMap,
    snapshot: Option<&Snapshot>,
) -> Vec<Discovery> {
    let node = id_part(&format!("{}_{device}", topics.prefix()));
    let block = DeviceBlock {
        identifiers: [node.clone()],
        name: device,
        manufacturer: &map.manufacturer,
        model: &map.model,
        model_id: &map.id,
    };
    let origin = Origin {
        name: "evctl",
        sw_version: env!("CARGO_PKG_VERSION"),
    };
    let availability = || {
        [
            Availability {
                topic: topics.bridge_status(),
            },
            Availability {
                topic: topics.availability(device),
            },
        ]
    };
    let mut out = Vec::new();
    let mut push = |component: &str, object: &str, config: &EntityConfig<'_>| {
        // A serde struct of strings, numbers and options always serializes.
        if let Ok(payload) = serde_json::to_string(config) {
            out.push(Discovery {
                topic: format!(
                    "{}/{component}/{node}/{}/config",
                    discovery_prefix.trim_end_matches('/'),
                    id_part(object)
                ),
                payload,
            });
        }
    };
    // Registers a heartbeat keeps writing with fixed values (an "alive" register) belong to
    // the service, not to people.
    let kept_alive: Vec<&str> = map
        .heartbeats
        .iter()
        .filter_map(|h| match &h.write {
            HeartbeatWrite::Values(values) => Some(values.iter().map(|(name, _)| name.as_str())),
            HeartbeatWrite::Refresh(_) => None,
        })
        .flatten()
        .collect();
    for r in &map.registers {
        if r.access == Access::Write && kept_alive.contains(&r.name.as_str()) {
            continue;
        }
        let unique_id = format!("{node}_{}", id_part(&r.name));
        let mut config = EntityConfig::new(&r.title, unique_id, availability(), &block, &origin);
        if r.access.readable() {
            config.state_topic = Some(topics.value(device, &r.name));
        }
        let component = if r.access.writable() {
            config.command_topic = Some(topics.set(device, &r.name));
            config.qos = Some(1);
            config.retain = Some(false);
            config.entity_category = Some("config");
            writable(r, snapshot, &mut config)
        } else {
            readable(r, &mut config)
        };
        push(component, &r.name, &config);
    }
    // Values the map computes from registers (GivTCP's power flows): read-only sensors.
    for d in &map.derived {
        let unique_id = format!("{node}_{}", id_part(&d.name));
        let mut config = EntityConfig::new(&d.title, unique_id, availability(), &block, &origin);
        config.state_topic = Some(topics.value(device, &d.name));
        if d.enumeration.is_empty() {
            let (class, state) = classes_of(&d.name, d.unit.as_deref(), d.kind);
            config.device_class = class;
            config.state_class = state;
            config.unit_of_measurement = d.unit.as_deref().map(ha_unit);
        } else {
            config.device_class = Some("enum");
            config.options = Some(d.enumeration.iter().map(|(_, l)| l.as_str()).collect());
        }
        push("sensor", &d.name, &config);
    }
    // An action with parameters takes them as a JSON object typed into a text entity.
    for action in map.actions.iter().filter(|a| !a.params.is_empty()) {
        let unique_id = format!("{node}_action_{}", id_part(&action.name));
        let mut config =
            EntityConfig::new(&action.name, unique_id, availability(), &block, &origin);
        config.command_topic = Some(topics.action(device, &action.name));
        config.mode = Some("text");
        config.max = Some(255.0);
        config.qos = Some(1);
        config.retain = Some(false);
        push("text", &action.name, &config);
    }
    for action in map.actions.iter().filter(|a| a.params.is_empty()) {
        push(
            "button",
            &action.name,
            &button(
                topics,
                device,
                &node,
                action,
                &block,
                &origin,
                availability(),
            ),
        );
    }
    out
}

fn button<'a>(
    topics: &Topics,
    device: &str,
    node: &str,
    action: &'a Action,
    block: &'a DeviceBlock<'a>,
    origin: &'a Origin,
    availability: [Availability; 2],
) -> EntityConfig<'a> {
    let unique_id = format!("{node}_action_{}", id_part(&action.name));
    let mut config = EntityConfig::new(&action.name, unique_id, availability, block, origin);
    config.command_topic = Some(topics.action(device, &action.name));
    config.payload_press = Some("{}");
    config.qos = Some(1);
    config.retain = Some(false);
    config
}

fn is_text(r: &Register) -> bool {
    r.register_type.data_type().is_some_and(DataType::is_text)
}

fn is_bool(r: &Register) -> bool {
    r.register_type.data_type().is_none()
}

fn readable<'a>(r: &'a Register, config: &mut EntityConfig<'a>) -> &'static str {
    if is_bool(r) {
        config.payload_on = Some("true");
        config.payload_off = Some("false");
        return "binary_sensor";
    }
    if !r.enumeration.is_empty() {
        config.device_class = Some("enum");
        config.options = Some(r.enumeration.iter().map(|(_, l)| l.as_str()).collect());
        return "sensor";
    }
    if is_text(r) || r.format == Some(Format::Hhmm) {
        if r.kind == Kind::Text {
            config.entity_category = Some("diagnostic");
        }
        return "sensor";
    }
    let (class, state) = classes(r);
    config.device_class = class;
    config.state_class = state;
    config.unit_of_measurement = r.unit.as_deref().map(ha_unit);
    "sensor"
}

fn writable<'a>(
    r: &'a Register,
    snapshot: Option<&Snapshot>,
    config: &mut EntityConfig<'a>,
) -> &'static str {
    if is_bool(r) {
        config.payload_on = Some("true");
        config.payload_off = Some("false");
        config.state_on = Some("true");
        config.state_off = Some("false");
        return "switch";
    }
    if !r.enumeration.is_empty() && !has_range(r) {
        config.options = Some(r.enumeration.iter().map(|(_, l)| l.as_str()).collect());
        return "select";
    }
    if r.format == Some(Format::Hhmm) {
        config.pattern = Some("^([01]?[0-9]|2[0-3]):?[0-5][0-9]$");
        return "text";
    }
    if is_text(r) {
        config.max = r
            .codec
            .as_ref()
            .and_then(|c| c.data_type().max_chars(c.registers()))
            .map(|n| n as f64);
        return "text";
    }
    let (class, _) = classes(r);
    // A number entity takes no state class; its device class must be one numbers accept.
    config.device_class = class.filter(|c| *c != "enum");
    config.unit_of_measurement = r.unit.as_deref().map(ha_unit);
    let (min, max, step) = number_range(r, snapshot);
    config.min = Some(min);
    config.max = Some(max);
    config.step = Some(step);
    config.mode = Some("box");
    "number"
}

/// Whether a writable register's rule has a range (then it is a number even with labels).
fn has_range(r: &Register) -> bool {
    r.write
        .as_ref()
        .is_some_and(|w| w.min.is_some() || w.max.is_some())
}

/// The range and step a `number` entity offers: the write rule's bounds (widened to the extra
/// values it allows), else what the register's type can hold. A bound that is another
/// register's value is taken from `snapshot` when it has one; either way the command is
/// checked against the device's current value when it arrives, as the CLI checks it.
fn number_range(r: &Register, snapshot: Option<&Snapshot>) -> (f64, f64, f64) {
    let (type_min, type_max) = type_range(r);
    let rule = r.write.as_ref();
    let bound = |b: Option<&Bound>, fallback: f64| match b {
        Some(Bound::Value(v)) => *v,
        Some(Bound::Register(name)) => snapshot
            .and_then(|s| s.value(name))
            .and_then(Value::as_f64)
            .filter(|v| v.is_finite())
            .unwrap_or(fallback),
        None => fallback,
    };
    let mut min = bound(rule.and_then(|w| w.min.as_ref()), type_min);
    let mut max = bound(rule.and_then(|w| w.max.as_ref()), type_max);
    for also in rule.map(|w| w.also.as_slice()).unwrap_or_default() {
        min = min.min(*also);
        max = max.max(*also);
    }
    let factor = match &r.scale {
        Scale::Factor(f) => f.abs(),
        Scale::PowerOfTen(_) => 1.0,
    };
    let float = r.register_type.data_type().is_some_and(DataType::is_float);
    let step = rule
        .and_then(|w| w.step)
        .unwrap_or(if float { 0.001 } else { factor.max(0.001) });
    (min, max, step)
}

fn type_range(r: &Register) -> (f64, f64) {
    let raw = match r.register_type.data_type() {
        Some(DataType::Int16) => (f64::from(i16::MIN), f64::from(i16::MAX)),
        Some(DataType::UInt16) => (0.0, f64::from(u16::MAX)),
        Some(DataType::Int32) => (f64::from(i32::MIN), f64::from(i32::MAX)),
        Some(DataType::UInt32) => (0.0, f64::from(u32::MAX)),
        Some(DataType::UInt64) => (0.0, 1e15),
        // Floats and 64-bit integers: a wide range that still prints as a plain number.
        _ => (-1e15, 1e15),
    };
    match &r.scale {
        Scale::Factor(f) => {
            let (a, b) = (raw.0 * f + r.offset, raw.1 * f + r.offset);
            (a.min(b), a.max(b))
        }
        Scale::PowerOfTen(_) => raw,
    }
}

/// Home Assistant's spelling of a unit.
fn ha_unit(unit: &str) -> String {
    match unit {
        "degC" => "°C".to_owned(),
        "degF" => "°F".to_owned(),
        other => other.to_owned(),
    }
}

/// Whether an energy value is energy held in a battery rather than energy moved.
fn is_stored_energy(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.contains("capacity") || lower.contains("stored") || is_state_of_charge(name)
}

/// Whether a register holds a battery's state of charge.
fn is_state_of_charge(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.contains("state_of_charge") || lower.split(['_', '-']).any(|part| part == "soc")
}

/// The device class and state class of a numeric register.
fn classes(r: &Register) -> (Option<&'static str>, Option<&'static str>) {
    classes_of(&r.name, r.unit.as_deref(), r.kind)
}

/// The device class and state class of a numeric value called `name`.
fn classes_of(
    name: &str,
    unit: Option<&str>,
    kind: Kind,
) -> (Option<&'static str>, Option<&'static str>) {
    let unit = unit.unwrap_or("");
    let class = match unit {
        "W" | "kW" | "MW" => Some("power"),
        "VA" | "kVA" => Some("apparent_power"),
        "var" | "kvar" => Some("reactive_power"),
        // Energy held (a battery's capacity or charge) rather than energy moved.
        "Wh" | "kWh" | "MWh" if is_stored_energy(name) => Some("energy_storage"),
        "Wh" | "kWh" | "MWh" => Some("energy"),
        "V" | "mV" | "kV" => Some("voltage"),
        "A" | "mA" => Some("current"),
        "degC" | "°C" | "degF" | "°F" => Some("temperature"),
        "Hz" => Some("frequency"),
        "%" if is_state_of_charge(name) => Some("battery"),
        "s" | "ms" | "min" | "h" | "d" => Some("duration"),
        "" if name.to_ascii_lowercase().contains("power_factor") => Some("power_factor"),
        _ => None,
    };
    let state = match kind {
        Kind::Counter => Some("total_increasing"),
        // Energy moved is a total for Home Assistant; one that is not a counter in the map
        // is a daily or session figure that restarts from zero.
        Kind::Measurement if class == Some("energy") => Some("total_increasing"),
        Kind::Measurement => Some("measurement"),
        Kind::State | Kind::Text | Kind::Setting => None,
    };
    (class, state)
}

/// The payload of one value on its own topic: the label when the map gives one (an
/// enumeration label, `HH:MM` for times), `true`/`false` for bits, the number or text
/// otherwise; [`MISSING`] when there is no value.
pub(crate) fn value_payload(register: Option<&Register>, reading: &Reading) -> String {
    let Some(value) = reading.value() else {
        return MISSING.to_owned();
    };
    // A writable number with a few labelled values (a `number` entity) shows the number.
    let labelled_number = register.is_some_and(|r| r.access.writable() && has_range(r));
    if let Some(label) = reading.label.as_ref().filter(|_| !labelled_number) {
        return label.clone();
    }
    match value {
        Value::Bool(b) => b.to_string(),
        Value::Int(n) => n.to_string(),
        Value::UInt(n) => n.to_string(),
        Value::Flags(n) => n.to_string(),
        Value::Text(t) => t.clone(),
        Value::Float(f) if !f.is_finite() => MISSING.to_owned(),
        Value::Float(f) => {
            let plain_float32 = register.is_some_and(|r| {
                r.register_type.data_type() == Some(DataType::Float32)
                    && r.scale.is_identity()
                    && r.offset == 0.0
            });
            if plain_float32 {
                // A float32 holds about seven digits: print the shortest form that reads back.
                (*f as f32).to_string()
            } else {
                f.to_string()
            }
        }
    }
}

/// Whether the register gets a per-value topic at all.
pub(crate) fn has_value_topic(r: &Register) -> bool {
    r.access != Access::Write
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use device_maps::Registry;

    use super::*;

    fn render(map_id: &str) -> String {
        let registry = Registry::built_in().expect("built-in maps load");
        let map = registry.get(map_id).expect("seed map");
        let topics = Topics::new("evctl", "evctl-test");
        let mut text = String::new();
        for d in messages(&topics, "homeassistant", "garage", map, None) {
            // The payload as sent: its key order is the struct's, whatever serde_json's features.
            let _ = writeln!(text, "{}\n{}\n", d.topic, d.payload);
        }
        text
    }

    #[test]
    fn vestel_discovery() {
        insta::assert_snapshot!(render("vestel-evc04"));
    }

    #[test]
    fn givenergy_hybrid_discovery() {
        insta::assert_snapshot!(render("givenergy-hybrid"));
    }

    #[test]
    fn sdm630_discovery() {
        insta::assert_snapshot!(render("eastron-sdm630"));
    }

    #[test]
    fn every_seed_map_gives_unique_ids_and_topics() {
        let registry = Registry::built_in().expect("built-in maps load");
        let topics = Topics::new("evctl", "evctl-test");
        for map in registry.maps() {
            let messages = messages(&topics, "homeassistant", "dev-1", map, None);
            let mut seen = std::collections::HashSet::new();
            for d in &messages {
                assert!(seen.insert(d.topic.clone()), "{}: {}", map.id, d.topic);
                let json: serde_json::Value = serde_json::from_str(&d.payload).expect("JSON");
                let unique = json["unique_id"].as_str().expect("unique_id");
                assert!(unique.starts_with("evctl_dev-1_"), "{unique}");
                let level_ok = |t: &str| t.split('/').all(|l| !l.is_empty());
                assert!(level_ok(&d.topic), "{}", d.topic);
                if let Some(min) = json["min"].as_f64() {
                    assert!(min <= json["max"].as_f64().expect("max"), "{}", d.payload);
                }
            }
        }
    }

    #[test]
    fn bounds_from_other_registers_come_from_the_latest_readings() {
        let registry = Registry::built_in().expect("built-in maps load");
        let map = registry.get("vestel-evc04").expect("seed map");
        let plan = map
            .plan_read(&map.select::<&str>(&[]).expect("all"), &map.units())
            .expect("plan");
        let mut memory = device_maps::MemoryDevice::with_examples(map);
        let snapshot = device_maps::block_on(plan.execute(&mut memory));
        let topics = Topics::new("evctl", "evctl-test");
        let all = messages(&topics, "homeassistant", "garage", map, Some(&snapshot));
        let current = all
            .iter()
            .find(|d| d.topic == "homeassistant/number/evctl_garage/charging_current/config")
            .expect("charging_current is a number");
        let json: serde_json::Value = serde_json::from_str(&current.payload).expect("JSON");
        let max = snapshot.value("evse_max_current").and_then(Value::as_f64);
        assert!(max.is_some_and(|m| m < 65535.0), "{max:?}");
        assert_eq!(json["max"].as_f64(), max);
        // The heartbeat's alive register is the service's business, not an entity.
        assert!(!all.iter().any(|d| d.topic.contains("alive")), "{all:?}");
    }

    #[test]
    fn value_payloads_match_what_the_entities_expect() {
        let map = device_maps::parse_map(
            "demo",
            r#"
manufacturer: Demo
model: Box
connection: {unit_ids: {main: 1}, address_base: 0}
defaults: {table: holding}
registers:
  - {name: state, address: 0, type: uint16, kind: state, enum: {0: Idle, 1: Busy}, example: 1}
  - {name: limit, address: 1, type: uint16, access: rw, write: {min: 6, max: 32, also: [0]},
     enum: {0: Off}, unit: A, example: 0}
  - {name: mode, address: 2, type: uint16, access: rw, enum: {0: Eco, 1: Boost}, example: 1}
  - {name: start, address: 3, type: uint16, format: hhmm, access: rw, example: 2330}
  - {name: voltage, address: 4, type: float32, unit: V, example: 238.19}
  - {name: power, address: 6, type: int16, scale: 0.1, unit: kW, example: -1.5}
  - {name: gone, address: 7, type: uint16, sentinels: [0xFFFF], example: 5}
"#,
        )
        .expect("valid map");
        let map = std::sync::Arc::new(map);
        let plan = map
            .plan_read(&map.select::<&str>(&[]).expect("all"), &map.units())
            .expect("plan");
        let mut memory = device_maps::MemoryDevice::with_examples(&map);
        let mut snapshot = device_maps::block_on(plan.execute(&mut memory));
        if let Some(gone) = snapshot.readings.iter_mut().find(|r| r.name == "gone") {
            gone.value = Err(device_maps::Missing::Sentinel);
        }
        let payload = |name: &str| {
            let reading = snapshot.get(name).expect("reading");
            value_payload(map.register(name), reading)
        };
        assert_eq!(payload("state"), "Busy");
        assert_eq!(payload("limit"), "0");
        assert_eq!(payload("mode"), "Boost");
        assert_eq!(payload("start"), "23:30");
        assert_eq!(payload("voltage"), "238.19");
        assert_eq!(payload("power"), "-1.5");
        assert_eq!(payload("gone"), MISSING);
    }

    #[test]
    fn classes_follow_units_and_kinds() {
        let map = device_maps::parse_map(
            "demo",
            r#"
manufacturer: Demo
model: Battery
connection: {unit_ids: {main: 1}, address_base: 0}
defaults: {table: input}
registers:
  - {name: battery_soc, address: 0, type: uint16, unit: "%", example: 55}
  - {name: load_percent, address: 1, type: uint16, unit: "%", example: 10}
  - {name: energy_total, address: 2, type: uint32, scale: 0.1, unit: kWh, kind: counter, example: 12.5}
  - {name: energy_today, address: 4, type: uint16, scale: 0.1, unit: kWh, example: 1.5}
  - {name: temperature, address: 6, type: int16, scale: 0.1, unit: degC, example: 21.5}
"#,
        )
        .expect("valid map");
        let get = |name: &str| classes(map.register(name).expect("register"));
        assert_eq!(get("battery_soc"), (Some("battery"), Some("measurement")));
        assert_eq!(get("load_percent"), (None, Some("measurement")));
        assert_eq!(
            get("energy_total"),
            (Some("energy"), Some("total_increasing"))
        );
        assert_eq!(
            get("energy_today"),
            (Some("energy"), Some("total_increasing"))
        );
        assert_eq!(
            classes_of("SOC_kWh", Some("kWh"), Kind::Measurement),
            (Some("energy_storage"), Some("measurement"))
        );
        assert_eq!(
            get("temperature"),
            (Some("temperature"), Some("measurement"))
        );
        assert_eq!(ha_unit("degC"), "°C");
    }
}
