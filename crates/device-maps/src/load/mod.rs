//! From YAML text to a validated [`DeviceMap`]: strict parsing, then every semantic rule of
//! `docs/map-format.md`, each failure pointing at the file, line and column at fault.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use modbus_core::{Codec, DataType, Order, Sentinel, Table, Value};

use crate::error::{MapError, summarise_yaml_error};
use crate::expr::{Condition, Expr};
use crate::locate::Locations;
use crate::model::AddressBase;
use crate::model::{
    Access, Action, Bound, Connection, Derived, DeviceMap, Every, Format, Heartbeat,
    HeartbeatWrite, JsonEnums, Kind, Output, Param, ParamType, ReadBack, Register, RegisterType,
    Scale, Source, Step, Transport, UnitRef, Valid, WriteRule,
};
use crate::raw::RawAddressBase;
use crate::raw::{
    RawAction, RawConnection, RawDerived, RawExpr, RawHeartbeat, RawMap, RawNumberOrName,
    RawOutput, RawReadBack, RawRegister, RawSentinel, RawUnitRef,
};

mod action;
mod category;
mod checks;
mod connection;
mod derived;
mod references;
mod register;
mod sunspec;
mod values;
mod variant;

use values::*;
pub(crate) use values::{
    describe_rule, number_value, parse_hhmm, parse_int, static_violation, unavailable_words,
    valid_name,
};

/// Parses a map from text. `id` names it (and stands for the file in error messages).
///
/// ```
/// let map = device_maps::parse_map("demo", r#"
/// manufacturer: Demo
/// model: Meter
/// connection: {unit_ids: {meter: 1}, address_base: 0}
/// registers:
///   - {name: voltage, address: 0, table: input, type: uint16, scale: 0.1, unit: V, example: 230.1}
/// "#)?;
/// assert_eq!(map.registers[0].name, "voltage");
/// # Ok::<(), device_maps::MapError>(())
/// ```
pub fn parse_map(id: &str, text: &str) -> Result<DeviceMap, MapError> {
    parse(id, Source::Text(id.to_owned()), id, text)
}

/// Loads the map in `path`; its id is the file name without `.yaml`/`.yml`.
pub fn load_file(path: &Path) -> Result<DeviceMap, MapError> {
    let text = std::fs::read_to_string(path).map_err(|source| MapError::Read {
        path: path.to_owned(),
        source,
    })?;
    let id = map_id(path)?;
    parse(
        &id,
        Source::File(path.to_owned()),
        &path.display().to_string(),
        &text,
    )
}

