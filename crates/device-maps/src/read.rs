//! Reading: choose registers, plan the fewest requests, decode the answers into a [`Snapshot`].

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use modbus_core::{Gaps, Limits, Plan, PlanError, ReadRequest, Span, Value};

use crate::io::RegisterIo;
use crate::model::{DeviceMap, Format, Kind, Register, RegisterType, Scale};
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
    /// The registers to read for `names`: register names, group names (a group also selects
    /// its subgroups: `Energy` selects `Energy/Today`), or every readable register when `names`
    /// is empty. Indices into [`DeviceMap::registers`], in map order, without duplicates.
    pub fn select<S: AsRef<str>>(&self, names: &[S]) -> Result<Vec<usize>, SelectError> {
        if names.is_empty() {
            return Ok((0..self.registers.len())
                .filter(|&i| self.registers[i].access.readable())
                .collect());
        }
        let mut chosen = vec![false; self.registers.len()];
        for name in names {
            let name = name.as_ref();
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
            if !any {
                let candidates = self
                    .registers
                    .iter()
                    .map(|r| r.name.as_str())
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

    /// Plans a read of the registers `selection` (from [`DeviceMap::select`]) with the unit ids
    /// `units`. Scale-factor registers the selection depends on are read too, but not reported.
    pub fn plan_read(
        self: &Arc<Self>,
        selection: &[usize],
        units: &Units,
    ) -> Result<ReadPlan, PlanError> {
        let mut needed: Vec<usize> = selection
            .iter()
            .copied()
            .filter(|&i| i < self.registers.len())
            .collect();
        let reported = needed.len();
        for &i in selection {
            if let Some(Scale::PowerOfTen(sf)) = self.registers.get(i).map(|r| &r.scale)
                && let Some(j) = self.register_index(sf)
                && !needed.contains(&j)
            {
                needed.push(j);
            }
        }
        let spans: Vec<Span> = needed
            .iter()
            .map(|&i| {
                let r = &self.registers[i];
                Span::new(units.resolve(&r.unit_id), r.table, r.wire_address, r.count)
            })
            .collect();
        let plan = self.limits().plan(&spans)?;
        Ok(ReadPlan {
            map: Arc::clone(self),
            reported,
            needed,
            spans,
            plan,
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

    /// Decodes answers obtained elsewhere: one per request, in order, each with the time it
    /// arrived.
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
            decode_register(&self.map.registers[self.needed[k]], w)
        };
        let mut readings = Vec::with_capacity(self.reported);
        for (k, &i) in self.needed.iter().enumerate().take(self.reported) {
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
            readings.push(Reading::new(r, value, units_of(&self.spans[k]), read_at));
        }
        Snapshot {
            device: self.map.id.clone(),
            readings,
            started_at,
            finished_at: responses.last().map(|(_, at)| *at).unwrap_or(started_at),
            requests: self.requests().len(),
        }
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
