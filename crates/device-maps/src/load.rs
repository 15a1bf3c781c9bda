//! From YAML text to a validated [`DeviceMap`]: strict parsing, then every semantic rule of
//! `docs/map-format.md`, each failure pointing at the file, line and column at fault.

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
    Scale, Source, Step, Transport, UnitRef, WriteRule,
};
use crate::raw::RawAddressBase;
use crate::raw::{
    RawAction, RawConnection, RawDerived, RawExpr, RawHeartbeat, RawMap, RawNumberOrName,
    RawOutput, RawReadBack, RawRegister, RawSentinel, RawUnitRef,
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
    let raw: RawMap = serde_yaml::from_str(text).map_err(|err| {
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
    })?;
    let mut checker = Checker {
        file,
        text,
        locations: OnceLock::new(),
        prefixes: Vec::new(),
    };
    let mut raw = raw;
    checker.expand(&mut raw)?;
    checker.map(id, source, raw)
}

/// The closest of `candidates` to `word`, when it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len())
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
    prefixes: Vec<String>,
}

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
        match self.prefixes.get(i) {
            Some(prefix) => format!("{prefix}.{key}"),
            None => format!("registers.{i}.{key}"),
        }
    }

    /// Appends the registers of every `repeat` block, once per unit role, to `raw.registers`,
    /// and records where each register was written.
    fn expand(&mut self, raw: &mut RawMap) -> Check<()> {
        self.prefixes = (0..raw.registers.len())
            .map(|i| format!("registers.{i}"))
            .collect();
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
                    self.prefixes.push(format!("repeat.{k}.registers.{j}"));
                }
            }
        }
        raw.registers.extend(expanded);
        Ok(())
    }

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

        // Names first, so references can be checked in any order.
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (i, r) in raw.registers.iter().enumerate() {
            let path = self.rp(i, "name");
            if !valid_name(&r.name) {
                return Err(self.at(
                    &path,
                    None,
                    format!("`{}` is not a usable register name", r.name),
                    Some("letters, digits and `_`, starting with a letter, e.g. `voltage_l1`"),
                ));
            }
            if let Some(first) = names.insert(&r.name, i) {
                let (line, _) = self.locations().value(&self.rp(first, "name"));
                return Err(self.at(
                    &path,
                    Some(&r.name),
                    format!("the name is used twice (first at line {line})"),
                    Some("a name used by no other register"),
                ));
            }
        }

        let mut registers = Vec::with_capacity(raw.registers.len());
        for (i, r) in raw.registers.iter().enumerate() {
            registers.push(self.register(i, r, &connection, default_table, &default_unit)?);
        }
        self.scale_references(&raw.registers, &mut registers)?;
        self.bound_references(&raw.registers, &registers)?;
        self.examples(&raw.registers, &mut registers)?;
        self.overlaps(&registers)?;

        let heartbeats = raw
            .heartbeats
            .iter()
            .enumerate()
            .map(|(i, h)| self.heartbeat(i, h, &registers))
            .collect::<Check<Vec<_>>>()?;
        let mut actions = Vec::new();
        for (name, action) in &raw.actions.0 {
            if actions.iter().any(|a: &Action| a.name == *name) {
                return Err(self.at_key(
                    &format!("actions.{name}"),
                    None,
                    format!("action `{name}` is declared twice"),
                    None,
                ));
            }
            actions.push(self.action(name, action, &registers)?);
        }

        let derived = self.derived(&raw.derived, &registers)?;
        self.output_keys(&registers, &derived)?;
        let output = self.output(raw.output.as_ref())?;

        Ok(DeviceMap {
            id: id.to_owned(),
            source,
            manufacturer: raw.manufacturer,
            model: raw.model,
            description: raw.description,
            documents: raw.documents,
            connection,
            registers,
            heartbeats,
            actions,
            derived,
            output,
        })
    }

    /// `output:`: presentation preferences, each one of its allowed words.
    fn output(&self, raw: Option<&RawOutput>) -> Check<Output> {
        let mut output = Output::default();
        if let Some(word) = raw.and_then(|o| o.json_enums.as_deref()) {
            output.json_enums = JsonEnums::ALL
                .into_iter()
                .find(|j| j.name() == word)
                .ok_or_else(|| {
                    self.at(
                        "output.json_enums",
                        None,
                        format!("`{word}` is not a way to print enumerations in JSON"),
                        Some("value (the number, the default) or label (`\"Mode\": \"Eco\"`)"),
                    )
                })?;
        }
        Ok(output)
    }

    /// Derived values: names unique among registers and derived values, expressions that
    /// parse and read only numeric readable registers or earlier derived values.
    fn derived(&self, raw: &[RawDerived], registers: &[Register]) -> Check<Vec<Derived>> {
        let mut out: Vec<Derived> = Vec::with_capacity(raw.len());
        for (i, d) in raw.iter().enumerate() {
            let p = |key: &str| format!("derived.{i}.{key}");
            let item_text = format!("derived value `{}`", d.name);
            let item = Some(item_text.as_str());
            if !valid_name(&d.name) {
                return Err(self.at(
                    &p("name"),
                    None,
                    format!("`{}` is not a usable name", d.name),
                    Some("letters, digits and `_`, starting with a letter, e.g. `PV_Power`"),
                ));
            }
            if registers.iter().any(|r| r.name == d.name) || out.iter().any(|o| o.name == d.name) {
                return Err(self.at(
                    &p("name"),
                    item,
                    "the name is already used by a register or another derived value",
                    Some("a name used by no register and no other derived value"),
                ));
            }
            let kind = match d.kind.as_deref() {
                None | Some("measurement") => Kind::Measurement,
                Some("counter") => Kind::Counter,
                Some("state") => Kind::State,
                Some(other) => {
                    return Err(self.at(
                        &p("kind"),
                        item,
                        format!("`{other}` is not a kind a derived value can have"),
                        Some("measurement, counter, state"),
                    ));
                }
            };
            if let Some(group) = &d.group
                && (group.is_empty() || group.split('/').any(|s| s.trim().is_empty()))
            {
                return Err(self.at(
                    &p("group"),
                    item,
                    format!("`{group}` is not a usable group path"),
                    Some("a name, or names joined with `/`, e.g. `Power/Flows`"),
                ));
            }
            let mut enumeration = Vec::new();
            for (key, label) in d.enumeration.iter().flat_map(|e| e.0.iter()) {
                let value = parse_int(key).ok_or_else(|| {
                    self.at_key(
                        &format!("{}.{key}", p("enum")),
                        item,
                        format!("enumeration key `{key}` is not a whole number"),
                        Some("whole numbers such as 0, 1, 0x10"),
                    )
                })?;
                enumeration.push((value, label.clone()));
            }
            let expr = Expr::parse_comparison(&d.expr).map_err(|e| {
                let (line, column) = self.column_in(&p("expr"), &d.expr, e.position - 1);
                self.error(line, column, item, e.message.clone(), Some(DERIVED_ALLOWED))
            })?;
            let mut inputs: Vec<String> = Vec::new();
            for (name, field) in expr.params() {
                let (line, column) =
                    self.column_in(&p("expr"), &d.expr, word_offset(&d.expr, name));
                if let Some(field) = field {
                    return Err(self.error(
                        line,
                        column,
                        item,
                        format!("`{name}.{field}`: register values have no fields"),
                        Some(DERIVED_ALLOWED),
                    ));
                }
                let known = match registers.iter().find(|r| r.name == name) {
                    Some(r) if !r.access.readable() => Err(format!(
                        "`{name}` is write-only, so it has no value to compute with"
                    )),
                    Some(r)
                        if !r.register_type.data_type().is_some_and(|t| t.is_numeric())
                            && r.register_type != RegisterType::Bool =>
                    {
                        Err(format!("`{name}` is {}, not a number", r.register_type))
                    }
                    Some(_) => Ok(()),
                    None if out.iter().any(|o| o.name == name) => Ok(()),
                    None if raw[i..].iter().any(|later| later.name == name) => Err(format!(
                        "`{name}` is a derived value declared at or after this one"
                    )),
                    None => {
                        let candidates = registers
                            .iter()
                            .map(|r| r.name.as_str())
                            .chain(out.iter().map(|o| o.name.as_str()));
                        Err(format!(
                            "`{name}` is not a register or an earlier derived value of this map{}",
                            did_you_mean(suggest(name, candidates))
                        ))
                    }
                };
                if let Err(problem) = known {
                    return Err(self.error(line, column, item, problem, Some(DERIVED_ALLOWED)));
                }
                if !inputs.iter().any(|n| n == name) {
                    inputs.push(name.to_owned());
                }
            }
            out.push(Derived {
                name: d.name.clone(),
                title: d.title.clone().unwrap_or_else(|| title_from_name(&d.name)),
                group: d.group.clone(),
                key: d.key.clone(),
                unit: d.unit.clone(),
                kind,
                enumeration,
                description: d.description.clone(),
                expr,
                expr_text: d.expr.split_whitespace().collect::<Vec<_>>().join(" "),
                inputs,
            });
        }
        Ok(out)
    }

    /// Keys are usable, and no two values of one group share a key in nested output.
    fn output_keys(&self, registers: &[Register], derived: &[Derived]) -> Check<()> {
        let mut seen: HashMap<(Option<&str>, &str), String> = HashMap::new();
        let entries = registers
            .iter()
            .enumerate()
            .map(|(i, r)| {
                (
                    r.group.as_deref(),
                    r.output_key(),
                    r.key.is_some(),
                    self.rp(i, "key"),
                    self.rp(i, "name"),
                    &r.name,
                )
            })
            .chain(derived.iter().enumerate().map(|(i, d)| {
                (
                    d.group.as_deref(),
                    d.output_key(),
                    d.key.is_some(),
                    format!("derived.{i}.key"),
                    format!("derived.{i}.name"),
                    &d.name,
                )
            }));
        for (group, key, explicit, key_path, name_path, name) in entries {
            if explicit && (key.trim().is_empty() || key.contains('/')) {
                return Err(self.at(
                    &key_path,
                    Some(name),
                    format!("`{key}` is not a usable key"),
                    Some("a non-empty key without `/`, e.g. `Battery_SOC`"),
                ));
            }
            if let Some(first) = seen.insert((group, key), name.clone()) {
                let path = if explicit { key_path } else { name_path };
                return Err(self.at(
                    &path,
                    Some(name),
                    format!(
                        "key `{key}` is already `{first}`'s in group `{}`, so nested output would lose one",
                        group.unwrap_or("(none)")
                    ),
                    Some("a `key` unique within the group"),
                ));
            }
        }
        Ok(())
    }

    /// The line and column of character `offset` of the expression `text`, the value of
    /// `path`: exact when the value is written on one line (plain or quoted), else the value's
    /// start.
    fn column_in(&self, path: &str, text: &str, offset: usize) -> (usize, usize) {
        let (line, column) = self.locations().value(path);
        let Some(source) = self.text.lines().nth(line.saturating_sub(1)) else {
            return (line, column);
        };
        let rest: String = source.chars().skip(column.saturating_sub(1)).collect();
        let skip = if rest.starts_with(text) {
            0
        } else if (rest.starts_with('"') || rest.starts_with('\'')) && rest[1..].starts_with(text) {
            1
        } else {
            return (line, column);
        };
        (line, column + skip + offset)
    }

    fn connection(&self, c: &RawConnection) -> Check<Connection> {
        let transport = match c.transport.as_deref() {
            None => Transport::ModbusTcp,
            Some(t) => Transport::ALL
                .into_iter()
                .find(|tr| tr.name() == t)
                .ok_or_else(|| {
                    self.at(
                        "connection.transport",
                        None,
                        format!("unknown transport `{t}`"),
                        Some("modbus-tcp, rtu-over-tcp, serial-rtu, givenergy-dongle"),
                    )
                })?,
        };
        if c.unit_ids.0.is_empty() {
            return Err(self.at(
                "connection.unit_ids",
                None,
                "at least one unit id is needed",
                Some("a mapping of role names to unit ids, e.g. {meter: 1}"),
            ));
        }
        for (role, _) in &c.unit_ids.0 {
            if !valid_name(role) {
                return Err(self.at_key(
                    &format!("connection.unit_ids.{role}"),
                    None,
                    format!("`{role}` is not a usable unit role name"),
                    Some("letters, digits and `_`, starting with a letter, e.g. `socket`"),
                ));
            }
        }
        let roles = || {
            c.unit_ids
                .0
                .iter()
                .map(|(r, _)| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let main_unit = match &c.main_unit {
            Some(main) => {
                if !c.unit_ids.0.iter().any(|(r, _)| r == main) {
                    return Err(self.at(
                        "connection.main_unit",
                        None,
                        format!("`{main}` is not one of the unit roles"),
                        Some(&roles()),
                    ));
                }
                main.clone()
            }
            None if c.unit_ids.0.len() == 1 => c.unit_ids.0[0].0.clone(),
            None => {
                return Err(self.at(
                    "connection.unit_ids",
                    None,
                    "with several unit roles, `main_unit` must say which one registers use by default and `--unit N` replaces",
                    Some(&roles()),
                ));
            }
        };
        let mut extra_unit_ids: Vec<(String, Vec<u8>)> = Vec::new();
        for (role, ids) in c.extra_unit_ids.iter().flat_map(|e| e.0.iter()) {
            let path = format!("connection.extra_unit_ids.{role}");
            if !c.unit_ids.0.iter().any(|(r, _)| r == role) {
                return Err(self.at_key(
                    &path,
                    None,
                    format!("`{role}` is not a unit role of `connection.unit_ids`"),
                    Some(&roles()),
                ));
            }
            for (k, id) in ids.iter().enumerate() {
                if let Some((other, _)) = c.unit_ids.0.iter().find(|(_, u)| u == id) {
                    return Err(self.at(
                        &format!("{path}.{k}"),
                        None,
                        format!("unit id {id} is already role `{other}`'s"),
                        Some("unit ids no role of `connection.unit_ids` has"),
                    ));
                }
                if extra_unit_ids.iter().any(|(_, e)| e.contains(id)) || ids[..k].contains(id) {
                    return Err(self.at(
                        &format!("{path}.{k}"),
                        None,
                        format!("unit id {id} is listed twice"),
                        Some("each extra unit id once"),
                    ));
                }
            }
            extra_unit_ids.push((role.clone(), ids.clone()));
        }
        let order = match c.order.as_deref() {
            Some(o) => self.order(o, "connection.order", None)?,
            None => Order::Abcd,
        };
        let max_registers = c.max_registers.unwrap_or(125);
        if !(1..=125).contains(&max_registers) {
            return Err(self.at(
                "connection.max_registers",
                None,
                format!("{max_registers} registers per request is not possible"),
                Some("1 to 125 (the Modbus limit)"),
            ));
        }
        let max_bits = c.max_bits.unwrap_or(2000);
        if !(1..=2000).contains(&max_bits) {
            return Err(self.at(
                "connection.max_bits",
                None,
                format!("{max_bits} bits per request is not possible"),
                Some("1 to 2000 (the Modbus limit)"),
            ));
        }
        let span_gaps = c.span_gaps.unwrap_or(false);
        if c.max_gap.is_some() && !span_gaps {
            return Err(self.at_key(
                "connection.max_gap",
                None,
                "`max_gap` only applies with `span_gaps: true`",
                Some("add `span_gaps: true`, or remove `max_gap`"),
            ));
        }
        let max_gap = if span_gaps {
            c.max_gap.unwrap_or(u16::MAX)
        } else {
            0
        };
        if c.page_size == Some(0) {
            return Err(self.at(
                "connection.page_size",
                None,
                "a page size of 0 is not possible",
                Some("a number of registers such as 60"),
            ));
        }
        let duration = |value: &Option<String>,
                        key: &str,
                        default: Option<Duration>|
         -> Check<Option<Duration>> {
            match value {
                None => Ok(default),
                Some(text) => parse_duration(text).map(Some).ok_or_else(|| {
                    self.at(
                        &format!("connection.{key}"),
                        None,
                        format!("`{text}` is not a duration"),
                        Some(DURATION_ALLOWED),
                    )
                }),
            }
        };
        let pacing = duration(&c.pacing, "pacing", Some(Duration::ZERO))?.unwrap_or_default();
        let timeout =
            duration(&c.timeout, "timeout", Some(Duration::from_secs(3)))?.unwrap_or_default();
        if timeout.is_zero() {
            return Err(self.at(
                "connection.timeout",
                None,
                "a timeout of zero would fail every request",
                Some("a duration such as 3s"),
            ));
        }
        let idle_timeout = duration(&c.idle_timeout, "idle_timeout", None)?;
        let max_connections = c.max_connections.unwrap_or(1);
        if max_connections == 0 {
            return Err(self.at(
                "connection.max_connections",
                None,
                "a device that accepts no connection cannot be used",
                Some("1 or more"),
            ));
        }
        let address_base = match &c.address_base {
            RawAddressBase::Number(base) => AddressBase::Offset(*base),
            RawAddressBase::Name(word) if word.eq_ignore_ascii_case("modicon") => {
                AddressBase::Modicon
            }
            RawAddressBase::Name(word) => {
                let hint = if word.contains(' ') {
                    "; if that text was not meant to be one value, check the indentation of the \
                     next line and that every `{` has its `}`"
                } else {
                    ""
                };
                return Err(self.at(
                    "connection.address_base",
                    None,
                    format!("`{word}` is not an address base{hint}"),
                    Some(ADDRESS_BASE_ALLOWED),
                ));
            }
        };
        let located =
            |p: crate::extent::Problem| self.at(&p.path, None, p.problem, Some(p.allowed));
        let blocks =
            crate::extent::blocks(&c.blocks, &c.unit_ids.0, &main_unit).map_err(located)?;
        let write_confirm =
            crate::extent::write_confirm(c.write_confirm.as_ref()).map_err(located)?;
        Ok(Connection {
            transport,
            port: c.port.unwrap_or(transport.default_port()),
            unit_ids: c.unit_ids.0.clone(),
            main_unit,
            extra_unit_ids,
            address_base,
            order,
            max_registers,
            max_bits,
            span_gaps,
            max_gap,
            page_size: c.page_size,
            pacing,
            timeout,
            max_connections,
            idle_timeout,
            blocks,
            write_confirm,
        })
    }

    fn table(&self, text: &str, path: &str, item: Option<&str>) -> Check<Table> {
        let table: Table = text.parse().map_err(|_| {
            self.at(
                path,
                item,
                format!("unknown table `{text}`"),
                Some("holding, input, coil, discrete"),
            )
        })?;
        Ok(table)
    }

    fn order(&self, text: &str, path: &str, item: Option<&str>) -> Check<Order> {
        text.parse().map_err(|e: modbus_core::ParseError| {
            self.at(
                path,
                item,
                format!("unknown byte/word order `{text}`"),
                Some(e.allowed()),
            )
        })
    }

    fn unit_ref(
        &self,
        u: &RawUnitRef,
        c: &Connection,
        path: &str,
        item: Option<&str>,
    ) -> Check<UnitRef> {
        match u {
            RawUnitRef::Id(id) => Ok(UnitRef::Id(*id)),
            RawUnitRef::Role(role) => {
                if c.unit_id(role).is_some() {
                    Ok(UnitRef::Role(role.clone()))
                } else {
                    let roles: Vec<&str> = c.unit_ids.iter().map(|(r, _)| r.as_str()).collect();
                    Err(self.at(
                        path,
                        item,
                        format!("`{role}` is not a unit role of `connection.unit_ids`"),
                        Some(&format!("{}, or a unit id from 0 to 255", roles.join(", "))),
                    ))
                }
            }
        }
    }

    fn register(
        &self,
        i: usize,
        r: &RawRegister,
        c: &Connection,
        default_table: Option<Table>,
        default_unit: &UnitRef,
    ) -> Check<Register> {
        let p = |key: &str| self.rp(i, key);
        let name = Some(r.name.as_str());
        // Under Modicon numbering the leading digit of the address names the table and base.
        let modicon = match c.address_base {
            AddressBase::Modicon => Some(AddressBase::modicon(r.address).ok_or_else(|| {
                self.at(
                    &p("address"),
                    name,
                    format!("{} is not a Modicon address", r.address),
                    Some(MODICON_ALLOWED),
                )
            })?),
            AddressBase::Offset(_) => None,
        };
        let table = match (&r.table, modicon) {
            (Some(t), Some((digit, _))) => {
                let table = self.table(t, &p("table"), name)?;
                if table != digit {
                    return Err(self.at(
                        &p("table"),
                        name,
                        format!(
                            "`table: {table}` contradicts address {}, which `address_base: \
                             modicon` puts in the {digit} table",
                            r.address
                        ),
                        Some(&format!(
                            "`table: {digit}`, or leave `table` out (the leading digit picks it)"
                        )),
                    ));
                }
                table
            }
            (Some(t), None) => self.table(t, &p("table"), name)?,
            (None, Some((digit, _))) => match default_table {
                Some(default) if default != digit => {
                    return Err(self.at(
                        &p("address"),
                        name,
                        format!(
                            "address {} is in the {digit} table under `address_base: modicon`, \
                             but `defaults.table` is {default}",
                            r.address
                        ),
                        Some(&format!(
                            "`table: {digit}` on this register, or remove `defaults.table` (the \
                             leading digit picks the table)"
                        )),
                    ));
                }
                _ => digit,
            },
            (None, None) => default_table.unwrap_or(Table::Holding),
        };
        let unit_id = match &r.unit_id {
            Some(u) => self.unit_ref(u, c, &p("unit_id"), name)?,
            None => default_unit.clone(),
        };
        let register_type = match (r.data_type.as_deref(), table.is_bits()) {
            (None | Some("bool"), true) => RegisterType::Bool,
            (Some(t), true) => {
                return Err(self.at(
                    &p("type"),
                    name,
                    format!("a {table} holds one bit, so its type cannot be `{t}`"),
                    Some("bool, or leave `type` out"),
                ));
            }
            (Some("bool"), false) => {
                return Err(self.at(
                    &p("type"),
                    name,
                    format!("`bool` is for coils and discrete inputs, not {table} registers"),
                    Some("a register type such as uint16, or `table: coil`"),
                ));
            }
            (None, false) => {
                return Err(self.at_key(
                    &p("name"),
                    name,
                    "the register has no `type`",
                    Some(TYPES_ALLOWED),
                ));
            }
            (Some(t), false) => RegisterType::Data(t.parse().map_err(|_| {
                let hint = suggest(t, DataType::ALL.iter().map(|d| d.name()))
                    .map(|s| format!("unknown type `{t}`; did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("unknown type `{t}`"));
                self.at(&p("type"), name, hint, Some(TYPES_ALLOWED))
            })?),
        };
        let count = match register_type {
            RegisterType::Bool => match r.count {
                None | Some(1) => 1,
                Some(n) => {
                    return Err(self.at(
                        &p("count"),
                        name,
                        format!("a {table} is one bit; a count of {n} does not fit"),
                        Some("1, or leave `count` out"),
                    ));
                }
            },
            RegisterType::Data(t) => t.registers(r.count).map_err(|e| {
                let allowed = match t.fixed_registers() {
                    Some(w) => format!("{w} for {t}, or leave `count` out"),
                    None => "a number of registers of at least 1, e.g. `count: 10`".to_owned(),
                };
                let path = if r.count.is_some() {
                    p("count")
                } else {
                    p("type")
                };
                self.at(&path, name, e.to_string(), Some(&allowed))
            })?,
        };
        let order = match &r.order {
            Some(o) => self.order(o, &p("order"), name)?,
            None => c.order,
        };
        // Address.
        let wire = match modicon {
            Some((_, wire)) => u32::from(wire),
            None => {
                let base = match c.address_base {
                    AddressBase::Offset(base) => base,
                    AddressBase::Modicon => 0,
                };
                if r.address < base {
                    return Err(self.at(
                        &p("address"),
                        name,
                        format!(
                            "address {} is below the map's address_base {base}",
                            r.address
                        ),
                        Some(&format!(
                            "addresses from {base} (the wire address is address - address_base)"
                        )),
                    ));
                }
                r.address - base
            }
        };
        let last = u64::from(wire) + u64::from(count) - 1;
        if last > 65535 {
            let allowed = match c.address_base {
                AddressBase::Offset(base) => format!(
                    "addresses up to {} with address_base {base}",
                    65535 + u64::from(base) + 1 - u64::from(count)
                ),
                AddressBase::Modicon => {
                    format!("an address whose {count} register(s) end at wire address 65535")
                }
            };
            return Err(self.at(
                &p("address"),
                name,
                format!(
                    "address {} is wire address {wire}, and with {count} register(s) it ends at \
                     {last}, beyond 65535",
                    r.address
                ),
                Some(&allowed),
            ));
        }
        let wire_address = wire as u16;
        // Scale and offset.
        let scale = match &r.scale {
            None => Scale::Factor(1.0),
            Some(RawNumberOrName::Number(f)) => {
                if *f == 0.0 || !f.is_finite() {
                    return Err(self.at(
                        &p("scale"),
                        name,
                        format!("scale must not be {f}"),
                        Some(
                            "a number such as 0.1 or 1000, or the name of a scale-factor register",
                        ),
                    ));
                }
                Scale::Factor(*f)
            }
            Some(RawNumberOrName::Name(n)) => Scale::PowerOfTen(n.clone()),
        };
        let offset = r.offset.unwrap_or(0.0);
        if !offset.is_finite() {
            return Err(self.at(&p("offset"), name, "offset must be a finite number", None));
        }
        let data_type = register_type.data_type();
        let scaled = !scale.is_identity() || offset != 0.0;
        if scaled && !data_type.is_some_and(|t| t.is_numeric()) {
            let path = if r.scale.is_some() {
                p("scale")
            } else {
                p("offset")
            };
            return Err(self.at(
                &path,
                name,
                format!("scale and offset apply only to numbers, not to {register_type}"),
                Some("int16 ... uint64, float32, float64"),
            ));
        }
        // Enumeration and flags.
        let mut enumeration = Vec::new();
        let mut text_enumeration = Vec::new();
        if let Some(e) = &r.enumeration
            && data_type.is_some_and(|t| t.is_text())
        {
            for (key, label) in &e.0 {
                if key.trim() != key || key.is_empty() {
                    return Err(self.at_key(
                        &format!("{}.{key}", p("enum")),
                        name,
                        format!("enumeration key `{key}` of a text register is empty or has leading or trailing spaces"),
                        Some("the text as the device sends it, trimmed, e.g. `C2`"),
                    ));
                }
                text_enumeration.push((key.clone(), label.clone()));
            }
        } else if let Some(e) = &r.enumeration {
            match data_type {
                Some(t) if t.is_integer() => {}
                _ => {
                    return Err(self.at_key(
                        &p("enum"),
                        name,
                        format!(
                            "an enumeration needs an integer type, and {register_type} is not one"
                        ),
                        Some("enum on int16, uint16, int32, uint32, int64, uint64, or text (string, string1)"),
                    ));
                }
            }
            if scaled {
                return Err(self.at_key(&p("enum"), name, "an enumeration labels raw values, so it cannot be combined with scale or offset", None));
            }
            for (key, label) in &e.0 {
                let value = parse_int(key).ok_or_else(|| {
                    self.at_key(
                        &format!("{}.{key}", p("enum")),
                        name,
                        format!("enumeration key `{key}` is not a whole number"),
                        Some("whole numbers such as 0, 1, 0x10"),
                    )
                })?;
                enumeration.push((value, label.clone()));
            }
        }
        let mut flags = Vec::new();
        if let Some(f) = &r.flags {
            let width = match data_type {
                Some(
                    t @ (DataType::Bits16 | DataType::Bits32 | DataType::UInt16 | DataType::UInt32),
                ) => t.bits().unwrap_or(16),
                _ => {
                    return Err(self.at_key(
                        &p("flags"),
                        name,
                        format!(
                            "flags name the bits of a bit field, and {register_type} is not one"
                        ),
                        Some("flags on bits16, bits32, uint16 or uint32"),
                    ));
                }
            };
            for (key, label) in &f.0 {
                let bit = key
                    .parse::<u32>()
                    .ok()
                    .filter(|b| *b < width)
                    .ok_or_else(|| {
                        self.at_key(
                            &format!("{}.{key}", p("flags")),
                            name,
                            format!("`{key}` is not a bit of a {width}-bit value"),
                            Some(&format!("bit numbers 0 to {}", width - 1)),
                        )
                    })?;
                flags.push((bit, label.clone()));
            }
        }
        // Sentinels.
        let mut sentinels = Vec::new();
        for (k, s) in r.sentinels.iter().enumerate() {
            let path = format!("{}.{k}", p("sentinels"));
            let sentinel = match s {
                RawSentinel::Unsigned(v) => Sentinel::Raw(*v),
                RawSentinel::Signed(v) => Sentinel::Raw(*v as u64),
                RawSentinel::Word(w) => w.parse().map_err(|e: modbus_core::ParseError| {
                    self.at(
                        &path,
                        name,
                        format!("`{w}` is not a sentinel"),
                        Some(e.allowed()),
                    )
                })?,
            };
            if register_type == RegisterType::Bool {
                return Err(self.at(
                    &path,
                    name,
                    "a single bit has no \"not available\" pattern",
                    None,
                ));
            }
            sentinels.push(sentinel);
        }
        // Format.
        let format = match r.format.as_deref() {
            None => None,
            Some("hhmm") => {
                if !data_type.is_some_and(|t| t.is_integer()) || scaled {
                    return Err(self.at(
                        &p("format"),
                        name,
                        "`hhmm` needs an unscaled integer register",
                        None,
                    ));
                }
                Some(Format::Hhmm)
            }
            Some(other) => {
                return Err(self.at(
                    &p("format"),
                    name,
                    format!("unknown format `{other}`"),
                    Some("hhmm"),
                ));
            }
        };
        // Access and write rules.
        let access = match r.access.as_deref() {
            None | Some("r") => Access::Read,
            Some("rw") => Access::ReadWrite,
            Some("w") => Access::Write,
            Some(other) => {
                return Err(self.at(
                    &p("access"),
                    name,
                    format!("unknown access `{other}`"),
                    Some("r (read only), rw (read and write), w (write only)"),
                ));
            }
        };
        if access.writable() && !table.is_writable() {
            return Err(self.at(&p("access"), name, format!("{table} registers cannot be written over Modbus, so access `{access}` is impossible"), Some("access r, or table holding (or coil)")));
        }
        let write = match (&r.write, access.writable()) {
            (Some(_), false) => {
                return Err(self.at_key(
                    &p("write"),
                    name,
                    "a `write` block on a read-only register",
                    Some("add `access: rw` (or `w`), or remove `write`"),
                ));
            }
            (w, true) => Some(self.write_rule(i, r, w.as_ref(), access)?),
            (None, false) => None,
        };
        // Kind.
        let kind = match r.kind.as_deref() {
            Some(k) => Kind::ALL
                .into_iter()
                .find(|x| x.name() == k)
                .ok_or_else(|| {
                    self.at(
                        &p("kind"),
                        name,
                        format!("unknown kind `{k}`"),
                        Some("measurement, counter, state, text, setting"),
                    )
                })?,
            None => {
                if data_type.is_some_and(|t| t.is_text()) && text_enumeration.is_empty() {
                    Kind::Text
                } else if !enumeration.is_empty()
                    || !text_enumeration.is_empty()
                    || !flags.is_empty()
                    || data_type.is_some_and(|t| t.is_bits())
                {
                    Kind::State
                } else if access.writable() {
                    Kind::Setting
                } else {
                    Kind::Measurement
                }
            }
        };
        if let Some(group) = &r.group
            && (group.is_empty() || group.split('/').any(|s| s.trim().is_empty()))
        {
            return Err(self.at(
                &p("group"),
                name,
                format!("`{group}` is not a usable group path"),
                Some("a name, or names joined with `/`, e.g. `Energy/Today`"),
            ));
        }
        let phase = match r.phase.as_deref() {
            None => None,
            Some(text) => Some(
                crate::model::PHASES
                    .into_iter()
                    .find(|ph| ph.eq_ignore_ascii_case(text.trim()))
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        self.at(
                            &p("phase"),
                            name,
                            format!("unknown phase `{text}`"),
                            Some(&crate::model::PHASES.join(", ")),
                        )
                    })?,
            ),
        };
        // The codec (fixed scale only; a scale-factor register is applied on top).
        let codec = match data_type {
            None => None,
            Some(t) => {
                let mut codec = Codec::with_count(t, Some(count), order)
                    .map_err(|e| self.at(&p("type"), name, e.to_string(), None))?;
                let factor = match scale {
                    Scale::Factor(f) => f,
                    Scale::PowerOfTen(_) => 1.0,
                };
                codec = codec
                    .scaled(factor, offset)
                    .map_err(|e| self.at(&p("scale"), name, e.to_string(), None))?;
                for (k, s) in sentinels.iter().enumerate() {
                    codec = codec.missing_when(*s).map_err(|e| {
                        self.at(&format!("{}.{k}", p("sentinels")), name, e.to_string(), Some("a pattern as wide as the type (0xFFFF for 16 bits), all-ones, or nan for floats"))
                    })?;
                }
                Some(codec)
            }
        };
        Ok(Register {
            name: r.name.clone(),
            title: r.title.clone().unwrap_or_else(|| title_from_name(&r.name)),
            address: r.address,
            wire_address,
            table,
            unit_id,
            register_type,
            count,
            order,
            scale,
            offset,
            unit: r.unit.clone(),
            enumeration,
            text_enumeration,
            flags,
            sentinels,
            format,
            kind,
            access,
            write,
            group: r.group.clone(),
            key: r.key.clone(),
            phase,
            description: r.description.clone(),
            // Replaced by `examples` once every register is known.
            example: Value::UInt(0),
            example_words: None,
            codec,
        })
    }

    fn write_rule(
        &self,
        i: usize,
        r: &RawRegister,
        w: Option<&crate::raw::RawWrite>,
        access: Access,
    ) -> Check<WriteRule> {
        let p = |key: &str| self.rp(i, &format!("write.{key}"));
        let name = Some(r.name.as_str());
        let default = crate::raw::RawWrite::default();
        let w = w.unwrap_or(&default);
        let bound = |b: &Option<RawNumberOrName>, key: &str| -> Check<Option<Bound>> {
            Ok(match b {
                None => None,
                Some(RawNumberOrName::Number(v)) if v.is_finite() => Some(Bound::Value(*v)),
                Some(RawNumberOrName::Number(v)) => {
                    return Err(self.at(
                        &p(key),
                        name,
                        format!("{v} is not a usable bound"),
                        Some("a finite number or a register name"),
                    ));
                }
                Some(RawNumberOrName::Name(n)) => Some(Bound::Register(n.clone())),
            })
        };
        let min = bound(&w.min, "min")?;
        let max = bound(&w.max, "max")?;
        if let (Some(Bound::Value(lo)), Some(Bound::Value(hi))) = (&min, &max)
            && lo > hi
        {
            return Err(self.at(
                &p("min"),
                name,
                format!("min {lo} is above max {hi}"),
                Some("min <= max"),
            ));
        }
        if let Some(step) = w.step
            && !(step.is_finite() && step > 0.0)
        {
            return Err(self.at(
                &p("step"),
                name,
                format!("step {step} is not positive"),
                Some("a number above 0, e.g. 1 or 0.5"),
            ));
        }
        let data_type = if r
            .table
            .as_deref()
            .is_some_and(|t| t.parse::<Table>().is_ok_and(|t| t.is_bits()))
        {
            None
        } else {
            r.data_type
                .as_deref()
                .and_then(|t| t.parse::<DataType>().ok())
        };
        let has_limits = min.is_some() || max.is_some() || w.step.is_some() || !w.also.is_empty();
        if has_limits && data_type.is_some_and(|t| !t.is_numeric()) {
            return Err(self.at_key(
                &self.rp(i, "write"),
                name,
                "min, max, step and also apply only to numbers",
                None,
            ));
        }
        let read_back = match &w.read_back {
            None if access == Access::ReadWrite => ReadBack::Same,
            None => ReadBack::None,
            Some(RawReadBack::Flag(false)) => ReadBack::None,
            Some(RawReadBack::Flag(true)) if access == Access::Write => {
                return Err(self.at(
                    &p("read_back"),
                    name,
                    "a write-only register cannot be read back",
                    Some("false, or the name of a register that shows the applied value"),
                ));
            }
            Some(RawReadBack::Flag(true)) => ReadBack::Same,
            Some(RawReadBack::Register(n)) => ReadBack::Register(n.clone()),
        };
        Ok(WriteRule {
            min,
            max,
            step: w.step,
            also: w.also.clone(),
            read_back,
        })
    }

    /// Scale-factor registers exist, are integers of the same unit, and are readable.
    fn scale_references(&self, raw: &[RawRegister], registers: &mut [Register]) -> Check<()> {
        for i in 0..registers.len() {
            let Scale::PowerOfTen(target) = &registers[i].scale else {
                continue;
            };
            let path = self.rp(i, "scale");
            let name = Some(raw[i].name.as_str());
            let Some(t) = registers.iter().find(|r| r.name == *target) else {
                let hint = suggest(target, registers.iter().map(|r| r.name.as_str()));
                return Err(self.at(
                    &path,
                    name,
                    format!(
                        "scale names `{target}`, which is not a register of this map{}",
                        did_you_mean(hint)
                    ),
                    Some("a number, or the name of an integer scale-factor register"),
                ));
            };
            if !t.register_type.data_type().is_some_and(|d| d.is_integer())
                || !t.scale.is_identity()
                || t.offset != 0.0
            {
                return Err(self.at(&path, name, format!("scale-factor register `{target}` must be an unscaled integer (SunSpec sunssf is int16)"), None));
            }
            if t.unit_id != registers[i].unit_id {
                return Err(self.at(
                    &path,
                    name,
                    format!("scale-factor register `{target}` is on another unit"),
                    Some("a scale-factor register of the same unit"),
                ));
            }
            if !t.access.readable() {
                return Err(self.at(
                    &path,
                    name,
                    format!("scale-factor register `{target}` is write-only, so it cannot be read"),
                    None,
                ));
            }
            if t.name == registers[i].name {
                return Err(self.at(
                    &path,
                    name,
                    "a register cannot be its own scale factor",
                    None,
                ));
            }
        }
        Ok(())
    }

    /// Write bounds and read-back registers name readable numeric registers.
    fn bound_references(&self, raw: &[RawRegister], registers: &[Register]) -> Check<()> {
        for (i, r) in registers.iter().enumerate() {
            let Some(w) = &r.write else { continue };
            let name = Some(raw[i].name.as_str());
            for (key, bound) in [("min", &w.min), ("max", &w.max)] {
                if let Some(Bound::Register(target)) = bound {
                    let path = self.rp(i, &format!("write.{key}"));
                    self.numeric_register(registers, target, &path, name, &format!("`{key}`"))?;
                }
            }
            if let ReadBack::Register(target) = &w.read_back {
                let path = self.rp(i, "write.read_back");
                let t = self.readable_register(registers, target, &path, name, "`read_back`")?;
                if t.unit_id != r.unit_id {
                    return Err(self.at(
                        &path,
                        name,
                        format!("read-back register `{target}` is on another unit"),
                        None,
                    ));
                }
            }
        }
        Ok(())
    }

    fn readable_register<'r>(
        &self,
        registers: &'r [Register],
        target: &str,
        path: &str,
        item: Option<&str>,
        what: &str,
    ) -> Check<&'r Register> {
        let Some(t) = registers.iter().find(|r| r.name == target) else {
            let hint = suggest(target, registers.iter().map(|r| r.name.as_str()));
            return Err(self.at(
                path,
                item,
                format!(
                    "{what} names `{target}`, which is not a register of this map{}",
                    did_you_mean(hint)
                ),
                None,
            ));
        };
        if !t.access.readable() {
            return Err(self.at(
                path,
                item,
                format!("{what} names `{target}`, which is write-only and cannot be read"),
                None,
            ));
        }
        Ok(t)
    }

    fn numeric_register<'r>(
        &self,
        registers: &'r [Register],
        target: &str,
        path: &str,
        item: Option<&str>,
        what: &str,
    ) -> Check<&'r Register> {
        let t = self.readable_register(registers, target, path, item, what)?;
        if !t.register_type.data_type().is_some_and(|d| d.is_numeric()) {
            return Err(self.at(
                path,
                item,
                format!(
                    "{what} names `{target}`, which is {} and not a number",
                    t.register_type
                ),
                None,
            ));
        }
        Ok(t)
    }

    /// Every example is a value the register can hold and, for writable registers, may write.
    fn examples(&self, raw: &[RawRegister], registers: &mut [Register]) -> Check<()> {
        for i in 0..registers.len() {
            let path = self.rp(i, "example");
            let name = Some(raw[i].name.as_str());
            if raw[i].example.is_null() {
                let words = unavailable_words(&registers[i]).ok_or_else(|| {
                    self.at(
                        &path,
                        name,
                        "`example: null` (not available) needs a way for the register to say so",
                        Some("add `sentinels: [...]` (e.g. 0xFFFF or all-ones), use a float type (NaN), or give a value"),
                    )
                })?;
                registers[i].example = Value::Float(f64::NAN);
                registers[i].example_words = Some(words);
                continue;
            }
            let value = example_value(&registers[i], &raw[i].example)
                .map_err(|(problem, allowed)| self.at(&path, name, problem, Some(&allowed)))?;
            // It must encode (fits the type after scale and offset).
            let sf = match &registers[i].scale {
                Scale::PowerOfTen(target) => {
                    let t = registers.iter().find(|r| r.name == *target);
                    let sf = t.and_then(|t| {
                        example_number(
                            &raw[registers.iter().position(|r| r.name == t.name).unwrap_or(0)]
                                .example,
                        )
                    });
                    Some(sf.unwrap_or(0.0))
                }
                Scale::Factor(_) => None,
            };
            let r = &registers[i];
            if let Some(codec) = &r.codec {
                let to_encode = match (sf, value.as_f64()) {
                    (Some(sf), Some(v)) => Value::Float(v / 10f64.powf(sf)),
                    _ => value.clone(),
                };
                if let Err(e) = codec.encode(&to_encode) {
                    let extra = if sf.is_some() {
                        " with the scale factor's example"
                    } else {
                        ""
                    };
                    return Err(self.at(&path, name, format!("the example {} cannot be stored{extra}: {e}", show(&raw[i].example)), Some(&format!("a value {register_type} can hold after scale {scale} and offset {offset}", register_type = r.register_type, scale = show_scale(&r.scale), offset = r.offset))));
                }
            }
            if let Some(w) = &r.write
                && let Some(v) = value.as_f64()
                && r.enumeration.is_empty()
                && r.format.is_none()
            {
                let allowed = describe_rule(w);
                if let Some(problem) = static_violation(w, v) {
                    return Err(self.at(
                        &path,
                        name,
                        format!("the example {v} {problem}"),
                        Some(&allowed),
                    ));
                }
            }
            registers[i].example = value;
        }
        Ok(())
    }

    /// Registers of one unit role and table must not share an address.
    fn overlaps(&self, registers: &[Register]) -> Check<()> {
        let mut order: Vec<usize> = (0..registers.len()).collect();
        order.sort_by_key(|&i| {
            let r = &registers[i];
            (unit_key(&r.unit_id), r.table, r.wire_address, i)
        });
        for pair in order.windows(2) {
            let (a, b) = (&registers[pair[0]], &registers[pair[1]]);
            if unit_key(&a.unit_id) == unit_key(&b.unit_id)
                && a.table == b.table
                && u32::from(b.wire_address) <= a.last_wire_address()
            {
                let later = pair[0].max(pair[1]);
                let (other, this) = if later == pair[1] { (a, b) } else { (b, a) };
                return Err(self.at(
                    &self.rp(later, "address"),
                    Some(&this.name),
                    format!(
                        "wire addresses {}..={} overlap register `{}` ({}..={}) on the same unit and table",
                        this.wire_address,
                        this.last_wire_address(),
                        other.name,
                        other.wire_address,
                        other.last_wire_address()
                    ),
                    Some("registers that share no address; check the address and the count"),
                ));
            }
        }
        Ok(())
    }

    fn writable_register<'r>(
        &self,
        registers: &'r [Register],
        target: &str,
        path: &str,
        item: &str,
    ) -> Check<&'r Register> {
        let Some(t) = registers.iter().find(|r| r.name == target) else {
            let hint = suggest(target, registers.iter().map(|r| r.name.as_str()));
            return Err(self.at_key(
                path,
                Some(item),
                format!(
                    "`{target}` is not a register of this map{}",
                    did_you_mean(hint)
                ),
                None,
            ));
        };
        if !t.access.writable() {
            return Err(self.at_key(
                path,
                Some(item),
                format!("register `{target}` is read-only"),
                Some("registers with access rw or w"),
            ));
        }
        Ok(t)
    }

    fn heartbeat(&self, i: usize, h: &RawHeartbeat, registers: &[Register]) -> Check<Heartbeat> {
        let p = |key: &str| format!("heartbeats.{i}.{key}");
        let item = format!("heartbeat `{}`", h.name);
        let write = match (&h.write, &h.refresh) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(self.at(
                    &format!("heartbeats.{i}"),
                    Some(&item),
                    "a heartbeat needs exactly one of `write` and `refresh`",
                    Some("write: {register: value}, or refresh: register"),
                ));
            }
            (Some(w), None) => {
                let mut values = Vec::new();
                for (reg, v) in &w.0 {
                    let path = format!("{}.{reg}", p("write"));
                    let r = self.writable_register(registers, reg, &path, &item)?;
                    let value = match v {
                        RawNumberOrName::Number(n) => number_value(r, *n),
                        RawNumberOrName::Name(label) => match r.value_of_label(label) {
                            Some(n) => Value::Int(n),
                            None => {
                                return Err(self.at(
                                    &path,
                                    Some(&item),
                                    format!("`{label}` is not a value of `{reg}`"),
                                    Some("a number, or a label of the register's enumeration"),
                                ));
                            }
                        },
                    };
                    if let (Some(w), Some(v)) = (&r.write, value.as_f64())
                        && let Some(problem) = static_violation(w, v)
                    {
                        return Err(self.at(
                            &path,
                            Some(&item),
                            format!("{v} for `{reg}` {problem}"),
                            Some(&describe_rule(w)),
                        ));
                    }
                    if let Some(codec) = &r.codec
                        && let Err(e) = codec.encode(&value)
                    {
                        return Err(self.at(
                            &path,
                            Some(&item),
                            format!("{value} cannot be written to `{reg}`: {e}"),
                            None,
                        ));
                    }
                    values.push((reg.clone(), value));
                }
                HeartbeatWrite::Values(values)
            }
            (None, Some(reg)) => {
                self.writable_register(registers, reg, &p("refresh"), &item)?;
                HeartbeatWrite::Refresh(reg.clone())
            }
        };
        let min = h
            .min
            .as_ref()
            .map(|m| {
                parse_duration(m).ok_or_else(|| {
                    self.at(
                        &p("min"),
                        Some(&item),
                        format!("`{m}` is not a duration"),
                        Some(DURATION_ALLOWED),
                    )
                })
            })
            .transpose()?;
        let fallback = h
            .fallback
            .as_ref()
            .map(|m| {
                parse_duration(m).ok_or_else(|| {
                    self.at(
                        &p("fallback"),
                        Some(&item),
                        format!("`{m}` is not a duration"),
                        Some(DURATION_ALLOWED),
                    )
                })
            })
            .transpose()?;
        let every = if let Some(d) = parse_duration(&h.every) {
            if d.is_zero() {
                return Err(self.at(
                    &p("every"),
                    Some(&item),
                    "a heartbeat every 0s would never stop writing",
                    Some("a positive duration"),
                ));
            }
            if min.is_some() || fallback.is_some() {
                return Err(self.at(
                    &p("every"),
                    Some(&item),
                    "`min` and `fallback` apply only when `every` reads a register",
                    None,
                ));
            }
            Every::Fixed(d)
        } else {
            let allowed =
                "a duration such as 25s, or `<register> / <number>` such as `failsafe_timeout / 2`";
            let (reg, op, n) = split_every(&h.every).ok_or_else(|| {
                self.at(
                    &p("every"),
                    Some(&item),
                    format!(
                        "`{}` is neither a duration nor `<register> / <number>`",
                        h.every
                    ),
                    Some(allowed),
                )
            })?;
            let r = self.numeric_register(registers, reg, &p("every"), Some(&item), "`every`")?;
            let seconds = seconds_per_unit(r.unit.as_deref()).ok_or_else(|| {
                self.at(
                    &p("every"),
                    Some(&item),
                    format!(
                        "`{reg}` is in {}, not a time unit",
                        r.unit.as_deref().unwrap_or("?")
                    ),
                    Some("a register in s, ms or min"),
                )
            })?;
            if !(n.is_finite() && n > 0.0) {
                return Err(self.at(
                    &p("every"),
                    Some(&item),
                    format!("{n} is not a usable factor"),
                    Some("a positive number"),
                ));
            }
            Every::Register {
                register: reg.to_owned(),
                seconds_per_unit: seconds,
                factor: if op == '/' { 1.0 / n } else { n },
                min,
                fallback,
            }
        };
        Ok(Heartbeat {
            name: h.name.clone(),
            write,
            every,
            description: h.description.clone(),
        })
    }

    fn action(&self, name: &str, a: &RawAction, registers: &[Register]) -> Check<Action> {
        let base = format!("actions.{name}");
        let item = format!("action `{name}`");
        let mut params = Vec::new();
        for (pname, raw) in &a.params.0 {
            let path = format!("{base}.params.{pname}");
            if !valid_name(pname) {
                return Err(self.at_key(
                    &path,
                    Some(&item),
                    format!("`{pname}` is not a usable parameter name"),
                    Some("letters, digits and `_`, starting with a letter"),
                ));
            }
            let param_type = match raw.param_type.as_str() {
                "int" => ParamType::Int,
                "number" => ParamType::Number,
                "percent" => ParamType::Percent,
                "bool" => ParamType::Bool,
                "hhmm" => ParamType::Hhmm,
                "datetime" => ParamType::DateTime,
                "enum" => {
                    let values =
                        raw.values
                            .as_ref()
                            .filter(|v| !v.0.is_empty())
                            .ok_or_else(|| {
                                self.at_key(
                                    &path,
                                    Some(&item),
                                    format!("enum parameter `{pname}` needs `values`"),
                                    Some("values: {Label: 1, Other: 2}"),
                                )
                            })?;
                    ParamType::Enum(values.0.clone())
                }
                other => {
                    return Err(self.at(
                        &format!("{path}.type"),
                        Some(&item),
                        format!("unknown parameter type `{other}`"),
                        Some("int, number, percent, bool, hhmm, datetime, enum"),
                    ));
                }
            };
            if raw.values.is_some() && !matches!(param_type, ParamType::Enum(_)) {
                return Err(self.at_key(
                    &format!("{path}.values"),
                    Some(&item),
                    "`values` applies only to `type: enum`",
                    None,
                ));
            }
            let numeric = matches!(
                param_type,
                ParamType::Int | ParamType::Number | ParamType::Percent
            );
            if (raw.min.is_some() || raw.max.is_some() || raw.step.is_some()) && !numeric {
                return Err(self.at_key(
                    &path,
                    Some(&item),
                    format!(
                        "min, max and step apply only to int, number and percent, not {}",
                        param_type.name()
                    ),
                    None,
                ));
            }
            let (mut min, mut max) = (raw.min, raw.max);
            if param_type == ParamType::Percent {
                for (key, v) in [("min", min), ("max", max)] {
                    if let Some(v) = v
                        && !(0.0..=100.0).contains(&v)
                    {
                        return Err(self.at(
                            &format!("{path}.{key}"),
                            Some(&item),
                            format!("{v} is not a percentage"),
                            Some("0 to 100"),
                        ));
                    }
                }
                min = Some(min.unwrap_or(0.0));
                max = Some(max.unwrap_or(100.0));
            }
            if let (Some(lo), Some(hi)) = (min, max)
                && lo > hi
            {
                return Err(self.at(
                    &format!("{path}.min"),
                    Some(&item),
                    format!("min {lo} is above max {hi}"),
                    Some("min <= max"),
                ));
            }
            if let Some(step) = raw.step
                && !(step.is_finite() && step > 0.0)
            {
                return Err(self.at(
                    &format!("{path}.step"),
                    Some(&item),
                    format!("step {step} is not positive"),
                    None,
                ));
            }
            params.push(Param {
                name: pname.clone(),
                param_type,
                min,
                max,
                step: raw.step,
                optional: raw.optional,
                description: raw.description.clone(),
            });
        }
        if a.writes.is_empty() {
            return Err(self.at(
                &format!("{base}.writes"),
                Some(&item),
                "an action needs at least one step in `writes`",
                None,
            ));
        }
        let mut steps = Vec::new();
        for (k, s) in a.writes.iter().enumerate() {
            let spath = format!("{base}.writes.{k}");
            let when = match &s.when {
                None => None,
                Some(text) => {
                    let c = Condition::parse(text).map_err(|e| {
                        self.at(
                            &format!("{spath}.when"),
                            Some(&item),
                            e.to_string(),
                            Some("`param`, or `<expr> <op> <expr>` with ==, !=, <, <=, >, >="),
                        )
                    })?;
                    self.check_params(&c.params(), &params, &format!("{spath}.when"), &item)?;
                    Some(c)
                }
            };
            if s.set.0.is_empty() {
                return Err(self.at(
                    &format!("{spath}.set"),
                    Some(&item),
                    "`set` names no register",
                    Some("set: {register: value}"),
                ));
            }
            let guarded: Vec<&str> = when
                .as_ref()
                .map(|c| c.params().into_iter().map(|(n, _)| n).collect())
                .unwrap_or_default();
            let mut set = Vec::new();
            for (reg, e) in &s.set.0 {
                let path = format!("{spath}.set.{reg}");
                self.writable_register(registers, reg, &path, &item)?;
                let expr = match e {
                    RawExpr::Number(n) => Expr::Number(*n),
                    RawExpr::Text(t) => Expr::parse(t).map_err(|e| self.at(&path, Some(&item), e.to_string(), Some("numbers, parameter names, fields such as `dateTime.year`, + - * / and parentheses")))?,
                };
                let used = expr.params();
                self.check_params(&used, &params, &path, &item)?;
                for (pname, _) in used {
                    if params.iter().any(|p| p.name == pname && p.optional)
                        && !guarded.contains(&pname)
                    {
                        return Err(self.at(&path, Some(&item), format!("optional parameter `{pname}` is used in a step whose `when` does not name it"), Some(&format!("add `when: {pname}` (or a comparison using it) to the step"))));
                    }
                }
                set.push((reg.clone(), expr));
            }
            steps.push(Step { when, set });
        }
        Ok(Action {
            name: name.to_owned(),
            description: a.description.clone(),
            params,
            steps,
        })
    }

    fn check_params(
        &self,
        used: &[(&str, Option<&str>)],
        params: &[Param],
        path: &str,
        item: &str,
    ) -> Check<()> {
        for (pname, field) in used {
            let Some(p) = params.iter().find(|p| p.name == *pname) else {
                let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
                let allowed = if names.is_empty() {
                    "this action has no parameters".to_owned()
                } else {
                    names.join(", ")
                };
                return Err(self.at(
                    path,
                    Some(item),
                    format!("`{pname}` is not a parameter of this action"),
                    Some(&allowed),
                ));
            };
            if let Some(field) = field {
                let fields: &[&str] = match p.param_type {
                    ParamType::DateTime => &["year", "month", "day", "hour", "minute", "second"],
                    ParamType::Hhmm => &["hour", "minute"],
                    _ => &[],
                };
                if !fields.contains(field) {
                    let allowed = if fields.is_empty() {
                        format!("{} parameters have no fields", p.param_type.name())
                    } else {
                        fields.join(", ")
                    };
                    return Err(self.at(
                        path,
                        Some(item),
                        format!("parameter `{pname}` has no field `{field}`"),
                        Some(&allowed),
                    ));
                }
            }
        }
        Ok(())
    }
}

