//! `checks:` and `identify:`: each entry names a readable register and exactly one expectation
//! that fits its type.

use super::*;
use crate::check::{Check as MapCheck, Expect, Expected};
use crate::raw::RawCheck;

const CHECK_ALLOWED: &str = "exactly one of `equals: V`, `one_of: [V, ...]`, `matches: PATTERN` (text; `*` and `?`), or `min:`/`max:` (numbers)";

impl Checker<'_> {
    /// Entry `i` of the list `section` (`checks` or `identify`).
    pub(super) fn check(
        &self,
        section: &str,
        i: usize,
        c: &RawCheck,
        registers: &[Register],
    ) -> Check<MapCheck> {
        let path = |key: &str| format!("{section}.{i}.{key}");
        let r =
            self.readable_register(registers, &c.register, &path("register"), None, "the check")?;
        let item = Some(r.name.as_str());
        let text = r.register_type.data_type().is_some_and(|d| !d.is_numeric());
        let given = [
            c.equals.is_some(),
            c.one_of.is_some(),
            c.matches.is_some(),
            c.min.is_some() || c.max.is_some(),
        ]
        .iter()
        .filter(|&&g| g)
        .count();
        if given != 1 {
            let problem = if given == 0 {
                "the check says nothing the register must hold".to_owned()
            } else {
                "the check gives more than one expectation".to_owned()
            };
            return Err(self.at(
                &format!("{section}.{i}"),
                item,
                problem,
                Some(CHECK_ALLOWED),
            ));
        }
        let expected = |v: &serde_yaml::Value, at: &str| -> Check<Expected> {
            match (v, text) {
                (serde_yaml::Value::String(s), true) => Ok(Expected::Text(s.clone())),
                (serde_yaml::Value::Number(n), false) => match n.as_f64() {
                    Some(x) if x.is_finite() => Ok(Expected::Number(x)),
                    _ => Err(self.at(at, item, format!("{n} is not a usable number"), None)),
                },
                // A register with text labels is still compared by its number.
                (other, true) => Err(self.at(
                    at,
                    item,
                    format!(
                        "the register is text ({}), so the check compares with text, not {}",
                        r.register_type,
                        show(other)
                    ),
                    Some("a quoted string, e.g. \"SunS\""),
                )),
                (other, false) => Err(self.at(
                    at,
                    item,
                    format!(
                        "the register is a number ({}), so the check compares with a number, not {}",
                        r.register_type,
                        show(other)
                    ),
                    Some("a number as the register decodes it (after its scale), e.g. 103"),
                )),
            }
        };
        let expect = if let Some(v) = &c.equals {
            Expect::Equals(expected(v, &path("equals"))?)
        } else if let Some(vs) = &c.one_of {
            if vs.is_empty() {
                return Err(self.at(&path("one_of"), item, "`one_of` lists no value", None));
            }
            Expect::OneOf(
                vs.iter()
                    .enumerate()
                    .map(|(k, v)| expected(v, &format!("{section}.{i}.one_of.{k}")))
                    .collect::<Check<Vec<_>>>()?,
            )
        } else if let Some(p) = &c.matches {
            if !text {
                return Err(self.at(
                    &path("matches"),
                    item,
                    "the register is a number; a pattern matches text",
                    Some("`equals`, `one_of` or `min`/`max` for a number"),
                ));
            }
            let patterns =
                match p {
                    serde_yaml::Value::String(one) => vec![one.clone()],
                    serde_yaml::Value::Sequence(all) if !all.is_empty() => all
                        .iter()
                        .enumerate()
                        .map(|(k, v)| match v {
                            serde_yaml::Value::String(one) => Ok(one.clone()),
                            other => Err(self.at(
                                &format!("{section}.{i}.matches.{k}"),
                                item,
                                format!("a pattern is text, not {}", show(other)),
                                Some("a quoted pattern such as \"SUN2000*\""),
                            )),
                        })
                        .collect::<Check<Vec<_>>>()?,
                    other => {
                        return Err(self.at(
                        &path("matches"),
                        item,
                        format!("`matches` is {}, not a pattern or a list of them", show(other)),
                        Some("`matches: \"EVC04*\"` or `matches: [\"PLENTICORE*\", \"PIKO IQ*\"]`"),
                    ));
                    }
                };
            Expect::Matches(patterns)
        } else {
            let bound = |v: &Option<serde_yaml::Value>, key: &str| -> Check<Option<f64>> {
                match v {
                    None => Ok(None),
                    Some(serde_yaml::Value::Number(n))
                        if n.as_f64().is_some_and(f64::is_finite) =>
                    {
                        Ok(n.as_f64())
                    }
                    Some(other) => Err(self.at(
                        &path(key),
                        item,
                        format!("`{key}` is {}, not a number", show(other)),
                        Some("a number, e.g. 45 or 0x2000"),
                    )),
                }
            };
            let (min, max) = (bound(&c.min, "min")?, bound(&c.max, "max")?);
            if text {
                return Err(self.at(
                    &path(if c.min.is_some() { "min" } else { "max" }),
                    item,
                    "the register is text; a range bounds a number",
                    Some("`equals`, `one_of` or `matches` for text"),
                ));
            }
            if let (Some(lo), Some(hi)) = (min, max)
                && lo > hi
            {
                return Err(self.at(
                    &path("min"),
                    item,
                    format!("`min` {lo} is above `max` {hi}"),
                    None,
                ));
            }
            Expect::Range { min, max }
        };
        Ok(MapCheck {
            register: r.name.clone(),
            expect,
            why: c.why.clone(),
        })
    }
}
