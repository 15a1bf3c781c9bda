//! Which map fits a device: every candidate map's `checks:` read with as few requests as the
//! candidates allow, and evaluated as a read would.
//!
//! Each candidate contributes the read plan of its checks alone, and the probing goes request
//! by request rather than candidate by candidate. After every answer each open candidate is
//! settled as far as the answers allow: a check whose registers have all been answered and
//! that fails rules its candidate out at once (its other requests are never sent), and a
//! candidate with every request answered gets its verdict. The next request is the one
//! expected to settle the most open candidates, each taken as equally likely to be the device:
//! a request that can confirm a candidate settles, when it matches, every candidate that could
//! not be the device as well (see below); a request that fails rules out every candidate
//! needing it or declaring all its registers; and the first request to a unit id no answer has
//! come from yet speaks for every candidate at that unit, since a gateway's "no such unit" (or
//! a timeout) rules the unit out as a whole. Ties go to the stronger identity
//! ([`crate::Check::identity_rank`]: text, then a product code), then to the cheaper
//! candidate. A candidate whose naming check has already held is asked the rest of its checks
//! before anything else.
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
        let Some(req) = next_request(&probes, &answers, &independent) else {
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

/// One candidate being probed: its plan and the answers to its requests so far.
struct Probe {
    plan: ReadPlan,
    /// The checks it evaluates: the map's identity checks, then its `identify:` hints when
    /// `hints` is not zero.
    checks: Vec<crate::Check>,
    /// How many of `checks` (at the end) are hints: each names the device whatever the size
    /// of the value it expects.
    hints: usize,
    /// The addresses the map declares readable ([`footprint`]).
    footprint: Vec<Run>,
    /// The addresses its device may answer ([`reach`]).
    reach: Vec<Run>,
    /// Best [`crate::Check::identity_rank`] of its checks (a hint counts as a product code,
    /// or as text when it is one), [`NO_IDENTITY`] when none names the device.
    rank: u8,
    responses: Vec<Option<Result<Vec<u16>, ReadFailure>>>,
    settled: bool,
    /// A check that names the device has held: the rest of its checks are asked first.
    named: bool,
}

/// The stand-in for an answer not yet asked for, so a partial answer decodes.
#[derive(Debug, thiserror::Error)]
#[error("not asked yet")]
struct NotAsked;

impl Probe {
    fn new(plan: ReadPlan, checks: Vec<crate::Check>, hints: usize, units: &Units) -> Self {
        let first_hint = checks.len() - hints;
        let footprint = footprint(plan.map(), units);
        let reach = reach(plan.map(), units);
        let rank = checks
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match c.identity_rank() {
                None if i >= first_hint => Some(1),
                rank => rank,
            })
            .min()
            .unwrap_or(NO_IDENTITY);
        let responses = vec![None; plan.requests().len()];
        Probe {
            plan,
            checks,
            hints,
            footprint,
            reach,
            rank,
            responses,
            settled: false,
            named: false,
        }
    }

    /// The verdict, once the answers so far decide it: every request answered, or a check
    /// whose registers are all answered failed.
    /// `refusals`: the requests the device refused as having no such registers; one that the
    /// map declares throughout rules the candidate out when its checks have not.
    fn verdict(&mut self, refusals: &[(ReadRequest, ReadFailure)]) -> Option<Verdict> {
        let complete = self.responses.iter().all(Option::is_some);
        let now = SystemTime::now();
        let not_asked: ReadFailure = Arc::new(NotAsked);
        let responses: Vec<_> = self
            .responses
            .iter()
            .map(|r| {
                (
                    r.clone().unwrap_or_else(|| Err(Arc::clone(&not_asked))),
                    now,
                )
            })
            .collect();
        let snapshot = self.plan.decode_at(now, &responses);
        let map = Arc::clone(self.plan.map());
        let value_of = |name: &str| {
            snapshot
                .get(name)
                .map(|r| r.value.clone())
                .unwrap_or(Err(Missing::NotRead))
        };
        // A value that waits on a request not yet sent decides nothing yet.
        let undecided = |name: &str| match value_of(name) {
            Ok(_) => false,
            Err(Missing::ReadFailed(e)) => e.is::<NotAsked>(),
            Err(Missing::ScaleFactor { .. } | Missing::Input { .. }) => !complete,
            Err(_) => false,
        };
        let first_hint = self.checks.len() - self.hints;
        let decidable: Vec<(usize, &crate::Check)> = self
            .checks
            .iter()
            .enumerate()
            .filter(|(_, c)| !undecided(&c.register))
            .collect();
        let listed: Vec<crate::Check> = decidable.iter().map(|(_, c)| (*c).clone()).collect();
        let mut mismatch = map.first_mismatch_among(&listed, value_of);
        if mismatch.is_none() {
            mismatch = refusals
                .iter()
                .find(|(req, _)| self.declares(req))
                .map(|(req, failure)| refused(&map, req, failure));
        }
        if !complete && mismatch.is_none() {
            self.named = decidable
                .iter()
                .any(|(i, c)| *i >= first_hint || c.identifies());
            return None;
        }
        let found = self
            .checks
            .iter()
            .enumerate()
            .map(|(i, c)| Found {
                hint: i >= first_hint,
                register: c.register.clone(),
                value: match value_of(&c.register) {
                    Err(_) if undecided(&c.register) => Err(Missing::NotRead),
                    v => v,
                },
                expected: c.expect.to_string(),
            })
            .collect();
        Some(Verdict {
            map,
            found,
            mismatch,
        })
    }

    /// Whether the map declares every address `req` reads, whole values only, and a device
    /// of the map would answer it (within the map's request limits).
    fn declares(&self, req: &ReadRequest) -> bool {
        let c = &self.plan.map().connection;
        let most = if req.table.is_bits() {
            c.max_bits
        } else {
            c.max_registers
        };
        let end = u32::from(req.address) + u32::from(req.count);
        let same_page = c.page_size.is_none_or(|p| {
            let p = u32::from(p.max(1));
            u32::from(req.address) / p == (end - 1) / p
        });
        if req.count == 0 || req.count > most || !same_page {
            return false;
        }
        let start = u32::from(req.address);
        let here = || {
            self.footprint
                .iter()
                .filter(|r| r.unit == req.unit && r.table == req.table)
        };
        // A read that starts or ends inside one of its values may be refused for that alone
        // (devices that answer only whole values): it says nothing.
        if here().any(|r| r.start < end && start < r.end && (r.start < start || r.end > end)) {
            return false;
        }
        let mut next = start;
        for run in here() {
            if run.start <= next && run.end > next {
                next = run.end;
            }
            if next >= end {
                return true;
            }
        }
        false
    }
}

