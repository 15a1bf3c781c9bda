//! The commands, one module each. Every command resolves its target through the site config and
//! the map registry, then calls the library crates; none of them speaks Modbus itself.

pub mod completions;
pub mod describe;
pub mod identify;
pub mod list;
pub mod poll;
pub mod proxy;
pub mod read;
pub mod scan;
pub mod serve;
pub mod simulate;
pub mod write;

use std::io::Write as _;
use std::process::ExitCode;

use crate::cli::{Command, Format, GlobalArgs};
use crate::target::Env;

/// Runs a command that needs the async runtime (and the site config and maps).
pub async fn run_async(global: GlobalArgs, command: Command) -> anyhow::Result<ExitCode> {
    // These need neither the site config nor any map.
    let command = match command {
        Command::Em(args) => return crate::em::run(args).await,
        Command::Completions(args) => return completions::run(&args),
        Command::Man(args) => return completions::man(&args),
        Command::Serve(args) => return serve::run(&global, &args).await,
        other => other,
    };
    let env = Env::load(&global)?;
    match command {
        Command::List(args) => list::run(&env, &args),
        Command::Describe(args) => describe::run(&env, &args),
        Command::Read(args) => read::run(&env, &args).await,
        Command::Write(args) => write::run(&env, &args).await,
        Command::Call(args) => write::call(&env, &args).await,
        Command::Poll(args) => poll::run(&env, &args).await,
        Command::Simulate(args) => simulate::run(&env, &args).await,
        Command::Identify(args) => identify::run(&env, &args).await,
        Command::Scan(args) => scan::run(&env, &args).await,
        Command::Proxy(args) => proxy::run(&global, &env, &args).await,
        Command::Em(_) | Command::Completions(_) | Command::Man(_) | Command::Serve(_) => {
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Writes `text` to stdout in one go.
pub fn print(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// The library's format for a command-line format.
pub fn output_format(format: Format) -> outputs::Format {
    match format {
        Format::Human => outputs::Format::Human,
        Format::Json => outputs::Format::Json,
        Format::Prometheus => outputs::Format::Prometheus,
        Format::Influx => outputs::Format::Influx,
    }
}

/// A future that completes on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed here, at
/// once, so a signal that arrives before the future is first polled is not lost.
pub fn interrupted() -> anyhow::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