const DERIVED_ALLOWED: &str = "numbers, names of numeric registers and of earlier derived values, + - * /, parentheses, min(...), max(...), abs(x), round(x, digits), if(condition, then, else), == != < <= > >=";

/// The character offset of the first whole-word occurrence of `word` in `text` (0 if none).
fn word_offset(text: &str, word: &str) -> usize {
    let chars: Vec<char> = text.chars().collect();
    let target: Vec<char> = word.chars().collect();
    let is_word = |c: &char| c.is_alphanumeric() || *c == '_' || *c == '.';
    (0..chars.len())
        .find(|&i| {
            chars[i..].starts_with(&target)
                && (i == 0 || !is_word(&chars[i - 1]))
                && chars.get(i + target.len()).is_none_or(|c| !is_word(c))
        })
        .unwrap_or(0)
}

const TYPES_ALLOWED: &str = "int16, uint16, int32, uint32, int64, uint64, float32, float64, string (2 chars/register), string1 (1 char/register), bits16, bits32, bool (coils)";

fn did_you_mean(hint: Option<&str>) -> String {
    hint.map(|h| format!("; did you mean `{h}`?"))
        .unwrap_or_default()
}

/// A unit reference as a sortable key.
fn unit_key(u: &UnitRef) -> (u8, String) {
    match u {
        UnitRef::Role(r) => (0, r.clone()),
        UnitRef::Id(id) => (1, id.to_string()),
    }
}

