//! `sunspec:`: a chain of SunSpec models expanded into registers from the model definitions.
//!
//! Each model of the chain gives its header registers (`{prefix}_ID`, `{prefix}_L`) and one
//! register per point (`{prefix}_{Point}`), at the address the chain puts it, with the
//! standard's meaning: scale-factor points scale their values (`value × 10^SF`, an SF outside
//! -10..10 makes them missing), and each type's "not implemented" pattern is a sentinel. A
//! model that appears twice gets `_2`, `_3` after its prefix; the modules of model 160 are
//! `mppt_1_DCW`, `mppt_2_DCW`, ...; points beyond the length the chain gives are left out
//! (older, shorter versions of a model); a model without a definition has its header only.

use std::collections::HashMap;

use serde_yaml::{Mapping, Value as Yaml};

use super::*;
use crate::raw::{RawChainModel, RawSunspec};
use crate::sunspec::{Chain, DEFAULT_BASES, PointDef, Sunspec, model};

impl Checker<'_> {
    /// Appends the registers of the chain (`chain`, else the map's example chain) to `raw`
    /// and returns what the map keeps to expand itself again for a walked chain.
    pub(super) fn expand_sunspec(
        &self,
        raw: &mut RawMap,
        chain: Option<&Chain>,
    ) -> Check<Option<Sunspec>> {
        let Some(spec) = raw.sunspec.take() else {
            return Ok(None);
        };
        if !matches!(raw.connection.address_base, RawAddressBase::Number(0)) {
            return Err(self.at(
                "connection.address_base",
                None,
                "a `sunspec:` map places its registers at wire addresses",
                Some("`address_base: 0`"),
            ));
        }
        let bases = if spec.bases.is_empty() {
            DEFAULT_BASES.to_vec()
        } else {
            spec.bases.clone()
        };
        let walked = chain.is_some();
        let chain = match chain {
            Some(chain) => chain.clone(),
            None => self.example_chain(&spec, &bases)?,
        };
        let examples: HashMap<&str, &Yaml> = spec
            .examples
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        let mut out: Vec<RawRegister> = Vec::new();
        let push = |value: Mapping, out: &mut Vec<RawRegister>| -> Check<()> {
            let register: RawRegister = serde_yaml::from_value(Yaml::Mapping(value))
                .map_err(|e| self.at("sunspec", None, format!("cannot expand: {e}"), None))?;
            out.push(register);
            Ok(())
        };
        let marker = register(
            "sunspec_id",
            "SunSpec marker",
            chain.base,
            "string",
            2,
            "sunspec",
        );
        push(
            with(
                marker,
                &[("kind", "text".into()), ("example", "SunS".into())],
            ),
            &mut out,
        )?;
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut headers: Vec<(String, u16)> = Vec::new();
        for m in &chain.models {
            let def = model(m.id);
            let base_prefix = def
                .map(|d| d.prefix.clone())
                .unwrap_or_else(|| format!("model_{}", m.id));
            let count = seen.entry(base_prefix.clone()).or_insert(0);
            *count += 1;
            let prefix = if *count > 1 {
                format!("{base_prefix}_{count}")
            } else {
                base_prefix
            };
            let label = def.map(|d| d.label.as_str()).unwrap_or("Unknown model");
            // The header: model id and length, each checked on every verified read.
            for (offset, point, what, value) in [
                (0, "ID", "model id", m.id),
                (1, "L", "model length", m.length),
            ] {
                let name = format!("{prefix}_{point}");
                let header = register(
                    &name,
                    &format!("{label}: {what}"),
                    m.address + offset,
                    "uint16",
                    1,
                    &prefix,
                );
                let fields = [
                    ("kind", "state".into()),
                    ("example", u64::from(value).into()),
                ];
                push(with(header, &fields), &mut out)?;
                headers.push((name, value));
            }
            let Some(def) = def else { continue };
            let start = u32::from(m.address) + 2;
            let end = start + u32::from(m.length);
            let mut at = start;
            for p in &def.points {
                if let Some(r) = point(p, &prefix, &prefix, at, end, &examples) {
                    push(r, &mut out)?;
                }
                at += u32::from(p.size);
            }
            if let Some(group) = &def.repeating {
                let mut n = 1;
                while group.length > 0 && at + u32::from(group.length) <= end {
                    let module = format!("{prefix}_{n}");
                    for p in &group.points {
                        let sf_prefix =
                            if group.points.iter().any(|q| Some(&q.name) == p.sf.as_ref()) {
                                module.as_str()
                            } else {
                                prefix.as_str()
                            };
                        if let Some(r) = point(p, &module, sf_prefix, at, end, &examples) {
                            let label = p.label.as_deref().unwrap_or(&p.name);
                            let title = format!("{} {n}: {label}", group.name);
                            let fields =
                                [("group", prefix.as_str().into()), ("title", title.into())];
                            push(with(r, &fields), &mut out)?;
                        }
                        at += u32::from(p.size);
                    }
                    n += 1;
                }
            }
        }
        // The end marker is served by the simulator for the example chain; a walked device
        // may end its chain by refusing the next header instead, so it is not read there.
        let end = chain.end_address();
        if !walked {
            let end_id = register(
                "end_ID",
                "End of the SunSpec chain",
                end,
                "uint16",
                1,
                "sunspec",
            );
            push(
                with(
                    end_id,
                    &[("kind", "state".into()), ("example", 0xFFFFu64.into())],
                ),
                &mut out,
            )?;
            let end_l = register(
                "end_L",
                "End of the SunSpec chain: length",
                end + 1,
                "uint16",
                1,
                "sunspec",
            );
            push(
                with(end_l, &[("kind", "state".into()), ("example", 0u64.into())]),
                &mut out,
            )?;
        }
        if !walked {
            let names: Vec<&str> = out.iter().map(|r| r.name.as_str()).collect();
            for (name, _) in &spec.examples.0 {
                if !names.contains(&name.as_str()) {
                    return Err(self.at_key(
                        &format!("sunspec.examples.{name}"),
                        Some(name),
                        "no register of the example chain has this name",
                        Some("`{prefix}_{Point}` of a model of `models`, e.g. `inverter_W`, `common_Mn`, `mppt_1_DCW`"),
                    ));
                }
            }
        }
        // Every model header is checked on every verified read: a map expanded for one chain
        // must not be read from a device that announces another.
        let written_checks = raw.checks.len();
        for (register, expected) in &headers {
            let mut check = Mapping::new();
            check.insert("register".into(), register.as_str().into());
            check.insert("equals".into(), u64::from(*expected).into());
            check.insert(
                "why".into(),
                "the SunSpec chain this map was expanded for has this model header here".into(),
            );
            let check = serde_yaml::from_value(Yaml::Mapping(check))
                .map_err(|e| self.at("sunspec", None, format!("cannot expand: {e}"), None))?;
            raw.checks.push(check);
        }
        for _ in &out {
            self.prefixes.borrow_mut().push("sunspec".to_owned());
        }
        raw.registers.extend(out);
        Ok(Some(Sunspec {
            bases,
            chain,
            walked,
            written_checks,
            text: self.text.into(),
            file: self.file.into(),
        }))
    }

    fn example_chain(&self, spec: &RawSunspec, bases: &[u16]) -> Check<Chain> {
        let base = spec.base.unwrap_or(bases[0]);
        let mut models = Vec::new();
        for (k, m) in spec.models.iter().enumerate() {
            let path = format!("sunspec.models.{k}");
            let (id, length, repeats) = match m {
                RawChainModel::Id(id) => (*id, None, None),
                RawChainModel::Model {
                    id,
                    length,
                    repeats,
                } => (*id, *length, *repeats),
            };
            let def = model(id);
            let length = match (def, length, repeats) {
                (_, Some(_), Some(_)) => {
                    return Err(self.at(&path, None, "give `length` or `repeats`, not both", None));
                }
                (_, Some(length), None) => length,
                (Some(def), None, Some(n)) => match &def.repeating {
                    Some(g) => def.length + g.length * n,
                    None => {
                        return Err(self.at(
                            &path,
                            None,
                            format!("model {id} has no repeating group"),
                            None,
                        ));
                    }
                },
                (Some(def), None, None) => def.length,
                (None, None, _) => {
                    let known: Vec<String> = crate::sunspec::models()
                        .iter()
                        .map(|m| m.id.to_string())
                        .collect();
                    return Err(self.at(
                        &path,
                        None,
                        format!("evctl has no definition of SunSpec model {id}, so its length must be given"),
                        Some(&format!("`{{id: {id}, length: N}}`, or a defined model: {}", known.join(", "))),
                    ));
                }
            };
            if id == crate::sunspec::END_ID {
                return Err(self.at(&path, None, "0xFFFF ends a chain; it is not a model", None));
            }
            models.push((id, length));
        }
        Chain::new(base, &models).ok_or_else(|| {
            self.at(
                "sunspec.models",
                None,
                format!("the chain from {base} runs beyond address 65535"),
                None,
            )
        })
    }
}

