//! The register bank: every word the simulated device holds, with its access rights.
//!
//! The bank knows nothing of device maps or of the wire. It is a set of cells keyed by unit id,
//! table and address; each cell remembers the register it belongs to (its first address and
//! length), so a write that covers only part of a multi-word value can be refused as a real
//! device refuses it.

use std::collections::BTreeMap;

use modbus_core::Table;

use super::Exception;

/// Who may read and write a register, as the device enforces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads answer the value; writes answer [`Exception::IllegalFunction`].
    Read,
    /// Reads and writes both work; a write changes the value later reads return.
    ReadWrite,
    /// Writes are accepted and stored; reads answer zero words (what devices do for command
    /// registers such as Vestel's alive register).
    Write,
}

/// What a read answers when it covers an address no register occupies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapPolicy {
    /// The whole request answers [`Exception::IllegalDataAddress`] (a map with `span_gaps: false`).
    Exception,
    /// Unmapped words read as this value (Alfen reads 0xFFFF, other devices 0).
    Fill(u16),
    /// Unmapped words between the first and the last register of their table read as this
    /// value; a read reaching outside that stretch answers
    /// [`Exception::IllegalDataAddress`] (a map with `span_gaps: true`: the device reads
    /// through the gaps between its registers, not the whole address space).
    FillBetween(u16),
}

/// The four Modbus data spaces, as the wire addresses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Space {
    Coil,
    Discrete,
    Input,
    Holding,
}

impl Space {
    pub(crate) fn of(table: Table) -> Self {
        match table {
            Table::Coil => Space::Coil,
            Table::Discrete => Space::Discrete,
            Table::Input => Space::Input,
            Table::Holding => Space::Holding,
        }
    }
}

/// One 16-bit word (or one bit, stored as 0 or 1) of the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cell {
    value: u16,
    access: Access,
    /// First address of the register this word belongs to.
    start: u16,
    /// Number of words of that register.
    len: u16,
}

/// A register that would overlap one already in the bank.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unit {unit} {table:?} address {address} is already occupied by another register")]
pub struct OverlapError {
    /// Unit id of the clash.
    pub unit: u8,
    /// Table of the clash.
    pub table: Table,
    /// First address that clashes.
    pub address: u16,
}

/// A bank absorbed into another answers a unit id the other already answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unit {unit} is already answered by another device of this simulator")]
pub struct UnitTaken {
    /// The unit id both answer.
    pub unit: u8,
}

/// Every word a simulated device holds, by unit id, table and address.
#[derive(Debug, Clone, Default)]
pub struct RegisterBank {
    cells: BTreeMap<(u8, Space, u16), Cell>,
    units: BTreeMap<u8, GapPolicy>,
    /// Whole blocks the device answers (first and last address), declared words or not.
    blocks: Vec<(u8, Space, u16, u16)>,
}

impl RegisterBank {
    /// An empty bank that answers no unit id.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the device answer `unit`, with `gaps` deciding what unmapped addresses read as.
    /// Calling it again for the same unit changes its policy.
    pub fn add_unit(&mut self, unit: u8, gaps: GapPolicy) -> &mut Self {
        self.units.insert(unit, gaps);
        self
    }

    /// Makes the device answer every address from `from` to `to` (inclusive) of `table` at
    /// `unit`: words no register occupies read as 0 there, whatever the unit's gap policy
    /// (a GivEnergy inverter answers its whole 60-register blocks). Adds the unit if needed.
    pub fn add_block(&mut self, unit: u8, table: Table, from: u16, to: u16) -> &mut Self {
        self.blocks.push((unit, Space::of(table), from, to));
        self.units.entry(unit).or_insert(GapPolicy::Exception);
        self
    }

    /// Whether every one of `count` addresses from `address` lies in a block added with
    /// [`RegisterBank::add_block`] (`count` 0 never does).
    pub fn in_blocks(&self, unit: u8, table: Table, address: u16, count: u16) -> bool {
        let space = Space::of(table);
        count > 0
            && (0..count).all(|offset| {
                address
                    .checked_add(offset)
                    .is_some_and(|at| self.in_block(unit, space, at))
            })
    }

    fn in_block(&self, unit: u8, space: Space, at: u16) -> bool {
        self.blocks
            .iter()
            .any(|&(u, s, from, to)| u == unit && s == space && (from..=to).contains(&at))
    }

