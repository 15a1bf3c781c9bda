//! `evctl serve`: poll every device of the site config and serve the readings (HTTP API with
//! Prometheus metrics, InfluxDB, MQTT), until SIGINT or SIGTERM.
//!
//! Everything is in the `service` library; this command finds the config and the maps the way
//! every other command does, sets up logging, starts the site and waits for a signal.

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use service::{Shard, SiteConfig};

use crate::cli::GlobalArgs;
use crate::maps::MapFolders;
use crate::report::{Usage, usage};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address for the HTTP API (overrides http.listen; default 127.0.0.1:6345)
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    /// Serve only this part of the site: the devices rendezvous hashing gives to INDEX of COUNT
    /// shards (overrides the config's shard section), e.g. --shard 0/3; `auto`: the index from
    /// EVCTL_SHARD_INDEX or the host name's trailing number, the count from EVCTL_SHARD_COUNT
    #[arg(long, value_name = "INDEX/COUNT|auto", value_parser = Shard::parse)]
    pub shard: Option<Shard>,

    /// Check the config, maps and secret files, list the devices this process would serve, and
    /// exit
    #[arg(long)]
    pub check: bool,
}

pub async fn run(global: &GlobalArgs, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let Some(path) = crate::config::site_path(global.config.as_deref()) else {
        return Err(usage(
            "evctl serve needs a site config: give --config FILE (or EVCTL_CONFIG, or \
             create ~/.config/evctl/site.yaml)",
        ));
    };
    let mut config = SiteConfig::load(&path).map_err(|e| {
        anyhow::Error::new(e).context(Usage("the site config is not valid".to_owned()))
    })?;
    if let Some(listen) = &args.listen {
        config.http.listen = listen.clone();
    }
    if let Some(shard) = &args.shard {
        config.shard = Some(shard.clone());
    }
    init_logging(global.verbose, config.log.level.as_deref());

    let folders = MapFolders::new(&global.maps, &config.maps)?;
    folders.warn();
    let specs = service::device_specs(&config, |id| {
        folders.find(id).map(|m| m.map(|m| Arc::clone(&m)))
    })
    .map_err(|e| anyhow::Error::new(e).context(Usage("cannot set up the devices".to_owned())))?;
    if specs.is_empty() {
        return Err(usage(format!(
            "no devices to serve: {} names {} device(s), none of them in this shard",
            path.display(),
            config.devices.len()
        )));
    }
    if args.check {
        let mut out = format!(
            "{}: {} of {} device(s) served by this process\n",
            path.display(),
            specs.len(),
            config.devices.len()
        );
        for spec in &specs {
            out.push_str(&format!(
                "  {} ({}) at {}:{} every {}\n",
                spec.id,
                spec.map.id,
                spec.host,
                spec.port.unwrap_or(spec.map.connection.port),
                service::format_duration(spec.interval)
            ));
        }
        crate::commands::print(&out)?;
        // Then every secret file or setting that would stop it, each one, not just the first.
        let mut problems: Vec<anyhow::Error> = Vec::new();
        let http = &config.http;
        if let Err(e) = service::resolve_secret(http.token.as_ref(), http.token_file.as_deref()) {
            problems.push(anyhow::Error::new(e).context("http token"));
        }
        if let Err(e) = service::em::targets(&config) {
            problems.push(anyhow::Error::new(e).context("EVSEMaster chargers"));
        }
        if let Some(influx) = &config.influx
            && let Err(e) = service::influx::Influx::new(influx)
        {
            problems.push(anyhow::Error::new(e).context("influx"));
        }
        if let Some(mqtt) = &config.mqtt
            && let Err(e) =
                service::resolve_secret(mqtt.password.as_ref(), mqtt.password_file.as_deref())
        {
            problems.push(anyhow::Error::new(e).context("mqtt password"));
        }
        if problems.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        for problem in &problems {
            crate::report::print(problem);
        }
        return Err(usage(format!(
            "{} problem(s) above: serve would not start with {}",
            problems.len(),
            path.display()
        )));
    }

    let interrupted = crate::commands::interrupted()?;
    let site = service::start_site(&config, specs).await.map_err(|err| {
        // A wrong setting or secret file is a configuration error (exit 2); a taken address
        // or the like is a failure (exit 1).
        let usage = matches!(
            err,
            service::SiteError::Config(_)
                | service::SiteError::Start(_)
                | service::SiteError::Mqtt(_)
        );
        let err = anyhow::Error::new(err);
        if usage {
            err.context(Usage("cannot start serving".to_owned()))
        } else {
            err.context("cannot start serving")
        }
    })?;
    tracing::info!(
        devices = site.service.devices().count(),
        http = %site.http_addr.map(|a| a.to_string()).unwrap_or_else(|| "off".into()),
        influx = config.influx.is_some(),
        mqtt = config.mqtt.is_some(),
        "evctl serve started"
    );
    interrupted.await;
    tracing::info!("stopping");
    site.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Logs to stderr: EVCTL_LOG, else RUST_LOG, else the config's log.level, else -v (debug) or
/// info.
fn init_logging(verbose: u8, configured: Option<&str>) {
    let from_env = ["EVCTL_LOG", "RUST_LOG"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()));
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let spec = from_env
        .or_else(|| configured.map(str::to_owned))
        .unwrap_or_else(|| default.to_owned());
    let filter = tracing_subscriber::EnvFilter::try_new(&spec).unwrap_or_else(|err| {
        eprintln!("warning: log filter `{spec}` is not valid ({err}); using info");
        tracing_subscriber::EnvFilter::new("info")
    });
    // Colours only on a terminal: under systemd the journal stores plain text.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}
