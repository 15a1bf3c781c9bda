//! Embeds every `devices/*.yaml` of the workspace into the library, so the built-in maps need
//! no files at run time and a new map file is picked up by the next build; and the SunSpec model
//! definitions of `devices/sunspec/model_*.yaml`, which a walked SunSpec chain is expanded with.

use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

fn main() {
    let manifest = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let devices = Path::new(&manifest).join("../../devices");
    let mut out = String::new();
    embed(
        &mut out,
        "Built-in maps",
        "BUILT_IN",
        &devices,
        "devices",
        |name| name.ends_with(".yaml") || name.ends_with(".yml"),
    );
    embed(
        &mut out,
        "SunSpec model definitions",
        "SUNSPEC_MODELS",
        &devices.join("sunspec"),
        "devices/sunspec",
        |name| name.starts_with("model_") && name.ends_with(".yaml"),
    );
    let dest = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("built_in.rs");
    fs::write(dest, out).expect("OUT_DIR is writable");
}

/// Writes `static NAME: &[(path, text)]` with every file of `dir` that `wanted` accepts, in
/// name order, each named `prefix/<file>`.
fn embed(
    out: &mut String,
    what: &str,
    name: &str,
    dir: &Path,
    prefix: &str,
    wanted: impl Fn(&str) -> bool,
) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file() && p.file_name().is_some_and(|n| wanted(&n.to_string_lossy()))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let _ = writeln!(
        out,
        "/// {what}: (file name relative to the workspace, text).\n\
         pub(crate) static {name}: &[(&str, &str)] = &["
    );
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let file_name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let absolute = fs::canonicalize(file).unwrap_or_else(|_| file.clone());
        let _ = writeln!(
            out,
            "    ({:?}, include_str!({:?})),",
            format!("{prefix}/{file_name}"),
            absolute.display().to_string()
        );
    }
    out.push_str("];\n");
}
