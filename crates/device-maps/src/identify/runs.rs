//! Address runs: what a map declares (its footprint) and what its device may answer (its
//! reach), and the questions identify asks of them, answered by binary search since the
//! choice of the next request asks them of every candidate for every read it considers.

use std::ops::Deref;

use modbus_core::ReadRequest;

use crate::model::DeviceMap;
use crate::units::Units;

/// A run of addresses: `start..end` of one table at one unit id.
#[derive(Debug, Clone, Copy)]
pub(super) struct Run {
    pub(super) unit: u8,
    pub(super) table: modbus_core::Table,
    pub(super) start: u32,
    pub(super) end: u32,
}

impl Run {
    fn key(&self) -> (u8, u8, u32) {
        (self.unit, self.table as u8, self.start)
    }
}

/// Runs sorted by unit, table and start, with the length of the longest, so that the runs
/// near a request are found without scanning all of them.
#[derive(Debug, Clone, Default)]
pub(super) struct Runs {
    runs: Vec<Run>,
    longest: u32,
}

impl Runs {
    fn new(mut runs: Vec<Run>) -> Runs {
        runs.sort_by_key(Run::key);
        let longest = runs.iter().map(|r| r.end - r.start).max().unwrap_or(0);
        Runs { runs, longest }
    }

    /// The runs of `req`'s unit and table that may overlap it, in address order: every run
    /// starting before its end and at most the longest run's length before its start.
    fn near(&self, req: &ReadRequest) -> &[Run] {
        let start = u32::from(req.address);
        let end = start + u32::from(req.count);
        let from = (
            req.unit,
            req.table as u8,
            start.saturating_sub(self.longest),
        );
        let to = (req.unit, req.table as u8, end);
        let lo = self.runs.partition_point(|r| r.key() < from);
        let hi = self.runs.partition_point(|r| r.key() < to);
        &self.runs[lo..hi.max(lo)]
    }

    /// Whether `req` reads an address of these runs.
    pub(super) fn touches(&self, req: &ReadRequest) -> bool {
        let start = u32::from(req.address);
        self.near(req).iter().any(|r| r.end > start)
    }

    /// Whether these runs hold every address `req` reads.
    pub(super) fn within(&self, req: &ReadRequest) -> bool {
        let end = u32::from(req.address) + u32::from(req.count);
        let mut next = u32::from(req.address);
        for r in self.near(req) {
            if r.start <= next && r.end > next {
                next = r.end;
            }
            if next >= end {
                return true;
            }
        }
        false
    }

    /// Whether these runs hold every address `req` reads as whole runs: none starts before it
    /// and runs on into it, none starts inside it and runs on past its end.
    pub(super) fn whole(&self, req: &ReadRequest) -> bool {
        let start = u32::from(req.address);
        let end = start + u32::from(req.count);
        let near = self.near(req);
        !near
            .iter()
            .any(|r| r.end > start && (r.start < start || r.end > end))
            && self.within(req)
    }

    /// Whether a run lies at unit id `unit`.
    pub(super) fn at_unit(&self, unit: u8) -> bool {
        self.runs.iter().any(|r| r.unit == unit)
    }
}

impl Deref for Runs {
    type Target = [Run];

    fn deref(&self) -> &[Run] {
        &self.runs
    }
}

/// Every readable register of `map` at the unit ids `units`, leaving out the registers only
/// `identify:` hints read (a hint is allowed to be missing on some firmware; a map's other
/// registers are what its device serves).
pub(super) fn footprint(map: &DeviceMap, units: &Units) -> Runs {
    let only_hinted = |name: &str| {
        map.identify.iter().any(|h| h.register == name)
            && !map.checks.iter().any(|c| c.register == name)
    };
    Runs::new(register_runs(map, units, |r| !only_hinted(&r.name)))
}

/// The readable registers of `map` that `keep` keeps, one run each.
fn register_runs(
    map: &DeviceMap,
    units: &Units,
    keep: impl Fn(&crate::Register) -> bool,
) -> Vec<Run> {
    map.registers
        .iter()
        .filter(|r| r.access.readable() && keep(r))
        .map(|r| Run {
            unit: units.resolve(&r.unit_id),
            table: r.table,
            start: u32::from(r.wire_address),
            end: u32::from(r.wire_address) + u32::from(r.count),
        })
        .collect()
}

/// The addresses a device of `map` may answer: every readable register, hints included, its
/// `blocks`, and with `span_gaps` everything between its first and last register of a table.
pub(super) fn reach(map: &DeviceMap, units: &Units) -> Runs {
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
    runs.sort_by_key(Run::key);
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
    Runs::new(runs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use modbus_core::Table;

    fn req(address: u16, count: u16) -> ReadRequest {
        ReadRequest {
            unit: 1,
            table: Table::Holding,
            address,
            count,
        }
    }

    #[test]
    fn runs_answer_by_address_whatever_their_order_and_length() {
        let run = |table, start, end| Run {
            unit: 1,
            table,
            start,
            end,
        };
        // A long run far before the others, a two-word value, one word, another table.
        let runs = Runs::new(vec![
            run(Table::Holding, 110, 111),
            run(Table::Input, 100, 102),
            run(Table::Holding, 100, 102),
            run(Table::Holding, 0, 90),
        ]);
        assert!(runs.touches(&req(89, 1)) && runs.within(&req(10, 80)));
        assert!(!runs.touches(&req(90, 10)) && !runs.within(&req(89, 2)));
        assert!(runs.within(&req(100, 2)) && runs.whole(&req(100, 2)));
        // Half of the two-word value: held, but not whole.
        assert!(runs.within(&req(101, 1)) && !runs.whole(&req(101, 1)));
        assert!(runs.touches(&req(101, 10)) && !runs.within(&req(101, 10)));
        assert!(!runs.touches(&req(111, 5)) && runs.touches(&req(110, 5)));
        assert!(runs.at_unit(1) && !runs.at_unit(2));
    }
}