pub(crate) fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `voltage_phase_L1N` becomes `Voltage phase L1N`.
fn title_from_name(name: &str) -> String {
    let spaced = name.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A whole number written in decimal, or hexadecimal with `0x`.
pub(crate) fn parse_int(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return i64::from_str_radix(hex, 16).ok();
    }
    t.parse().ok()
}

fn split_every(text: &str) -> Option<(&str, char, f64)> {
    let (pos, op) = text.char_indices().find(|(_, c)| *c == '/' || *c == '*')?;
    let reg = text[..pos].trim();
    let n: f64 = text[pos + 1..].trim().parse().ok()?;
    valid_name(reg).then_some((reg, op, n))
}

fn show(v: &serde_yaml::Value) -> String {
    match v {
        serde_yaml::Value::String(s) => format!("\"{s}\""),
        other => serde_yaml::to_string(other)
            .map(|s| s.trim().to_owned())
            .unwrap_or_default(),
    }
}

fn show_scale(s: &Scale) -> String {
    match s {
        Scale::Factor(f) => f.to_string(),
        Scale::PowerOfTen(r) => format!("10^{r}"),
    }
}

fn example_number(v: &serde_yaml::Value) -> Option<f64> {
    match v {
        serde_yaml::Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// The [`Value`] a number has for this register: exact integers for unscaled integer types,
/// floats otherwise, booleans for bits.
pub(crate) fn number_value(r: &Register, n: f64) -> Value {
    match r.register_type {
        RegisterType::Bool => Value::Bool(n != 0.0),
        RegisterType::Data(t) => {
            let unscaled = r.scale.is_identity() && r.offset == 0.0;
            if t.is_bits() && n.fract() == 0.0 && n >= 0.0 && n <= f64::from(u32::MAX) {
                Value::Flags(n as u32)
            } else if unscaled && t.is_integer() && n.fract() == 0.0 {
                if t.is_signed() || n < 0.0 {
                    Value::Int(n as i64)
                } else {
                    Value::UInt(n as u64)
                }
            } else {
                Value::Float(n)
            }
        }
    }
}

/// Parses `23:30`, `2330`, `0100`, `1:00` into the HHMM number.
pub(crate) fn parse_hhmm(text: &str) -> Option<i64> {
    let t = text.trim();
    let (h, m) = if let Some((h, m)) = t.split_once(':') {
        (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?)
    } else {
        if t.is_empty() || t.len() > 4 || !t.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let n: i64 = t.parse().ok()?;
        (n / 100, n % 100)
    };
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 100 + m)
}

/// The example of `r` as a value, or what is wrong with it and what is allowed.
fn example_value(r: &Register, v: &serde_yaml::Value) -> Result<Value, (String, String)> {
    use serde_yaml::Value as Y;
    let data_type = r.register_type.data_type();
    if data_type.is_some_and(|t| t.is_text()) {
        return match v {
            Y::String(s) => Ok(Value::Text(s.clone())),
            Y::Number(n) => Ok(Value::Text(n.to_string())),
            other => Err((
                format!("the example {} is not text", show(other)),
                "text, e.g. \"ACE0287582\"".to_owned(),
            )),
        };
    }
    if r.register_type == RegisterType::Bool {
        return match v {
            Y::Bool(b) => Ok(Value::Bool(*b)),
            Y::Number(n) if n.as_u64() == Some(0) || n.as_u64() == Some(1) => {
                Ok(Value::Bool(n.as_u64() == Some(1)))
            }
            other => Err((
                format!("the example {} is not a bit", show(other)),
                "true, false, 0 or 1".to_owned(),
            )),
        };
    }
    let number = match v {
        Y::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Y::String(s) if r.format == Some(Format::Hhmm) => match parse_hhmm(s) {
            Some(n) => n as f64,
            None => {
                return Err((
                    format!("the example \"{s}\" is not a time of day"),
                    "a time such as \"23:30\" or 2330".to_owned(),
                ));
            }
        },
        Y::String(s) if !r.enumeration.is_empty() => match r.value_of_label(s) {
            Some(n) => n as f64,
            None => {
                let labels: Vec<String> = r
                    .enumeration
                    .iter()
                    .map(|(v, l)| format!("{v} ({l})"))
                    .collect();
                return Err((
                    format!("the example \"{s}\" is not a label of the enumeration"),
                    labels.join(", "),
                ));
            }
        },
        other => {
            return Err((
                format!("the example {} is not a number", show(other)),
                "a number in the register's unit, after scale".to_owned(),
            ));
        }
    };
    if !number.is_finite() {
        return Err((
            "the example is not a finite number".to_owned(),
            "a finite number".to_owned(),
        ));
    }
    if !r.enumeration.is_empty() && !r.enumeration.iter().any(|(v, _)| *v as f64 == number) {
        let labels: Vec<String> = r
            .enumeration
            .iter()
            .map(|(v, l)| format!("{v} ({l})"))
            .collect();
        return Err((
            format!("the example {number} is not a value of the enumeration"),
            labels.join(", "),
        ));
    }
    if r.format == Some(Format::Hhmm)
        && number >= 0.0
        && parse_hhmm(&format!("{:04}", number as i64)).is_none()
    {
        return Err((
            format!("the example {number} is not a time of day as HHMM"),
            "0 to 2359 with minutes below 60, or \"23:30\"".to_owned(),
        ));
    }
    Ok(number_value(r, number))
}

/// The words of "not available" for `r`: its first sentinel that its codec reads as missing,
/// else a NaN float; `None` when the register has no such pattern.
pub(crate) fn unavailable_words(r: &Register) -> Option<Vec<u16>> {
    let codec = r.codec.as_ref()?;
    let data_type = r.register_type.data_type()?;
    let count = r.count;
    // A raw pattern is written through an unsigned codec of the same width and order, so the
    // words come out in the device's byte and word order.
    let pattern = |bits: u64| -> Option<Vec<u16>> {
        let unsigned = match count {
            1 => DataType::UInt16,
            2 => DataType::UInt32,
            4 => DataType::UInt64,
            _ => return None,
        };
        Codec::with_count(unsigned, Some(count), r.order)
            .ok()?
            .encode(&Value::UInt(bits))
            .ok()
    };
    let mut candidates: Vec<Vec<u16>> = Vec::new();
    for s in &r.sentinels {
        match s {
            Sentinel::AllOnes => candidates.push(vec![0xFFFF; usize::from(count)]),
            Sentinel::Raw(bits) => {
                let width = u32::from(count.min(4)) * 16;
                let bits = if width < 64 {
                    bits & ((1u64 << width) - 1)
                } else {
                    *bits
                };
                candidates.extend(pattern(bits));
            }
            Sentinel::Nan => {}
        }
    }
    match data_type {
        DataType::Float32 => candidates.extend(pattern(0x7FC0_0000)),
        DataType::Float64 => candidates.extend(pattern(0x7FF8_0000_0000_0000)),
        _ => {}
    }
    candidates
        .into_iter()
        .find(|words| matches!(codec.decode(words), Ok(None)))
}

/// Why `v` breaks the static part of `w` (bounds that are numbers, step, `also`), if it does.
pub(crate) fn static_violation(w: &WriteRule, v: f64) -> Option<String> {
    if w.also.contains(&v) {
        return None;
    }
    if let Some(Bound::Value(lo)) = w.min
        && v < lo
    {
        return Some(format!("is below the minimum {lo}"));
    }
    if let Some(Bound::Value(hi)) = w.max
        && v > hi
    {
        return Some(format!("is above the maximum {hi}"));
    }
    if let Some(step) = w.step {
        let from = match w.min {
            Some(Bound::Value(lo)) => lo,
            _ => 0.0,
        };
        let steps = (v - from) / step;
        if (steps - steps.round()).abs() > 1e-9 * steps.abs().max(1.0) {
            return Some(format!("is not a multiple of the step {step} from {from}"));
        }
    }
    None
}

/// What a write rule allows, in words.
pub(crate) fn describe_rule(w: &WriteRule) -> String {
    let mut parts = Vec::new();
    match (&w.min, &w.max) {
        (Some(lo), Some(hi)) => parts.push(format!("{lo} to {hi}")),
        (Some(lo), None) => parts.push(format!("at least {lo}")),
        (None, Some(hi)) => parts.push(format!("at most {hi}")),
        (None, None) => {}
    }
    if let Some(step) = w.step {
        parts.push(format!("in steps of {step}"));
    }
    if !w.also.is_empty() {
        let also: Vec<String> = w.also.iter().map(|v| v.to_string()).collect();
        parts.push(format!("or {}", also.join(", ")));
    }
    if parts.is_empty() {
        "any value the type holds".to_owned()
    } else {
        parts.join(" ")
    }
}

/// One copy of a repeated register for the unit role `role`, number `n`: `{n}` and `{unit}` are
/// replaced in every text that names something.
fn instantiate(template: &RawRegister, n: usize, role: &str) -> RawRegister {
    let fill = |text: &str| text.replace("{n}", &n.to_string()).replace("{unit}", role);
    let fill_opt = |text: &Option<String>| text.as_deref().map(fill);
    let fill_ref = |v: &Option<RawNumberOrName>| match v {
        Some(RawNumberOrName::Name(name)) => Some(RawNumberOrName::Name(fill(name))),
        other => other.clone(),
    };
    let mut r = template.clone();
    r.name = fill(&template.name);
    r.title = fill_opt(&template.title);
    r.group = fill_opt(&template.group);
    r.key = fill_opt(&template.key);
    r.description = fill_opt(&template.description);
    r.unit_id = Some(RawUnitRef::Role(role.to_owned()));
    r.scale = fill_ref(&template.scale);
    if let Some(w) = &mut r.write {
        w.min = fill_ref(&w.min);
        w.max = fill_ref(&w.max);
        if let Some(RawReadBack::Register(name)) = &w.read_back {
            w.read_back = Some(RawReadBack::Register(fill(name)));
        }
    }
    r
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
    }
}
