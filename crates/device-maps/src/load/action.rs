//! `heartbeats:` and `actions:`: the writes a map sends on a schedule or by name.

use super::*;

impl Checker<'_> {
    pub(super) fn heartbeat(
        &self,
        i: usize,
        h: &RawHeartbeat,
        registers: &[Register],
    ) -> Check<Heartbeat> {
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

    pub(super) fn action(
        &self,
        name: &str,
        a: &RawAction,
        registers: &[Register],
    ) -> Check<Action> {
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

    pub(super) fn check_params(
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
