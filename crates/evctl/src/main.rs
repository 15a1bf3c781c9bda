//! `evctl`: the command line over the evctl libraries.
//!
//! The binary parses arguments ([`cli`]), builds a configuration from the site file and the flags
//! ([`config`], [`target`]), calls the library crates and prints ([`commands`]). It holds no
//! protocol logic: everything it does, another program can do with the libraries.
//!
//! `main` only maps the outcome of `run` to an exit status, as ripgrep's does: 0 on success, 1 for
//! a device or network failure, 2 for a usage or configuration error (clap's own usage errors
//! included). Errors print as `error: ...`, then one `  caused by: ...` per link of the chain and
//! a `  hint:` when there is something to try ([`report`]).
//!
//! Start-up is kept cheap because people run `evctl read` from cron and scripts: a current-thread
//! tokio runtime, and device maps parsed only when a command asks for them.

mod cli;
mod commands;
mod config;
mod device;
mod em;
mod maps;
mod report;
mod target;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::Cli;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // Help and version go to stdout and exit 0; usage errors go to stderr and exit 2.
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(report::USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // `evctl serve` sets up its own logging (level from its config, EVCTL_LOG or RUST_LOG).
    if !matches!(cli.command, cli::Command::Serve(_)) {
        init_logging(cli.global.verbose);
    }
    match run(cli) {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            report::print(&err);
            report::exit_code(&err)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // One thread is plenty for one device, and starts faster than a pool.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(commands::run_async(cli.global, cli.command))
}

/// Logs go to stderr; the default shows warnings only, so stdout stays clean for pipes.
fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}

/// `evctl read ... | head` must not report an error when `head` exits.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
