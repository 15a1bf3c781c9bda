//! What the device has said so far: answers, refusals, units that are gone, and the
//! request arithmetic that lets one answer serve another request.

use std::sync::Arc;

use modbus_core::ReadRequest;

use super::FailureScope;
use crate::read::ReadFailure;

/// Everything the device has answered, and what its failures rule out.
#[derive(Default)]
pub(super) struct Answers {
    pub(super) answered: Vec<(ReadRequest, Result<Vec<u16>, ReadFailure>)>,
    /// Units that the device says nobody answers for (a timeout, a gateway exception).
    pub(super) gone: Vec<(u8, ReadFailure)>,
    /// Set when the device cannot be reached at all.
    pub(super) unreachable: Option<ReadFailure>,
    /// Units that answered at least once.
    pub(super) present: Vec<u8>,
    /// Requests refused as reading registers the device does not have.
    pub(super) refused: Vec<(ReadRequest, ReadFailure)>,
    pub(super) sent: usize,
}

impl Answers {
    /// The answer `req` would get without asking: words an earlier answer holds, an earlier
    /// failure of the same request, a unit that is gone, a device that cannot be reached.
    pub(super) fn resolve(&self, req: &ReadRequest) -> Option<Result<Vec<u16>, ReadFailure>> {
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

    pub(super) fn record(
        &mut self,
        req: ReadRequest,
        result: Result<Vec<u16>, (FailureScope, ReadFailure)>,
    ) {
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

/// Whether `outer` reads every register `inner` reads.
pub(super) fn contains(outer: &ReadRequest, inner: &ReadRequest) -> bool {
    outer.unit == inner.unit
        && outer.table == inner.table
        && inner.address >= outer.address
        && u32::from(inner.address) + u32::from(inner.count)
            <= u32::from(outer.address) + u32::from(outer.count)
}

/// Whether two requests read a register in common.
pub(super) fn overlaps(a: &ReadRequest, b: &ReadRequest) -> bool {
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
