//! The project's own rules, checked over the files of the workspace.
//!
//! Each rule returns a list of human-readable problems naming the file at fault. The `#[test]`
//! at the bottom makes `cargo test` fail when any rule is broken.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Where each workspace crate sits in the layering of `ARCHITECTURE.md`. A crate may depend
/// (as a normal dependency) only on crates of a strictly lower layer. A crate missing from this
/// table is itself a problem: a new crate must be placed in the layering on purpose.
const LAYERS: &[(&str, u8)] = &[
    ("modbus-core", 0),
    ("device-maps", 1),
    ("emproto", 1),
    ("givenergy-dongle", 1),
    ("outputs", 2),
    ("modbus-client", 2),
    ("simulator", 3),
    ("modbus-proxy", 3),
    ("service", 4),
    ("evctl", 5),
];

/// Crates that open sockets or run an async runtime. The lowest layers must stay free of them.
const IO_CRATES: &[&str] = &[
    "tokio",
    "tokio-modbus",
    "tokio-util",
    "mio",
    "socket2",
    "async-std",
    "smol",
    "hyper",
    "reqwest",
    "axum",
    "rumqttc",
    "tokio-serial",
];

/// Crates that must never depend on [`IO_CRATES`] at all, not even behind a feature.
const PURE_CRATES: &[&str] = &["modbus-core", "device-maps"];

/// Crates allowed to parse command lines.
const CLI_CRATES: &[&str] = &["evctl", "xtask"];

/// Runs every rule over the workspace at `root` and returns the problems found.
pub(crate) fn check(root: &Path) -> anyhow::Result<Vec<String>> {
    let crates = workspace_crates(root)?;
    let mut problems = Vec::new();
    for krate in &crates {
        problems.extend(check_essay(krate));
        problems.extend(check_dependencies(krate));
    }
    Ok(problems)
}

struct Crate {
    name: String,
    dir: PathBuf,
    manifest: toml::Table,
}

impl Crate {
    /// Names of the dependencies in one dependency table (`dependencies`, `dev-dependencies`, ...),
    /// including target-specific tables.
    fn deps(&self, table: &str) -> Vec<String> {
        let mut names = Vec::new();
        let mut collect = |t: &toml::Table| {
            if let Some(deps) = t.get(table).and_then(|d| d.as_table()) {
                for (key, value) in deps {
                    let name = value
                        .get("package")
                        .and_then(|p| p.as_str())
                        .unwrap_or(key)
                        .to_owned();
                    names.push(name);
                }
            }
        };
        collect(&self.manifest);
        if let Some(targets) = self.manifest.get("target").and_then(|t| t.as_table()) {
            for cfg in targets.values().filter_map(|v| v.as_table()) {
                collect(cfg);
            }
        }
        names
    }
}

fn workspace_crates(root: &Path) -> anyhow::Result<Vec<Crate>> {
    let mut crates = Vec::new();
    let crates_dir = root.join("crates");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&crates_dir)
        .with_context(|| format!("reading {}", crates_dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        let path = dir.join("Cargo.toml");
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let manifest: toml::Table =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let name = manifest
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
            .with_context(|| format!("{} has no package name", path.display()))?
            .to_owned();
        crates.push(Crate {
            name,
            dir,
            manifest,
        });
    }
    Ok(crates)
}

/// Every library crate's `lib.rs` (and every binary-only crate's `main.rs`) opens with a `//!`
/// essay of at least a few lines.
fn check_essay(krate: &Crate) -> Vec<String> {
    let lib = krate.dir.join("src/lib.rs");
    let main = krate.dir.join("src/main.rs");
    let entry = if lib.is_file() { lib } else { main };
    let Ok(text) = fs::read_to_string(&entry) else {
        return vec![format!("{}: no src/lib.rs or src/main.rs", krate.name)];
    };
    let essay_lines = text
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .filter(|l| l.trim_start_matches("//!").trim().len() > 1)
        .count();
    let first = text.lines().next().unwrap_or_default();
    if !first.starts_with("//!") {
        vec![format!(
            "{}: must open with a `//!` essay on the crate's role",
            entry.display()
        )]
    } else if essay_lines < 3 {
        vec![format!(
            "{}: the opening `//!` essay has {essay_lines} line(s) of text; write at least three",
            entry.display()
        )]
    } else {
        Vec::new()
    }
}

fn layer_of(name: &str) -> Option<u8> {
    LAYERS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
}

/// Dependencies point down the layers; pure crates stay free of I/O; only the CLI parses
/// arguments.
fn check_dependencies(krate: &Crate) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(layer) = layer_of(&krate.name) else {
        return vec![format!(
            "crate `{}` is not placed in xtask's LAYERS table; add it with its layer and describe it in ARCHITECTURE.md",
            krate.name
        )];
    };
    let normal = krate.deps("dependencies");
    let build = krate.deps("build-dependencies");
    for dep in normal.iter().chain(&build) {
        if let Some(dep_layer) = layer_of(dep)
            && dep_layer >= layer
        {
            problems.push(format!(
                "crate `{}` (layer {layer}) depends on `{dep}` (layer {dep_layer}); dependencies must point to lower layers",
                krate.name
            ));
        }
        if PURE_CRATES.contains(&krate.name.as_str()) && IO_CRATES.contains(&dep.as_str()) {
            problems.push(format!(
                "crate `{}` must never do I/O, but depends on `{dep}`",
                krate.name
            ));
        }
        if dep == "clap" && !CLI_CRATES.contains(&krate.name.as_str()) {
            problems.push(format!(
                "crate `{}` depends on clap; only the evctl binary parses command lines",
                krate.name
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_rules_hold() {
        let problems = check(&crate::project_root()).expect("workspace is readable");
        assert!(
            problems.is_empty(),
            "tidy rules broken:\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn layering_rule_catches_an_upward_dependency() {
        let manifest: toml::Table = toml::from_str(
            "[package]\nname = \"modbus-core\"\n[dependencies]\ndevice-maps = \"0.1\"\ntokio = \"1\"\nclap = \"4\"\n",
        )
        .unwrap();
        let krate = Crate {
            name: "modbus-core".into(),
            dir: PathBuf::new(),
            manifest,
        };
        let problems = check_dependencies(&krate);
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn essay_rule_catches_a_missing_essay() {
        let dir = std::env::temp_dir().join(format!("xtask-essay-{}", std::process::id()));
        fs::create_dir_all(dir.join("src")).unwrap();
        fs::write(dir.join("src/lib.rs"), "pub fn f() {}\n").unwrap();
        let krate = Crate {
            name: "x".into(),
            dir: dir.clone(),
            manifest: toml::Table::new(),
        };
        assert_eq!(check_essay(&krate).len(), 1);
        fs::remove_dir_all(dir).unwrap();
    }
}