/// The id of a map file: its name without the extension, checked to be usable.
pub(crate) fn map_id(path: &Path) -> Result<String, MapError> {
    let id = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if valid_id(&id) {
        Ok(id)
    } else {
        Err(MapError::BadId {
            path: path.to_owned(),
            id,
        })
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Parses `text` as the map `id` from `source`; `file` is how errors name it.
pub(crate) fn parse(
    id: &str,
    source: Source,
    file: &str,
    text: &str,
) -> Result<DeviceMap, MapError> {
    parse_with_chain(id, source, file, text, None)
}

/// [`parse`], with a `sunspec:` map expanded for `chain` instead of its example chain.
pub(crate) fn parse_with_chain(
    id: &str,
    source: Source,
    file: &str,
    text: &str,
    chain: Option<&crate::sunspec::Chain>,
) -> Result<DeviceMap, MapError> {
    // A variant (`extends:`) becomes the whole map it stands for, its registers pointing
    // into this file.
    let (raw, given_prefixes, extends) = if variant::is_variant(text) {
        let (raw, prefixes, base) = variant::resolve(id, &source, file, text, 0)?;
        (raw, Some(prefixes), Some(base))
    } else {
        let raw: RawMap = serde_yaml::from_str(text).map_err(|err| syntax_error(file, err))?;
        (raw, None, None)
    };
    let mut checker = Checker {
        file,
        text,
        locations: OnceLock::new(),
        prefixes: RefCell::new(Vec::new()),
        skipped: RefCell::new(Vec::new()),
    };
    let mut raw = raw;
    if let Some(prefixes) = given_prefixes {
        *checker.prefixes.get_mut() = prefixes;
    }
    checker.expand(&mut raw)?;
    let sunspec = checker.expand_sunspec(&mut raw, chain)?;
    let mut map = checker.map(id, source, raw)?;
    map.extends = extends;
    map.sunspec = sunspec;
    Ok(map)
}

/// A YAML error of `file` as a [`MapError::Syntax`] in a newcomer's words.
pub(crate) fn syntax_error(file: &str, err: serde_yaml::Error) -> MapError {
    let (line, column) = err
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((1, 1));
    MapError::Syntax {
        file: file.to_owned(),
        line,
        column,
        summary: summarise_yaml_error(&err),
        // The summary rewords the parser's message in full: only a deeper cause is news.
        source: std::error::Error::source(&err)
            .is_some()
            .then(|| Box::new(err)),
    }
}

/// The closest of `candidates` to `word`, when it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let length = word.chars().count();
    candidates
        .into_iter()
        .filter_map(|c| {
            let limit = 2.max(c.len() / 4);
            // The distance is at least the difference in length: a word much longer or shorter
            // than the candidate (a quote that swallowed the lines after it) is never close,
            // and is not worth a quadratic comparison.
            if length.abs_diff(c.chars().count()) > limit {
                return None;
            }
            let d = edit_distance(&word, &c.to_ascii_lowercase());
            (d <= limit && d < c.len()).then_some((d, c))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Parses a duration such as `250ms`, `3s`, `1.5s`, `2m`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let (number, factor) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix("min") {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else {
        return None;
    };
    let n: f64 = number.trim().parse().ok()?;
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    Duration::try_from_secs_f64(n * factor).ok()
}

const ADDRESS_BASE_ALLOWED: &str = "a whole number such as 0, 1, 30001 or 40001 (subtracted \
     from every address), or `modicon` (the leading digit of each address picks its table)";

const MODICON_ALLOWED: &str = "under `address_base: modicon`: 1-9999 (0xxxx coils), 10001-19999 \
     (1xxxx discrete inputs), 30001-39999 (3xxxx input registers), 40001-49999 (4xxxx holding \
     registers), or the six-digit 100001-165536, 300001-365536 and 400001-465536";

const DURATION_ALLOWED: &str = "a number with a unit: 250ms, 3s, 1.5s, 2m";

/// Seconds per unit of a time unit, for heartbeat expressions.
fn seconds_per_unit(unit: Option<&str>) -> Option<f64> {
    match unit {
        None | Some("s") | Some("sec") | Some("seconds") => Some(1.0),
        Some("ms") => Some(0.001),
        Some("min") | Some("minutes") => Some(60.0),
        Some("h") => Some(3600.0),
        _ => None,
    }
}

struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    /// Built on the first error only: a valid map never pays for the second parse.
    locations: OnceLock<Locations>,
    /// The YAML path of each register, `registers.3` or `repeat.0.registers.2` for one
    /// expanded from a `repeat` block.
    prefixes: RefCell<Vec<String>>,
    /// Registers already reported by a rule across registers, which its next run skips so the
    /// mistakes of the others are found too.
    skipped: RefCell<Vec<String>>,
}

/// The most mistakes one load reports; the rest are counted.
pub(crate) const MAX_ERRORS: usize = 20;

type Check<T> = Result<T, MapError>;

impl Checker<'_> {
    fn locations(&self) -> &Locations {
        self.locations.get_or_init(|| Locations::build(self.text))
    }

    /// An error at the value of `path`.
    fn at(
        &self,
        path: &str,
        item: Option<&str>,
        problem: impl Into<String>,
        allowed: Option<&str>,
    ) -> MapError {
        let (line, column) = self.locations().value(path);
        self.error(line, column, item, problem, allowed)
    }

    /// An error at the key of `path`.
    fn at_key(
        &self,
        path: &str,
        item: Option<&str>,
        problem: impl Into<String>,
        allowed: Option<&str>,
    ) -> MapError {
        let (line, column) = self.locations().key(path);
        self.error(line, column, item, problem, allowed)
    }

    fn error(
        &self,
        line: usize,
        column: usize,
        item: Option<&str>,
        problem: impl Into<String>,
        allowed: Option<&str>,
    ) -> MapError {
        MapError::Invalid {
            file: self.file.to_owned(),
            line,
            column,
            register: item.map(str::to_owned),
            problem: problem.into(),
            allowed: allowed.map(str::to_owned),
        }
    }

    /// The YAML path of `key` of register `i`.
    fn rp(&self, i: usize, key: &str) -> String {
        match self.prefixes.borrow().get(i) {
            Some(prefix) => format!("{prefix}.{key}"),
            None => format!("registers.{i}.{key}"),
        }
    }

    /// Appends the registers of every `repeat` block, once per unit role, to `raw.registers`,
    /// and records where each register was written.
    fn expand(&mut self, raw: &mut RawMap) -> Check<()> {
        // A variant has given each register its place already.
        if self.prefixes.get_mut().len() != raw.registers.len() {
            *self.prefixes.get_mut() = (0..raw.registers.len())
                .map(|i| format!("registers.{i}"))
                .collect();
        }
        let roles: Vec<&str> = raw
            .connection
            .unit_ids
            .0
            .iter()
            .map(|(r, _)| r.as_str())
            .collect();
        let mut expanded = Vec::new();
        for (k, block) in raw.repeat.iter().enumerate() {
            if block.for_units.is_empty() {
                return Err(self.at(
                    &format!("repeat.{k}.for"),
                    None,
                    "`for` names no unit role",
                    Some(&roles.join(", ")),
                ));
            }
            for (j, template) in block.registers.iter().enumerate() {
                let path = format!("repeat.{k}.registers.{j}");
                if template.unit_id.is_some() {
                    return Err(self.at_key(
                        &format!("{path}.unit_id"),
                        Some(&template.name),
                        "a repeated register takes its unit from the block's `for`",
                        Some("remove `unit_id`"),
                    ));
                }
                if !template.name.contains("{n}") && !template.name.contains("{unit}") {
                    return Err(self.at(&format!("{path}.name"), None, format!("the repeated register `{}` would have the same name for every unit", template.name), Some("a name with `{n}` (1, 2, ...) or `{unit}` (the role), e.g. `battery_{n}_soc`")));
                }
            }
            for (m, role) in block.for_units.iter().enumerate() {
                if !roles.contains(&role.as_str()) {
                    return Err(self.at(
                        &format!("repeat.{k}.for.{m}"),
                        None,
                        format!("`{role}` is not a unit role of `connection.unit_ids`"),
                        Some(&roles.join(", ")),
                    ));
                }
                for (j, template) in block.registers.iter().enumerate() {
                    expanded.push(instantiate(template, m + 1, role));
                    self.prefixes
                        .get_mut()
                        .push(format!("repeat.{k}.registers.{j}"));
                }
            }
        }
        raw.registers.extend(expanded);
        Ok(())
    }

    /// Whether a rule across registers already reported register `name`.
    fn skipped(&self, name: &str) -> bool {
        self.skipped.borrow().iter().any(|n| n == name)
    }

    /// Runs a rule across registers until it passes, noting each mistake and skipping its
    /// register on the next run, so every register's mistake is found, not only the first.
    fn every_mistake(&self, errors: &mut Vec<MapError>, mut rule: impl FnMut() -> Check<()>) {
        while errors.len() < MAX_ERRORS * 2 {
            match rule() {
                Ok(()) => return,
                Err(e) => {
                    let item = e.register().map(str::to_owned);
                    errors.push(e);
                    match item {
                        Some(name) if !self.skipped(&name) => self.skipped.borrow_mut().push(name),
                        _ => return,
                    }
                }
            }
        }
    }

    /// Every rule of the format, collecting mistakes instead of stopping at the first: each
    /// register, heartbeat, action, derived value and check is judged on its own. A mistake
    /// that leaves nothing to judge the rest against (the connection, the defaults, a `repeat`
    /// block) stops the load at once. Rules across registers run when every register loaded;
    /// mistakes that only repeat a broken register's name are left out.
    fn map(&self, id: &str, source: Source, raw: RawMap) -> Check<DeviceMap> {
        let connection = self.connection(&raw.connection)?;
        if raw.registers.is_empty() {
            return Err(self.at("registers", None, "a map needs at least one register", None));
        }
        let default_table = match raw.defaults.as_ref().and_then(|d| d.table.as_deref()) {
            Some(t) => Some(self.table(t, "defaults.table", None)?),
            None => None,
        };
        let default_unit = match raw.defaults.as_ref().and_then(|d| d.unit_id.as_ref()) {
            Some(u) => self.unit_ref(u, &connection, "defaults.unit_id", None)?,
            None => UnitRef::Role(connection.main_unit.clone()),
        };
        let mut errors: Vec<MapError> = Vec::new();

        // Names first, so references can be checked in any order.
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (i, r) in raw.registers.iter().enumerate() {
            let path = self.rp(i, "name");
            if !valid_name(&r.name) {
                errors.push(self.at(
                    &path,
                    None,
                    format!("`{}` is not a usable register name", r.name),
                    Some("letters, digits and `_`, starting with a letter, e.g. `voltage_l1`"),
                ));
                continue;
            }
            if let Some(first) = names.insert(&r.name, i) {
                let (line, _) = self.locations().value(&self.rp(first, "name"));
                errors.push(self.at(
                    &path,
                    Some(&r.name),
                    format!("the name is used twice (first at line {line})"),
                    Some("a name used by no other register"),
                ));
            }
        }

        let names_ok = errors.is_empty();
        let mut registers = Vec::with_capacity(raw.registers.len());
        // Registers that did not load, by index.
        let mut broken: Vec<usize> = Vec::new();
        for (i, r) in raw.registers.iter().enumerate() {
            match self.register(i, r, &connection, default_table, &default_unit) {
                Ok(register) => registers.push(register),
                Err(e) => {
                    errors.push(e);
                    broken.push(i);
                }
            }
        }
        let broken_names: Vec<&str> = broken
            .iter()
            .map(|&i| raw.registers[i].name.as_str())
            .collect();
        // A later mistake that only names a register that did not load says nothing new.
        let keep = |e: MapError, errors: &mut Vec<MapError>| {
            let text = e.to_string();
            if !broken_names
                .iter()
                .any(|name| text.contains(&format!("`{name}`")))
            {
                errors.push(e);
            }
        };
        // The rules across registers judge the registers that loaded, each still pointing at
        // its own place in the file.
        let all_prefixes = self.prefixes.borrow().clone();
        let loaded: Vec<RawRegister> = if broken.is_empty() {
            raw.registers.clone()
        } else {
            let keep_index = |i: &usize| !broken.contains(i);
            *self.prefixes.borrow_mut() = (0..raw.registers.len())
                .filter(keep_index)
                .filter_map(|i| all_prefixes.get(i).cloned())
                .collect();
            (0..raw.registers.len())
                .filter(keep_index)
                .map(|i| raw.registers[i].clone())
                .collect()
        };
        let mut across = Vec::new();
        self.every_mistake(&mut across, || {
            self.scale_references(&loaded, &mut registers)
        });
        self.every_mistake(&mut across, || self.bound_references(&loaded, &registers));
        self.every_mistake(&mut across, || self.examples(&loaded, &mut registers));
        self.every_mistake(&mut across, || self.overlaps(&registers));
        for e in across {
            keep(e, &mut errors);
        }
        *self.prefixes.borrow_mut() = all_prefixes;

        let mut heartbeats = Vec::new();
        for (i, h) in raw.heartbeats.iter().enumerate() {
            match self.heartbeat(i, h, &registers) {
                Ok(h) => heartbeats.push(h),
                Err(e) => keep(e, &mut errors),
            }
        }
        let mut actions: Vec<Action> = Vec::new();
        let mut action_names: Vec<&str> = Vec::new();
        for (name, action) in &raw.actions.0 {
            if action_names.contains(&name.as_str()) {
                errors.push(self.at_key(
                    &format!("actions.{name}"),
                    None,
                    format!("action `{name}` is declared twice"),
                    None,
                ));
                continue;
            }
            action_names.push(name);
            match self.action(name, action, &registers) {
                Ok(a) => actions.push(a),
                Err(e) => keep(e, &mut errors),
            }
        }

        let derived = match self.derived(&raw.derived, &registers) {
            Ok(d) => d,
            Err(e) => {
                keep(e, &mut errors);
                Vec::new()
            }
        };
        // Keys repeat names: with a name used twice they would only say so again.
        if names_ok && let Err(e) = self.output_keys(&registers, &derived) {
            keep(e, &mut errors);
        }
        let category = match self.category(raw.category.as_deref()) {
            Ok(c) => c,
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let output = match self.output(raw.output.as_ref()) {
            Ok(o) => o,
            Err(e) => {
                errors.push(e);
                Output::default()
            }
        };
        let mut checks = Vec::new();
        for (i, c) in raw.checks.iter().enumerate() {
            match self.check("checks", i, c, &registers) {
                Ok(c) => checks.push(c),
                Err(e) => keep(e, &mut errors),
            }
        }
        let mut identify = Vec::new();
        for (i, c) in raw.identify.iter().enumerate() {
            match self.check("identify", i, c, &registers) {
                Ok(c) => identify.push(c),
                Err(e) => keep(e, &mut errors),
            }
        }
        if !errors.is_empty() {
            return Err(MapError::several(self.file, errors, MAX_ERRORS));
        }

        Ok(DeviceMap {
            id: id.to_owned(),
            source,
            manufacturer: raw.manufacturer,
            model: raw.model,
            category,
            description: raw.description,
            documents: raw.documents,
            connection,
            registers,
            heartbeats,
            actions,
            derived,
            output,
            checks,
            identify,
            extends: None,
            sunspec: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), None);
        assert_eq!(parse_duration("-1s"), None);
    }

    #[test]
    fn hhmm() {
        assert_eq!(parse_hhmm("23:30"), Some(2330));
        assert_eq!(parse_hhmm("0100"), Some(100));
        assert_eq!(parse_hhmm("1:00"), Some(100));
        assert_eq!(parse_hhmm("2360"), None);
        assert_eq!(parse_hhmm("24:00"), None);
    }

    #[test]
    fn output_preferences_default_to_values() -> Result<(), MapError> {
        let text = |output: &str| {
            format!(
                "manufacturer: D\nmodel: M\nconnection: {{unit_ids: {{m: 1}}, address_base: 0}}\n\
                 registers:\n  - {{name: mode, address: 0, type: uint16, enum: {{1: Eco}}, example: 1}}\n{output}"
            )
        };
        let plain = parse_map("d", &text(""))?;
        assert_eq!(plain.output.json_enums, JsonEnums::Value);
        let empty = parse_map("d", &text("output: {}\n"))?;
        assert_eq!(empty.output.json_enums, JsonEnums::Value);
        let labels = parse_map("d", &text("output: {json_enums: label}\n"))?;
        assert_eq!(labels.output.json_enums, JsonEnums::Label);
        let values = parse_map("d", &text("output: {json_enums: value}\n"))?;
        assert_eq!(values.output.json_enums, JsonEnums::Value);
        assert!(parse_map("d", &text("output: {json_enums: Label}\n")).is_err());
        Ok(())
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("flaot32", ["float32", "uint16"]), Some("float32"));
        assert_eq!(suggest("scael", ["scale", "name"]), Some("scale"));
        assert_eq!(suggest("zzz", ["float32"]), None);
        // Length decides before any comparison: a run-on key is never a typo of a short one.
        let run_on = format!("scale{}", "x".repeat(100_000));
        assert_eq!(suggest(&run_on, ["scale", "name"]), None);
        assert_eq!(suggest("uint1", ["uint16", "uint32"]), Some("uint16"));
    }
}
