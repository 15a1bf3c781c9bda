//! The SunSpec model definitions evctl knows, from `devices/sunspec/model_<id>.yaml`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// One model: the points of its fixed block, and the repeating group, if any.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelDef {
    /// The model id.
    pub id: u16,
    /// The register-name prefix of its points (`inverter` for `inverter_W`).
    pub prefix: String,
    /// SunSpec's name of the model.
    pub name: String,
    /// SunSpec's label.
    pub label: String,
    /// Registers of the fixed block, after the header.
    pub length: u16,
    /// The fixed block, in order.
    pub points: Vec<PointDef>,
    /// The repeating group that follows the fixed block.
    #[serde(default)]
    pub repeating: Option<GroupDef>,
}

/// A repeating group (MPPT modules of model 160).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDef {
    /// SunSpec's name of the group.
    pub name: String,
    /// Registers of one repetition.
    pub length: u16,
    /// Its points, in order.
    pub points: Vec<PointDef>,
}

/// One point (register or run of registers).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointDef {
    /// The point name (`W`, `W_SF`, `Mn`).
    pub name: String,
    /// The SunSpec type (`int16`, `acc32`, `sunssf`, `string`, `pad`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Registers.
    pub size: u16,
    /// The scale-factor point, or a fixed power of ten.
    #[serde(default)]
    pub sf: Option<String>,
    /// SunSpec's unit.
    #[serde(default)]
    pub units: Option<String>,
    /// `rw` for writable points.
    #[serde(default)]
    pub access: Option<String>,
    /// SunSpec's label.
    #[serde(default)]
    pub label: Option<String>,
    /// Names of enumeration values or bits.
    #[serde(default)]
    pub symbols: BTreeMap<u64, String>,
}

/// Every model definition, by id.
pub fn models() -> &'static [ModelDef] {
    static MODELS: OnceLock<Vec<ModelDef>> = OnceLock::new();
    MODELS.get_or_init(|| {
        let mut out: Vec<ModelDef> = crate::registry::sunspec_model_files()
            .iter()
            .map(|(path, text)| {
                // Compiled-in data; the crate's tests parse every file.
                serde_yaml::from_str(text)
                    .unwrap_or_else(|e| panic!("built-in SunSpec model {path} is broken: {e}"))
            })
            .collect();
        out.sort_by_key(|m| m.id);
        out
    })
}

/// The definition of model `id`, if evctl has one.
pub fn model(id: u16) -> Option<&'static ModelDef> {
    models().iter().find(|m| m.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_parses_and_its_points_fill_its_length() {
        let ids: Vec<u16> = models().iter().map(|m| m.id).collect();
        for id in [
            1, 101, 102, 103, 111, 112, 113, 120, 121, 122, 123, 124, 160, 201, 202, 203, 204, 802,
        ] {
            assert!(ids.contains(&id), "model {id} missing: {ids:?}");
        }
        for m in models() {
            let sum: u16 = m.points.iter().map(|p| p.size).sum();
            assert_eq!(sum, m.length, "model {}", m.id);
            if let Some(g) = &m.repeating {
                let sum: u16 = g.points.iter().map(|p| p.size).sum();
                assert_eq!(sum, g.length, "model {} group", m.id);
            }
        }
    }
}
