//! Checking a write as it arrives on the wire: unit, table, address and words, with no register
//! names. A Modbus proxy or gateway that knows the device's map uses this to refuse what the map
//! would never let `evctl write` send.
//!
//! The rules are those of [`DeviceMap::plan_writes`], read backwards: every word written must
//! belong to a writable register of the unit, a register must be written whole, and each value
//! must satisfy the register's static rules (enumeration, bounds, step). Rules that need another
//! register's value (a bound that is a register, a SunSpec scale factor) cannot be checked from
//! the words alone; such a register is refused only for its address, never for its value.

use modbus_core::Table;

use crate::model::{Bound, DeviceMap, Register, Scale};
use crate::read::decode_register;
use crate::units::Units;
use crate::write::check_static;

/// Why a write on the wire is refused, with what a log line needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireRefusal {
    /// A written address belongs to no writable register of the unit (Modbus exception 2).
    #[error("unit {unit} {table} address {address} is not a writable register of {map}")]
    NotWritable {
        /// The map's id.
        map: String,
        /// Unit id.
        unit: u8,
        /// Table.
        table: Table,
        /// The first address refused.
        address: u16,
    },
    /// The write covers only part of a multi-register value (Modbus exception 3).
    #[error("the write covers only part of `{register}` ({count} registers from {address})")]
    Partial {
        /// The register cut.
        register: String,
        /// Its wire address.
        address: u16,
        /// Its size.
        count: u16,
    },
    /// A value the register does not take (Modbus exception 3).
    #[error("`{register}` = {value} {problem}")]
    Value {
        /// The register.
        register: String,
        /// The value as decoded.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl WireRefusal {
    /// The Modbus exception code a server answers: 2 (illegal data address) or 3 (illegal data
    /// value).
    pub fn exception_code(&self) -> u8 {
        match self {
            WireRefusal::NotWritable { .. } => 0x02,
            WireRefusal::Partial { .. } | WireRefusal::Value { .. } => 0x03,
        }
    }
}

impl DeviceMap {
    /// Checks a write of `words` (0 or 1 per coil) to `table` from `address` on `unit`, as a
    /// device described by this map with unit ids `units` would receive it. A unit id that is
    /// none of the map's roles is taken as another device of the main role (a bus of identical
    /// meters behind one gateway).
    pub fn check_wire_write(
        &self,
        units: &Units,
        unit: u8,
        table: Table,
        address: u16,
        words: &[u16],
    ) -> Result<(), WireRefusal> {
        let known = units.roles().iter().any(|(_, id)| *id == unit);
        let as_unit = if known { unit } else { units.main_id() };
        let candidates: Vec<&Register> = self
            .registers
            .iter()
            .filter(|r| r.table == table && units.resolve(&r.unit_id) == as_unit)
            .collect();
        let end = u32::from(address) + words.len() as u32;
        let mut at = u32::from(address);
        while at < end {
            let owner = candidates.iter().find(|r| {
                let start = u32::from(r.wire_address);
                start <= at && at < start + u32::from(r.count.max(1))
            });
            let Some(r) = owner.filter(|r| r.access.writable()) else {
                return Err(WireRefusal::NotWritable {
                    map: self.id.clone(),
                    unit,
                    table,
                    address: u16::try_from(at).unwrap_or(u16::MAX),
                });
            };
            let start = u32::from(r.wire_address);
            let size = u32::from(r.count.max(1));
            if start < u32::from(address) || start + size > end {
                return Err(WireRefusal::Partial {
                    register: r.name.clone(),
                    address: r.wire_address,
                    count: r.count,
                });
            }
            let offset = (start - u32::from(address)) as usize;
            let slice = &words[offset..offset + size as usize];
            check_value(r, slice)?;
            at = start + size;
        }
        Ok(())
    }
}

/// The static rules of one register, for its words as written.
fn check_value(r: &Register, words: &[u16]) -> Result<(), WireRefusal> {
    let needs_device = matches!(r.scale, Scale::PowerOfTen(_))
        || r.write.as_ref().is_some_and(|w| {
            matches!(w.min, Some(Bound::Register(_))) || matches!(w.max, Some(Bound::Register(_)))
        });
    if needs_device {
        return Ok(());
    }
    let value = match decode_register(r, words) {
        Ok(value) => value,
        // A sentinel ("not available") or text that does not decode is the device's to judge.
        Err(_) => return Ok(()),
    };
    check_static(r, &value).map_err(|err| WireRefusal::Value {
        register: r.name.clone(),
        value: value.to_string(),
        problem: match err {
            crate::WriteError::OutOfRange {
                problem, allowed, ..
            } => format!("{problem} (allowed: {allowed})"),
            other => other.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> DeviceMap {
        crate::parse_map(
            "demo",
            r#"
manufacturer: Demo
model: Charger
connection: {unit_ids: {socket: 1, station: 200}, main_unit: socket, address_base: 0}
registers:
  - {name: max_current, address: 1210, type: float32, access: rw, unit: A, write: {min: 0, max: 32}, example: 16}
  - {name: phases, address: 1215, type: uint16, access: rw, enum: {1: one, 3: three}, example: 3}
  - {name: voltage, address: 306, type: float32, unit: V, example: 230}
  - {name: station_limit, unit_id: station, address: 1100, type: uint16, access: rw, example: 32}
"#,
        )
        .unwrap()
    }

    fn words(value: f32) -> [u16; 2] {
        let bits = value.to_bits();
        [(bits >> 16) as u16, bits as u16]
    }

    #[test]
    fn writes_inside_the_rules_pass() {
        let map = map();
        let units = map.units();
        assert_eq!(
            map.check_wire_write(&units, 1, Table::Holding, 1210, &words(10.0)),
            Ok(())
        );
        assert_eq!(
            map.check_wire_write(&units, 1, Table::Holding, 1215, &[1]),
            Ok(())
        );
        assert_eq!(
            map.check_wire_write(&units, 200, Table::Holding, 1100, &[16]),
            Ok(())
        );
        // An unknown unit is another device of the main role.
        assert_eq!(
            map.check_wire_write(&units, 7, Table::Holding, 1215, &[3]),
            Ok(())
        );
    }

    #[test]
    fn refusals_name_address_or_value() {
        let map = map();
        let units = map.units();
        let refused = |unit, address, w: &[u16]| {
            map.check_wire_write(&units, unit, Table::Holding, address, w)
                .unwrap_err()
        };
        let read_only = refused(1, 306, &[0, 0]);
        assert_eq!(read_only.exception_code(), 2);
        assert!(matches!(
            read_only,
            WireRefusal::NotWritable { address: 306, .. }
        ));
        assert_eq!(refused(1, 1212, &[0]).exception_code(), 2);
        // The station's register is not the socket's.
        assert_eq!(refused(1, 1100, &[16]).exception_code(), 2);
        let partial = refused(1, 1211, &[0]);
        assert!(matches!(partial, WireRefusal::Partial { .. }), "{partial}");
        let over = refused(1, 1210, &words(40.0));
        assert_eq!(over.exception_code(), 3);
        assert!(over.to_string().contains("above the maximum 32"), "{over}");
        let not_enum = refused(1, 1215, &[2]);
        assert_eq!(not_enum.exception_code(), 3);
        assert!(not_enum.to_string().contains("enumeration"), "{not_enum}");
        // Running off the end of a writable register into nothing.
        assert_eq!(refused(1, 1215, &[3, 0]).exception_code(), 2);
    }
}