/// A register mapping with the fields every expanded register has.
fn register(name: &str, title: &str, address: u16, kind: &str, count: u16, group: &str) -> Mapping {
    let mut m = Mapping::new();
    m.insert("name".into(), name.into());
    m.insert("title".into(), title.into());
    m.insert("address".into(), u64::from(address).into());
    m.insert("table".into(), "holding".into());
    m.insert("type".into(), kind.into());
    if kind == "string" {
        m.insert("count".into(), u64::from(count).into());
    }
    m.insert("group".into(), group.into());
    m
}

fn with(mut m: Mapping, fields: &[(&str, Yaml)]) -> Mapping {
    for (k, v) in fields {
        m.insert((*k).into(), v.clone());
    }
    m
}

/// The register of point `p` at `at`, or none for padding, types evctl does not decode, and
/// points beyond `end`.
fn point(
    p: &PointDef,
    prefix: &str,
    sf_prefix: &str,
    at: u32,
    end: u32,
    examples: &HashMap<&str, &Yaml>,
) -> Option<Mapping> {
    if at + u32::from(p.size) > end {
        return None;
    }
    let address = u16::try_from(at).ok()?;
    // (evctl type, sentinels, kind)
    let (kind, sentinels, what): (&str, &[u64], &str) = match p.kind.as_str() {
        "int16" => ("int16", &[0x8000], "measurement"),
        "uint16" | "count" => ("uint16", &[0xFFFF], "measurement"),
        "acc16" => ("uint16", &[0], "counter"),
        "enum16" => ("uint16", &[0xFFFF], "state"),
        "bitfield16" => ("bits16", &[0xFFFF], "state"),
        "int32" => ("int32", &[0x8000_0000], "measurement"),
        "uint32" => ("uint32", &[0xFFFF_FFFF], "measurement"),
        "acc32" => ("uint32", &[0], "counter"),
        "enum32" => ("uint32", &[0xFFFF_FFFF], "state"),
        "bitfield32" => ("bits32", &[0xFFFF_FFFF], "state"),
        "int64" => ("int64", &[0x8000_0000_0000_0000], "measurement"),
        "uint64" => ("uint64", &[u64::MAX], "measurement"),
        "acc64" => ("uint64", &[0], "counter"),
        "float32" => ("float32", &[], "measurement"),
        "float64" => ("float64", &[], "measurement"),
        "sunssf" => ("int16", &[0x8000], "state"),
        "string" => ("string", &[], "text"),
        // pad, ipaddr, ipv6addr, eui48, bitfield64: not values a user reads here.
        _ => return None,
    };
    let name = format!("{prefix}_{}", p.name);
    let title = title(p);
    let mut m = register(&name, &title, address, kind, p.size, prefix);
    let writable = p.access.as_deref() == Some("rw");
    m.insert(
        "kind".into(),
        (if writable && what != "counter" {
            "setting"
        } else {
            what
        })
        .into(),
    );
    if writable {
        m.insert("access".into(), "rw".into());
    }
    if !sentinels.is_empty() {
        let list: Vec<Yaml> = sentinels.iter().map(|&s| s.into()).collect();
        m.insert("sentinels".into(), Yaml::Sequence(list));
    } else if kind.starts_with("float") {
        m.insert("sentinels".into(), Yaml::Sequence(vec!["nan".into()]));
    }
    if p.kind == "sunssf" {
        let mut valid = Mapping::new();
        valid.insert("min".into(), (-10i64).into());
        valid.insert("max".into(), 10i64.into());
        m.insert("valid".into(), Yaml::Mapping(valid));
    }
    if let Some(sf) = &p.sf {
        match sf.parse::<i32>() {
            Ok(power) => m.insert("scale".into(), 10f64.powi(power).into()),
            Err(_) => m.insert("scale".into(), format!("{sf_prefix}_{sf}").into()),
        };
    }
    if let Some(units) = &p.units {
        m.insert("unit".into(), unit(units.trim()).into());
    }
    let symbols: Mapping = p
        .symbols
        .iter()
        .filter(|(_, n)| !n.starts_with("RESERVED"))
        .map(|(k, n)| (Yaml::from(*k), Yaml::from(n.as_str())))
        .collect();
    if !symbols.is_empty() {
        match p.kind.as_str() {
            "enum16" | "enum32" => {
                m.insert("enum".into(), Yaml::Mapping(symbols));
            }
            "bitfield16" | "bitfield32" => {
                m.insert("flags".into(), Yaml::Mapping(symbols));
            }
            _ => {}
        }
    }
    let example = match examples.get(name.as_str()) {
        Some(v) => (*v).clone(),
        None if p.kind == "sunssf" => 0u64.into(),
        None if p.kind == "string" => "".into(),
        None => Yaml::Null,
    };
    m.insert("example".into(), example);
    Some(m)
}

/// The point's label, unless it is only its unit (SunSpec labels the frequency "Hz", the
/// apparent power "VA"): then the quantity.
fn title(p: &PointDef) -> String {
    let label = p.label.clone().unwrap_or_else(|| p.name.clone());
    let Some(units) = p.units.as_deref().map(|u| unit(u.trim())) else {
        return label;
    };
    let last = label.split_whitespace().last().unwrap_or("");
    if !last.eq_ignore_ascii_case(units) {
        return label;
    }
    let quantity = match units {
        "Hz" => "Frequency",
        "VA" => "Apparent Power",
        "var" => "Reactive Power",
        "W" => "Power",
        "A" => "Current",
        "V" => "Voltage",
        "Wh" => "Energy",
        _ => return format!("{label} value"),
    };
    let rest = label[..label.len() - last.len()].trim_end();
    if rest.is_empty() {
        quantity.to_owned()
    } else {
        format!("{rest} {quantity}")
    }
}

/// SunSpec's unit names as evctl prints units.
fn unit(units: &str) -> &str {
    match units {
        "Pct" => "%",
        "C" => "°C",
        "Secs" => "s",
        "WH" => "Wh",
        "VArh" => "varh",
        "VAr" => "var",
        other => other,
    }
}
