//! `cargo xtask schema`: the JSON Schema of the device map format, committed as
//! `docs/device-map.schema.json` so editors validate maps while users type.
//!
//! The schema is generated from device-maps' own serde types, so it cannot drift from what the
//! loader accepts; the test below fails when the committed file is stale.

use std::path::Path;

/// Where the schema is committed, relative to the workspace root.
pub(crate) const SCHEMA_PATH: &str = "docs/device-map.schema.json";

/// Writes the schema (or, with `check`, fails when the committed one differs).
pub(crate) fn generate(root: &Path, check: bool) -> anyhow::Result<()> {
    let text = device_maps::json_schema();
    crate::ensure_file_contents(&root.join(SCHEMA_PATH), &text, check, "cargo xtask schema")
}

#[cfg(test)]
mod tests {
    #[test]
    fn committed_schema_is_current() {
        super::generate(&crate::project_root(), true).unwrap_or_else(|e| panic!("{e:#}"));
    }
}
