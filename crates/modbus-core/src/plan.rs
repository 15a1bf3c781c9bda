//! The request planner: from the register spans a read needs to the fewest read requests a
//! device's limits allow, and from the responses back to each span's words.
//!
//! # Why the greedy plan is optimal
//!
//! Spans of one unit and table are sorted by start address (longest first on ties). A span that
//! lies inside an earlier one is served by that one's request and drops out. The remaining spans
//! have strictly increasing starts *and* ends, so a request covering two of them covers every one
//! between: each request serves a contiguous run. Whether a run fits one request depends on
//! its length, its page and the unmapped gaps inside it; all three only shrink when the run
//! does, so feasibility is monotone. Cutting a sequence into the fewest runs under a monotone
//! condition is solved by greedily extending each run as far as it goes (an exchange argument:
//! the greedy's k-th run never ends before the k-th run of any other cutting). The property test
//! `planner_is_optimal` checks this against an exhaustive search.

use std::fmt;

use crate::error::PlanError;
use crate::types::Table;

/// A block of consecutive registers (or bits) a read needs: `count` items from `address` in
/// `table` of Modbus unit `unit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// Modbus unit (slave) id.
    pub unit: u8,
    /// Table read.
    pub table: Table,
    /// First wire address (0-based).
    pub address: u16,
    /// Number of registers or bits.
    pub count: u16,
}

impl Span {
    /// A span of `count` items at `address`.
    pub const fn new(unit: u8, table: Table, address: u16, count: u16) -> Span {
        Span {
            unit,
            table,
            address,
            count,
        }
    }

    /// One past the last address (may be 65536).
    pub const fn end(&self) -> u32 {
        self.address as u32 + self.count as u32
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unit {} {} {}", self.unit, self.table, self.address)?;
        if self.count == 0 {
            f.write_str(" (empty)")
        } else {
            write!(f, "..={}", self.end() - 1)
        }
    }
}

/// Whether one request may read addresses no span needs (gaps between spans).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Gaps {
    /// Never: every address read is needed (the safe default; many devices answer an
    /// unmapped address with an exception).
    #[default]
    Never,
    /// Gaps of at most this many consecutive unneeded addresses.
    UpTo(u16),
    /// Any gap (the device fills unmapped addresses, as Alfen does with 0xFFFF).
    Any,
}

impl Gaps {
    /// True when a gap of `len` unneeded addresses may be read through.
    pub const fn allows(self, len: u32) -> bool {
        match self {
            Gaps::Never => len == 0,
            Gaps::UpTo(max) => len <= max as u32,
            Gaps::Any => true,
        }
    }
}

/// What a device accepts in one read request.
///
/// ```
/// use modbus_core::{Gaps, Limits};
///
/// // GivEnergy: 60-register pages at 60-aligned bases, reads within one page.
/// let givenergy = Limits { max_registers: 60, page_size: Some(60), gaps: Gaps::Any, ..Limits::default() };
/// assert_eq!(Limits::default().max_registers, 125);
/// assert_eq!(Limits::default().max_bits, 2000);
/// # let _ = givenergy;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Most registers per request (1..=125).
    pub max_registers: u16,
    /// Most coils or discrete inputs per request (1..=2000).
    pub max_bits: u16,
    /// Whether and how far a request may read through unneeded addresses.
    pub gaps: Gaps,
    /// When set, the address space is cut into pages of this size starting at address 0, and
    /// one request must stay within one page.
    pub page_size: Option<u16>,
}

impl Default for Limits {
    /// The Modbus specification's limits (125 registers, 2000 bits), no gaps, no pages.
    fn default() -> Self {
        Limits {
            max_registers: 125,
            max_bits: 2000,
            gaps: Gaps::Never,
            page_size: None,
        }
    }
}

impl Limits {
    /// The most items one request may read from `table`.
    pub const fn max_count(&self, table: Table) -> u16 {
        if table.is_bits() {
            self.max_bits
        } else {
            self.max_registers
        }
    }

