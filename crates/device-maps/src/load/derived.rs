//! `derived:` values and `output:` preferences: expressions over readable registers, and
//! keys that stay unique in nested output.

use super::*;

impl Checker<'_> {
    /// `output:`: presentation preferences, each one of its allowed words.
    pub(super) fn output(&self, raw: Option<&RawOutput>) -> Check<Output> {
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
    pub(super) fn derived(
        &self,
        raw: &[RawDerived],
        registers: &[Register],
    ) -> Check<Vec<Derived>> {
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
    pub(super) fn output_keys(&self, registers: &[Register], derived: &[Derived]) -> Check<()> {
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
    pub(super) fn column_in(&self, path: &str, text: &str, offset: usize) -> (usize, usize) {
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
}
