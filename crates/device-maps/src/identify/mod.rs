//! Which map fits a device: every candidate map's `checks:` read with as few requests as the
//! candidates allow, and evaluated as a read would.
//!
//! Each candidate contributes the read plan of its checks alone, and the probing goes request
//! by request rather than candidate by candidate. After every answer each open candidate is
//! settled as far as the answers allow: a check whose registers have all been answered and
//! that fails rules its candidate out at once (its other requests are never sent), and a
//! candidate with every request answered gets its verdict.
//!
//! The next request is chosen for the worst case, since what a user waits for is the most
//! requests any device takes. Besides every candidate's check requests, identify may send a
//! shared read: one register that several candidates declare, so that one refusal rules them
//! all out. Each read is judged by its worst outcome: refused (every candidate declaring it is
//! out), answered (only candidates whose device answers there stay likely), or, at a unit id
//! nothing has answered yet, "no such unit" (a gateway's answer, or a timeout, rules the unit
//! out as a whole). The outcome costs what its remaining candidates still need to ask, and
//! the read whose worst outcome costs least goes; ties go to the read expected to settle the
//! most candidates, then to the stronger identity ([`crate::Check::identity_rank`]: text,
//! then a product code), then to the cheaper candidate. A candidate whose naming check has
//! already held is asked the rest of its checks before anything else. The choice is in
//! `choose.rs`, the candidates' bookkeeping in `probe.rs`, what the device has said in
//! `answers.rs`, and the address runs they all consult in `runs.rs`.
//!
//! A request whose registers an earlier answer already holds is answered from it, an identical
//! request that failed is not sent again, a unit that the caller says is gone is not asked
//! again (unless it had answered before: then only that request failed), and a device that
//! cannot be reached ends the probing.
//!
//! A refusal says more than "not this candidate": a device that answers "illegal data
//! address" (or "illegal function") for a read is not the device of any map that declares
//! every register of that read, within that map's request limits, so all those candidates
//! are ruled out by the one answer ([`FailureScope::Refused`]). Registers that only
//! `identify:` hints read do not count, since some firmware lacks them. A map with hints is
//! probed with and without them: with them a match names the device, without them its checks
//! alone decide when a hint fails.
//!
//! Once a candidate has matched, the rest are probed only where they could be the device as
//! well. After a match whose checks name the device, that is where they read the same
//! registers (its variants, its family, a generic map such as the SunSpec walker): a device
//! that answered "SUN2000" at Huawei's model register is not asked whether it is also a meter
//! somewhere else. After a plausibility match, it is where the candidate's device could have
//! answered the matched checks, or the candidate reads what the matched map's device
//! answers. Those not probed are listed in [`Identification::skipped`]. The checks are
//! evaluated by [`DeviceMap::first_mismatch`], as every verified read evaluates them, so
//! identification and verification cannot disagree.

mod answers;
mod choose;
mod probe;
mod runs;

use std::sync::Arc;

use crate::check::Mismatch;
use crate::io::RegisterIo;
use crate::model::DeviceMap;
use crate::read::{Missing, ReadFailure};
use crate::units::Units;

use answers::{Answers, overlaps};
use choose::{Pool, next_request};
use probe::{Probe, independent};

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
    /// Whether this is an `identify:` hint rather than one of the map's `checks:`.
    pub hint: bool,
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