/// A run of addresses a map declares: `start..end` of one table at one unit id.
#[derive(Debug, Clone, Copy)]
struct Run {
    unit: u8,
    table: modbus_core::Table,
    start: u32,
    end: u32,
}

/// Every readable register of `map` at the unit ids `units`, sorted by address, leaving out
/// the registers only `identify:` hints read (a hint is allowed to be missing on some
/// firmware; a map's other registers are what its device serves).
fn footprint(map: &DeviceMap, units: &Units) -> Vec<Run> {
    let only_hinted = |name: &str| {
        map.identify.iter().any(|h| h.register == name)
            && !map.checks.iter().any(|c| c.register == name)
    };
    register_runs(map, units, |r| !only_hinted(&r.name))
}

/// The readable registers of `map` that `keep` keeps, one run each, sorted by address.
fn register_runs(
    map: &DeviceMap,
    units: &Units,
    keep: impl Fn(&crate::Register) -> bool,
) -> Vec<Run> {
    let mut runs: Vec<Run> = map
        .registers
        .iter()
        .filter(|r| r.access.readable() && keep(r))
        .map(|r| Run {
            unit: units.resolve(&r.unit_id),
            table: r.table,
            start: u32::from(r.wire_address),
            end: u32::from(r.wire_address) + u32::from(r.count),
        })
        .collect();
    runs.sort_by_key(|r| (r.unit, r.table as u8, r.start));
    runs
}

