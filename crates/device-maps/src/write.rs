//! Writing: `NAME=VALUE` text to checked, encoded requests, and running them with read-back.
//!
//! A [`WritePlan`] is built without any I/O: every value is parsed, checked against the
//! register's static rules (access, enumeration, numeric bounds, step) and encoded. Rules that
//! depend on the device (a bound that is another register's value, a SunSpec scale factor) are
//! kept as the registers the plan [`needs`](WritePlan::needs); [`WritePlan::resolve`] finishes
//! the checks given a snapshot of them, and [`WritePlan::execute`] reads them, checks, writes
//! and reads back.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use modbus_core::{EncodeError, Table, Value};

use crate::check::Mismatch;
use crate::io::RegisterIo;
use crate::load::{describe_rule, number_value, parse_hhmm, static_violation};
use crate::model::{
    Access, Bound, DeviceMap, Format, Heartbeat, HeartbeatWrite, ReadBack, Register, RegisterType,
    Scale, WriteConfirm,
};
use crate::read::{Missing, Snapshot, apply_power_of_ten, decode_register};
use crate::units::Units;

/// One write request, exactly as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteRequest {
    /// The register written.
    pub register: String,
    /// Modbus unit id.
    pub unit: u8,
    /// Table (holding registers or coils).
    pub table: Table,
    /// Wire address.
    pub address: u16,
    /// The words (0 or 1 per coil).
    pub words: Vec<u16>,
}

impl WriteRequest {
    /// The Modbus function code: 5 or 15 for coils, 6 or 16 for holding registers.
    pub fn function_code(&self) -> u8 {
        match (self.table.is_bits(), self.words.len() == 1) {
            (true, true) => 5,
            (true, false) => 15,
            (false, true) => 6,
            (false, false) => 16,
        }
    }

    /// The function's name.
    pub fn function_name(&self) -> &'static str {
        match self.function_code() {
            5 => "write single coil",
            15 => "write multiple coils",
            6 => "write single register",
            _ => "write multiple registers",
        }
    }
}

impl fmt::Display for WriteRequest {
    /// `FC16 write multiple registers: unit 1, address 1210, 2 words 0x4120 0x0000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FC{} {}: unit {}, address {}, {} {}",
            self.function_code(),
            self.function_name(),
            self.unit,
            self.address,
            self.words.len(),
            match (self.table.is_bits(), self.words.len()) {
                (true, 1) => "coil",
                (true, _) => "coils",
                (false, 1) => "word",
                (false, _) => "words",
            }
        )?;
        for w in &self.words {
            write!(f, " {w:#06x}")?;
        }
        Ok(())
    }
}