/// How much a failed request says about the requests still to come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureScope {
    /// The device says it has no such registers (Modbus exception 1, illegal function, or 2,
    /// illegal data address). Besides this request, it rules out every candidate that declares
    /// every register of it: that map's device would have answered.
    Refused,
    /// Only this request failed, for a reason that says nothing about the addresses (the
    /// device is busy, another exception).
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
    let mut probes: Vec<Probe> = Vec::new();
    for (map, units) in candidates {
        let checks = map.identity_checks();
        if checks.is_empty() && map.identify.is_empty() {
            unidentifiable.push(map.id.clone());
            continue;
        }
        // A map with `identify:` hints is probed twice over: once with its checks and hints
        // (a match names the device), once with its checks alone (what is left when the
        // device reports another code than the hint expects).
        let mut lists: Vec<(Vec<crate::Check>, usize)> = Vec::new();
        if !map.identify.is_empty() {
            let with_hints = checks.iter().chain(&map.identify).cloned().collect();
            lists.push((with_hints, map.identify.len()));
        }
        if !checks.is_empty() {
            lists.push((checks.to_vec(), 0));
        }
        for (list, hints) in lists {
            let selection: Vec<usize> = list
                .iter()
                .filter_map(|c| map.register_index(&c.register))
                .collect();
            match map.plan_read_with(&selection, units, false) {
                Ok(plan) => probes.push(Probe::new(plan, list, hints, units)),
                // A plan that cannot be made (a check register beyond the limits) cannot
                // match.
                Err(_) if !unidentifiable.contains(&map.id) => {
                    unidentifiable.push(map.id.clone());
                }
                Err(_) => {}
            }
        }
    }
    // The order candidates are considered in when requests tie: text identities first, then
    // product codes, then plausibility; cheapest first in each.
    probes.sort_by_key(|p| (p.rank, p.plan.requests().len()));

    let mut answers = Answers::default();
    let mut verdicts = Vec::with_capacity(probes.len());
    let mut skipped = Vec::new();
    // Which candidates cannot have produced each other's match ([`independent`]).
    let independent = independent(&probes);
    // Every read that may be sent, and what each outcome would say ([`Pool`]).
    let pool = Pool::new(&probes);
    // The first matched candidate, and whether its checks name the device.
    let mut decided: Option<(usize, bool)> = None;
    loop {
        // Settle what the answers so far settle: a candidate with a failed check is ruled
        // out at once, one with every request answered gets its verdict.
        for (i, probe) in probes.iter_mut().enumerate() {
            if probe.settled {
                continue;
            }
            for (k, req) in probe.plan.requests().iter().enumerate() {
                if probe.responses[k].is_none() {
                    probe.responses[k] = answers.resolve(req);
                }
            }
            if let Some(verdict) = probe.verdict(&answers.refused) {
                probe.settled = true;
                let naming = probe.rank < NO_IDENTITY;
                if verdict.matched() && decided.is_none_or(|(_, n)| naming && !n) {
                    decided = Some((i, naming));
                }
                verdicts.push((verdict, probe.hints > 0));
            }
        }
        // A map whose hints matched needs nothing more from its probe without them.
        for probe in probes.iter_mut().filter(|p| !p.settled && p.hints == 0) {
            let id = &probe.plan.map().id;
            if verdicts
                .iter()
                .any(|(v, hinted)| *hinted && v.matched() && v.map.id == *id)
            {
                probe.settled = true;
            }
        }
        // After a match, a candidate is asked only when it could be the device as well:
        // after a naming match, when it reads the same registers; after a plausibility match,
        // when its device would have answered the matched checks or it reads what the
        // matched map declares.
        if let Some((d, naming)) = decided {
            let footprint = probes[d].plan.requests().to_vec();
            for (i, probe) in probes.iter_mut().enumerate() {
                if probe.settled {
                    continue;
                }
                let unrelated = if naming {
                    !probe
                        .plan
                        .requests()
                        .iter()
                        .any(|r| footprint.iter().any(|f| overlaps(f, r)))
                } else {
                    independent[d][i]
                };
                if unrelated {
                    probe.settled = true;
                    skipped.push(probe.plan.map().id.clone());
                }
            }
        }
        let Some(req) = next_request(&probes, &answers, &independent, &pool) else {
            break;
        };
        answers.sent += 1;
        let result = io.read(req.unit, req.table, req.address, req.count).await;
        answers.record(
            req,
            result.map_err(|e| (scope(&e), Arc::new(e) as ReadFailure)),
        );
    }
    // A map skipped with only a failed hint against it was not ruled out: it was not asked.
    // (The two probes of a map with hints are not next to each other: keep the first.)
    let mut once: Vec<String> = Vec::with_capacity(skipped.len());
    skipped.retain(|id| {
        let first = !once.contains(id);
        if first {
            once.push(id.clone());
        }
        first
    });
    verdicts.retain(|(v, hinted)| v.matched() || !*hinted || !skipped.contains(&v.map.id));
    skipped.retain(|id| !verdicts.iter().any(|(v, _)| v.map.id == *id));
    let mut verdicts = one_per_map(verdicts);
    // Matches first; a map for one device before a generic one (the SunSpec walker fits every
    // SunSpec device, a fixed-address map for it is the better answer); the most specific
    // (most checks) first; stable otherwise.
    verdicts.sort_by_key(|v| {
        (
            !v.matched(),
            v.map.sunspec.is_some(),
            std::cmp::Reverse(v.found.len()),
        )
    });
    Identification {
        verdicts,
        unidentifiable,
        skipped,
        requests: answers.sent,
    }
}

