//! Which map fits a device: every candidate map's `checks:` read with as few requests as the
//! candidates allow, and evaluated as a read would.
//!
//! Each candidate contributes the read plan of its checks alone. Candidates whose checks name
//! the device by text ([`crate::Check::identity_rank`]: a model string, the SunSpec marker) go
//! first, then those with a product code, then the rest, each group cheapest first (fewest
//! requests); a request whose registers an earlier answer already
//! holds is answered from it, an identical request that failed is not sent again, and a unit
//! that the caller says is gone (a timeout: nobody is behind that unit id) is not asked again.
//!
//! Once a candidate whose checks name the device has matched, the remaining candidates are
//! probed only where they read the same registers (its variants, its family, a generic map
//! such as the SunSpec walker): a device that answered "SUN2000" at Huawei's model register
//! is not asked whether it is also a meter somewhere else. Those not probed are listed in
//! [`Identification::skipped`]. The checks are evaluated by [`DeviceMap::first_mismatch`], as
//! every verified read evaluates them, so identification and verification cannot disagree.

use std::sync::Arc;
use std::time::SystemTime;

use modbus_core::ReadRequest;

use crate::check::Mismatch;
use crate::io::RegisterIo;
use crate::model::DeviceMap;
use crate::read::{Missing, ReadFailure, ReadPlan};
use crate::units::Units;

/// The verdict on one candidate map.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The map.
    pub map: Arc<DeviceMap>,
    /// What each check found: register, value as read (or why none), and the expectation.
    pub found: Vec<Found>,
    /// The first check that failed; `None` when every check held.
    pub mismatch: Option<Mismatch>,
}

impl Verdict {
    /// Whether every check of the map held.
    pub fn matched(&self) -> bool {
        self.mismatch.is_none()
    }
}

/// One check's register as the device answered it.
#[derive(Debug, Clone)]
pub struct Found {
    /// The register.
    pub register: String,
    /// The value, or why there is none.
    pub value: Result<modbus_core::Value, Missing>,
    /// What the check expects, as text.
    pub expected: String,
}

/// The outcome of identifying one device.
#[derive(Debug, Clone)]
pub struct Identification {
    /// Every candidate with checks: the matches first (the most checks first), then the rest
    /// in the order they were tried.
    pub verdicts: Vec<Verdict>,
    /// Candidates without checks, which cannot be recognised.
    pub unidentifiable: Vec<String>,
    /// Candidates not probed because a map whose checks name the device had matched and they
    /// read none of its registers.
    pub skipped: Vec<String>,
    /// Requests sent to the device.
    pub requests: usize,
}

impl Identification {
    /// The maps whose every check held, best first.
    pub fn matches(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts.iter().filter(|v| v.matched())
    }
}

/// An answer kept for later requests.
struct Answer {
    request: ReadRequest,
    result: Result<Vec<u16>, ReadFailure>,
}

/// How much a failed request says about the requests still to come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureScope {
    /// Only this request failed (an exception: the device refused these addresses).
    Request,
    /// Nothing answers this unit id (a timeout behind a gateway): ask it nothing more.
    Unit,
    /// The device cannot be reached at all: send nothing more.
    Device,
}

