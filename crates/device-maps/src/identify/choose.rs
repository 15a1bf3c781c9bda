//! Which request to send next: the pool of reads identify may send (check requests and
//! shared reads), and the choice among them, worst outcome first.

use std::collections::{HashMap, HashSet};

use modbus_core::ReadRequest;

use super::NO_IDENTITY;
use super::answers::{Answers, contains};
use super::probe::Probe;
use super::runs::Run;

/// The request to send next, or `None` when every candidate is settled.
///
/// Only the likeliest open candidates are weighed (see `unlikely` below: a device that
/// answered or refused what a candidate's device would not have is not likely to be it).
/// Each read of the [`Pool`] is judged by its worst outcome, since the number to keep small
/// is the most requests any device costs:
///
/// - refused: every candidate that declares all its registers, or has a check request
///   containing it, is out, and one whose device would have answered it becomes unlikely;
/// - answered: only the candidates whose device answers it stay likely, and one whose checks
///   it completes is decided (a match or a mismatch);
/// - at a unit id nothing has answered yet, no such unit: only candidates elsewhere stay.
///
/// An outcome costs the distinct check requests its remaining candidates still need; the read
/// whose worst outcome costs least goes. Ties go to the read expected to settle the most
/// candidates, each taken as equally likely to be the device (a match settles every candidate
/// that could not be the device as well: all of them after a naming match, the `independent`
/// ones after a plausibility match), then to the strongest identity, the fewest registers and
/// the candidates' order. A shared read (a register several candidates declare that no check
/// reads) is sent only when its every outcome narrows the likeliest down.
pub(super) fn next_request(
    probes: &[Probe],
    answers: &Answers,
    independent: &[Vec<bool>],
    pool: &Pool,
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
    if n == 0 {
        return None;
    }
    // The device answered these reads: a candidate whose device would not have (they lie
    // outside its reach) is less likely, and the likeliest are asked first.
    // So is one that reads nothing at a unit id that has answered (with words or an
    // exception): one host is one device, seen at the unit ids it answers.
    let unlikely = |p: &Probe| {
        let outside = answers
            .answered
            .iter()
            .filter(|(r, got)| got.is_ok() && !p.reach.touches(r))
            .count();
        // A refused read that its device would have answered (inside its registers'
        // stretch, for a map that spans gaps) but that it does not declare.
        let refused_inside = answers
            .refused
            .iter()
            .filter(|(r, _)| p.reach.within(r))
            .count();
        let elsewhere = answers
            .present
            .iter()
            .filter(|u| !p.reach.at_unit(**u))
            .count();
        outside + refused_inside + elsewhere
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
    let mut scored: Vec<(Key, ReadRequest)> = Vec::new();
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
                .filter(|&&j| needing.contains(&j) || probes[j].reach.touches(req))
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
            scored.push((key, *req));
        }
    }
    // Shared reads: a register several candidates declare, asked on its own.
    for c in pool.reads.iter().filter(|c| !c.check) {
        if answers.resolve(&c.req).is_none() {
            scored.push(((false, 0, NO_IDENTITY, c.req.count, usize::MAX), c.req));
        }
    }
    // Worst case first. `masks[j]`: the check requests candidate `j` still needs, as bits
    // over the pool's check reads; `pending` counts those a set of candidates needs.
    let masks: Vec<Vec<u64>> = probes
        .iter()
        .enumerate()
        .map(|(j, p)| {
            let mut m = vec![0u64; pool.words];
            for (k, got) in p.responses.iter().enumerate() {
                if got.is_none() {
                    let id = pool.ids[j][k];
                    m[id / 64] |= 1 << (id % 64);
                }
            }
            m
        })
        .collect();
    let pending = |set: &mut dyn Iterator<Item = usize>| {
        let mut m = vec![0u64; pool.words];
        for j in set {
            for (w, x) in m.iter_mut().zip(&masks[j]) {
                *w |= x;
            }
        }
        m.iter().map(|w| w.count_ones() as usize).sum::<usize>()
    };
    let l: Vec<usize> = open.iter().copied().filter(|&j| likeliest[j]).collect();
    let all = pending(&mut l.iter().copied());
    let worst = |c: &PoolRead| {
        // Refused: the candidates with a check request containing it, and those declaring
        // it, are out; one whose device would have answered all of it (a map that spans gaps
        // there) becomes unlikely.
        let refused = pending(
            &mut l
                .iter()
                .copied()
                .filter(|&j| !c.declared_by[j] && !c.contained_by[j] && !c.inside[j]),
        );
        // Answered: the candidates whose device answers it stay likely; one whose every
        // request is then answered is decided.
        let answered = pending(&mut l.iter().copied().filter(|&j| {
            c.answered_by[j]
                && !probes[j]
                    .plan
                    .requests()
                    .iter()
                    .zip(&probes[j].responses)
                    .all(|(r, got)| got.is_some() || contains(&c.req, r))
        }));
        let mut w = refused.max(answered);
        if !answers.present.contains(&c.req.unit) {
            let gone = pending(
                &mut l
                    .iter()
                    .copied()
                    .filter(|&j| !probes[j].reach.at_unit(c.req.unit)),
            );
            w = w.max(gone);
        }
        w
    };
    let mut best: Option<(usize, Key, ReadRequest)> = None;
    for (key, req) in scored {
        let Some(c) = pool.get(&req) else { continue };
        let w = worst(c);
        // A shared read that cannot narrow the likeliest down is not worth a request.
        if !c.check && w >= all {
            continue;
        }
        let better = match &best {
            None => true,
            Some((w0, k0, _)) => {
                w < *w0
                    || (w == *w0
                        && ((key.0, key.1) > (k0.0, k0.1)
                            || ((key.0, key.1) == (k0.0, k0.1)
                                && (key.2, key.3, key.4) < (k0.2, k0.3, k0.4))))
            }
        };
        if better {
            best = Some((w, key, req));
        }
    }
    best.map(|(_, _, req)| req)
}

