//! `evctl proxy`: serve Modbus TCP to many clients and forward to devices over one connection
//! each, until SIGINT or SIGTERM.
//!
//! Everything is in the modbus-proxy library; the site config's `proxy:` section is read by the
//! service crate. This command merges the flags over that section (or builds one from the
//! flags alone), starts the proxy and prints `listening on ADDR` as its first line on stdout.

use std::num::NonZeroU32;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use modbus_proxy::{CachePolicy, Proxy};
use service::SiteConfig;
use service::proxy::ProxyConfig;

use crate::cli::{GlobalArgs, parse_duration, parse_positive_duration};
use crate::report::{Usage, usage};
use crate::target::Env;

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Upstream devices, [UNITS=]URL: URL is tcp://HOST[:PORT], rtu+tcp://HOST[:PORT] or
    /// serial:///dev/PATH[?baud=N]; UNITS is *, N, N-M or a list (1,3,5-7); without UNITS the
    /// upstream takes every unit no other one names (default: the site config's proxy section)
    #[arg(value_name = "UPSTREAM")]
    pub upstreams: Vec<String>,

    /// Another route, UNITS=URL, as an UPSTREAM argument; repeatable
    #[arg(long = "route", value_name = "UNITS=URL")]
    pub routes: Vec<String>,

    /// Address clients connect to (default: the site config's proxy.listen, else
    /// 127.0.0.1:5502; port 0 picks a free port)
    #[arg(long, short = 'l', value_name = "ADDR")]
    pub listen: Option<String>,

    /// Device map of the upstream: writes outside its writable registers, ranges and
    /// enumerations are refused (exception 2 or 3), and its pacing, timeout and retries apply
    #[arg(long, value_name = "MAP")]
    pub map: Option<String>,

    /// Unit ids of the map's roles, N for the main role or ROLE=N, for checking writes;
    /// repeatable
    #[arg(long, short = 'u', value_name = "N|ROLE=N", requires = "map")]
    pub unit: Vec<String>,

    /// Refuse every write (exception 1, illegal function)
    #[arg(long)]
    pub read_only: bool,

    /// Answer repeated reads from a cache, with a max age per table, e.g. input=1s,holding=10s
    /// (tables: input, holding, coil, discrete); a write invalidates what it overlaps
    #[arg(long, value_name = "TABLE=DURATION,...", value_parser = parse_cache)]
    pub cache: Option<CachePolicy>,

    /// Serve Prometheus metrics at http://ADDR/metrics
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,

    /// Most client connections open at once (default 64)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_clients: Option<u64>,

    /// Most connections open at once from one client address (default 8)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_client_connections: Option<u64>,

    /// Most requests per second from one client address; more are answered "server device
    /// busy" (default: no limit)
    #[arg(long, value_name = "N")]
    pub rate: Option<NonZeroU32>,

    /// Disconnect a client silent this long (default 5m)
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    pub idle_timeout: Option<Duration>,

    /// Time allowed for each upstream request (default: the map's, else 3s)
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    pub timeout: Option<Duration>,

    /// Extra attempts after a failed upstream request (default: 2)
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,

    /// Least time between the starts of two upstream requests (default: the map's, else 0)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub pacing: Option<Duration>,
}

fn parse_cache(text: &str) -> Result<CachePolicy, String> {
    text.parse()
        .map_err(|e: modbus_proxy::CachePolicyError| e.to_string())
}

pub async fn run(global: &GlobalArgs, env: &Env, args: &ProxyArgs) -> anyhow::Result<ExitCode> {
    let routes: Vec<String> = args.upstreams.iter().chain(&args.routes).cloned().collect();
    let (mut section, site) = if routes.is_empty() {
        let Some(path) = crate::config::site_path(global.config.as_deref()) else {
            return Err(usage(
                "evctl proxy needs an upstream (e.g. tcp://192.168.1.40:502) or a site config \
                 with a proxy: section",
            ));
        };
        let site = SiteConfig::load(&path).map_err(|e| {
            anyhow::Error::new(e).context(Usage("the site config is not valid".to_owned()))
        })?;
        let Some(section) = site.proxy.clone() else {
            return Err(usage(format!(
                "no upstream given and {} has no proxy: section",
                path.display()
            )));
        };
        (section, site)
    } else {
        let section = ProxyConfig {
            routes,
            ..ProxyConfig::default()
        };
        (section, SiteConfig::default())
    };
    if args.listen.is_some() {
        section.listen.clone_from(&args.listen);
    }
    if args.map.is_some() {
        section.map.clone_from(&args.map);
    }
    if args.metrics.is_some() {
        section.metrics.clone_from(&args.metrics);
    }
    section.read_only |= args.read_only;
    section.max_clients = args.max_clients.map(|n| n as usize).or(section.max_clients);
    section.max_client_connections = args
        .max_client_connections
        .map(|n| n as usize)
        .or(section.max_client_connections);
    section.rate = args.rate.or(section.rate);
    section.idle_timeout = args.idle_timeout.or(section.idle_timeout);
    section.timeout = args.timeout.or(section.timeout);
    section.retries = args.retries.or(section.retries);
    let mut options = section
        .options(&site, |id| env.maps.find(id))
        .map_err(|e| anyhow::Error::new(e).context(Usage("cannot set up the proxy".to_owned())))?;
    if let Some(cache) = args.cache {
        options.cache = cache;
    }
    if let Some(pacing) = args.pacing {
        options.client_options.pacing = pacing;
    }
    if let Some(guard) = &mut options.guard {
        for value in &args.unit {
            guard
                .units
                .apply(value)
                .with_context(|| Usage(format!("--unit {value}")))?;
        }
    }
    let interrupted = crate::commands::interrupted()?;
    let handle = Proxy::start(options, &modbus_client::Pool::new())
        .await
        .context("cannot start the proxy")?;
    let mut banner = format!("listening on {}\n", handle.local_addr());
    if let Some(metrics) = handle.metrics_addr() {
        banner.push_str(&format!("metrics on http://{metrics}/metrics\n"));
    }
    crate::commands::print(&banner)?;
    interrupted.await;
    handle.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
