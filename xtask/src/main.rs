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
        "help" | "--help" | "-h" => {
            println!("usage: cargo xtask <tidy>");
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
