//! The JSON Schema of the map format, generated from the serde types of [`crate::raw`].
//!
//! Words that name a choice are plain strings in those types (so the loader can explain a wrong
//! word); the functions here give the schema their allowed values, so editors complete them.

use schemars::{Schema, SchemaGenerator, json_schema};

use crate::model::{JsonEnums, Kind, Transport};
use crate::raw::{RawMap, RawVariant};

/// The JSON Schema (draft 2020-12) of a device map file, as pretty-printed JSON.
pub fn json_schema() -> String {
    // A map file is a whole map, or a variant of another (`extends:`).
    let mut generator = SchemaGenerator::default();
    let map = generator.subschema_for::<RawMap>();
    let variant = generator.subschema_for::<RawVariant>();
    let mut schema = json_schema!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "evctl device map",
        "description": "A device map of evctl (docs/map-format.md): a whole map, or a variant of another map that says only what differs (`extends:`).",
        "oneOf": [map, variant]
    });
    let defs = generator.take_definitions(true);
    schema.insert("$defs".to_owned(), serde_json::Value::Object(defs));
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

fn words(description: &str, words: &[&str]) -> Schema {
    json_schema!({ "type": "string", "description": description, "enum": words })
}

pub(crate) fn transport(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = Transport::ALL.iter().map(|t| t.name()).collect();
    words("How the device is reached.", &names)
}

pub(crate) fn table(_: &mut SchemaGenerator) -> Schema {
    words("Modbus table.", &["holding", "input", "coil", "discrete"])
}

pub(crate) fn kind(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
    words(
        "What the value is (decides Prometheus and Home Assistant types).",
        &names,
    )
}

pub(crate) fn json_enums(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = JsonEnums::ALL.iter().map(|j| j.name()).collect();
    words(
        "What JSON prints for an enumeration: its value (default) or its label.",
        &names,
    )
}

pub(crate) fn access(_: &mut SchemaGenerator) -> Schema {
    words(
        "Read only, read and write, or write only.",
        &["r", "rw", "w"],
    )
}

pub(crate) fn format(_: &mut SchemaGenerator) -> Schema {
    words("How an integer is shown.", &["hhmm"])
}

pub(crate) fn param_type(_: &mut SchemaGenerator) -> Schema {
    words(
        "Parameter type.",
        &[
            "int", "number", "percent", "bool", "hhmm", "datetime", "enum",
        ],
    )
}

pub(crate) fn data_type(_: &mut SchemaGenerator) -> Schema {
    let mut names: Vec<&str> = modbus_core::DataType::ALL
        .iter()
        .map(|t| t.name())
        .collect();
    names.push("acc32");
    names.push("bool");
    json_schema!({
        "type": "string",
        "description": "Data type (modbus-core's names; its aliases such as `float` are accepted too).",
        "anyOf": [ { "enum": names }, { "type": "string" } ]
    })
}

pub(crate) fn order(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "description": "Byte and word order: ABCD (big endian), CDAB (swapped words), BADC (swapped bytes), DCBA (little endian), or an alias.",
        "anyOf": [ { "enum": ["ABCD", "CDAB", "BADC", "DCBA"] }, { "type": "string" } ]
    })
}

pub(crate) fn address_base(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "What the document's first register is called: 0 (wire addresses), 1, 30001, 40001, ..., or `modicon`, where the leading digit of each address picks its table and base (0xxxx coil, 1xxxx discrete, 3xxxx input, 4xxxx holding; also 1xxxxx/3xxxxx/4xxxxx).",
        "anyOf": [
            { "type": "integer", "minimum": 0, "maximum": 4294967295u64 },
            { "const": "modicon" }
        ]
    })
}

pub(crate) fn duration(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "description": "A duration with a unit: 250ms, 3s, 1.5s, 2m.",
        "pattern": "^[0-9]+(\\.[0-9]+)?(ms|s|m|min|h)$"
    })
}

pub(crate) fn example(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A typical value in the register's unit: a number, text, an enumeration label, a time for hhmm registers, or null for \"not available\" (served as the register's sentinel, or NaN).",
        "type": ["number", "string", "boolean", "null"]
    })
}

pub(crate) fn examples(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "description": "Example values of the expanded SunSpec registers, by name (`inverter_W: 4520`, `common_Mn: SMA`).",
        "additionalProperties": {"type": ["number", "string", "boolean", "null"]}
    })
}

pub(crate) fn phase(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "description": "The phase of the value (the Prometheus `phase` label): L1, L2, L3, N (to neutral: L1N, L2N, L3N; between lines: L1L2, L2L3, L3L1).",
        "enum": crate::model::PHASES
    })
}

pub(crate) fn role(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<String> = crate::role::Quantity::ALL
        .iter()
        .flat_map(|q| [q.name().to_owned(), format!("-{}", q.name())])
        .collect();
    json_schema!({
        "type": "string",
        "description": "What the value stands for in a site overview; a leading `-` when the register counts the other way round (grid power positive when importing, battery power positive when discharging).",
        "enum": names
    })
}

pub(crate) fn check_value(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "The value the register must hold: a number (as the register decodes it, after its scale) or text for a text register.",
        "type": ["number", "string"]
    })
}

pub(crate) fn check_values(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "The values the register may hold: numbers, or text for a text register.",
        "type": "array",
        "minItems": 1,
        "items": {"type": ["number", "string"]}
    })
}

pub(crate) fn check_patterns(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A pattern the text must match (`*` any run of characters, `?` one character), or a list of patterns of which one must match.",
        "oneOf": [
            {"type": "string"},
            {"type": "array", "minItems": 1, "items": {"type": "string"}}
        ]
    })
}

pub(crate) fn check_bound(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "A bound (inclusive) of the value as the register decodes it: a number, also hexadecimal such as 0x2000.",
        "type": "number"
    })
}

pub(crate) fn address_base_patch(generator: &mut SchemaGenerator) -> Schema {
    address_base(generator)
}

pub(crate) fn category(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = crate::Category::ALL.iter().map(|c| c.name()).collect();
    words(
        "What kind of device this is (groups the device table).",
        &names,
    )
}

pub(crate) fn category_patch(generator: &mut SchemaGenerator) -> Schema {
    category(generator)
}