/// A write that cannot be planned or checked. Nothing was sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// Not `NAME=VALUE`.
    #[error("`{text}` is not NAME=VALUE")]
    Syntax {
        /// What was given.
        text: String,
    },
    /// No such register.
    #[error("map `{map}` has no register `{name}`{}", did_you_mean(.hint))]
    UnknownRegister {
        /// The map.
        map: String,
        /// The name given.
        name: String,
        /// The closest writable register.
        hint: Option<String>,
    },
    /// A read-only register.
    #[error("register `{register}` is read-only (writable registers: {writable})")]
    ReadOnly {
        /// The register.
        register: String,
        /// The writable registers of the map.
        writable: String,
    },
    /// A value that does not parse for the register's type.
    #[error("`{value}` is not a value for `{register}` (allowed: {allowed})")]
    BadValue {
        /// The register.
        register: String,
        /// What was given.
        value: String,
        /// What it takes.
        allowed: String,
    },
    /// A value outside the register's rules.
    #[error("{value} for `{register}` {problem} (allowed: {allowed})")]
    OutOfRange {
        /// The register.
        register: String,
        /// The value.
        value: String,
        /// What is wrong.
        problem: String,
        /// What the rules allow.
        allowed: String,
    },
    /// A value the register's type cannot hold.
    #[error("{value} cannot be written to `{register}`")]
    Encode {
        /// The register.
        register: String,
        /// The value.
        value: String,
        /// Why.
        #[source]
        source: EncodeError,
    },
    /// A check needs a register's value that the snapshot does not have.
    #[error("writing `{register}` needs the value of `{needs}`, which is {why}")]
    NeedsValue {
        /// The register written.
        register: String,
        /// The register whose value is needed.
        needs: String,
        /// Why it is not available.
        why: String,
    },
    /// No such action.
    #[error("map `{map}` has no action `{name}` (actions: {actions})")]
    UnknownAction {
        /// The map.
        map: String,
        /// The name given.
        name: String,
        /// The map's actions.
        actions: String,
    },
    /// A parameter the action does not take.
    #[error("action `{action}` has no parameter `{param}` (parameters: {params})")]
    UnknownParam {
        /// The action.
        action: String,
        /// What was given.
        param: String,
        /// The action's parameters.
        params: String,
    },
    /// A required parameter left out.
    #[error("action `{action}` needs parameter `{param}` ({expected})")]
    MissingParam {
        /// The action.
        action: String,
        /// The parameter.
        param: String,
        /// What it takes.
        expected: String,
    },
    /// A parameter value that does not fit its type or range.
    #[error("`{value}` is not a valid `{param}` for action `{action}` (allowed: {allowed})")]
    BadParam {
        /// The action.
        action: String,
        /// The parameter.
        param: String,
        /// What was given.
        value: String,
        /// What it takes.
        allowed: String,
    },
    /// A step's value cannot be computed.
    #[error("action `{action}`: the value for `{register}` cannot be computed")]
    Eval {
        /// The action.
        action: String,
        /// The register.
        register: String,
        /// Why.
        #[source]
        source: crate::expr::EvalError,
    },
    /// A value computed by an action breaks the register's rules.
    #[error("action `{action}`")]
    InAction {
        /// The action.
        action: String,
        /// The problem with one of its writes.
        #[source]
        source: Box<WriteError>,
    },
}

fn did_you_mean(hint: &Option<String>) -> String {
    hint.as_ref()
        .map(|h| format!("; did you mean `{h}`?"))
        .unwrap_or_default()
}

/// One write of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedWrite {
    /// The register.
    pub register: String,
    /// The value, in the register's unit.
    pub value: Value,
    /// The unit id.
    pub unit: u8,
    /// Registers whose current values the checks or the encoding need.
    pub needs: Vec<String>,
    /// The request, when it could be encoded without reading anything.
    pub request: Option<WriteRequest>,
}

/// Checked, encoded writes for one device, in order.
#[derive(Debug, Clone)]
pub struct WritePlan {
    map: Arc<DeviceMap>,
    units: Units,
    /// The writes, in the order they are sent.
    pub writes: Vec<PlannedWrite>,
    /// Whether the map's checks are read, and must hold, before anything is written.
    verify: bool,
}

/// The requests of a plan once every check is done, and what could not be checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The requests, in order.
    pub requests: Vec<WriteRequest>,
    /// Checks skipped because no snapshot was given (for `--dry-run`).
    pub unchecked: Vec<String>,
}

/// What reading a register back after a write showed.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirmation {
    /// The register written.
    pub register: String,
    /// The register read back (the same one, or the one showing the applied value).
    pub read_register: String,
    /// The value written.
    pub expected: Value,
    /// The value read.
    pub read: Result<Value, Missing>,
    /// Whether they agree.
    pub confirmed: bool,
    /// How long read-back paused, in total, before the read shown here (zero for the first
    /// read; up to the read-back window when the device was slow to apply the write).
    pub waited: Duration,
}

impl Confirmation {
    /// Whether this read-back counts as a failure: the register itself read something else,
    /// or nothing could be read. Another register showing a different applied value is not
    /// (the device applies its own limits).
    pub fn failed(&self) -> bool {
        !self.confirmed && (self.read.is_err() || self.read_register == self.register)
    }
}