/// One verdict per map, of the two a map with hints can get: a match before a mismatch, a
/// match with its hints (more found) before one without, and of two mismatches the one of
/// the checks alone (a failed hint does not rule a map out).
fn one_per_map(all: Vec<(Verdict, bool)>) -> Vec<Verdict> {
    let mut out: Vec<(Verdict, bool)> = Vec::with_capacity(all.len());
    for (v, hinted) in all {
        match out.iter().position(|(o, _)| o.map.id == v.map.id) {
            None => out.push((v, hinted)),
            Some(i) => {
                let (o, o_hinted) = &out[i];
                let better = match (v.matched(), o.matched()) {
                    (true, false) => true,
                    (true, true) => v.found.len() > o.found.len(),
                    (false, false) => *o_hinted && !hinted,
                    (false, true) => false,
                };
                if better {
                    out[i] = (v, hinted);
                }
            }
        }
    }
    out.into_iter().map(|(v, _)| v).collect()
}

/// The rank of a candidate whose checks do not name the device.
const NO_IDENTITY: u8 = u8::MAX;

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

    const AT_SEVEN: &str = r#"
manufacturer: Seven
model: Charger
connection: {unit_ids: {charger: 7}, address_base: 0}
checks:
  - {register: state, min: 0, max: 5}
  - {register: current, min: 0, max: 32}
registers:
  - {name: state, address: 0, table: input, type: uint16, example: 1}
  - {name: current, address: 100, table: input, type: uint16, example: 16}
"#;

    const ALSO_SEVEN: &str = r#"
manufacturer: Seven
model: Meter
connection: {unit_ids: {meter: 7}, address_base: 0}
checks:
  - {register: frequency, min: 45, max: 65}
registers:
  - {name: frequency, address: 500, table: holding, type: uint16, scale: 0.1, example: 50}
"#;

    #[test]
    fn a_unit_nobody_answers_for_rules_out_all_its_candidates_at_once() {
        // far-meter is only checked for plausibility: every other candidate has to be ruled out.
        let far = Arc::new(parse_map("far-meter", FAR).expect("map"));
        let charger = Arc::new(parse_map("seven-charger", AT_SEVEN).expect("map"));
        let seven = Arc::new(parse_map("seven-meter", ALSO_SEVEN).expect("map"));
        let mut device = MemoryDevice::with_examples(&far).strict();
        let candidates: Vec<_> = [&charger, &seven, &far]
            .into_iter()
            .map(|m| (Arc::clone(m), m.units()))
            .collect();
        // Unit 7 is not there: a gateway answers 0x0B, which speaks for the whole unit.
        let result = block_on(identify(&candidates, &mut device, |e: &crate::Unmapped| {
            if e.unit == 1 {
                FailureScope::Request
            } else {
                FailureScope::Unit
            }
        }));
        assert_eq!(
            result.matches().next().map(|v| v.map.id.as_str()),
            Some("far-meter")
        );
        let at_seven = device
            .log
            .iter()
            .filter(|r| matches!(r, crate::Request::Read { unit: 7, .. }))
            .count();
        assert_eq!(at_seven, 1, "{:?}", device.log);
        assert_eq!(result.requests, 2);
        for id in ["seven-charger", "seven-meter"] {
            let v = result.verdicts.iter().find(|v| v.map.id == id).expect(id);
            assert!(!v.matched(), "{id}");
        }
    }

    #[test]
    fn a_candidate_is_ruled_out_by_its_first_failed_check() {
        // The device is unit 7 with state 9: seven-charger's first check fails on the
        // answer at input 0, so its second register (input 100) is never asked for.
        let charger = Arc::new(parse_map("seven-charger", AT_SEVEN).expect("map"));
        let mut device = MemoryDevice::with_examples(&charger).strict();
        device.set(7, modbus_core::Table::Input, 0, &[9]);
        let candidates = vec![(Arc::clone(&charger), charger.units())];
        let result = block_on(identify(&candidates, &mut device, |_| {
            FailureScope::Request
        }));
        assert_eq!(result.requests, 1, "{:?}", device.log);
        let verdict = &result.verdicts[0];
        assert_eq!(
            verdict.mismatch.as_ref().map(|m| m.register.as_str()),
            Some("state")
        );
        let current = verdict.found.iter().find(|f| f.register == "current");
        assert!(matches!(
            current.map(|f| &f.value),
            Some(Err(Missing::NotRead))
        ));
    }

    /// A device that answers every read with one word too few.
    struct Short(usize);

    impl RegisterIo for Short {
        type Error = crate::Unmapped;

        fn read(
            &mut self,
            _unit: u8,
            _table: modbus_core::Table,
            _address: u16,
            count: u16,
        ) -> impl Future<Output = Result<Vec<u16>, crate::Unmapped>> + Send {
            self.0 += 1;
            std::future::ready(Ok(vec![0; usize::from(count).saturating_sub(1)]))
        }

        fn write(
            &mut self,
            unit: u8,
            table: modbus_core::Table,
            address: u16,
            _values: &[u16],
        ) -> impl Future<Output = Result<(), crate::Unmapped>> + Send {
            std::future::ready(Err(crate::Unmapped {
                unit,
                table,
                address,
            }))
        }
    }

    #[test]
    fn a_short_answer_is_a_mismatch_not_a_reason_to_ask_again() {
        let meter = Arc::new(parse_map("demo-meter", METER).expect("map"));
        let candidates = vec![(Arc::clone(&meter), meter.units())];
        let mut device = Short(0);
        let result = block_on(identify(&candidates, &mut device, |_| {
            FailureScope::Request
        }));
        assert_eq!(device.0, 1);
        assert_eq!(result.requests, 1);
        assert!(result.matches().next().is_none());
    }

    const HINTED: &str = r#"
