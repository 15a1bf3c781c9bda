//! `evctl`: the command line over the evctl libraries.
//!
//! The binary parses arguments, builds a configuration, calls the library crates and prints.
//! It holds no protocol logic: everything it does, another program can do with the libraries.
//! Exit status: 0 on success, 1 for a device or network failure, 2 for usage or configuration.

mod em;

use clap::Parser;

/// Read, control and integrate EV chargers, energy meters and home batteries.
#[derive(Debug, Parser)]
#[command(name = "evctl", version)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
