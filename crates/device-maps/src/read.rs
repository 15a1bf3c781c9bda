//! Reading: choose registers, plan the fewest requests, decode the answers into a [`Snapshot`].

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use modbus_core::{Gaps, Limits, Plan, PlanError, ReadRequest, Span, Value};

use crate::check::Mismatch;
use crate::expr::{Env, EvalError};
use crate::io::RegisterIo;
use crate::model::{Derived, DeviceMap, Format, Kind, Register, RegisterType, Scale};
use crate::units::Units;

/// Names given to a read that are neither registers nor groups.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// Not a register, not a group.
    #[error("`{name}` is neither a register nor a group of map `{map}`{}", hint.as_ref().map(|h| format!("; did you mean `{h}`?")).unwrap_or_default())]
    Unknown {
        /// The map.
        map: String,
        /// What was asked for.
        name: String,
        /// The closest register or group name.
        hint: Option<String>,
    },
    /// A write-only register.
    #[error("register `{name}` of map `{map}` is write-only and cannot be read")]
    WriteOnly {
        /// The map.
        map: String,
        /// The register.
        name: String,
    },
}

impl DeviceMap {
    /// The registers and derived values to read for `names`: register names, derived value
    /// names, group names (a group also selects its subgroups: `Energy` selects
    /// `Energy/Today`), or every readable register and every derived value when `names` is
    /// empty. In map order, without duplicates: indices into [`DeviceMap::registers`], then
    /// `registers.len() + k` for derived value `k` of [`DeviceMap::derived`]. Pass it to
    /// [`DeviceMap::plan_read`] as it is.
    pub fn select<S: AsRef<str>>(&self, names: &[S]) -> Result<Vec<usize>, SelectError> {
        let n = self.registers.len();
        if names.is_empty() {
            return Ok((0..n)
                .filter(|&i| self.registers[i].access.readable())
                .chain(n..n + self.derived.len())
                .collect());
        }
        let mut chosen = vec![false; n + self.derived.len()];
        for name in names {
            let name = name.as_ref();
            if let Some(k) = self.derived.iter().position(|d| d.name == name) {
                chosen[n + k] = true;
                continue;
            }
            if let Some(i) = self.register_index(name) {
                if !self.registers[i].access.readable() {
                    return Err(SelectError::WriteOnly {
                        map: self.id.clone(),
                        name: name.to_owned(),
                    });
                }
                chosen[i] = true;
                continue;
            }
            let prefix = format!("{name}/");
            let mut any = false;
            for (i, r) in self.registers.iter().enumerate() {
                if let Some(g) = &r.group
                    && (g == name || g.starts_with(&prefix))
                    && r.access.readable()
                {
                    chosen[i] = true;
                    any = true;
                }
            }
            for (k, d) in self.derived.iter().enumerate() {
                if let Some(g) = &d.group
                    && (g == name || g.starts_with(&prefix))
                {
                    chosen[n + k] = true;
                    any = true;
                }
            }
            if !any {
                let candidates = self
                    .registers
                    .iter()
                    .map(|r| r.name.as_str())
                    .chain(self.derived.iter().map(|d| d.name.as_str()))
                    .chain(self.groups());
                return Err(SelectError::Unknown {
                    map: self.id.clone(),
                    name: name.to_owned(),
                    hint: crate::load::suggest(name, candidates).map(str::to_owned),
                });
            }
        }
        Ok((0..chosen.len()).filter(|&i| chosen[i]).collect())
    }

    /// The first of the map's checks that the values `value_of` gives (by register name) fail.
    pub fn first_mismatch(
        &self,
        value_of: impl Fn(&str) -> Result<Value, Missing>,
    ) -> Option<Mismatch> {
        self.first_mismatch_among(&self.checks, value_of)
    }

    /// [`DeviceMap::first_mismatch`] over some of the map's checks only (identification
    /// evaluates [`DeviceMap::identity_checks`]).
    pub fn first_mismatch_among(
        &self,
        checks: &[crate::Check],
        value_of: impl Fn(&str) -> Result<Value, Missing>,
    ) -> Option<Mismatch> {
        checks.iter().find_map(|check| {
            let found = value_of(&check.register);
            let holds = found.as_ref().is_ok_and(|v| check.expect.holds(v));
            (!holds).then(|| {
                let location = self
                    .register(&check.register)
                    .map(|r| self.describe_location(r))
                    .unwrap_or_default();
                Mismatch::new(&self.id, check, location, &found)
            })
        })
    }