manufacturer: Hinted
model: Meter
connection: {unit_ids: {meter: 1}, address_base: 0}
checks:
  - {register: frequency, min: 45, max: 65}
identify:
  - {register: code, equals: 32}
registers:
  - {name: frequency, address: 300, table: input, type: uint16, scale: 0.1, example: 50}
  - {name: code, address: 900, table: holding, type: uint16, example: 32}
"#;

    #[test]
    fn a_hint_that_holds_names_the_device_and_one_that_fails_leaves_the_checks_to_decide() {
        let hinted = Arc::new(parse_map("hinted-meter", HINTED).expect("map"));
        let meter = Arc::new(parse_map("demo-meter", METER).expect("map"));
        let far = Arc::new(parse_map("far-meter", FAR).expect("map"));
        let candidates: Vec<_> = [&meter, &far, &hinted]
            .into_iter()
            .map(|m| (Arc::clone(m), m.units()))
            .collect();
        let probe = |device: &mut MemoryDevice| {
            block_on(identify(&candidates, device, |_| FailureScope::Request))
        };

        // The code (32, too small for a check to name anything) is a hint: it holds, so the
        // device is named; one verdict for the map, with the hint among what was found.
        let mut device = MemoryDevice::with_examples(&hinted);
        let result = probe(&mut device);
        let best = result.matches().next().expect("a match");
        assert_eq!(best.map.id, "hinted-meter");
        assert!(best.found.iter().any(|f| f.register == "code" && f.hint));
        assert_eq!(
            result
                .verdicts
                .iter()
                .filter(|v| v.map.id == "hinted-meter")
                .count(),
            1
        );
        // far-meter reads input 300 like the hinted map: probed, from the same answer.
        assert!(result.matches().any(|v| v.map.id == "far-meter"));

        // Firmware that reports another code: the hint fails, the check alone still matches.
        device.set(1, modbus_core::Table::Holding, 900, &[4]);
        let result = probe(&mut device);
        let verdict = result
            .verdicts
            .iter()
            .find(|v| v.map.id == "hinted-meter")
            .expect("verdict");
        assert!(verdict.matched(), "{:?}", verdict.mismatch);
        assert!(verdict.found.iter().all(|f| !f.hint));
        assert_eq!(
            result
                .verdicts
                .iter()
                .filter(|v| v.map.id == "hinted-meter")
                .count(),
            1
        );

        // A verified read of the frequency alone does not ask for the hint's register.
        let frequency = hinted.register_index("frequency").expect("frequency");
        let plan = hinted
            .plan_read(&[frequency], &hinted.units())
            .expect("plan");
        assert!(
            plan.requests()
                .iter()
                .all(|r| r.table == modbus_core::Table::Input),
            "{:?}",
            plan.requests()
        );
    }

    const WIDE: &str = r#"
manufacturer: Wide
model: Meter
connection: {unit_ids: {meter: 1}, address_base: 0}
checks:
  - {register: frequency, min: 45, max: 65}
registers:
  - {name: voltage, address: 10, table: input, type: uint16, example: 230}
  - {name: current, address: 11, table: input, type: uint16, example: 5}
  - {name: frequency, address: 700, table: input, type: uint16, scale: 0.1, example: 50}