/// The addresses a device of `map` may answer: every readable register, hints included, its
/// `blocks`, and with `span_gaps` everything between its first and last register of a table.
fn reach(map: &DeviceMap, units: &Units) -> Vec<Run> {
    let mut runs = register_runs(map, units, |_| true);
    for b in &map.connection.blocks {
        if let Some(unit) = units.id(&b.unit) {
            runs.push(Run {
                unit,
                table: b.table,
                start: u32::from(b.from),
                end: u32::from(b.to) + 1,
            });
        }
    }
    runs.sort_by_key(|r| (r.unit, r.table as u8, r.start));
    if map.connection.span_gaps {
        let mut hulls: Vec<Run> = Vec::new();
        for r in runs {
            match hulls.last_mut() {
                Some(h) if h.unit == r.unit && h.table == r.table => h.end = h.end.max(r.end),
                _ => hulls.push(r),
            }
        }
        runs = hulls;
    }
    runs
}

/// Whether `req` reads an address of `runs`.
fn touches(runs: &[Run], req: &ReadRequest) -> bool {
    let (start, end) = (
        u32::from(req.address),
        u32::from(req.address) + u32::from(req.count),
    );
    runs.iter()
        .any(|r| r.unit == req.unit && r.table == req.table && r.start < end && start < r.end)
}

/// `independent[p][q]`: candidate `q` cannot be the device that matched `p`'s checks, nor
/// match on a device of `p`: its device answers none of the addresses `p`'s checks read, and
/// its checks read none of the addresses `p`'s device answers.
fn independent(probes: &[Probe]) -> Vec<Vec<bool>> {
    probes
        .iter()
        .map(|p| {
            probes
                .iter()
                .map(|q| {
                    !std::ptr::eq(p, q)
                        && !p.plan.requests().iter().any(|r| touches(&q.reach, r))
                        && !q.plan.requests().iter().any(|r| touches(&p.reach, r))
                })
                .collect()
        })
        .collect()
}

/// The verdict on a candidate whose registers the device refused to serve.
fn refused(map: &DeviceMap, req: &ReadRequest, failure: &ReadFailure) -> Mismatch {
    let end = u32::from(req.address) + u32::from(req.count);
    let register = map.registers.iter().find(|r| {
        r.table == req.table
            && u32::from(r.wire_address) < end
            && u32::from(r.wire_address) + u32::from(r.count) > u32::from(req.address)
    });
    Mismatch {
        map: map.id.clone(),
        register: register.map(|r| r.name.clone()).unwrap_or_default(),
        location: register
            .map(|r| map.describe_location(r))
            .unwrap_or_default(),
        expected: "answered (the map declares every register of that read)".to_owned(),
        found: format!("refused: {req}: {failure}"),
        why: Some("the device refused a read of registers this map's device serves".to_owned()),
    }
}

/// Everything the device has answered, and what its failures rule out.
#[derive(Default)]
struct Answers {
    answered: Vec<(ReadRequest, Result<Vec<u16>, ReadFailure>)>,
    /// Units that the device says nobody answers for (a timeout, a gateway exception).
    gone: Vec<(u8, ReadFailure)>,
    /// Set when the device cannot be reached at all.
    unreachable: Option<ReadFailure>,
    /// Units that answered at least once.
    present: Vec<u8>,
    /// Requests refused as reading registers the device does not have.
    refused: Vec<(ReadRequest, ReadFailure)>,
    sent: usize,
}