/// The outcome of [`WritePlan::execute`].
#[derive(Debug, Clone, PartialEq)]
pub struct WriteReport {
    /// The requests sent, in order.
    pub sent: Vec<WriteRequest>,
    /// Read-back results, for the registers the map marks.
    pub confirmations: Vec<Confirmation>,
}

impl WriteReport {
    /// True when every read-back agreed.
    pub fn all_confirmed(&self) -> bool {
        self.confirmations.iter().all(|c| c.confirmed)
    }
}

/// A write that failed while running.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError<E: std::error::Error + 'static> {
    /// The plan did not pass its checks; nothing was written.
    #[error("the write was refused before sending anything")]
    Invalid(#[from] WriteError),
    /// A read needed before writing could not be planned.
    #[error("cannot plan the read of the registers the write depends on")]
    Plan(#[from] modbus_core::PlanError),
    /// The device failed a check of its map; nothing was written.
    #[error("nothing was written: {0}")]
    Mismatch(#[source] Mismatch),
    /// A check of the map could not be read, so the device is not verified; nothing was written.
    #[error("nothing was written: the map's check of `{register}` could not be read")]
    Unverified {
        /// The register checked.
        register: String,
        /// Why the read failed.
        #[source]
        source: crate::read::ReadFailure,
    },
    /// A write request failed; the writes before it were sent.
    #[error("{request} for `{register}` failed ({done} earlier write(s) were sent)")]
    Write {
        /// The register.
        register: String,
        /// The request, as text.
        request: String,
        /// Writes sent before it.
        done: usize,
        /// Why.
        #[source]
        source: E,
    },
}

impl DeviceMap {
    /// Plans writes from `NAME=VALUE` texts.
    pub fn plan_writes<S: AsRef<str>>(
        self: &Arc<Self>,
        assignments: &[S],
        units: &Units,
    ) -> Result<WritePlan, WriteError> {
        let mut plan = WritePlan {
            map: Arc::clone(self),
            units: units.clone(),
            writes: Vec::new(),
            verify: true,
        };
        for a in assignments {
            let text = a.as_ref();
            let (name, value) = text.split_once('=').ok_or_else(|| WriteError::Syntax {
                text: text.to_owned(),
            })?;
            let r = self.writable(name.trim())?;
            let typed = value.trim();
            let value = parse_register_value(r, typed)?;
            // A range error quotes the number as typed: a huge one saturates when converted.
            plan.push(r, value).map_err(|e| match e {
                WriteError::OutOfRange {
                    register,
                    problem,
                    allowed,
                    ..
                } => WriteError::OutOfRange {
                    register,
                    value: typed.to_owned(),
                    problem,
                    allowed,
                },
                other => other,
            })?;
        }
        Ok(plan)
    }

    /// Plans one register write of an already typed value.
    pub fn plan_value(
        self: &Arc<Self>,
        register: &str,
        value: Value,
        units: &Units,
    ) -> Result<WritePlan, WriteError> {
        let mut plan = WritePlan {
            map: Arc::clone(self),
            units: units.clone(),
            writes: Vec::new(),
            verify: true,
        };
        let r = self.writable(register)?;
        plan.push(r, value)?;
        Ok(plan)
    }

    /// Plans the writes of one heartbeat tick. `last_written` gives the last value this client
    /// wrote to a register (for `refresh` heartbeats); `Ok(None)` when there is nothing to
    /// refresh yet.
    pub fn plan_heartbeat(
        self: &Arc<Self>,
        heartbeat: &Heartbeat,
        units: &Units,
        last_written: impl Fn(&str) -> Option<Value>,
    ) -> Result<Option<WritePlan>, WriteError> {
        let mut plan = WritePlan {
            map: Arc::clone(self),
            units: units.clone(),
            writes: Vec::new(),
            verify: true,
        };
        match &heartbeat.write {
            HeartbeatWrite::Values(values) => {
                for (name, value) in values {
                    let r = self.writable(name)?;
                    plan.push(r, value.clone())?;
                }
            }
            HeartbeatWrite::Refresh(name) => {
                let Some(value) = last_written(name) else {
                    return Ok(None);
                };
                let r = self.writable(name)?;
                plan.push(r, value)?;
            }
        }
        Ok(Some(plan))
    }

    pub(crate) fn writable(&self, name: &str) -> Result<&Register, WriteError> {
        let writable = || {
            self.registers
                .iter()
                .filter(|r| r.access.writable())
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
        };
        let Some(r) = self.register(name) else {
            return Err(WriteError::UnknownRegister {
                map: self.id.clone(),
                name: name.to_owned(),
                hint: crate::load::suggest(name, writable()).map(str::to_owned),
            });
        };
        if !r.access.writable() {
            let list = writable();
            return Err(WriteError::ReadOnly {
                register: name.to_owned(),
                writable: if list.is_empty() {
                    "none".to_owned()
                } else {
                    list.join(", ")
                },
            });
        }
        Ok(r)
    }
}

/// What a register takes, in words.
pub fn allowed_values(r: &Register) -> String {
    if r.register_type == RegisterType::Bool {
        return "true, false, on, off, 1, 0".to_owned();
    }
    if r.format == Some(Format::Hhmm) {
        return "a time of day such as 23:30 or 2330".to_owned();
    }
    if r.register_type.data_type().is_some_and(|t| t.is_text()) {
        return format!(
            "text of up to {} characters",
            r.codec
                .as_ref()
                .and_then(|c| c.data_type().max_chars(c.registers()))
                .unwrap_or(0)
        );
    }
    let rule = r.write.as_ref().map(describe_rule);
    let has_range = r
        .write
        .as_ref()
        .is_some_and(|w| w.min.is_some() || w.max.is_some());
    if !r.enumeration.is_empty() && !has_range {
        return r
            .enumeration
            .iter()
            .map(|(v, l)| format!("{l} ({v})"))
            .collect::<Vec<_>>()
            .join(", ");
    }
    let mut text = rule.unwrap_or_else(|| "any number the type holds".to_owned());
    if let Some(unit) = &r.unit {
        text.push_str(&format!(" {unit}"));
    }
    text
}

/// Parses the text of a value for register `r` (labels, times, numbers, text, booleans).
pub fn parse_register_value(r: &Register, text: &str) -> Result<Value, WriteError> {
    let bad = || WriteError::BadValue {
        register: r.name.clone(),
        value: text.to_owned(),
        allowed: allowed_values(r),
    };
    if r.register_type == RegisterType::Bool {
        return parse_bool(text).map(Value::Bool).ok_or_else(bad);
    }
    if r.register_type.data_type().is_some_and(|t| t.is_text()) {
        return Ok(Value::Text(text.to_owned()));
    }
    if r.format == Some(Format::Hhmm) {
        return parse_hhmm(text)
            .map(|n| number_value(r, n as f64))
            .ok_or_else(bad);
    }
    if let Some(n) = r.value_of_label(text) {
        return Ok(number_value(r, n as f64));
    }
    let n = crate::load::parse_int(text)
        .map(|n| n as f64)
        .or_else(|| text.parse::<f64>().ok())
        .filter(|n| n.is_finite())
        .ok_or_else(bad)?;
    Ok(number_value(r, n))
}

pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "1" | "yes" | "enable" | "enabled" => Some(true),
        "false" | "off" | "0" | "no" | "disable" | "disabled" => Some(false),
        _ => None,
    }
}