"#;

    #[test]
    fn a_refused_read_rules_out_every_map_that_declares_it_and_a_match_skips_the_unrelated() {
        let wide = Arc::new(parse_map("wide-meter", WIDE).expect("map"));
        let meter = Arc::new(parse_map("demo-meter", METER).expect("map"));
        let far = Arc::new(parse_map("far-meter", FAR).expect("map"));
        let candidates: Vec<_> = [&meter, &wide, &far]
            .into_iter()
            .map(|m| (Arc::clone(m), m.units()))
            .collect();
        // The far meter's device refuses input 10..12 (demo-meter's model), which the wide meter
        // declares throughout.
        let mut device = MemoryDevice::with_examples(&far).strict();
        let result = block_on(identify(&candidates, &mut device, |_| {
            FailureScope::Refused
        }));
        assert_eq!(
            result
                .matches()
                .map(|v| v.map.id.as_str())
                .collect::<Vec<_>>(),
            ["far-meter"]
        );
        let wide_verdict = result
            .verdicts
            .iter()
            .find(|v| v.map.id == "wide-meter")
            .expect("wide-meter verdict");
        let mismatch = wide_verdict.mismatch.as_ref().expect("ruled out");
        assert!(mismatch.found.starts_with("refused"), "{mismatch:?}");
        // Its frequency at input 700 was never asked for.
        assert!(
            device
                .log
                .iter()
                .all(|r| format!("{r:?}").find("700").is_none()),
            "{:?}",
            device.log
        );

        // A plausibility match skips a candidate whose device could not have answered it.
        let mut device = MemoryDevice::with_examples(&far).strict();
        let only: Vec<_> = [&far, &wide]
            .into_iter()
            .map(|m| (Arc::clone(m), m.units()))
            .collect();
        let result = block_on(identify(&only, &mut device, |_| FailureScope::Refused));
        assert_eq!(
            result.matches().next().map(|v| v.map.id.as_str()),
            Some("far-meter")
        );
        assert_eq!(result.requests, 1, "{:?}", device.log);
        assert_eq!(result.skipped, ["wide-meter"]);
    }

    /// Four meters, two pairs of which share a register that none of their checks reads.
    fn pair_meter(id: &str, check_at: u16, shared_at: u16) -> Arc<DeviceMap> {
        let text = format!(
            "manufacturer: Demo\nmodel: {id}\n\
             connection: {{unit_ids: {{meter: 1}}, address_base: 0}}\n\
             checks:\n  - {{register: model, equals: {id}}}\n\
             registers:\n\
             \x20 - {{name: model, address: {check_at}, type: string, count: 4, example: {id}}}\n\
             \x20 - {{name: energy, address: {shared_at}, type: uint32, example: 7}}\n"
        );
        Arc::new(parse_map(id, &text).expect("map"))
    }

    #[test]
    fn a_shared_read_rules_out_a_pair_with_one_refusal() {
        let maps = [
            pair_meter("PAIR-A", 10, 500),
            pair_meter("PAIR-B", 20, 500),
            pair_meter("PAIR-C", 30, 600),
            pair_meter("PAIR-D", 40, 600),
        ];
        let candidates: Vec<_> = maps.iter().map(|m| (Arc::clone(m), m.units())).collect();
        for device_map in &maps {
            let mut device = MemoryDevice::with_examples(device_map).strict();
            let result = block_on(identify(&candidates, &mut device, |_| {
                FailureScope::Refused
            }));
            assert_eq!(
                result
                    .matches()
                    .map(|v| v.map.id.as_str())
                    .collect::<Vec<_>>(),
                [device_map.id.as_str()]
            );
            // Checks alone cost up to four requests; one shared read of holding 500 or 600
            // halves the candidates first.
            assert!(result.requests <= 3, "{}: {:?}", device_map.id, device.log);
            let first = format!("{:?}", device.log[0]);
            assert!(
                first.contains("address: 500") || first.contains("address: 600"),
                "{first}"
            );
        }
        // On the pair it is not, the shared read is refused and rules both out at once.
        let mut device = MemoryDevice::with_examples(&maps[3]).strict();
        let result = block_on(identify(&candidates, &mut device, |_| {
            FailureScope::Refused
        }));
        let refused: Vec<&str> = result
            .verdicts
            .iter()
            .filter(|v| {
                v.mismatch
                    .as_ref()
                    .is_some_and(|m| m.found.starts_with("refused"))
            })
            .map(|v| v.map.id.as_str())
            .collect();
        assert!(
            refused == ["PAIR-A", "PAIR-B"] || refused == ["PAIR-B", "PAIR-A"],
            "{refused:?} {:?}",
            device.log
        );
    }
}