/// Reads the checks of every candidate (a map and the unit ids to use) through `io` and says
/// which hold. `scope` tells what a failed request means for the others.
pub async fn identify<I: RegisterIo>(
    candidates: &[(Arc<DeviceMap>, Units)],
    io: &mut I,
    scope: impl Fn(&I::Error) -> FailureScope,
) -> Identification {
    let mut unidentifiable = Vec::new();
    let mut plans: Vec<ReadPlan> = Vec::new();
    for (map, units) in candidates {
        if map.identity_checks().is_empty() {
            unidentifiable.push(map.id.clone());
            continue;
        }
        let selection: Vec<usize> = map
            .identity_checks()
            .iter()
            .filter_map(|c| map.register_index(&c.register))
            .collect();
        match map.plan_read_with(&selection, units, false) {
            Ok(plan) => plans.push(plan),
            // A plan that cannot be made (a check register beyond the limits) cannot match.
            Err(_) => unidentifiable.push(map.id.clone()),
        }
    }
    let names_device =
        |plan: &ReadPlan| plan.map().identity_checks().iter().any(|c| c.identifies());
    // Text identities first, then product codes, then plausibility; cheapest first in each.
    let rank = |plan: &ReadPlan| {
        let best = plan
            .map()
            .identity_checks()
            .iter()
            .filter_map(|c| c.identity_rank())
            .min();
        (best.unwrap_or(u8::MAX), plan.requests().len())
    };
    plans.sort_by_key(rank);

    let mut answers: Vec<Answer> = Vec::new();
    let mut gone: Vec<(u8, ReadFailure)> = Vec::new();
    let mut unreachable: Option<ReadFailure> = None;
    let mut sent = 0;
    let mut verdicts = Vec::with_capacity(plans.len());
    let mut skipped = Vec::new();
    // The requests of the first matched candidate whose checks name the device.
    let mut decided: Option<&[ReadRequest]> = None;
    for plan in &plans {
        if let Some(footprint) = decided
            && !plan
                .requests()
                .iter()
                .any(|r| footprint.iter().any(|f| overlaps(f, r)))
        {
            skipped.push(plan.map().id.clone());
            continue;
        }
        let started = SystemTime::now();
        let mut responses = Vec::with_capacity(plan.requests().len());
        for req in plan.requests() {
            let result = if let Some(words) = covered(&answers, req) {
                Ok(words)
            } else if let Some(failure) = answers
                .iter()
                .find(|a| a.request == *req && a.result.is_err())
                .and_then(|a| a.result.as_ref().err())
            {
                Err(Arc::clone(failure))
            } else if let Some((_, failure)) = gone.iter().find(|(u, _)| *u == req.unit) {
                Err(Arc::clone(failure))
            } else if let Some(failure) = &unreachable {
                Err(Arc::clone(failure))
            } else {
                sent += 1;
                match io.read(req.unit, req.table, req.address, req.count).await {
                    Ok(words) => {
                        answers.push(Answer {
                            request: *req,
                            result: Ok(words.clone()),
                        });
                        Ok(words)
                    }
                    Err(e) => {
                        let scope = scope(&e);
                        let failure: ReadFailure = Arc::new(e);
                        match scope {
                            FailureScope::Request => {}
                            FailureScope::Unit => gone.push((req.unit, Arc::clone(&failure))),
                            FailureScope::Device => unreachable = Some(Arc::clone(&failure)),
                        }
                        answers.push(Answer {
                            request: *req,
                            result: Err(Arc::clone(&failure)),
                        });
                        Err(failure)
                    }
                }
            };
            responses.push((result, SystemTime::now()));
        }
        let snapshot = plan.decode_at(started, &responses);
        let map = Arc::clone(plan.map());
        let value_of = |name: &str| {
            snapshot
                .get(name)
                .map(|r| r.value.clone())
                .unwrap_or(Err(Missing::NotRead))
        };
        let found = map
            .identity_checks()
            .iter()
            .map(|c| Found {
                register: c.register.clone(),
                value: value_of(&c.register),
                expected: c.expect.to_string(),
            })
            .collect();
        let mismatch = map.first_mismatch_among(map.identity_checks(), value_of);
        if mismatch.is_none() && decided.is_none() && names_device(plan) {
            decided = Some(plan.requests());
        }
        verdicts.push(Verdict {
            map,
            found,
            mismatch,
        });
    }
    // Matches first; a map for one device before a generic one (the SunSpec walker fits every
    // SunSpec device, a fixed-address map for it is the better answer); the most specific
    // (most checks) first; stable otherwise.
    verdicts.sort_by_key(|v| {
        (
            !v.matched(),
            v.map.sunspec.is_some(),
            std::cmp::Reverse(v.map.identity_checks().len()),
        )
    });
    Identification {
        verdicts,
        unidentifiable,
        skipped,
        requests: sent,
    }
}

/// Whether two requests read a register in common.
fn overlaps(a: &ReadRequest, b: &ReadRequest) -> bool {
    let (a0, a1) = (
        u32::from(a.address),
        u32::from(a.address) + u32::from(a.count),
    );
    let (b0, b1) = (
        u32::from(b.address),
        u32::from(b.address) + u32::from(b.count),
    );
    a.unit == b.unit && a.table == b.table && a0 < b1 && b0 < a1
}