impl WritePlan {
    /// Skips the map's checks before writing (`--no-verify`): the device is trusted as it is.
    pub fn without_verification(mut self) -> WritePlan {
        self.verify = false;
        self
    }

    /// Whether the map's checks are read, and must hold, before anything is written.
    pub fn verifies(&self) -> bool {
        self.verify && !self.map.checks.is_empty()
    }

    /// The map written.
    pub fn map(&self) -> &Arc<DeviceMap> {
        &self.map
    }

    /// Adds a write of `value` to `r` after the static checks.
    pub(crate) fn push(&mut self, r: &Register, value: Value) -> Result<(), WriteError> {
        check_static(r, &value)?;
        let mut needs = Vec::new();
        if let Some(w) = &r.write {
            for bound in [&w.min, &w.max] {
                if let Some(Bound::Register(name)) = bound
                    && !needs.contains(name)
                {
                    needs.push(name.clone());
                }
            }
        }
        let unit = self.units.resolve(&r.unit_id);
        let request = match &r.scale {
            Scale::PowerOfTen(sf) => {
                needs.push(sf.clone());
                None
            }
            Scale::Factor(_) => Some(encode(r, &value, unit, None)?),
        };
        self.writes.push(PlannedWrite {
            register: r.name.clone(),
            value,
            unit,
            needs,
            request,
        });
        Ok(())
    }

