//! Actions: `key=value` arguments to checked parameters, then to a [`WritePlan`].

use std::sync::Arc;

use crate::expr::{Env, EvalError};
use crate::load::{number_value, parse_hhmm};
use crate::model::{Action, DeviceMap, Param, ParamType};
use crate::units::Units;
use crate::write::{WriteError, WritePlan, parse_bool};

/// A parameter's value once parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// A number (int, number, percent, bool as 0/1, enum value).
    Number(f64),
    /// A time of day.
    Hhmm {
        /// Hour 0..=23.
        hour: u32,
        /// Minute 0..=59.
        minute: u32,
    },
    /// A date and time.
    DateTime {
        /// Full year.
        year: u32,
        /// Month 1..=12.
        month: u32,
        /// Day 1..=31.
        day: u32,
        /// Hour 0..=23.
        hour: u32,
        /// Minute 0..=59.
        minute: u32,
        /// Second 0..=59.
        second: u32,
    },
}

struct Args<'a> {
    params: &'a [Param],
    values: Vec<Option<ParamValue>>,
}

impl Env for Args<'_> {
    fn get(&self, name: &str, field: Option<&str>) -> Result<Option<f64>, EvalError> {
        let Some(i) = self.params.iter().position(|p| p.name == name) else {
            return Ok(None);
        };
        let Some(value) = &self.values[i] else {
            return Ok(None);
        };
        let no_field = |f: &str| EvalError::NoField {
            param: name.to_owned(),
            field: f.to_owned(),
        };
        let v = match (value, field) {
            (ParamValue::Number(n), None) => *n,
            (ParamValue::Hhmm { hour, minute }, None) => f64::from(hour * 100 + minute),
            (ParamValue::Hhmm { hour, .. }, Some("hour")) => f64::from(*hour),
            (ParamValue::Hhmm { minute, .. }, Some("minute")) => f64::from(*minute),
            (ParamValue::DateTime { year, .. }, Some("year")) => f64::from(*year),
            (ParamValue::DateTime { month, .. }, Some("month")) => f64::from(*month),
            (ParamValue::DateTime { day, .. }, Some("day")) => f64::from(*day),
            (ParamValue::DateTime { hour, .. }, Some("hour")) => f64::from(*hour),
            (ParamValue::DateTime { minute, .. }, Some("minute")) => f64::from(*minute),
            (ParamValue::DateTime { second, .. }, Some("second")) => f64::from(*second),
            (ParamValue::DateTime { .. }, None) => {
                return Err(no_field("(none: use .year, .month, ...)"));
            }
            (_, Some(f)) => return Err(no_field(f)),
        };
        Ok(Some(v))
    }
}