    /// Checks the limits are usable.
    pub fn validate(&self) -> Result<(), PlanError> {
        let reason = if self.max_registers == 0 || self.max_registers > 125 {
            "max_registers must be between 1 and 125"
        } else if self.max_bits == 0 || self.max_bits > 2000 {
            "max_bits must be between 1 and 2000"
        } else if self.page_size == Some(0) {
            "page_size must not be 0"
        } else {
            return Ok(());
        };
        Err(PlanError::InvalidLimits { reason })
    }

    /// Plans `spans` under these limits; see [`plan`].
    pub fn plan(&self, spans: &[Span]) -> Result<Plan, PlanError> {
        plan(spans, self)
    }

    /// True when the addresses `start..end` fit one page (always, without pages).
    #[inline]
    fn same_page(&self, start: u32, end: u32) -> bool {
        match self.page_size {
            Some(p) if p > 0 => start / u32::from(p) == (end - 1) / u32::from(p),
            _ => true,
        }
    }
}

/// One read request of a [`Plan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReadRequest {
    /// Modbus unit id.
    pub unit: u8,
    /// Table read (decides the function code).
    pub table: Table,
    /// First address.
    pub address: u16,
    /// Registers or bits to read.
    pub count: u16,
}

impl fmt::Display for ReadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unit {} FC{} {} {}×{}",
            self.unit,
            self.table.read_function_code(),
            self.table,
            self.address,
            self.count
        )
    }
}

/// Where a span's items sit in the responses: `count` items from `offset` of the response to
/// request number `request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Placement {
    /// Index into [`Plan::requests`].
    pub request: usize,
    /// Offset of the span's first item in that response.
    pub offset: u16,
    /// Items in the span.
    pub count: u16,
}

/// The outcome of [`plan`]: the requests to send, in ascending (unit, table, address) order,
/// and where each input span lies in their responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    requests: Vec<ReadRequest>,
    placements: Vec<Placement>,
}

impl Plan {
    /// The requests to send.
    pub fn requests(&self) -> &[ReadRequest] {
        &self.requests
    }

    /// Number of requests.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// True when there is nothing to read.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// One placement per input span, in input order.
    pub fn placements(&self) -> &[Placement] {
        &self.placements
    }

    /// The placement of input span `span`.
    pub fn placement(&self, span: usize) -> Option<Placement> {
        self.placements.get(span).copied()
    }

    /// The items of input span `span`, cut from `responses` (one per request, in plan order).
    pub fn slice<'r, T, R: AsRef<[T]>>(
        &self,
        span: usize,
        responses: &'r [R],
    ) -> Result<&'r [T], PlanError> {
        let p = self.placement(span).ok_or(PlanError::NoSuchSpan {
            index: span,
            spans: self.placements.len(),
        })?;
        let response = self.response(p.request, responses)?;
        let start = usize::from(p.offset);
        Ok(&response[start..start + usize::from(p.count)])
    }

    /// The items of every input span, in input order, cut from `responses`.
    pub fn split<'r, T, R: AsRef<[T]>>(
        &self,
        responses: &'r [R],
    ) -> Result<Vec<&'r [T]>, PlanError> {
        for request in 0..self.requests.len() {
            self.response(request, responses)?;
        }
        self.placements
            .iter()
            .map(|p| {
                let response = self.response(p.request, responses)?;
                let start = usize::from(p.offset);
                Ok(&response[start..start + usize::from(p.count)])
            })
            .collect()
    }

    /// Response `request`, checked to have the length the request asked for (so every
    /// placement within it is in bounds).
    fn response<'r, T, R: AsRef<[T]>>(
        &self,
        request: usize,
        responses: &'r [R],
    ) -> Result<&'r [T], PlanError> {
        let expected =
            self.requests
                .get(request)
                .map(|r| r.count)
                .ok_or(PlanError::NoSuchSpan {
                    index: request,
                    spans: self.placements.len(),
                })?;
        let response = responses
            .get(request)
            .ok_or(PlanError::MissingResponse {
                request,
                got: responses.len(),
            })?
            .as_ref();
        if response.len() != usize::from(expected) {
            return Err(PlanError::ResponseLength {
                request,
                expected,
                got: response.len(),
            });
        }
        Ok(response)
    }
}

