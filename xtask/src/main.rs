//! Project automation, in Rust, run as `cargo xtask <command>`.
//!
//! This is the cargo-xtask pattern: the alias in `.cargo/config.toml` runs this binary, so the
//! project's chores need nothing but cargo. The rules the project holds itself to (every crate
//! opens with an essay, dependencies point down the layers of `ARCHITECTURE.md`, only the CLI
//! parses arguments) live in [`tidy`] as `#[test]`s, so a plain `cargo test` enforces them.
//!
//! Commands:
//!
//! - `cargo xtask tidy`: run the project rules and print every violation.
//! - `cargo xtask schema [--check]`: write `docs/device-map.schema.json`, the JSON Schema of
//!   the device map format.
//! - `cargo xtask docs [--check]`: write `docs/devices/<id>.md`, one page per built-in map.
//! - `cargo xtask fuzz [TARGET...] [--time S] [--runs N] [--list]`: run the libFuzzer targets
//!   with cargo-fuzz on the stable toolchain (see [`fuzz`]).
//! - `cargo xtask sunspec-models CHECKOUT [COMMIT]`: write `devices/sunspec/model_<id>.yaml`
//!   from a checkout of SunSpec's published model definitions (see [`sunspec`]).
//!
//! Generated files are committed; `#[test]`s fail when they are stale.

mod docs;
mod fuzz;
mod schema;
mod sunspec;
mod tidy;

use std::path::{Path, PathBuf};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_else(|| "help".to_owned());
    match command.as_str() {
        "tidy" => {
            let problems = tidy::check(&project_root())?;
            if problems.is_empty() {
                println!("tidy: all rules hold");
                Ok(())
            } else {
                for problem in &problems {
                    eprintln!("tidy: {problem}");
                }
                anyhow::bail!("{} tidy rule(s) broken", problems.len())
            }
        }
        "schema" => schema::generate(&project_root(), args.any(|a| a == "--check")),
        "docs" => docs::generate(&project_root(), args.any(|a| a == "--check")),
        "fuzz" => fuzz::run(&project_root(), &args.collect::<Vec<_>>()),
        "sunspec-models" => sunspec::generate(&project_root(), &args.collect::<Vec<_>>()),
        "help" | "--help" | "-h" => {
            println!(
                "usage: cargo xtask <tidy | schema [--check] | docs [--check] | fuzz [TARGET...] [--time S] [--runs N] [--list] | sunspec-models CHECKOUT [COMMIT]>"
            );
            Ok(())
        }
        other => anyhow::bail!("unknown xtask command `{other}`; try `cargo xtask help`"),
    }
}

/// The workspace root, found from this crate's manifest directory.
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Makes `path` hold `contents`. With `check`, a difference is an error naming the command that
/// regenerates the file; without, the file is rewritten (and the write reported).
pub(crate) fn ensure_file_contents(
    path: &Path,
    contents: &str,
    check: bool,
    command: &str,
) -> anyhow::Result<()> {
    let current = std::fs::read_to_string(path).unwrap_or_default();
    if current == contents {
        return Ok(());
    }
    let shown = path.strip_prefix(project_root()).unwrap_or(path);
    if check {
        anyhow::bail!(
            "{} is stale: run `{command}` and commit the result",
            shown.display()
        );
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, contents)?;
    eprintln!("wrote {}", shown.display());
    Ok(())
}
