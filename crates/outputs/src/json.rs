//! JSON: flat (`{"c_name": "ALF_1000", ...}`, the keys and values of the Alfen tool's `--json`)
//! or nested by the map's groups (`{"identity": {"serial_number": ...}}`).
//!
//! Values are the register's value, not its label: an enumeration gives its number, as the seed
//! tools do, unless the map says `output: {json_enums: label}` (GivTCP prints `"Mode": "Eco"`);
//! a value without a label stays a number either way. NaN and missing values are `null`. Keys keep map order; the tree is written here
//! rather than through `serde_json::Value`, whose key order depends on a crate feature that other
//! crates of a build may or may not turn on.

use device_maps::JsonEnums;
use modbus_core::Value;
use serde_json::Value as Json;

use crate::view::{Reading, View};

/// A JSON tree that keeps insertion order.
enum Node {
    Leaf(Json),
    Object(Vec<(String, Node)>),
}

pub(crate) fn render(view: &View<'_>, nested: bool) -> String {
    let labels = view.map.output.json_enums == JsonEnums::Label;
    let mut root: Vec<(String, Node)> = Vec::new();
    for reading in &view.readings {
        let leaf = Node::Leaf(json_value(reading, labels));
        let name = reading.name().to_owned();
        match (nested, reading.group()) {
            (true, Some(group)) => {
                // Nested output uses the map's key within the group (`Battery_SOC`).
                let name = reading.key().to_owned();
                let path: Vec<&str> = group
                    .split('/')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .collect();
                insert(&mut root, &path, name, leaf);
            }
            (true, None) => insert(&mut root, &[], reading.key().to_owned(), leaf),
            (false, _) => insert(&mut root, &[], name, leaf),
        }
    }
    let mut out = String::new();
    write_object(&mut out, &root, 0);
    out.push('\n');
    out
}

/// Puts `leaf` at `path` / `name`, creating objects on the way. A group whose name is already
/// taken by a register at the same level becomes `<group>_group`, so no value is ever lost.
fn insert(level: &mut Vec<(String, Node)>, path: &[&str], name: String, leaf: Node) {
    let Some((first, rest)) = path.split_first() else {
        level.push((name, leaf));
        return;
    };
    let mut key = (*first).to_owned();
    if level
        .iter()
        .any(|(k, n)| *k == key && matches!(n, Node::Leaf(_)))
    {
        key.push_str("_group");
    }
    let position = match level
        .iter()
        .position(|(k, n)| *k == key && matches!(n, Node::Object(_)))
    {
        Some(position) => position,
        None => {
            level.push((key, Node::Object(Vec::new())));
            level.len() - 1
        }
    };
    if let Some((_, Node::Object(children))) = level.get_mut(position) {
        insert(children, rest, name, leaf);
    }
}

fn write_object(out: &mut String, entries: &[(String, Node)], depth: usize) {
    if entries.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push_str("{\n");
    for (i, (key, node)) in entries.iter().enumerate() {
        indent(out, depth + 1);
        out.push_str(&Json::String(key.clone()).to_string());
        out.push_str(": ");
        match node {
            Node::Leaf(value) => out.push_str(&value.to_string()),
            Node::Object(children) => write_object(out, children, depth + 1),
        }
        if i + 1 < entries.len() {
            out.push(',');
        }
        out.push('\n');
    }
    indent(out, depth);
    out.push('}');
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// The JSON value of one reading: numbers stay numbers (integers without a fraction), text is
/// a string, `hhmm` times are `"23:30"`, an enumeration is its label when `labels` (and it has
/// one), and anything missing or NaN is `null`.
fn json_value(reading: &Reading<'_>, labels: bool) -> Json {
    let Some(value) = reading.present() else {
        return Json::Null;
    };
    if (labels || reading.is_hhmm())
        && let Some(label) = reading.label()
    {
        return Json::String(label.to_owned());
    }
    let whole = reading.whole();
    match whole.as_ref().unwrap_or(value) {
        Value::Int(v) => Json::from(*v),
        Value::UInt(v) => Json::from(*v),
        Value::Float(v) => serde_json::Number::from_f64(*v).map_or(Json::Null, Json::Number),
        Value::Text(t) => Json::String(t.clone()),
        Value::Flags(bits) => Json::from(*bits),
        Value::Bool(b) => Json::Bool(*b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(n: i64) -> Node {
        Node::Leaf(Json::from(n))
    }

    fn text(root: &[(String, Node)]) -> String {
        let mut out = String::new();
        write_object(&mut out, root, 0);
        out
    }

    #[test]
    fn groups_nest_and_never_hide_a_value() {
        let mut root = Vec::new();
        insert(&mut root, &[], "meter".into(), leaf(1));
        insert(&mut root, &["meter", "today"], "energy".into(), leaf(2));
        insert(&mut root, &["meter", "today"], "power".into(), leaf(3));
        insert(&mut root, &["meter"], "state".into(), leaf(4));
        let value: Json = serde_json::from_str(&text(&root)).expect("valid JSON");
        assert_eq!(value["meter"], 1);
        assert_eq!(value["meter_group"]["today"]["energy"], 2);
        assert_eq!(value["meter_group"]["today"]["power"], 3);
        assert_eq!(value["meter_group"]["state"], 4);
    }

    #[test]
    fn empty_objects_and_escaped_keys() {
        assert_eq!(text(&[]), "{}");
        let root = vec![("a\"b".to_owned(), leaf(1))];
        assert_eq!(text(&root), "{\n  \"a\\\"b\": 1\n}");
    }
}