/// Plans the fewest read requests that cover every span under `limits`.
///
/// Each span is read whole by one request (a multi-register value is never torn across two
/// reads). Requests never mix units or tables. Duplicate and overlapping spans are fine: a
/// span inside another is served by the same request. Fails when the limits are invalid or a
/// span is empty, runs past address 65535, is larger than one request or crosses a page.
///
/// ```
/// use modbus_core::{plan, Gaps, Limits, Span, Table};
///
/// let spans = [
///     Span::new(1, Table::Holding, 306, 2),
///     Span::new(1, Table::Holding, 320, 2),
///     Span::new(1, Table::Holding, 344, 2),
///     Span::new(1, Table::Holding, 1210, 2),
/// ];
/// let limits = Limits { gaps: Gaps::Any, ..Limits::default() };
/// let plan = plan(&spans, &limits)?;
/// assert_eq!(plan.len(), 2); // 306..=345 and 1210..=1211
/// assert_eq!(plan.requests()[0].count, 40);
///
/// // Responses come back per request; the plan cuts them per span.
/// let responses: Vec<Vec<u16>> = plan.requests().iter()
///     .map(|r| (r.address..r.address + r.count).collect())
///     .collect();
/// assert_eq!(plan.slice(2, &responses)?, &[344, 345]);
/// # Ok::<(), modbus_core::PlanError>(())
/// ```
pub fn plan(spans: &[Span], limits: &Limits) -> Result<Plan, PlanError> {
    plan_with_mapped(spans, &[], limits)
}

/// Like [`plan`], also told which registers exist on the device (`mapped`, typically every
/// register of its map). A request may then read through registers that are mapped but not
/// needed without that counting as a gap; only addresses that are neither needed nor mapped
/// count against [`Limits::gaps`]. Empty mapped spans are ignored.
///
/// ```
/// use modbus_core::{plan, plan_with_mapped, Limits, Span, Table};
///
/// // A device that refuses reads of unmapped registers; registers 0..=9 all exist.
/// let needed = [Span::new(1, Table::Input, 0, 1), Span::new(1, Table::Input, 9, 1)];
/// let mapped = [Span::new(1, Table::Input, 0, 10)];
/// assert_eq!(plan(&needed, &Limits::default())?.len(), 2);
/// assert_eq!(plan_with_mapped(&needed, &mapped, &Limits::default())?.len(), 1);
/// # Ok::<(), modbus_core::PlanError>(())
/// ```
pub fn plan_with_mapped(
    spans: &[Span],
    mapped: &[Span],
    limits: &Limits,
) -> Result<Plan, PlanError> {
    limits.validate()?;
    let mapped = MappedSet::new(mapped, limits.gaps);
    let mut order: Vec<(u64, u32)> = Vec::with_capacity(spans.len());
    for (index, span) in spans.iter().enumerate() {
        check_span(index, span, limits)?;
        let index = u32::try_from(index).map_err(|_| PlanError::InvalidLimits {
            reason: "more than 2^32 spans",
        })?;
        order.push((sort_key(span), index));
    }
    order.sort_unstable();

    let mut requests: Vec<ReadRequest> = Vec::new();
    let mut placements = vec![
        Placement {
            request: 0,
            offset: 0,
            count: 0
        };
        spans.len()
    ];
    // The group (unit, table) of the last request, the start of that request, and the largest
    // span end seen in it.
    let mut group: Option<(u8, Table)> = None;
    let mut run_start = 0u32;
    let mut max_end = 0u32;
    for &(_, index) in &order {
        let index = index as usize;
        let span = spans[index];
        let (start, end) = (u32::from(span.address), span.end());
        let same_group = group == Some((span.unit, span.table));
        if !(same_group && end <= max_end) {
            let extend = same_group
                && end - run_start <= u32::from(limits.max_count(span.table))
                && limits.same_page(run_start, end)
                && (start <= max_end
                    || limits
                        .gaps
                        .allows(mapped.longest_hole(span.unit, span.table, max_end, start)));
            match requests.last_mut() {
                Some(last) if extend => last.count = (end - run_start) as u16,
                _ => {
                    requests.push(ReadRequest {
                        unit: span.unit,
                        table: span.table,
                        address: span.address,
                        count: span.count,
                    });
                    group = Some((span.unit, span.table));
                    run_start = start;
                }
            }
            max_end = end;
        }
        // Either this span extended or opened the last request, or it lies inside the span
        // that reached `max_end`, which the last request covers.
        placements[index] = Placement {
            request: requests.len() - 1,
            offset: (start - run_start) as u16,
            count: span.count,
        };
    }
    Ok(Plan {
        requests,
        placements,
    })
}

