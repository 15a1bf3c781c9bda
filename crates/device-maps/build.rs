//! Embeds every `devices/*.yaml` of the workspace into the library, so the built-in maps need
//! no files at run time and a new map file is picked up by the next build; and the SunSpec model
//! definitions of `devices/sunspec/model_*.yaml`, which a walked SunSpec chain is expanded with.

use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

fn main() {
    let manifest = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let devices = Path::new(&manifest).join("../../devices");
    println!("cargo:rerun-if-changed={}", devices.display());
    let mut files: Vec<_> = fs::read_dir(&devices)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut out = String::from(
        "/// Built-in maps: (file name relative to the workspace, text).\n\
         pub(crate) static BUILT_IN: &[(&str, &str)] = &[\n",
    );
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let absolute = fs::canonicalize(file).unwrap_or_else(|_| file.clone());
        let _ = writeln!(
            out,
            "    ({:?}, include_str!({:?})),",
            format!("devices/{name}"),
            absolute.display().to_string()
        );
    }
    out.push_str("];\n");
    let sunspec = devices.join("sunspec");
    println!("cargo:rerun-if-changed={}", sunspec.display());
    let mut models: Vec<_> = fs::read_dir(&sunspec)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.extension().is_some_and(|x| x == "yaml")
                        && p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("model_"))
                })
                .collect()
        })
        .unwrap_or_default();
    models.sort();
    out.push_str(
        "/// SunSpec model definitions: (file name relative to the workspace, text).\n\
         pub(crate) static SUNSPEC_MODELS: &[(&str, &str)] = &[\n",
    );
    for file in &models {
        println!("cargo:rerun-if-changed={}", file.display());
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let absolute = fs::canonicalize(file).unwrap_or_else(|_| file.clone());
        let _ = writeln!(
            out,
            "    ({:?}, include_str!({:?})),",
            format!("devices/sunspec/{name}"),
            absolute.display().to_string()
        );
    }
    out.push_str("];\n");
    let dest = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("built_in.rs");
    fs::write(dest, out).expect("OUT_DIR is writable");
}