/// The words of `req` when an earlier successful answer of the same unit and table holds them.
fn covered(answers: &[Answer], req: &ReadRequest) -> Option<Vec<u16>> {
    answers.iter().find_map(|a| {
        let words = a.result.as_ref().ok()?;
        let same = a.request.unit == req.unit && a.request.table == req.table;
        let start = usize::from(req.address.checked_sub(a.request.address)?);
        let end = start + usize::from(req.count);
        (same && end <= words.len()).then(|| words[start..end].to_vec())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryDevice, block_on, parse_map};

    const METER: &str = r#"
manufacturer: Demo
model: Meter
connection: {unit_ids: {meter: 1}, address_base: 0}
checks:
  - {register: model, equals: DM-1}
registers:
  - {name: model, address: 10, table: input, type: string, count: 2, example: DM-1}
  - {name: voltage, address: 0, table: input, type: uint16, example: 230}
"#;

    const OTHER: &str = r#"
manufacturer: Other
model: Meter
connection: {unit_ids: {meter: 1}, address_base: 0}
checks:
  - {register: code, one_of: [7, 8]}
registers:
  - {name: code, address: 10, table: input, type: uint16, example: 7}
  - {name: spare, address: 11, table: input, type: uint16, example: 0}
"#;

    #[test]
    fn the_matching_map_comes_first_and_shared_registers_are_read_once() {
        let meter = Arc::new(parse_map("demo-meter", METER).expect("map"));
        let other = Arc::new(parse_map("other-meter", OTHER).expect("map"));
        let mut device = MemoryDevice::with_examples(&meter);
        let candidates = vec![
            (Arc::clone(&other), other.units()),
            (Arc::clone(&meter), meter.units()),
        ];
        let result = block_on(identify(&candidates, &mut device, |_| {
            FailureScope::Request
        }));
        let matches: Vec<&str> = result.matches().map(|v| v.map.id.as_str()).collect();
        assert_eq!(matches, ["demo-meter"]);
        // demo-meter's check names the device (text), so it goes first and reads input
        // 10..12; other-meter reads input 10, which that answer already holds.
        assert_eq!(result.requests, 1);
        assert!(result.skipped.is_empty());
        let rejected = &result.verdicts[1];
        assert_eq!(rejected.map.id, "other-meter");
        let mismatch = rejected.mismatch.as_ref().expect("mismatch");
        assert_eq!(mismatch.register, "code");
    }

    const FAR: &str = r#"
manufacturer: Far
model: Meter
connection: {unit_ids: {meter: 1}, address_base: 0}
checks:
  - {register: frequency, min: 45, max: 65}
registers:
  - {name: frequency, address: 300, table: input, type: uint16, scale: 0.1, example: 50}
"#;

    #[test]
    fn after_a_match_that_names_the_device_only_its_registers_are_probed() {
        let meter = Arc::new(parse_map("demo-meter", METER).expect("map"));
        let other = Arc::new(parse_map("other-meter", OTHER).expect("map"));
        let far = Arc::new(parse_map("far-meter", FAR).expect("map"));
        let mut device = MemoryDevice::with_examples(&meter);
        let candidates: Vec<_> = [&far, &other, &meter]
            .into_iter()
            .map(|m| (Arc::clone(m), m.units()))
            .collect();
        let result = block_on(identify(&candidates, &mut device, |_| {
            FailureScope::Request
        }));
        assert_eq!(
            result.matches().next().map(|v| v.map.id.as_str()),
            Some("demo-meter")
        );
        // far-meter reads nothing demo-meter read: not asked.
        assert_eq!(result.skipped, ["far-meter"]);
        assert_eq!(result.requests, 1);

        // A device the text check does not name: everything is probed.
        let mut device = MemoryDevice::with_examples(&far);
        let result = block_on(identify(&candidates, &mut device, |_| {
            FailureScope::Request
        }));
        assert_eq!(
            result.matches().next().map(|v| v.map.id.as_str()),
            Some("far-meter")
        );
        assert!(result.skipped.is_empty());
    }
}