impl Answers {
    /// The answer `req` would get without asking: words an earlier answer holds, an earlier
    /// failure of the same request, a unit that is gone, a device that cannot be reached.
    fn resolve(&self, req: &ReadRequest) -> Option<Result<Vec<u16>, ReadFailure>> {
        // The request itself was answered: that answer, whatever it holds (a short answer
        // decodes as undecodable rather than being asked for again).
        if let Some((_, result)) = self.answered.iter().find(|(r, _)| r == req) {
            return Some(result.clone());
        }
        if let Some(words) = covered(&self.answered, req) {
            return Some(Ok(words));
        }
        // A refused read refuses every read that contains it (a device answers "illegal data
        // address" for a request touching an address it does not serve).
        if let Some((_, Err(failure))) = self
            .answered
            .iter()
            .find(|(r, result)| result.is_err() && contains(req, r) && !self.unit_failure(r))
        {
            return Some(Err(Arc::clone(failure)));
        }
        if let Some((_, failure)) = self.gone.iter().find(|(u, _)| *u == req.unit) {
            return Some(Err(Arc::clone(failure)));
        }
        self.unreachable.as_ref().map(|f| Err(Arc::clone(f)))
    }

    /// Whether `req` failed because its unit is gone rather than at its addresses.
    fn unit_failure(&self, req: &ReadRequest) -> bool {
        self.gone.iter().any(|(u, _)| *u == req.unit)
    }

    fn record(&mut self, req: ReadRequest, result: Result<Vec<u16>, (FailureScope, ReadFailure)>) {
        let result = match result {
            Ok(words) => {
                if !self.present.contains(&req.unit) {
                    self.present.push(req.unit);
                }
                Ok(words)
            }
            Err((scope, failure)) => {
                match scope {
                    FailureScope::Refused => {
                        // An exception comes from someone at that unit id.
                        if !self.present.contains(&req.unit) {
                            self.present.push(req.unit);
                        }
                        self.refused.push((req, Arc::clone(&failure)));
                    }
                    FailureScope::Request => {}
                    // A unit that answered before is there: this request alone failed.
                    FailureScope::Unit if self.present.contains(&req.unit) => {}
                    FailureScope::Unit => self.gone.push((req.unit, Arc::clone(&failure))),
                    FailureScope::Device => self.unreachable = Some(Arc::clone(&failure)),
                }
                Err(failure)
            }
        };
        self.answered.push((req, result));
    }
}