    /// Every register whose value the checks or encodings need, without duplicates.
    pub fn needs(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for w in &self.writes {
            for n in &w.needs {
                if !out.contains(&n.as_str()) {
                    out.push(n);
                }
            }
        }
        out
    }

    /// Finishes the checks and encodings with the values in `context` (a read of
    /// [`WritePlan::needs`]). Without a context, checks that need a value are listed in
    /// [`Resolved::unchecked`], and a write that cannot be encoded without one fails.
    pub fn resolve(&self, context: Option<&Snapshot>) -> Result<Resolved, WriteError> {
        let mut requests = Vec::with_capacity(self.writes.len());
        let mut unchecked = Vec::new();
        for w in &self.writes {
            let r = self
                .map
                .register(&w.register)
                .ok_or_else(|| WriteError::UnknownRegister {
                    map: self.map.id.clone(),
                    name: w.register.clone(),
                    hint: None,
                })?;
            let value_of = |name: &str| -> Result<f64, WriteError> {
                let needs_err = |why: String| WriteError::NeedsValue {
                    register: w.register.clone(),
                    needs: name.to_owned(),
                    why,
                };
                let snapshot = context.ok_or_else(|| needs_err("not read (dry run)".to_owned()))?;
                let reading = snapshot
                    .get(name)
                    .ok_or_else(|| needs_err("not read".to_owned()))?;
                match &reading.value {
                    Ok(v) => v
                        .as_f64()
                        .ok_or_else(|| needs_err(format!("{v}, not a number"))),
                    Err(m) => Err(needs_err(m.to_string())),
                }
            };
            // Dynamic bounds.
            if let (Some(rule), Some(v)) = (&r.write, w.value.as_f64())
                && !rule.also.contains(&v)
            {
                for (is_min, bound) in [(true, &rule.min), (false, &rule.max)] {
                    let Some(Bound::Register(name)) = bound else {
                        continue;
                    };
                    if context.is_none() {
                        unchecked.push(format!(
                            "{} {} = `{name}` (read at run time)",
                            w.register,
                            if is_min { "min" } else { "max" }
                        ));
                        continue;
                    }
                    let b = value_of(name)?;
                    let broken = if is_min { v < b } else { v > b };
                    if broken {
                        return Err(WriteError::OutOfRange {
                            register: w.register.clone(),
                            value: w.value.to_string(),
                            problem: format!(
                                "is {} `{name}` = {b}",
                                if is_min {
                                    "below the minimum"
                                } else {
                                    "above the maximum"
                                }
                            ),
                            allowed: describe_rule(rule),
                        });
                    }
                }
            }
            let request = match (&w.request, &r.scale) {
                (Some(req), _) => req.clone(),
                (None, Scale::PowerOfTen(sf)) => {
                    let e = value_of(sf)?;
                    if e.fract() != 0.0 || !(-20.0..=20.0).contains(&e) {
                        return Err(WriteError::NeedsValue {
                            register: w.register.clone(),
                            needs: sf.clone(),
                            why: format!("{e}, not a usable power of ten"),
                        });
                    }
                    encode(r, &w.value, w.unit, Some(e as i64))?
                }
                (None, Scale::Factor(_)) => encode(r, &w.value, w.unit, None)?,
            };
            requests.push(request);
        }
        Ok(Resolved {
            requests,
            unchecked,
        })
    }