    /// The request limits of this map for modbus-core's planner.
    pub fn limits(&self) -> Limits {
        let c = &self.connection;
        Limits {
            max_registers: c.max_registers,
            max_bits: c.max_bits,
            gaps: match (c.span_gaps, c.max_gap) {
                (false, _) => Gaps::Never,
                (true, u16::MAX) => Gaps::Any,
                (true, n) => Gaps::UpTo(n),
            },
            page_size: c.page_size,
        }
    }

    /// Plans a read of the registers and derived values `selection` (from
    /// [`DeviceMap::select`]) with the unit ids `units`. Scale-factor registers and the inputs
    /// of derived values are read too, but only the selection is reported.
    ///
    /// The registers of the map's `checks:` are read too, in the same requests where the
    /// planner can fold them in, and every answer is checked: see [`ReadPlan::decode_at`].
    pub fn plan_read(
        self: &Arc<Self>,
        selection: &[usize],
        units: &Units,
    ) -> Result<ReadPlan, PlanError> {
        self.plan_read_with(selection, units, true)
    }

    /// [`DeviceMap::plan_read`], with the map's checks (`verify`) or without them
    /// (`--no-verify`: the values are trusted as they come).
    pub fn plan_read_with(
        self: &Arc<Self>,
        selection: &[usize],
        units: &Units,
        verify: bool,
    ) -> Result<ReadPlan, PlanError> {
        let n = self.registers.len();
        let mut needed: Vec<usize> = selection.iter().copied().filter(|&i| i < n).collect();
        let reported = needed.len();
        // Derived values: the selected ones, and the earlier ones they compute from.
        let mut derived = vec![false; self.derived.len()];
        for &i in selection {
            if let Some(k) = i.checked_sub(n).filter(|&k| k < self.derived.len()) {
                derived[k] = true;
            }
        }
        let reported_derived = derived.clone();
        for k in (0..self.derived.len()).rev() {
            if !derived[k] {
                continue;
            }
            for input in &self.derived[k].inputs {
                if let Some(j) = self.derived.iter().position(|d| d.name == *input) {
                    derived[j] = true;
                } else if let Some(j) = self.register_index(input)
                    && !needed.contains(&j)
                {
                    needed.push(j);
                }
            }
        }
        let mut with_scale = Vec::new();
        for &i in &needed {
            if let Some(Scale::PowerOfTen(sf)) = self.registers.get(i).map(|r| &r.scale)
                && let Some(j) = self.register_index(sf)
                && !needed.contains(&j)
                && !with_scale.contains(&j)
            {
                with_scale.push(j);
            }
        }
        needed.extend(with_scale);
        let verify = verify && !self.checks.is_empty();
        if verify {
            for check in &self.checks {
                if let Some(j) = self.register_index(&check.register)
                    && !needed.contains(&j)
                {
                    needed.push(j);
                }
            }
        }
        let derived: Vec<(usize, bool)> = (0..self.derived.len())
            .filter(|&k| derived[k])
            .map(|k| (k, reported_derived[k]))
            .collect();
        let spans: Vec<Span> = needed
            .iter()
            .map(|&i| {
                let r = &self.registers[i];
                Span::new(units.resolve(&r.unit_id), r.table, r.wire_address, r.count)
            })
            .collect();
        // Every readable register exists on the device, so a request may read through the ones
        // not asked for without that counting as a gap: a subset read of a device that refuses
        // gap reads still takes few requests.
        let mapped: Vec<Span> = self
            .registers
            .iter()
            .filter(|r| r.access.readable())
            .map(|r| Span::new(units.resolve(&r.unit_id), r.table, r.wire_address, r.count))
            .collect();
        let plan = modbus_core::plan_with_mapped(&spans, &mapped, &self.limits())?;
        let main_unit = units.resolve(&crate::model::UnitRef::Role(
            self.connection.main_unit.clone(),
        ));
        Ok(ReadPlan {
            map: Arc::clone(self),
            reported,
            needed,
            spans,
            plan,
            derived,
            main_unit,
            verify,
        })
    }
}