/// What a parameter takes, in words.
pub fn param_allowed(p: &Param) -> String {
    let range = |default: &str| match (p.min, p.max) {
        (Some(lo), Some(hi)) => format!("{lo} to {hi}"),
        (Some(lo), None) => format!("at least {lo}"),
        (None, Some(hi)) => format!("at most {hi}"),
        (None, None) => default.to_owned(),
    };
    match &p.param_type {
        ParamType::Int => format!("a whole number, {}", range("any")),
        ParamType::Number => format!("a number, {}", range("any")),
        ParamType::Percent => format!("a percentage, {}", range("0 to 100")),
        ParamType::Bool => "true or false (on/off, enable/disable, 1/0)".to_owned(),
        ParamType::Hhmm => "a time of day: 0100, 01:00, 23:30".to_owned(),
        ParamType::DateTime => "a date and time: dd/mm/yyyy hh:mm:ss".to_owned(),
        ParamType::Enum(values) => values
            .iter()
            .map(|(l, v)| format!("{l} ({v})"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Parses one argument for parameter `p`.
pub fn parse_param(p: &Param, text: &str) -> Option<ParamValue> {
    let t = text.trim();
    let in_range = |n: f64| {
        p.min.is_none_or(|lo| n >= lo)
            && p.max.is_none_or(|hi| n <= hi)
            && p.step.is_none_or(|s| {
                let k = (n - p.min.unwrap_or(0.0)) / s;
                (k - k.round()).abs() <= 1e-9 * k.abs().max(1.0)
            })
    };
    match &p.param_type {
        ParamType::Int => {
            let n = t.parse::<i64>().ok()? as f64;
            in_range(n).then_some(ParamValue::Number(n))
        }
        ParamType::Number => {
            let n = t.parse::<f64>().ok().filter(|n| n.is_finite())?;
            in_range(n).then_some(ParamValue::Number(n))
        }
        ParamType::Percent => {
            let n = t
                .strip_suffix('%')
                .unwrap_or(t)
                .trim()
                .parse::<i64>()
                .ok()? as f64;
            in_range(n).then_some(ParamValue::Number(n))
        }
        ParamType::Bool => parse_bool(t).map(|b| ParamValue::Number(if b { 1.0 } else { 0.0 })),
        ParamType::Hhmm => {
            let n = parse_hhmm(t)?;
            Some(ParamValue::Hhmm {
                hour: (n / 100) as u32,
                minute: (n % 100) as u32,
            })
        }
        ParamType::DateTime => parse_datetime(t),
        ParamType::Enum(values) => values
            .iter()
            .find(|(l, _)| l == t)
            .or_else(|| values.iter().find(|(l, _)| l.eq_ignore_ascii_case(t)))
            .map(|(_, v)| *v)
            .or_else(|| {
                t.parse::<i64>()
                    .ok()
                    .filter(|n| values.iter().any(|(_, v)| v == n))
            })
            .map(|v| ParamValue::Number(v as f64)),
    }
}

/// `dd/mm/yyyy hh:mm:ss`, checked to be a real date and time.
fn parse_datetime(t: &str) -> Option<ParamValue> {
    let (date, time) = t.split_once(' ')?;
    let d: Vec<u32> = date
        .split('/')
        .map(|s| s.parse().ok())
        .collect::<Option<_>>()?;
    let c: Vec<u32> = time
        .trim()
        .split(':')
        .map(|s| s.parse().ok())
        .collect::<Option<_>>()?;
    let (&[day, month, year], &[hour, minute, second]) = (d.as_slice(), c.as_slice()) else {
        return None;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    let ok = (1000..=9999).contains(&year)
        && (1..=days).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    ok.then_some(ParamValue::DateTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
    })
}

impl DeviceMap {
    /// Plans action `name` with `key=value` arguments: checks every parameter, computes every
    /// step's values and checks each against its register's rules. Nothing is sent.
    pub fn plan_action<S: AsRef<str>>(
        self: &Arc<Self>,
        name: &str,
        args: &[S],
        units: &Units,
    ) -> Result<WritePlan, WriteError> {
        let action = self.action(name).ok_or_else(|| WriteError::UnknownAction {
            map: self.id.clone(),
            name: name.to_owned(),
            actions: if self.actions.is_empty() {
                "none".to_owned()
            } else {
                self.actions
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        })?;
        let values = parse_args(action, args)?;
        let env = Args {
            params: &action.params,
            values,
        };
        let mut plan = self.plan_writes::<&str>(&[], units)?;
        for step in &action.steps {
            if let Some(when) = &step.when {
                let holds = when.holds(&env).map_err(|source| WriteError::Eval {
                    action: action.name.clone(),
                    register: "(condition)".to_owned(),
                    source,
                })?;
                if !holds {
                    continue;
                }
            }
            for (register, expr) in &step.set {
                let n = expr.eval(&env).map_err(|source| WriteError::Eval {
                    action: action.name.clone(),
                    register: register.clone(),
                    source,
                })?;
                let in_action = |e: WriteError| WriteError::InAction {
                    action: action.name.clone(),
                    source: Box::new(e),
                };
                let r = self.writable(register).map_err(in_action)?;
                plan.push(r, number_value(r, n)).map_err(in_action)?;
            }
        }
        Ok(plan)
    }
}

fn parse_args<S: AsRef<str>>(
    action: &Action,
    args: &[S],
) -> Result<Vec<Option<ParamValue>>, WriteError> {
    let params = || {
        if action.params.is_empty() {
            "none".to_owned()
        } else {
            action
                .params
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let mut values: Vec<Option<ParamValue>> = vec![None; action.params.len()];
    for arg in args {
        let arg = arg.as_ref();
        let (key, value) = arg.split_once('=').ok_or_else(|| WriteError::Syntax {
            text: arg.to_owned(),
        })?;
        let key = key.trim();
        let i = action
            .params
            .iter()
            .position(|p| p.name == key)
            .ok_or_else(|| WriteError::UnknownParam {
                action: action.name.clone(),
                param: key.to_owned(),
                params: params(),
            })?;
        let p = &action.params[i];
        values[i] = Some(parse_param(p, value).ok_or_else(|| WriteError::BadParam {
            action: action.name.clone(),
            param: p.name.clone(),
            value: value.to_owned(),
            allowed: param_allowed(p),
        })?);
    }
    for (p, v) in action.params.iter().zip(&values) {
        if v.is_none() && !p.optional {
            return Err(WriteError::MissingParam {
                action: action.name.clone(),
                param: p.name.clone(),
                expected: param_allowed(p),
            });
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes() {
        assert_eq!(
            parse_datetime("13/07/2026 23:22:19"),
            Some(ParamValue::DateTime {
                year: 2026,
                month: 7,
                day: 13,
                hour: 23,
                minute: 22,
                second: 19
            })
        );
        assert_eq!(parse_datetime("29/02/2026 00:00:00"), None);
        assert!(parse_datetime("29/02/2028 00:00:00").is_some());
        assert_eq!(parse_datetime("2026-07-13 23:22:19"), None);
        assert_eq!(parse_datetime("13/07/2026 24:00:00"), None);
    }
}