/// Rejects spans no request can read.
fn check_span(index: usize, span: &Span, limits: &Limits) -> Result<(), PlanError> {
    let span = *span;
    if span.count == 0 {
        return Err(PlanError::EmptySpan { index, span });
    }
    if span.end() > 65536 {
        return Err(PlanError::PastEnd { index, span });
    }
    let max = limits.max_count(span.table);
    if span.count > max {
        return Err(PlanError::TooLarge { index, span, max });
    }
    if !limits.same_page(u32::from(span.address), span.end()) {
        return Err(PlanError::CrossesPage {
            index,
            span,
            page_size: limits.page_size.unwrap_or(0),
        });
    }
    Ok(())
}

/// Orders spans by unit, table, start address, and then longest first.
#[inline]
fn sort_key(span: &Span) -> u64 {
    (u64::from(span.unit) << 52)
        | ((span.table.index() as u64) << 50)
        | (u64::from(span.address) << 17)
        | (0x1_FFFF - u64::from(span.end()))
}

/// Merged intervals of mapped addresses, per unit and table, sorted.
struct MappedSet {
    /// `(group, start, end)`, disjoint and sorted within each group.
    intervals: Vec<(u16, u32, u32)>,
}

/// Unit and table as one sortable number.
#[inline]
fn group_key(unit: u8, table: Table) -> u16 {
    (u16::from(unit) << 2) | table.index() as u16
}

impl MappedSet {
    fn new(mapped: &[Span], gaps: Gaps) -> MappedSet {
        if gaps == Gaps::Any || mapped.is_empty() {
            return MappedSet {
                intervals: Vec::new(),
            };
        }
        let mut raw: Vec<(u16, u32, u32)> = mapped
            .iter()
            .filter(|s| s.count > 0)
            .map(|s| (group_key(s.unit, s.table), u32::from(s.address), s.end()))
            .collect();
        raw.sort_unstable();
        let mut intervals: Vec<(u16, u32, u32)> = Vec::with_capacity(raw.len());
        for (group, start, end) in raw {
            match intervals.last_mut() {
                Some(last) if last.0 == group && start <= last.2 => last.2 = last.2.max(end),
                _ => intervals.push((group, start, end)),
            }
        }
        MappedSet { intervals }
    }

    /// The longest run of addresses in `from..to` that no mapped interval covers.
    fn longest_hole(&self, unit: u8, table: Table, from: u32, to: u32) -> u32 {
        let group = group_key(unit, table);
        let first = self
            .intervals
            .partition_point(|&(g, _, end)| (g, end) <= (group, from));
        let mut cursor = from;
        let mut longest = 0;
        for &(g, start, end) in &self.intervals[first..] {
            if g != group || start >= to {
                break;
            }
            longest = longest.max(start.saturating_sub(cursor));
            cursor = cursor.max(end);
            if cursor >= to {
                return longest;
            }
        }
        longest.max(to.saturating_sub(cursor))
    }
}