    /// Reads what the checks need, checks, writes every request in order, then reads back the
    /// registers the map marks for it, once. Nothing is written when a check fails.
    pub async fn execute<I: RegisterIo>(
        &self,
        io: &mut I,
    ) -> Result<WriteReport, ExecuteError<I::Error>> {
        self.execute_confirming(io, WriteConfirm::ONCE, |_| std::future::ready(()))
            .await
    }

    /// As [`WritePlan::execute`], but a read-back that [fails](Confirmation::failed) is
    /// repeated every `confirm.every` until `confirm.within` has been spent pausing, as real
    /// devices apply a write a moment after acknowledging it. `pause` waits for the duration
    /// it is given (the caller's runtime: `tokio::time::sleep`); device-maps keeps no clock,
    /// so the time waited is the sum of the pauses.
    pub async fn execute_confirming<I, P, F>(
        &self,
        io: &mut I,
        confirm: WriteConfirm,
        mut pause: P,
    ) -> Result<WriteReport, ExecuteError<I::Error>>
    where
        I: RegisterIo,
        P: FnMut(Duration) -> F,
        F: Future<Output = ()>,
    {
        let needs = self.needs();
        // The registers the values depend on, read together with the map's checks: a device
        // that fails them is not written to.
        let verify = self.verify && !self.map.checks.is_empty();
        let context = if needs.is_empty() && !verify {
            None
        } else {
            let mut selection: Vec<usize> = needs
                .iter()
                .filter_map(|n| self.map.register_index(n))
                .collect();
            if verify {
                // Reported, so a check whose request failed is seen (and refuses the write).
                for check in &self.map.checks {
                    if let Some(i) = self.map.register_index(&check.register)
                        && !selection.contains(&i)
                    {
                        selection.push(i);
                    }
                }
            }
            let plan = self.map.plan_read_with(&selection, &self.units, verify)?;
            let snapshot = plan.execute(io).await;
            if let Some(mismatch) = &snapshot.mismatch {
                return Err(ExecuteError::Mismatch(mismatch.clone()));
            }
            if verify {
                for check in &self.map.checks {
                    if let Some(Err(Missing::ReadFailed(source))) =
                        snapshot.get(&check.register).map(|r| &r.value)
                    {
                        return Err(ExecuteError::Unverified {
                            register: check.register.clone(),
                            source: Arc::clone(source),
                        });
                    }
                }
            }
            Some(snapshot)
        };
        let resolved = self.resolve(context.as_ref())?;
        for (done, req) in resolved.requests.iter().enumerate() {
            io.write(req.unit, req.table, req.address, &req.words)
                .await
                .map_err(|source| ExecuteError::Write {
                    register: req.register.clone(),
                    request: req.to_string(),
                    done,
                    source,
                })?;
        }
        // Read-back.
        let mut checks: Vec<(&PlannedWrite, String)> = Vec::new();
        for w in &self.writes {
            let Some(r) = self.map.register(&w.register) else {
                continue;
            };
            let target = match r.write.as_ref().map(|rule| &rule.read_back) {
                Some(ReadBack::Same) if r.access == Access::ReadWrite => r.name.clone(),
                Some(ReadBack::Register(other)) => other.clone(),
                _ => continue,
            };
            checks.push((w, target));
        }
        let mut confirmations: Vec<Option<Confirmation>> = vec![None; checks.len()];
        // The checks still to read: all of them first, then those that failed.
        let mut pending: Vec<usize> = (0..checks.len()).collect();
        let mut waited = Duration::ZERO;
        while !pending.is_empty() {
            let mut selection: Vec<usize> = pending
                .iter()
                .filter_map(|&i| self.map.register_index(&checks[i].1))
                .collect();
            selection.sort_unstable();
            selection.dedup();
            // The device was verified before the write; the read-back reads only its own.
            let plan = self.map.plan_read_with(&selection, &self.units, false)?;
            let snapshot = plan.execute(io).await;
            for &i in &pending {
                let (w, target) = &checks[i];
                let read = snapshot
                    .get(target)
                    .map(|r| r.value.clone())
                    .unwrap_or(Err(Missing::NotRead));
                let confirmed = match &read {
                    Ok(v) => agrees(&self.map, &w.register, target, &w.value, v),
                    Err(_) => false,
                };
                confirmations[i] = Some(Confirmation {
                    register: w.register.clone(),
                    read_register: target.clone(),
                    expected: w.value.clone(),
                    read,
                    confirmed,
                    waited,
                });
            }
            pending.retain(|&i| confirmations[i].as_ref().is_some_and(Confirmation::failed));
            if pending.is_empty() || waited >= confirm.within {
                break;
            }
            let step = confirm
                .every
                .max(Duration::from_millis(1))
                .min(confirm.within - waited);
            pause(step).await;
            waited += step;
        }
        let confirmations = confirmations.into_iter().flatten().collect();
        Ok(WriteReport {
            sent: resolved.requests,
            confirmations,
        })
    }
}