/// The requests of one read and how to decode their answers.
#[derive(Debug, Clone)]
pub struct ReadPlan {
    map: Arc<DeviceMap>,
    /// The first `reported` of `needed` are the selection; the rest are scale factors.
    reported: usize,
    needed: Vec<usize>,
    spans: Vec<Span>,
    plan: Plan,
    /// Derived values to compute, in map order, and whether each is reported.
    derived: Vec<(usize, bool)>,
    /// The main unit's id, which derived values are reported under.
    main_unit: u8,
    /// Whether the map's checks are read and evaluated.
    verify: bool,
}

/// A read request that failed, kept as data in the snapshot.
pub type ReadFailure = Arc<dyn std::error::Error + Send + Sync>;

impl ReadPlan {
    /// The map this plan reads.
    pub fn map(&self) -> &Arc<DeviceMap> {
        &self.map
    }

    /// The requests, in the order they are sent.
    pub fn requests(&self) -> &[ReadRequest] {
        self.plan.requests()
    }

    /// Sends every request through `io` and decodes the answers. A failed request does not
    /// stop the read: its registers are reported missing with the error, the other requests
    /// still go out. Pacing, timeouts and retries are the `io`'s business.
    pub async fn execute<I: RegisterIo>(&self, io: &mut I) -> Snapshot {
        let started_at = SystemTime::now();
        let mut responses: Vec<(Result<Vec<u16>, ReadFailure>, SystemTime)> =
            Vec::with_capacity(self.requests().len());
        for req in self.requests() {
            let result = io
                .read(req.unit, req.table, req.address, req.count)
                .await
                .map_err(|e| Arc::new(e) as ReadFailure);
            responses.push((result, SystemTime::now()));
        }
        self.decode_at(started_at, &responses)
    }

    /// Whether this plan reads and evaluates the map's checks.
    pub fn verifies(&self) -> bool {
        self.verify
    }

