//! [`MemoryDevice`]: an in-memory [`RegisterIo`] for tests, examples and dry runs.

use std::collections::BTreeMap;
use std::future::{Future, ready};

use modbus_core::Table;

use crate::io::RegisterIo;
use crate::model::DeviceMap;

/// Registers in memory, with a log of every request.
///
/// Unset registers read as 0 unless [`MemoryDevice::strict`] is on, in which case a read that
/// touches one fails like a device answering "illegal data address".
#[derive(Debug, Clone, Default)]
pub struct MemoryDevice {
    words: BTreeMap<(u8, Table, u16), u16>,
    strict: bool,
    /// Every request, in order.
    pub log: Vec<Request>,
}

/// A request seen by a [`MemoryDevice`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A read.
    Read {
        /// Unit id.
        unit: u8,
        /// Table.
        table: Table,
        /// Address.
        address: u16,
        /// Count.
        count: u16,
    },
    /// A write.
    Write {
        /// Unit id.
        unit: u8,
        /// Table.
        table: Table,
        /// Address.
        address: u16,
        /// Values.
        values: Vec<u16>,
    },
}

/// A read of an address a strict [`MemoryDevice`] does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal data address: unit {unit} {table} {address} is not set")]
pub struct Unmapped {
    /// Unit id.
    pub unit: u8,
    /// Table.
    pub table: Table,
    /// The first unset address.
    pub address: u16,
}

impl MemoryDevice {
    /// An empty device.
    pub fn new() -> MemoryDevice {
        MemoryDevice::default()
    }

    /// Makes reads of unset addresses fail.
    pub fn strict(mut self) -> MemoryDevice {
        self.strict = true;
        self
    }

    /// Sets words from `address` on.
    pub fn set(&mut self, unit: u8, table: Table, address: u16, words: &[u16]) {
        for (k, w) in words.iter().enumerate() {
            if let Some(a) = address.checked_add(k as u16) {
                self.words.insert((unit, table, a), *w);
            }
        }
    }

    /// The word at an address, if set.
    pub fn get(&self, unit: u8, table: Table, address: u16) -> Option<u16> {
        self.words.get(&(unit, table, address)).copied()
    }

    /// A device holding every readable register's example value, with the map's unit ids.
    /// Registers with a scale-factor register are stored with that register's example.
    pub fn with_examples(map: &DeviceMap) -> MemoryDevice {
        let mut device = MemoryDevice::new();
        let units = map.units();
        for (r, words) in crate::examples::example_words(map) {
            device.set(units.resolve(&r.unit_id), r.table, r.wire_address, &words);
        }
        device
    }

    fn read_now(
        &self,
        unit: u8,
        table: Table,
        address: u16,
        count: u16,
    ) -> Result<Vec<u16>, Unmapped> {
        (0..count)
            .map(|k| {
                let a = address.wrapping_add(k);
                match self.get(unit, table, a) {
                    Some(w) => Ok(w),
                    None if self.strict => Err(Unmapped {
                        unit,
                        table,
                        address: a,
                    }),
                    None => Ok(0),
                }
            })
            .collect()
    }
}

impl RegisterIo for MemoryDevice {
    type Error = Unmapped;

    fn read(
        &mut self,
        unit: u8,
        table: Table,
        address: u16,
        count: u16,
    ) -> impl Future<Output = Result<Vec<u16>, Unmapped>> + Send {
        self.log.push(Request::Read {
            unit,
            table,
            address,
            count,
        });
        ready(self.read_now(unit, table, address, count))
    }

    fn write(
        &mut self,
        unit: u8,
        table: Table,
        address: u16,
        values: &[u16],
    ) -> impl Future<Output = Result<(), Unmapped>> + Send {
        self.log.push(Request::Write {
            unit,
            table,
            address,
            values: values.to_vec(),
        });
        self.set(unit, table, address, values);
        ready(Ok(()))
    }
}
