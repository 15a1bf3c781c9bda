//! SunSpec: one map for every SunSpec device, whatever chain of models it announces.
//!
//! A SunSpec device holds the marker `SunS` at a base address (40000, else 0 or 50000) and
//! then a chain of models, each a header (model id, length) and `length` registers, until the
//! id 0xFFFF. The standard's model definitions ([`models`], generated into
//! `devices/sunspec/model_<id>.yaml` by `cargo xtask sunspec-models` from SunSpec's published
//! JSON) say what each register of a model means. A map with a `sunspec:` block names an
//! example chain (what the simulator serves and `describe` shows); at run time [`walk`] reads
//! the device's real chain and [`crate::DeviceMap::with_sunspec_chain`] expands the map for it,
//! so every register has its real address and scale factor.

mod error;
mod models;
mod walk;

pub use error::WalkError;
pub use models::{GroupDef, ModelDef, PointDef, model, models};
pub use walk::{DEFAULT_BASES, MAX_MODELS, walk};

use std::fmt;
use std::sync::Arc;

/// The `SunS` marker as two registers.
pub const MARKER: [u16; 2] = [0x5375, 0x6E53];

/// The id that ends a chain.
pub const END_ID: u16 = 0xFFFF;

/// One model of a chain as the device announces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainModel {
    /// The model id.
    pub id: u16,
    /// Its length in registers, after the two header registers.
    pub length: u16,
    /// The wire address of its id register.
    pub address: u16,
}

/// A device's chain of models from its base address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// The wire address of the `SunS` marker.
    pub base: u16,
    /// The models in the device's order.
    pub models: Vec<ChainModel>,
}

impl Chain {
    /// The chain of `(id, length)` models from `base`, with each model's address; `None` when
    /// it would run beyond the last register address.
    pub fn new(base: u16, models: &[(u16, u16)]) -> Option<Chain> {
        let mut address = u32::from(base) + 2;
        let mut out = Vec::with_capacity(models.len());
        for &(id, length) in models {
            out.push(ChainModel {
                id,
                length,
                address: u16::try_from(address).ok()?,
            });
            address += 2 + u32::from(length);
        }
        // The end marker needs two more registers.
        u16::try_from(address + 1).ok()?;
        Some(Chain { base, models: out })
    }

    /// The wire address of the end marker.
    pub fn end_address(&self) -> u16 {
        self.models
            .last()
            .map(|m| m.address + 2 + m.length)
            .unwrap_or(self.base + 2)
    }
}

impl Chain {
    /// The chain as a map's `sunspec:` block would write it (`{base: 40000, models: [1, 103,
    /// {id: 160, repeats: 2}, {id: 64001, length: 12}]}`): a model at its definition's length
    /// by id alone, MPPT modules as repeats, any other length given.
    pub fn to_yaml(&self) -> String {
        let models: Vec<String> = self
            .models
            .iter()
            .map(|m| match model(m.id) {
                Some(def) if def.repeating.is_none() && def.length == m.length => m.id.to_string(),
                Some(def) => match &def.repeating {
                    Some(g)
                        if g.length > 0
                            && m.length >= def.length
                            && (m.length - def.length) % g.length == 0 =>
                    {
                        format!(
                            "{{id: {}, repeats: {}}}",
                            m.id,
                            (m.length - def.length) / g.length
                        )
                    }
                    _ => format!("{{id: {}, length: {}}}", m.id, m.length),
                },
                None => format!("{{id: {}, length: {}}}", m.id, m.length),
            })
            .collect();
        format!("{{base: {}, models: [{}]}}", self.base, models.join(", "))
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "base {}:", self.base)?;
        for (i, m) in self.models.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            match model(m.id) {
                Some(def) => write!(f, "{sep}{} {} ({})", m.id, def.name, m.length)?,
                None => write!(f, "{sep}{} ({}, no definition)", m.id, m.length)?,
            }
        }
        if self.models.is_empty() {
            f.write_str(" no models")?;
        }
        Ok(())
    }
}

/// What a map's `sunspec:` block becomes: where to look for the marker, the chain the map was
/// expanded for, and what is needed to expand it again for another chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Sunspec {
    /// The base addresses to try, in order.
    pub bases: Vec<u16>,
    /// The chain the map's registers stand for (the example chain, or a walked one).
    pub chain: Chain,
    /// Whether `chain` was walked on a device (not the map's example).
    pub walked: bool,
    /// How many of the map's checks the file wrote (they come first); the others are the
    /// chain's model headers (`inverter_ID` equals 103, `inverter_L` equals 50), which every
    /// verified read checks so a device with another chain is refused, and which
    /// identification leaves out.
    pub written_checks: usize,
    pub(crate) text: Arc<str>,
    pub(crate) file: Arc<str>,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::{MemoryDevice, block_on, parse_map};

    const TWICE: &str = r#"
manufacturer: Test
model: Two meters and two vendor models
connection: {unit_ids: {device: 1}, address_base: 0, span_gaps: false, max_registers: 125}
defaults: {table: holding}
registers: []
sunspec:
  models: [1, {id: 64001, length: 4}, {id: 64001, length: 4}, 203, 203]
  examples: {meter_W: 1200, meter_2_W: -300}
"#;

    #[test]
    fn repeated_models_get_numbered_prefixes_and_a_walked_map_reads_back() {
        let map = Arc::new(parse_map("twice", TWICE).expect("map"));
        for name in [
            "model_64001_ID",
            "model_64001_2_ID",
            "meter_W",
            "meter_2_W",
            "end_ID",
        ] {
            assert!(map.register(name).is_some(), "{name}");
        }
        let mut device = MemoryDevice::with_examples(&map).strict();
        let chain = block_on(super::walk(&mut device, 1, &super::DEFAULT_BASES)).expect("walk");
        assert_eq!(chain, map.sunspec.as_ref().expect("sunspec").chain);
        assert_eq!(
            chain.to_yaml(),
            "{base: 40000, models: [1, {id: 64001, length: 4}, {id: 64001, length: 4}, 203, 203]}"
        );
        let walked = Arc::new(
            map.with_sunspec_chain(&chain)
                .expect("sunspec")
                .expect("loads"),
        );
        assert!(walked.sunspec.as_ref().is_some_and(|s| s.walked));
        // A walked chain may end by a refused header: the end marker is not read.
        assert!(walked.register("end_ID").is_none());
        let plan = walked.plan_read(&walked.select::<&str>(&[]).expect("all"), &walked.units());
        let snapshot = block_on(plan.expect("plan").execute(&mut device));
        assert_eq!(
            snapshot.value("meter_2_W").and_then(|v| v.as_f64()),
            Some(-300.0)
        );
    }
}
