//! `extends:`: a map written as the differences from another. The base is found in the
//! variant's own folder, else among the built-in maps; it may itself be a variant (up to
//! [`MAX_DEPTH`] levels, never a cycle). The result is one whole map, validated like any other,
//! whose errors point into the variant's file: at the register, heartbeat or check the variant
//! wrote, or at `extends:` for what it inherited.

use super::*;
use crate::raw::{RawConnectionPatch, RawVariant};

/// How many `extends:` deep a chain of variants may go.
pub(super) const MAX_DEPTH: usize = 8;

/// Whether `text` is a variant: a top-level `extends:` key.
pub(super) fn is_variant(text: &str) -> bool {
    (text.starts_with("extends:") || text.contains("\nextends:"))
        && matches!(
            serde_yaml::from_str::<serde_yaml::Value>(text),
            Ok(serde_yaml::Value::Mapping(m)) if m.contains_key("extends")
        )
}

/// A base map's text and how errors name it.
struct Base {
    id: String,
    source: Source,
    file: String,
    text: String,
}

/// The base `id` of a variant from `source`: `<id>.yaml` (or `.yml`) next to the variant,
/// else the built-in map.
fn find_base(id: &str, source: &Source) -> Option<Base> {
    if let Source::File(path) = source {
        for ext in ["yaml", "yml"] {
            let candidate = path.with_file_name(format!("{id}.{ext}"));
            if candidate != *path
                && let Ok(text) = std::fs::read_to_string(&candidate)
            {
                return Some(Base {
                    id: id.to_owned(),
                    file: candidate.display().to_string(),
                    source: Source::File(candidate),
                    text,
                });
            }
        }
    }
    crate::registry::Registry::built_in_files()
        .iter()
        .find(|(path, _)| map_id(Path::new(path)).is_ok_and(|i| i == id))
        .map(|(path, text)| Base {
            id: id.to_owned(),
            source: Source::BuiltIn { path },
            file: (*path).to_owned(),
            text: (*text).to_owned(),
        })
}

