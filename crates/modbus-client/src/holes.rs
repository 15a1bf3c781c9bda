//! Which addresses a map declares, and which unmapped runs a device has refused to read across.

use std::collections::{BTreeMap, BTreeSet};

use modbus_core::Table;

/// The addresses a device map declares, per unit id and table, as merged runs.
///
/// The client needs it for one thing: when a device refuses a read that spans undeclared
/// addresses (illegal data address), it can tell which parts of the request are real registers
/// and read those alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// Half-open runs `[start, end)` of declared addresses, sorted and merged.
    runs: BTreeMap<(u8, Table), Vec<(u32, u32)>>,
}

impl Layout {
    /// An empty layout (no address declared anywhere).
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares `count` addresses from `address` on `unit` and `table`.
    pub fn insert(&mut self, unit: u8, table: Table, address: u16, count: u16) -> &mut Self {
        let start = u32::from(address);
        let end = (start + u32::from(count)).min(0x1_0000);
        if end <= start {
            return self;
        }
        let runs = self.runs.entry((unit, table)).or_default();
        runs.push((start, end));
        runs.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(runs.len());
        for &(s, e) in runs.iter() {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        *runs = merged;
        self
    }

    /// Whether anything is declared for `unit` and `table`.
    pub fn knows(&self, unit: u8, table: Table) -> bool {
        self.runs.contains_key(&(unit, table))
    }

    /// The maximal undeclared runs that lie strictly inside `[address, address + count)`, each
    /// whole (from the end of one declared run to the start of the next). A run at either end
    /// of the range is not a gap the request spans: the request asks for those addresses.
    pub fn interior_gaps(
        &self,
        unit: u8,
        table: Table,
        address: u16,
        count: u16,
    ) -> Vec<(u32, u32)> {
        let (lo, hi) = (u32::from(address), u32::from(address) + u32::from(count));
        self.gaps(unit, table, address, count)
            .into_iter()
            .filter(|&(s, e)| s > lo && e < hi)
            .collect()
    }

    /// The maximal undeclared runs that intersect `[address, address + count)`, each whole
    /// (from the end of one declared run to the start of the next).
    pub fn gaps(&self, unit: u8, table: Table, address: u16, count: u16) -> Vec<(u32, u32)> {
        let Some(runs) = self.runs.get(&(unit, table)) else {
            return Vec::new();
        };
        let (lo, hi) = (u32::from(address), u32::from(address) + u32::from(count));
        let mut gaps = Vec::new();
        let mut cursor = 0u32;
        for &(s, e) in runs.iter().chain(std::iter::once(&(0x1_0000, 0x1_0000))) {
            if s > cursor && s > lo && cursor < hi {
                gaps.push((cursor, s));
            }
            cursor = cursor.max(e);
        }
        gaps
    }
}

/// The holes a device has shown, per unit and table, learned for the rest of the run.
#[derive(Debug, Default)]
pub(crate) struct Holes {
    learned: BTreeMap<(u8, Table), BTreeSet<(u32, u32)>>,
}

impl Holes {
    /// Records `gaps` as holes; returns the ones not known before.
    pub(crate) fn learn(&mut self, unit: u8, table: Table, gaps: &[(u32, u32)]) -> Vec<(u32, u32)> {
        let set = self.learned.entry((unit, table)).or_default();
        gaps.iter()
            .filter(|gap| set.insert(**gap))
            .copied()
            .collect()
    }

    /// The pieces of `[address, address + count)` left once learned holes are cut out, or
    /// `None` when no learned hole lies inside the range. A range that starts or ends in a hole
    /// asks for unmapped addresses itself and is never split (the device's refusal stands).
    pub(crate) fn split(
        &self,
        unit: u8,
        table: Table,
        address: u16,
        count: u16,
    ) -> Option<Vec<(u16, u16)>> {
        let set = self.learned.get(&(unit, table))?;
        let (lo, hi) = (u32::from(address), u32::from(address) + u32::from(count));
        if set
            .iter()
            .any(|&(s, e)| (s <= lo && lo < e) || (s < hi && hi <= e))
        {
            return None;
        }
        let mut touched = false;
        let mut pieces = Vec::new();
        let mut cursor = lo;
        for &(s, e) in set.iter() {
            if e <= cursor || s >= hi {
                continue;
            }
            touched = true;
            if s > cursor {
                pieces.push((cursor, s));
            }
            cursor = cursor.max(e);
        }
        if !touched {
            return None;
        }
        if cursor < hi {
            pieces.push((cursor, hi));
        }
        Some(
            pieces
                .into_iter()
                .filter_map(|(s, e)| Some((u16::try_from(s).ok()?, u16::try_from(e - s).ok()?)))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_whole_undeclared_runs() {
        let mut layout = Layout::new();
        layout
            .insert(1, Table::Input, 1000, 38)
            .insert(1, Table::Input, 1100, 7)
            .insert(1, Table::Input, 1037, 2);
        assert_eq!(layout.gaps(1, Table::Input, 1000, 107), [(1039, 1100)]);
        assert_eq!(layout.gaps(1, Table::Input, 1000, 10), []);
        assert_eq!(layout.gaps(1, Table::Input, 1105, 3), [(1107, 0x1_0000)]);
        assert_eq!(layout.gaps(2, Table::Input, 1000, 107), []);
        assert_eq!(
            layout.interior_gaps(1, Table::Input, 1000, 107),
            [(1039, 1100)]
        );
        assert_eq!(layout.interior_gaps(1, Table::Input, 1050, 57), []);
        assert_eq!(layout.interior_gaps(1, Table::Input, 1105, 3), []);
    }

    #[test]
    fn learned_holes_split_later_requests() {
        let mut holes = Holes::default();
        assert_eq!(
            holes.learn(1, Table::Input, &[(1039, 1100)]),
            [(1039, 1100)]
        );
        assert_eq!(holes.learn(1, Table::Input, &[(1039, 1100)]), []);
        assert_eq!(
            holes.split(1, Table::Input, 1000, 107),
            Some(vec![(1000, 39), (1100, 7)])
        );
        assert_eq!(holes.split(1, Table::Input, 1000, 10), None);
        assert_eq!(holes.split(1, Table::Holding, 1000, 107), None);
        // A range that starts or ends inside a hole is not split.
        assert_eq!(holes.split(1, Table::Input, 1050, 60), None);
        assert_eq!(holes.split(1, Table::Input, 1000, 50), None);
        assert_eq!(holes.split(1, Table::Input, 1060, 5), None);
    }
}