/// Whether a read-back value agrees with the written one: equal after the register's own
/// encoding round trip, or, for another register showing the applied value, within 0.5 of
/// its unit (a charger reports the current it applies with its own rounding).
fn agrees(map: &DeviceMap, written: &str, read_from: &str, expected: &Value, got: &Value) -> bool {
    if let (Some(a), Some(b)) = (expected.as_f64(), got.as_f64()) {
        if written == read_from {
            let expected = map
                .register(written)
                .and_then(|r| r.codec.as_ref().map(|c| (r, c)))
                .and_then(|(r, c)| c.encode(expected).ok().map(|w| (r, w)))
                .and_then(|(r, w)| decode_register(r, &w).ok())
                .and_then(|v| v.as_f64())
                .unwrap_or(a);
            (expected - b).abs() <= 1e-9 * expected.abs().max(1.0)
        } else {
            (a - b).abs() <= 0.5
        }
    } else {
        expected == got
    }
}

/// Access, enumeration and the numeric bounds of `r`'s write rule.
pub(crate) fn check_static(r: &Register, value: &Value) -> Result<(), WriteError> {
    let Some(v) = value.as_f64() else {
        return Ok(());
    };
    let rule = r.write.as_ref();
    let has_range = rule.is_some_and(|w| w.min.is_some() || w.max.is_some());
    if !r.enumeration.is_empty()
        && !has_range
        && !r.enumeration.iter().any(|(e, _)| *e as f64 == v)
        && !rule.is_some_and(|w| w.also.contains(&v))
    {
        return Err(WriteError::OutOfRange {
            register: r.name.clone(),
            value: value.to_string(),
            problem: "is not a value of its enumeration".to_owned(),
            allowed: allowed_values(r),
        });
    }
    if let Some(w) = rule
        && let Some(problem) = static_violation(w, v)
    {
        return Err(WriteError::OutOfRange {
            register: r.name.clone(),
            value: value.to_string(),
            problem,
            allowed: allowed_values(r),
        });
    }
    Ok(())
}

/// Encodes `value` for `r`; `sf` is the scale-factor exponent for SunSpec-style registers.
fn encode(
    r: &Register,
    value: &Value,
    unit: u8,
    sf: Option<i64>,
) -> Result<WriteRequest, WriteError> {
    let words = match (&r.codec, r.register_type) {
        (_, RegisterType::Bool) => {
            let on = match value {
                Value::Bool(b) => *b,
                other => other.as_f64().is_some_and(|v| v != 0.0),
            };
            vec![u16::from(on)]
        }
        (Some(codec), _) => {
            let to_encode = match (sf, value.as_f64()) {
                (Some(e), Some(v)) => Value::Float(apply_power_of_ten(v, e.saturating_neg())),
                _ => value.clone(),
            };
            codec
                .encode(&to_encode)
                .map_err(|source| WriteError::Encode {
                    register: r.name.clone(),
                    value: value.to_string(),
                    source,
                })?
        }
        (None, _) => Vec::new(),
    };
    Ok(WriteRequest {
        register: r.name.clone(),
        unit,
        table: r.table,
        address: r.wire_address,
        words,
    })
}