/// A read identify may send, and what its outcomes say, known before anything is asked.
struct PoolRead {
    req: ReadRequest,
    /// One of the candidates' check requests (otherwise a shared read).
    check: bool,
    /// `declared_by[j]`: candidate `j` declares every register of it (a refusal rules it out).
    declared_by: Vec<bool>,
    /// `contained_by[j]`: a check request of candidate `j` contains it (and is refused with it).
    contained_by: Vec<bool>,
    /// `answered_by[j]`: candidate `j`'s device answers a register of it.
    answered_by: Vec<bool>,
    /// `inside[j]`: candidate `j`'s device answers all of it.
    inside: Vec<bool>,
}

impl PoolRead {
    fn new(probes: &[Probe], req: ReadRequest, check: bool) -> PoolRead {
        PoolRead {
            req,
            check,
            declared_by: probes.iter().map(|q| q.declares(&req)).collect(),
            contained_by: probes
                .iter()
                .map(|q| q.plan.requests().iter().any(|r| contains(r, &req)))
                .collect(),
            answered_by: probes.iter().map(|q| q.reach.touches(&req)).collect(),
            inside: probes.iter().map(|q| q.reach.within(&req)).collect(),
        }
    }
}

/// Every read identify may send: the candidates' check requests, then reads of one register
/// that several candidates declare (one refusal rules them all out).
pub(super) struct Pool {
    reads: Vec<PoolRead>,
    /// `ids[j][k]`: the index in `reads` of candidate `j`'s `k`th check request.
    ids: Vec<Vec<usize>>,
    /// Words of a bit set over the check requests.
    words: usize,
    index: HashMap<ReadRequest, usize>,
}

impl Pool {
    pub(super) fn new(probes: &[Probe]) -> Pool {
        let mut pool = Pool {
            reads: Vec::new(),
            ids: Vec::with_capacity(probes.len()),
            words: 0,
            index: HashMap::new(),
        };
        for p in probes {
            let ids = p
                .plan
                .requests()
                .iter()
                .map(|req| pool.add(probes, *req, true))
                .collect();
            pool.ids.push(ids);
        }
        pool.words = pool.reads.len().div_ceil(64).max(1);
        // Every register of every candidate, by address, to find who else declares it.
        let mut all: Vec<(Run, usize)> = probes
            .iter()
            .enumerate()
            .flat_map(|(j, p)| p.footprint.iter().map(move |r| (*r, j)))
            .collect();
        let key = |r: &Run| (r.unit, r.table as u8, r.start);
        all.sort_by_key(|(r, j)| (key(r), *j));
        let mut seen = HashSet::new();
        let mut declarers: HashSet<Vec<usize>> = HashSet::new();
        for (run, _) in &all {
            let (Ok(address), Ok(count)) =
                (u16::try_from(run.start), u16::try_from(run.end - run.start))
            else {
                continue;
            };
            let req = ReadRequest {
                unit: run.unit,
                table: run.table,
                address,
                count,
            };
            if pool.index.contains_key(&req) || !seen.insert(req) {
                continue;
            }
            // The candidates with a register overlapping it (one value is at most 125
            // registers long, so those start at most that far before it).
            let from = (run.unit, run.table as u8, run.start.saturating_sub(125));
            let lo = all.partition_point(|(r, _)| key(r) < from);
            let mut who: Vec<usize> = all[lo..]
                .iter()
                .take_while(|(r, _)| {
                    (r.unit, r.table as u8) == (run.unit, run.table as u8) && r.start < run.end
                })
                .filter(|(r, _)| r.end > run.start)
                .map(|(_, j)| *j)
                .collect();
            who.sort_unstable();
            who.dedup();
            who.retain(|&j| probes[j].declares(&req));
            // One read per set of candidates declaring it: another says nothing more.
            if who.len() < 2 || !declarers.insert(who) {
                continue;
            }
            pool.index.insert(req, pool.reads.len());
            pool.reads.push(PoolRead::new(probes, req, false));
        }
        pool
    }

    fn add(&mut self, probes: &[Probe], req: ReadRequest, check: bool) -> usize {
        if let Some(&i) = self.index.get(&req) {
            return i;
        }
        self.reads.push(PoolRead::new(probes, req, check));
        self.index.insert(req, self.reads.len() - 1);
        self.reads.len() - 1
    }

    fn get(&self, req: &ReadRequest) -> Option<&PoolRead> {
        self.index.get(req).map(|&i| &self.reads[i])
    }
}