/// The request to send next, or `None` when every candidate is settled: the one expected to
/// settle the most open candidates, each taken as equally likely to be the device. When the
/// device is one of the candidates needing the request, a match settles every candidate that
/// could not be the device as well (all of them after a naming match, the `independent` ones
/// after a plausibility match); when it is none of them, the request fails for all that need
/// it or declare all its registers, and the first request to a unit id no answer has come
/// from yet speaks for every candidate at that unit. Ties go to the strongest identity, then
/// to the fewest registers.
fn next_request(
    probes: &[Probe],
    answers: &Answers,
    independent: &[Vec<bool>],
) -> Option<ReadRequest> {
    let open: Vec<usize> = (0..probes.len()).filter(|&i| !probes[i].settled).collect();
    // A candidate the device has already answered with its name is asked the rest of its
    // checks before anything else.
    if let Some(named) = open.iter().map(|&i| &probes[i]).find(|p| p.named) {
        return named
            .plan
            .requests()
            .iter()
            .zip(&named.responses)
            .find(|(_, got)| got.is_none())
            .map(|(r, _)| *r);
    }
    let n = open.len();
    // The device answered these reads: a candidate whose device would not have (they lie
    // outside its reach) is less likely, and the likeliest are asked first.
    // So is one that reads nothing at a unit id that has answered (with words or an
    // exception): one host is one device, seen at the unit ids it answers.
    let unlikely = |p: &Probe| {
        let outside = answers
            .answered
            .iter()
            .filter(|(r, got)| got.is_ok() && !touches(&p.reach, r))
            .count();
        let elsewhere = answers
            .present
            .iter()
            .filter(|u| !p.reach.iter().any(|r| r.unit == **u))
            .count();
        outside + elsewhere
    };
    let least = open
        .iter()
        .map(|&i| unlikely(&probes[i]))
        .min()
        .unwrap_or(0);
    let likeliest: Vec<bool> = (0..probes.len())
        .map(|i| !probes[i].settled && unlikely(&probes[i]) == least)
        .collect();
    // (needed by one of the likeliest, expected settled, identity rank, registers, order).
    type Key = (bool, usize, u8, u16, usize);
    let mut best: Option<(Key, ReadRequest)> = None;
    for (order, &i) in open.iter().enumerate() {
        let probe = &probes[i];
        for (k, req) in probe.plan.requests().iter().enumerate() {
            if probe.responses[k].is_some() {
                continue;
            }
            let needs = |p: &Probe| {
                p.plan
                    .requests()
                    .iter()
                    .zip(&p.responses)
                    .any(|(r, got)| got.is_none() && (contains(req, r) || contains(r, req)))
            };
            let needing: Vec<usize> = open
                .iter()
                .copied()
                .filter(|&j| needs(&probes[j]))
                .collect();
            let k = needing.len();
            // Candidates that do not need the request but declare all its registers: a
            // refusal rules them out too.
            let covering = open
                .iter()
                .filter(|&&j| !needing.contains(&j) && probes[j].declares(req))
                .count();
            let if_match: usize = needing
                .iter()
                .map(|&j| {
                    if probes[j].rank < NO_IDENTITY {
                        n - 1
                    } else {
                        open.iter().filter(|&&q| independent[j][q]).count()
                    }
                })
                .sum();
            let settles = k + covering;
            // Open candidates whose device would answer the request (those needing it among
            // them): when it answers and is none of those needing it, the others become the
            // unlikely ones, asked last.
            let answering = open
                .iter()
                .filter(|&&j| needing.contains(&j) || touches(&probes[j].reach, req))
                .count();
            let score = if answers.present.contains(&req.unit) {
                if_match
                    + answering.saturating_sub(k) * n.saturating_sub(answering)
                    + n.saturating_sub(answering) * settles
            } else {
                let m = open
                    .iter()
                    .filter(|&&j| probes[j].plan.requests().iter().any(|r| r.unit == req.unit))
                    .count();
                (n - m) * m + if_match + m.saturating_sub(settles) * settles
            };
            let likely = needing.iter().any(|&j| likeliest[j]);
            let key = (likely, score, probe.rank, req.count, order);
            let better = match &best {
                None => true,
                Some((k0, _)) => {
                    (key.0, key.1) > (k0.0, k0.1)
                        || ((key.0, key.1) == (k0.0, k0.1)
                            && (key.2, key.3, key.4) < (k0.2, k0.3, k0.4))
                }
            };
            if better {
                best = Some((key, *req));
            }
        }
    }
    best.map(|(_, req)| req)
}

/// Whether `outer` reads every register `inner` reads.
fn contains(outer: &ReadRequest, inner: &ReadRequest) -> bool {
    outer.unit == inner.unit
        && outer.table == inner.table
        && inner.address >= outer.address
        && u32::from(inner.address) + u32::from(inner.count)
            <= u32::from(outer.address) + u32::from(outer.count)
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
fn covered(
    answers: &[(ReadRequest, Result<Vec<u16>, ReadFailure>)],
    req: &ReadRequest,
) -> Option<Vec<u16>> {
    answers.iter().find_map(|(asked, result)| {
        let words = result.as_ref().ok()?;
        let same = asked.unit == req.unit && asked.table == req.table;
        let start = usize::from(req.address.checked_sub(asked.address)?);
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
}