/// The whole raw map a variant text stands for, the YAML path (in the variant's text) of each
/// of its registers (`registers.k` for one the variant wrote, `extends` for one inherited),
/// and the base's id.
pub(super) fn resolve(
    id: &str,
    source: &Source,
    file: &str,
    text: &str,
    depth: usize,
) -> Result<(RawMap, Vec<String>, String), MapError> {
    let variant: RawVariant = serde_yaml::from_str(text).map_err(|err| syntax_error(file, err))?;
    let checker = Checker {
        file,
        text,
        locations: OnceLock::new(),
        prefixes: RefCell::new(Vec::new()),
        skipped: RefCell::new(Vec::new()),
    };
    let base_id = variant.extends.as_str();
    if depth >= MAX_DEPTH {
        return Err(checker.at(
            "extends",
            None,
            format!("`extends` goes more than {MAX_DEPTH} maps deep (or in a circle)"),
            Some("a base map that is not, in the end, this map"),
        ));
    }
    let Some(base) = find_base(base_id, source).filter(|b| b.id != id || b.source != *source)
    else {
        let built_in: Vec<String> = crate::registry::Registry::built_in_files()
            .iter()
            .filter_map(|(p, _)| map_id(Path::new(p)).ok())
            .collect();
        let hint = suggest(base_id, built_in.iter().map(String::as_str));
        return Err(checker.at(
            "extends",
            None,
            format!(
                "`{base_id}` is neither a map next to this file nor a built-in map{}",
                did_you_mean(hint)
            ),
            None,
        ));
    };
    let mut raw = if is_variant(&base.text) {
        resolve(&base.id, &base.source, &base.file, &base.text, depth + 1)?.0
    } else {
        // The base must be a whole, valid map on its own.
        parse(&base.id, base.source.clone(), &base.file, &base.text)?;
        serde_yaml::from_str::<RawMap>(&base.text).map_err(|err| syntax_error(&base.file, err))?
    };
    // Every name `remove` lists must be something the base has.
    for (k, name) in variant.remove.iter().enumerate() {
        let known = raw.registers.iter().any(|r| r.name == *name)
            || raw.derived.iter().any(|d| d.name == *name)
            || raw.heartbeats.iter().any(|h| h.name == *name)
            || raw.actions.0.iter().any(|(n, _)| n == name);
        if !known {
            let names = raw.registers.iter().map(|r| r.name.as_str());
            return Err(checker.at(
                &format!("remove.{k}"),
                None,
                format!(
                    "`{name}` is not a register, derived value, heartbeat or action of `{base_id}`{}",
                    did_you_mean(suggest(name, names))
                ),
                None,
            ));
        }
    }
    let removed = |name: &str| variant.remove.iter().any(|r| r == name);
    raw.registers.retain(|r| !removed(&r.name));
    raw.derived.retain(|d| !removed(&d.name));
    raw.heartbeats.retain(|h| !removed(&h.name));
    raw.actions.0.retain(|(n, _)| !removed(n));
    // A check of a removed register goes with it.
    raw.checks.retain(|c| !removed(&c.register));
    raw.identify.retain(|c| !removed(&c.register));

    // Registers: replaced in place by name, else added at the end.
    let mut prefixes: Vec<String> = vec!["extends".to_owned(); raw.registers.len()];
    for (k, r) in variant.registers.into_iter().enumerate() {
        match raw.registers.iter().position(|b| b.name == r.name) {
            Some(i) => {
                raw.registers[i] = r;
                prefixes[i] = format!("registers.{k}");
            }
            None => {
                raw.registers.push(r);
                prefixes.push(format!("registers.{k}"));
            }
        }
    }
    for h in variant.heartbeats {
        match raw.heartbeats.iter().position(|b| b.name == h.name) {
            Some(i) => raw.heartbeats[i] = h,
            None => raw.heartbeats.push(h),
        }
    }
    for d in variant.derived {
        match raw.derived.iter().position(|b| b.name == d.name) {
            Some(i) => raw.derived[i] = d,
            None => raw.derived.push(d),
        }
    }
    for (name, a) in variant.actions.0 {
        match raw.actions.0.iter().position(|(n, _)| *n == name) {
            Some(i) => raw.actions.0[i].1 = a,
            None => raw.actions.0.push((name, a)),
        }
    }
    raw.repeat.extend(variant.repeat);
    if let Some(checks) = variant.checks {
        raw.checks = checks;
    }
    if let Some(hints) = variant.identify {
        raw.identify = hints;
    }
    if let Some(m) = variant.manufacturer {
        raw.manufacturer = m;
    }
    if let Some(m) = variant.model {
        raw.model = m;
    }
    if variant.category.is_some() {
        raw.category = variant.category;
    }
    if variant.description.is_some() {
        raw.description = variant.description;
    }
    raw.documents.extend(variant.documents);
    if let Some(patch) = variant.connection {
        patch_connection(&mut raw.connection, patch);
    }
    if variant.output.is_some() {
        raw.output = variant.output;
    }
    Ok((raw, prefixes, base.id))
}

fn patch_connection(c: &mut RawConnection, p: RawConnectionPatch) {
    macro_rules! take {
        ($($field:ident),*) => {
            $(if p.$field.is_some() { c.$field = p.$field; })*
        };
    }
    take!(
        transport,
        port,
        main_unit,
        extra_unit_ids,
        order,
        max_registers,
        max_bits,
        span_gaps,
        max_gap,
        page_size,
        pacing,
        timeout,
        max_connections,
        idle_timeout,
        write_confirm
    );
    if let Some(blocks) = p.blocks {
        c.blocks = blocks;
    }
    if let Some(u) = p.unit_ids {
        c.unit_ids = u;
    }
    if let Some(a) = p.address_base {
        c.address_base = a;
    }
}