    /// Decodes answers obtained elsewhere: one per request, in order, each with the time it
    /// arrived. When the plan verifies and a check of the map fails, the snapshot carries the
    /// [`Mismatch`] and every value is withheld ([`Missing::Unverified`]).
    pub fn decode_at(
        &self,
        started_at: SystemTime,
        responses: &[(Result<Vec<u16>, ReadFailure>, SystemTime)],
    ) -> Snapshot {
        // Words of every needed register, or why they are missing.
        let words: Vec<Result<(&[u16], SystemTime), Missing>> = (0..self.needed.len())
            .map(|k| {
                let Some(p) = self.plan.placement(k) else {
                    return Err(Missing::NotRead);
                };
                match responses.get(p.request) {
                    None => Err(Missing::NotRead),
                    Some((Err(e), _)) => Err(Missing::ReadFailed(Arc::clone(e))),
                    Some((Ok(data), at)) => {
                        let start = usize::from(p.offset);
                        let end = start + usize::from(p.count);
                        match data.get(start..end) {
                            Some(w)
                                if data.len() == usize::from(self.requests()[p.request].count) =>
                            {
                                Ok((w, *at))
                            }
                            _ => Err(Missing::Undecodable(format!(
                                "the answer to {} has {} item(s), {} were asked for",
                                self.requests()[p.request],
                                data.len(),
                                self.requests()[p.request].count
                            ))),
                        }
                    }
                }
            })
            .collect();
        let value_of = |k: usize| -> Result<Value, Missing> {
            let (w, _) = words[k].clone()?;
            let r = &self.map.registers[self.needed[k]];
            let value = decode_register(r, w)?;
            match (&r.valid, value.as_f64()) {
                (Some(valid), Some(x)) if !valid.contains(x) => Err(Missing::Invalid {
                    value: value.to_string(),
                    valid: valid.to_string(),
                }),
                _ => Ok(value),
            }
        };
        let mut readings = Vec::with_capacity(self.reported + self.derived.len());
        // Final values of every needed register, for derived values.
        let mut values: Vec<(&str, Result<Value, Missing>, Option<SystemTime>)> =
            Vec::with_capacity(self.needed.len());
        for (k, &i) in self.needed.iter().enumerate() {
            let r = &self.map.registers[i];
            let read_at = words[k].as_ref().ok().map(|(_, at)| *at);
            let mut value = value_of(k);
            if let (Ok(v), Scale::PowerOfTen(sf)) = (&value, &r.scale) {
                let sf_value = self
                    .needed
                    .iter()
                    .position(|&j| self.map.registers[j].name == *sf)
                    .map(value_of)
                    .unwrap_or(Err(Missing::NotRead));
                value = match sf_value {
                    Ok(s) => match (v.as_f64(), s.as_i64()) {
                        (Some(x), Some(e)) if (-20..=20).contains(&e) => {
                            Ok(Value::Float(apply_power_of_ten(x, e)))
                        }
                        _ => Err(Missing::ScaleFactor {
                            register: sf.clone(),
                            reason: format!("{s} is not a usable power of ten"),
                        }),
                    },
                    Err(m) => Err(Missing::ScaleFactor {
                        register: sf.clone(),
                        reason: m.to_string(),
                    }),
                };
            }
            if k < self.reported {
                readings.push(Reading::new(
                    r,
                    value.clone(),
                    units_of(&self.spans[k]),
                    read_at,
                ));
            }
            values.push((r.name.as_str(), value, read_at));
        }
        for &(k, reported) in &self.derived {
            let d = &self.map.derived[k];
            let (value, read_at) = evaluate(d, &values);
            let name = d.name.as_str();
            if reported {
                readings.push(Reading::derived(d, value.clone(), self.main_unit, read_at));
            }
            values.push((name, value, read_at));
        }
        let mismatch = if self.verify {
            self.map.first_mismatch(|name| {
                values
                    .iter()
                    .find(|(n, _, _)| *n == name)
                    .map(|(_, v, _)| v.clone())
                    .unwrap_or(Err(Missing::NotRead))
            })
        } else {
            None
        };
        // A check register whose request failed is not evidence of another device (the network
        // failed, or the device refused that request): the check is inconclusive, nothing read
        // with it is trusted, and the failure stays what the snapshot reports.
        let inconclusive = mismatch.as_ref().is_some_and(|m| {
            values
                .iter()
                .any(|(n, v, _)| *n == m.register && matches!(v, Err(Missing::ReadFailed(_))))
        });
        let mismatch = if inconclusive { None } else { mismatch };
        if inconclusive || mismatch.is_some() {
            let register = self
                .map
                .first_mismatch(|name| {
                    values
                        .iter()
                        .find(|(n, _, _)| *n == name)
                        .map(|(_, v, _)| v.clone())
                        .unwrap_or(Err(Missing::NotRead))
                })
                .map(|m| m.register)
                .unwrap_or_default();
            for reading in &mut readings {
                if inconclusive && matches!(reading.value, Err(Missing::ReadFailed(_))) {
                    continue;
                }
                reading.value = Err(Missing::Unverified {
                    register: register.clone(),
                });
                reading.label = None;
                reading.flags.clear();
            }
        }
        Snapshot {
            device: self.map.id.clone(),
            mismatch,
            readings,
            started_at,
            finished_at: responses.last().map(|(_, at)| *at).unwrap_or(started_at),
            requests: self.requests().len(),
        }
    }
}