    /// The unit ids the device answers, in ascending order.
    pub fn units(&self) -> impl Iterator<Item = u8> + '_ {
        self.units.keys().copied()
    }

    /// Takes in every unit of `other` (its registers, gap policy and blocks), so one listener
    /// answers several devices at their own unit ids, as a gateway with meters behind it does
    /// (each device's bank built from its own map with [`crate::modbus::SimulatorBuilder::bank`]).
    /// Refused, changing nothing, when `other` answers a unit id this bank already answers.
    pub fn absorb(&mut self, other: RegisterBank) -> Result<&mut Self, UnitTaken> {
        if let Some(unit) = other.units().find(|u| self.units.contains_key(u)) {
            return Err(UnitTaken { unit });
        }
        self.cells.extend(other.cells);
        self.units.extend(other.units);
        self.blocks.extend(other.blocks);
        Ok(self)
    }

    /// Adds one register of `words.len()` words at `address` (for coils and discrete inputs:
    /// that many independent bits, each word 0 or 1). The unit is added with [`GapPolicy::Exception`] if it is
    /// not known yet. An empty register or one that would run past address 65535 is refused
    /// as an overlap at its address.
    pub fn insert(
        &mut self,
        unit: u8,
        table: Table,
        address: u16,
        words: &[u16],
        access: Access,
    ) -> Result<(), OverlapError> {
        let space = Space::of(table);
        let clash = OverlapError {
            unit,
            table,
            address,
        };
        let len = u16::try_from(words.len()).map_err(|_| clash.clone())?;
        if len == 0 || u32::from(address) + u32::from(len) > 0x1_0000 {
            return Err(clash);
        }
        for offset in 0..len {
            let at = address + offset;
            if self.cells.contains_key(&(unit, space, at)) {
                return Err(OverlapError {
                    unit,
                    table,
                    address: at,
                });
            }
        }
        let bits = matches!(space, Space::Coil | Space::Discrete);
        for (offset, word) in (0..len).zip(words) {
            let at = address + offset;
            // Bits are independent: each is its own one-bit register.
            let cell = if bits {
                Cell {
                    value: u16::from(*word != 0),
                    access,
                    start: at,
                    len: 1,
                }
            } else {
                Cell {
                    value: *word,
                    access,
                    start: address,
                    len,
                }
            };
            self.cells.insert((unit, space, at), cell);
        }
        self.units.entry(unit).or_insert(GapPolicy::Exception);
        Ok(())
    }

    /// The current words of `count` addresses from `address`, `None` for an unmapped address.
    pub fn get(&self, unit: u8, table: Table, address: u16, count: u16) -> Vec<Option<u16>> {
        let space = Space::of(table);
        (0..count)
            .map(|offset| {
                let at = address.checked_add(offset)?;
                self.cells.get(&(unit, space, at)).map(|cell| cell.value)
            })
            .collect()
    }

    /// Overwrites mapped words directly, bypassing access rights (for tests and value files).
    /// Returns `false`, changing nothing, when any of the addresses is unmapped.
    pub fn set(&mut self, unit: u8, table: Table, address: u16, words: &[u16]) -> bool {
        let space = Space::of(table);
        let mapped = (0..words.len()).all(|offset| {
            u16::try_from(offset)
                .ok()
                .and_then(|offset| address.checked_add(offset))
                .is_some_and(|at| self.cells.contains_key(&(unit, space, at)))
        });
        if !mapped {
            return false;
        }
        for (at, word) in (address..).zip(words) {
            if let Some(cell) = self.cells.get_mut(&(unit, space, at)) {
                cell.value = *word;
            }
        }
        true
    }

    /// Number of mapped words over all units and tables.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether no register is mapped at all.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Answers a read as the device would.
    pub(crate) fn read(
        &self,
        unit: u8,
        space: Space,
        address: u16,
        count: u16,
    ) -> Result<Vec<u16>, Exception> {
        let gaps = *self
            .units
            .get(&unit)
            .ok_or(Exception::GatewayTargetDevice)?;
        if u32::from(address) + u32::from(count) > 0x1_0000 {
            return Err(Exception::IllegalDataAddress);
        }
        let mut words = Vec::with_capacity(usize::from(count));
        for offset in 0..count {
            match self.cells.get(&(unit, space, address + offset)) {
                Some(cell) if cell.access == Access::Write => words.push(0),
                Some(cell) => words.push(cell.value),
                None if self.in_block(unit, space, address + offset) => words.push(0),
                None => match gaps {
                    GapPolicy::Exception => return Err(Exception::IllegalDataAddress),
                    GapPolicy::FillBetween(_) if !self.between(unit, space, address + offset) => {
                        return Err(Exception::IllegalDataAddress);
                    }
                    GapPolicy::Fill(fill) | GapPolicy::FillBetween(fill) => {
                        let fill = if matches!(space, Space::Coil | Space::Discrete) {
                            u16::from(fill != 0)
                        } else {
                            fill
                        };
                        words.push(fill);
                    }
                },
            }
        }
        Ok(words)
    }

    /// Whether a register of `space` at `unit` lies at or before `at` and one at or after it.
    fn between(&self, unit: u8, space: Space, at: u16) -> bool {
        let before = self
            .cells
            .range((unit, space, 0)..=(unit, space, at))
            .next_back();
        let after = self
            .cells
            .range((unit, space, at)..=(unit, space, u16::MAX))
            .next();
        before.is_some() && after.is_some()
    }

    /// Applies a write as the device would: every address mapped and writable, every register
    /// it touches written whole, or nothing changes.
    pub(crate) fn write(
        &mut self,
        unit: u8,
        space: Space,
        address: u16,
        words: &[u16],
    ) -> Result<(), Exception> {
        if !self.units.contains_key(&unit) {
            return Err(Exception::GatewayTargetDevice);
        }
        let count = u16::try_from(words.len()).map_err(|_| Exception::IllegalDataValue)?;
        if u32::from(address) + u32::from(count) > 0x1_0000 {
            return Err(Exception::IllegalDataAddress);
        }
        let end = u32::from(address) + u32::from(count);
        for offset in 0..count {
            let cell = self
                .cells
                .get(&(unit, space, address + offset))
                .ok_or(Exception::IllegalDataAddress)?;
            if cell.access == Access::Read {
                return Err(Exception::IllegalFunction);
            }
            let register_end = u32::from(cell.start) + u32::from(cell.len);
            if cell.start < address || register_end > end {
                return Err(Exception::IllegalDataValue);
            }
        }
        for (at, word) in (address..).zip(words) {
            if let Some(cell) = self.cells.get_mut(&(unit, space, at)) {
                cell.value = *word;
            }
        }
        Ok(())
    }
}
