//! One candidate being probed: its checks, its read plan, the answers so far, and the verdict
//! they decide; with the footprint and reach that say what a refusal or an answer means for it.

use std::sync::Arc;
use std::time::SystemTime;

use modbus_core::ReadRequest;

use super::runs::{Runs, footprint, reach};
use super::{Found, NO_IDENTITY, Verdict};
use crate::check::Mismatch;
use crate::model::DeviceMap;
use crate::read::{Missing, ReadFailure, ReadPlan};
use crate::units::Units;

/// One candidate being probed: its plan and the answers to its requests so far.
pub(super) struct Probe {
    pub(super) plan: ReadPlan,
    /// The checks it evaluates: the map's identity checks, then its `identify:` hints when
    /// `hints` is not zero.
    pub(super) checks: Vec<crate::Check>,
    /// How many of `checks` (at the end) are hints: each names the device whatever the size
    /// of the value it expects.
    pub(super) hints: usize,
    /// The addresses the map declares readable ([`footprint`]).
    pub(super) footprint: Runs,
    /// The addresses its device may answer ([`reach`]).
    pub(super) reach: Runs,
    /// Best [`crate::Check::identity_rank`] of its checks (a hint counts as a product code,
    /// or as text when it is one), [`NO_IDENTITY`] when none names the device.
    pub(super) rank: u8,
    pub(super) responses: Vec<Option<Result<Vec<u16>, ReadFailure>>>,
    pub(super) settled: bool,
    /// A check that names the device has held: the rest of its checks are asked first.
    pub(super) named: bool,
}

/// The stand-in for an answer not yet asked for, so a partial answer decodes.
#[derive(Debug, thiserror::Error)]
#[error("not asked yet")]
struct NotAsked;

impl Probe {
    pub(super) fn new(
        plan: ReadPlan,
        checks: Vec<crate::Check>,
        hints: usize,
        units: &Units,
    ) -> Self {
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
    pub(super) fn verdict(&mut self, refusals: &[(ReadRequest, ReadFailure)]) -> Option<Verdict> {
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
    pub(super) fn declares(&self, req: &ReadRequest) -> bool {
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
        // A read that starts or ends inside one of its values may be refused for that alone
        // (devices that answer only whole values): it says nothing.
        self.footprint.whole(req)
    }
}

/// `independent[p][q]`: candidate `q` cannot be the device that matched `p`'s checks, nor
/// match on a device of `p`: its device answers none of the addresses `p`'s checks read, and
/// its checks read none of the addresses `p`'s device answers.
pub(super) fn independent(probes: &[Probe]) -> Vec<Vec<bool>> {
    probes
        .iter()
        .map(|p| {
            probes
                .iter()
                .map(|q| {
                    !std::ptr::eq(p, q)
                        && !p.plan.requests().iter().any(|r| q.reach.touches(r))
                        && !q.plan.requests().iter().any(|r| p.reach.touches(r))
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