/// The value of derived value `d` from the values computed so far (name, value, read time):
/// missing, with the reason, when an input is missing; read when its latest input was read.
fn evaluate(
    d: &Derived,
    values: &[(&str, Result<Value, Missing>, Option<SystemTime>)],
) -> (Result<Value, Missing>, Option<SystemTime>) {
    let mut inputs: Vec<(&str, f64)> = Vec::with_capacity(d.inputs.len());
    let mut read_at: Option<SystemTime> = None;
    // Whole-number results of whole-number inputs stay integers (watts); otherwise a float.
    let mut integers = true;
    for name in &d.inputs {
        let found = values.iter().find(|(n, _, _)| n == name);
        let number = match found {
            Some((_, Ok(v), at)) => {
                read_at = read_at.max(*at);
                integers &= !matches!(v, Value::Float(_));
                match v {
                    Value::Bool(b) => Ok(f64::from(u8::from(*b))),
                    other => other
                        .as_f64()
                        .filter(|f| !f.is_nan())
                        .ok_or_else(|| Missing::Input {
                            name: name.clone(),
                            reason: format!("{other} is not a number"),
                        }),
                }
            }
            Some((_, Err(m), _)) => Err(Missing::Input {
                name: name.clone(),
                reason: m.to_string(),
            }),
            None => Err(Missing::Input {
                name: name.clone(),
                reason: Missing::NotRead.to_string(),
            }),
        };
        match number {
            Ok(x) => inputs.push((name, x)),
            Err(m) => return (Err(m), None),
        }
    }
    struct Inputs<'a>(Vec<(&'a str, f64)>);
    impl Env for Inputs<'_> {
        fn get(&self, name: &str, _field: Option<&str>) -> Result<Option<f64>, EvalError> {
            Ok(self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| *v))
        }
    }
    match d.expr.eval(&Inputs(inputs)) {
        Ok(x) if x.is_finite() => {
            // 12 significant digits hide the binary noise of decimal scales (17.1, not
            // 17.100000000000005) and keep far more precision than any register has.
            let x = format!("{x:.11e}").parse::<f64>().unwrap_or(x);
            let value = if integers && x.fract() == 0.0 && x.abs() < 9.0e15 {
                Value::Int(x as i64)
            } else {
                Value::Float(x)
            };
            (Ok(value), read_at)
        }
        Ok(x) => (
            Err(Missing::Undecodable(format!("`{}` gives {x}", d.expr_text))),
            read_at,
        ),
        Err(e) => (
            Err(Missing::Undecodable(format!("`{}`: {e}", d.expr_text))),
            read_at,
        ),
    }
}

fn units_of(span: &Span) -> u8 {
    span.unit
}

/// `x × 10^e`, dividing for negative exponents so `2301 × 10^-1` is the float nearest 230.1.
pub(crate) fn apply_power_of_ten(x: f64, e: i64) -> f64 {
    // Beyond 10^400 every f64 is 0 or infinite anyway; the cap keeps `powi` in range.
    let p = 10f64.powi(e.unsigned_abs().min(400) as i32);
    if e < 0 { x / p } else { x * p }
}

/// Decodes the words of one register (before any scale-factor register is applied).
pub(crate) fn decode_register(r: &Register, words: &[u16]) -> Result<Value, Missing> {
    match (&r.codec, r.register_type) {
        (_, RegisterType::Bool) => match words {
            [w] => Ok(Value::Bool(*w != 0)),
            _ => Err(Missing::Undecodable(format!(
                "a bit needs 1 item, got {}",
                words.len()
            ))),
        },
        (Some(codec), _) => match codec.decode(words) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(Missing::Sentinel),
            Err(e) => Err(Missing::Undecodable(e.to_string())),
        },
        (None, _) => Err(Missing::Undecodable("the register has no codec".to_owned())),
    }
}

/// Why a reading has no value.
#[derive(Debug, Clone)]
pub enum Missing {
    /// The device said "not available": a sentinel pattern or a NaN float.
    Sentinel,
    /// The request carrying it failed.
    ReadFailed(ReadFailure),
    /// It was not part of the read.
    NotRead,
    /// The words could not be decoded (text that is not text, a short answer).
    Undecodable(String),
    /// An input of a derived value is missing.
    Input {
        /// The register or derived value.
        name: String,
        /// Why it is missing.
        reason: String,
    },
    /// The decoded value is outside the range the register's standard allows (`valid:`).
    Invalid {
        /// The value as decoded.
        value: String,
        /// The valid range.
        valid: String,
    },
    /// Withheld: the map's check of `register` failed, or its request failed, so no value of
    /// the read is trusted.
    Unverified {
        /// The register whose check failed.
        register: String,
    },
    /// Its scale-factor register is missing or unusable.
    ScaleFactor {
        /// The scale-factor register.
        register: String,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::Sentinel => f.write_str("not available (the device reports no value)"),
            Missing::ReadFailed(e) => write!(f, "read failed: {e}"),
            Missing::NotRead => f.write_str("not read"),
            Missing::Undecodable(why) => write!(f, "cannot be decoded: {why}"),
            Missing::Input { name, reason } => write!(f, "input `{name}` is missing: {reason}"),
            Missing::Invalid { value, valid } => {
                write!(f, "invalid: {value} is outside the valid range {valid}")
            }
            Missing::Unverified { register } => write!(
                f,
                "withheld: the device is not verified (the map's check of `{register}` failed or could not be read)"
            ),
            Missing::ScaleFactor { register, reason } => {
                write!(f, "scale factor `{register}` unusable: {reason}")
            }
        }
    }
}

impl PartialEq for Missing {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

/// One register's value (or why it has none), with what outputs need to show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Register name.
    pub name: String,
    /// Human label.
    pub title: String,
    /// The value in the register's unit, or why it is missing.
    pub value: Result<Value, Missing>,
    /// Physical unit.
    pub unit: Option<String>,
    /// The enumeration label of the value, or the time for `hhmm` registers.
    pub label: Option<String>,
    /// Labels of the set bits of a bit field.
    pub flags: Vec<String>,
    /// Group path.
    pub group: Option<String>,
    /// What the value is.
    pub kind: Kind,
    /// Unit id it was read from.
    pub unit_id: u8,
    /// When its answer arrived; `None` when it was not read.
    pub read_at: Option<SystemTime>,
}

impl Reading {
    /// A reading of `r` with `value`.
    pub fn new(
        r: &Register,
        value: Result<Value, Missing>,
        unit_id: u8,
        read_at: Option<SystemTime>,
    ) -> Reading {
        let (label, flags) = match &value {
            Ok(v) => describe_value(r, v),
            Err(_) => (None, Vec::new()),
        };
        Reading {
            name: r.name.clone(),
            title: r.title.clone(),
            value,
            unit: r.unit.clone(),
            label,
            flags,
            group: r.group.clone(),
            kind: r.kind,
            unit_id,
            read_at,
        }
    }

    /// A reading of derived value `d`, reported under `unit_id` (the main unit).
    pub fn derived(
        d: &Derived,
        value: Result<Value, Missing>,
        unit_id: u8,
        read_at: Option<SystemTime>,
    ) -> Reading {
        let label = value
            .as_ref()
            .ok()
            .and_then(Value::as_f64)
            .and_then(|v| d.label(v))
            .map(str::to_owned);
        Reading {
            name: d.name.clone(),
            title: d.title.clone(),
            value,
            unit: d.unit.clone(),
            label,
            flags: Vec::new(),
            group: d.group.clone(),
            kind: d.kind,
            unit_id,
            read_at,
        }
    }

    /// The value, when there is one.
    pub fn value(&self) -> Option<&Value> {
        self.value.as_ref().ok()
    }
}

/// The enumeration label (or HHMM time) and flag labels of a value of `r`.
pub fn describe_value(r: &Register, v: &Value) -> (Option<String>, Vec<String>) {
    let label = if r.format == Some(Format::Hhmm) {
        v.as_i64().map(|n| format!("{:02}:{:02}", n / 100, n % 100))
    } else if let Value::Text(text) = v {
        r.text_label(text).map(str::to_owned)
    } else if r.enumeration.is_empty() {
        None
    } else {
        v.as_i64().and_then(|n| r.label(n)).map(str::to_owned)
    };
    let flags = if r.flags.is_empty() {
        Vec::new()
    } else {
        v.as_u64()
            .map(|bits| r.flag_labels(bits).into_iter().map(str::to_owned).collect())
            .unwrap_or_default()
    };
    (label, flags)
}

/// The outcome of a read: one [`Reading`] per selected register, in map order.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The map id.
    pub device: String,
    /// The readings.
    pub readings: Vec<Reading>,
    /// When the first request went out.
    pub started_at: SystemTime,
    /// When the last answer arrived.
    pub finished_at: SystemTime,
    /// Requests sent.
    pub requests: usize,
    /// The map's check the device failed, when the read verified; then every reading is
    /// [`Missing::Unverified`]. A check whose request failed is no mismatch: the readings of
    /// that request keep their failure and every other reading is withheld.
    pub mismatch: Option<Mismatch>,
}

impl Snapshot {
    /// The reading of register `name`.
    pub fn get(&self, name: &str) -> Option<&Reading> {
        self.readings.iter().find(|r| r.name == name)
    }

    /// The value of register `name`, when it was read.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.get(name).and_then(Reading::value)
    }

    /// The readings that have no value.
    pub fn missing(&self) -> impl Iterator<Item = &Reading> {
        self.readings.iter().filter(|r| r.value.is_err())
    }
}
