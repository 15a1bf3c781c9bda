//! The command line as clap sees it: raw arguments, before any file is read.
//!
//! Turning these into a connection to a device (site config, map lookup, flag overrides) happens
//! in `target.rs`; running them happens in `commands/`.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Read, control and integrate EV chargers, energy meters and home batteries on the local network.
///
/// Devices are described by YAML register maps (built in, or dropped into a folder given with
/// --maps, EVCTL_MAPS or ~/.config/evctl/devices/). A site config (--config, EVCTL_CONFIG or
/// ~/.config/evctl/site.yaml) names devices, so `evctl read garage` works.
///
/// Exit status: 0 on success, 1 for a device or network failure, 2 for a usage or
/// configuration error.
#[derive(Debug, Parser)]
#[command(
    name = "evctl",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Site configuration file naming devices (default: $XDG_CONFIG_HOME/evctl/site.yaml, else
    /// ~/.config/evctl/site.yaml, if present)
    #[arg(long, global = true, env = "EVCTL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Extra folder (or file) of device maps; repeatable. Its maps win over EVCTL_MAPS, the site
    /// config's folders and the built-in maps
    #[arg(long = "maps", global = true, value_name = "DIR")]
    pub maps: Vec<PathBuf>,

    /// More log output on stderr (-v: debug, -vv: trace); RUST_LOG overrides it
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the device maps: built-in and from user folders
    List(ListArgs),
    /// Describe a device map, or one register or action of it
    Describe(DescribeArgs),
    /// Read registers from a device and print them
    Read(ReadArgs),
    /// Write registers of a device (only writable ones, checked before anything is sent)
    Write(WriteArgs),
    /// Run a named action of a device map (several register writes with typed parameters)
    Call(CallArgs),
    /// Read a device at an interval, keeping its heartbeats alive, until Ctrl-C
    Poll(PollArgs),
    /// Serve a map as a simulated device (Modbus TCP, or the GivEnergy dongle framing)
    Simulate(SimulateArgs),
    /// Find which device map fits a device, from the maps' checks
    Identify(IdentifyArgs),
    /// Identify the devices at many addresses (hosts, CIDR blocks, ranges × ports × units)
    Scan(ScanArgs),
    /// EVSEMaster chargers over UDP: discover, log in, watch, configure, start, stop
    Em(crate::em::EmArgs),
    /// Poll every device of the site config; serve HTTP, Prometheus, InfluxDB and MQTT
    Serve(crate::commands::serve::ServeArgs),
    /// Serve Modbus TCP to many clients over one connection per device (routing, coalescing,
    /// caching, write checks)
    Proxy(crate::commands::proxy::ProxyArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
    /// Print the man page (roff) on stdout, or write one page per command into a folder
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct IdentifyArgs {
    /// Host name or IP address of the device
    #[arg(long, short = 'H', value_name = "HOST", value_parser = parse_host)]
    pub host: String,

    /// TCP port (default: 502, or 8899 for the GivEnergy dongle)
    #[arg(long, short = 'p', value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,

    /// Unit id to try every map's main unit at (default: each map's own)
    #[arg(long, short = 'u', value_name = "N")]
    pub unit: Option<u8>,

    /// How the device is reached; only maps of this transport are candidates
    #[arg(long, value_enum, default_value_t = IdentifyTransport::ModbusTcp)]
    pub transport: IdentifyTransport,

    /// Time allowed for each request; a unit that times out is not asked again
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration, default_value = "1s")]
    pub timeout: Duration,

    /// Least time between the starts of two requests (for an RS485 gateway that needs it;
    /// the candidate maps' own pacing is not used, since the device is not known yet)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "0s")]
    pub pacing: Duration,

    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = ListFormat::Human)]
    pub format: ListFormat,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Hosts: names, addresses, CIDR blocks (192.168.1.0/24) or last-octet ranges
    /// (192.168.1.10-20)
    #[arg(required = true, value_name = "HOSTS")]
    pub hosts: Vec<String>,

    /// Ports to try, comma-separated (default: 502, or 8899 for the GivEnergy dongle)
    #[arg(long, value_delimiter = ',', value_name = "PORT,...", value_parser = clap::value_parser!(u16).range(1..))]
    pub ports: Vec<u16>,

    /// Unit ids to try at each port, comma-separated (default: each map's own)
    #[arg(long, value_delimiter = ',', value_name = "N,...")]
    pub units: Vec<u8>,

    /// How the devices are reached; only maps of this transport are candidates
    #[arg(long, value_enum, default_value_t = IdentifyTransport::ModbusTcp)]
    pub transport: IdentifyTransport,

    /// Host:port pairs probed at once
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub concurrency: usize,

    /// Time allowed to connect and for each request, per host
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration, default_value = "1s")]
    pub timeout: Duration,

    /// Least time between the starts of two requests to one host (for RS485 gateways)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "0s")]
    pub pacing: Duration,

    /// Scan more than 1,024 addresses (hosts × ports × units)
    #[arg(long)]
    pub force: bool,

    /// Write a site config naming every device found to this (new) file
    #[arg(long, value_name = "FILE")]
    pub write_config: Option<PathBuf>,

    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = ListFormat::Human)]
    pub format: ListFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IdentifyTransport {
    /// Modbus TCP
    ModbusTcp,
    /// Modbus RTU frames through a transparent TCP gateway
    RtuOverTcp,
    /// The GivEnergy Wi-Fi/Ethernet dongle
    GivenergyDongle,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Human)]
    pub format: ListFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// Map id (see `evctl list`) or a device named in the site config
    pub map: String,
    /// One register or action to describe in detail
    #[arg(value_name = "REGISTER|ACTION")]
    pub register: Option<String>,
}

/// How to reach the device: flags that override the site config and the map's defaults.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Map id (see `evctl list`) or a device named in the site config
    pub target: String,

    /// Host name or IP address of the device
    #[arg(long, short = 'H', value_name = "HOST", value_parser = parse_host)]
    pub host: Option<String>,

    /// TCP port (default: the site config's, else the map's, usually 502)
    #[arg(long, short = 'p', value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,

    /// Modbus unit id of the map's main unit, or ROLE=N for another (e.g. station=201); repeatable
    #[arg(long, short = 'u', value_name = "N|ROLE=N")]
    pub unit: Vec<String>,

    /// Time allowed for each request (e.g. 500ms, 2s; default: the site config's, else the map's)
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    pub timeout: Option<Duration>,

    /// Skip the map's checks of the device (marker, model, product code) and trust its values
    /// as they come; a warning says so (site config: `verify: false`)
    #[arg(long)]
    pub no_verify: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text with units and labels
    Human,
    /// JSON: flat by default, grouped with --nested
    Json,
    /// Prometheus text exposition format
    Prometheus,
    /// InfluxDB line protocol
    Influx,
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Registers or groups to read (default: all)
    #[arg(value_name = "REG|GROUP")]
    pub registers: Vec<String>,

    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Group JSON output by the map's groups
    #[arg(long)]
    pub nested: bool,

    /// Read an in-process simulator of the map on loopback instead of a real device
    #[arg(long, conflicts_with_all = ["host", "port"])]
    pub simulated: bool,
}

#[derive(Debug, Args)]
pub struct WriteArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Registers to write, NAME=VALUE (a number in the register's unit, or an enumeration
    /// label)
    #[arg(value_name = "NAME=VALUE", required = true)]
    pub assignments: Vec<String>,

    /// Keep reading back for up to this long before a write counts as not confirmed (e.g. 5s,
    /// 0 for a single read; default: the map's `write_confirm`, 3s for GivEnergy, else 1s)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub confirm_within: Option<Duration>,

    /// Print the exact Modbus requests and send nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Write to an in-process simulator of the map on loopback instead of a real device
    #[arg(long, conflicts_with_all = ["host", "port"])]
    pub simulated: bool,
}

#[derive(Debug, Args)]
pub struct CallArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Action name (see `evctl describe <map>`)
    pub action: String,

    /// The action's parameters, KEY=VALUE (see `evctl describe <map> <action>`)
    #[arg(value_name = "KEY=VALUE")]
    pub params: Vec<String>,

    /// Keep reading back for up to this long before a write counts as not confirmed (e.g. 5s,
    /// 0 for a single read; default: the map's `write_confirm`, 3s for GivEnergy, else 1s)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub confirm_within: Option<Duration>,

    /// Print the exact Modbus requests and send nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Run against an in-process simulator of the map on loopback instead of a real device
    #[arg(long, conflicts_with_all = ["host", "port"])]
    pub simulated: bool,
}

#[derive(Debug, Args)]
pub struct PollArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Registers or groups to read (default: all)
    #[arg(value_name = "REG|GROUP")]
    pub registers: Vec<String>,

    /// Time between reads (e.g. 500ms, 10s, 1m; default: the device's interval in the site
    /// config, else 10s)
    #[arg(long, short = 'i', value_name = "DURATION", value_parser = parse_positive_duration)]
    pub interval: Option<Duration>,

    /// Stop after this many reads (default: run until Ctrl-C)
    #[arg(long, short = 'n', value_name = "N")]
    pub count: Option<u64>,

    /// Write NAME=VALUE once at the start; heartbeats that refresh it keep it alive (Alfen's
    /// setpoint must be rewritten within its validity time); repeatable
    #[arg(long, value_name = "NAME=VALUE")]
    pub set: Vec<String>,

    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Group JSON output by the map's groups
    #[arg(long)]
    pub nested: bool,

    /// Poll an in-process simulator of the map on loopback instead of a real device
    #[arg(long, conflicts_with_all = ["host", "port"])]
    pub simulated: bool,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Map id to simulate (see `evctl list`)
    pub map: String,

    /// Address to listen on (port 0 picks a free port; the bound address is printed)
    #[arg(
        long,
        short = 'l',
        default_value = "127.0.0.1:5020",
        value_name = "ADDR"
    )]
    pub listen: SocketAddr,

    /// Start values by register name, YAML or JSON (default: the map's example values)
    #[arg(long, value_name = "FILE")]
    pub values: Option<PathBuf>,

    /// Unit ids to serve: N for the map's main unit, or ROLE=N; repeatable
    #[arg(long, short = 'u', value_name = "N|ROLE=N")]
    pub unit: Vec<String>,

    /// Print every request received on stderr
    #[arg(long)]
    pub log_requests: bool,

    /// GivEnergy dongle maps: time between the dongle's heartbeats to each client (default 3m,
    /// as real dongles)
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    pub heartbeat_every: Option<Duration>,

    #[command(flatten)]
    pub faults: FaultArgs,
}

/// Exceptions the simulator can inject.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum SimException {
    /// 0x01 illegal function
    IllegalFunction,
    /// 0x02 illegal data address
    IllegalAddress,
    /// 0x03 illegal data value
    IllegalValue,
    /// 0x04 server device failure
    Failure,
    /// 0x06 server device busy
    #[default]
    Busy,
    /// 0x0B gateway target device failed to respond
    GatewayTarget,
}

/// Faults the simulator injects, for testing clients against a misbehaving device.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Fault injection")]
pub struct FaultArgs {
    /// Delay every response by this long (e.g. 200ms)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub latency: Option<Duration>,

    /// Close the connection instead of answering every Nth request
    #[arg(long, value_name = "N")]
    pub drop_every: Option<NonZeroU32>,

    /// GivEnergy dongle maps: the Nth request gets half of its reply and its connection is
    /// closed (once)
    #[arg(long, value_name = "N")]
    pub drop_after: Option<NonZeroU32>,

    /// Accept at most N connections at a time; close any beyond that immediately
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,

    /// Answer every Nth request with an exception (server device busy unless --exception says)
    #[arg(long, value_name = "N")]
    pub exception_every: Option<NonZeroU32>,

    /// The exception --exception-every answers
    #[arg(long, value_enum, default_value_t = SimException::Busy, requires = "exception_every")]
    pub exception: SimException,

    /// Answer every Nth request with eight bytes that are not a Modbus frame
    #[arg(long, value_name = "N")]
    pub garbage_every: Option<NonZeroU32>,

    /// Answer every Nth request under a wrong transaction id
    #[arg(long, value_name = "N")]
    pub wrong_transaction_id_every: Option<NonZeroU32>,

    /// Close a connection idle this long, as Alfen does after 60 s (e.g. 60s)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,

    /// Refuse every write with an "illegal function" exception
    #[arg(long)]
    pub read_only: bool,

    /// Acknowledge every write at once but apply it only this long later (e.g. 2s), as real
    /// devices do; reads in between see the old value (Modbus and GivEnergy dongle maps)
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    pub apply_writes_after: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to print completions for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write evctl.1 and one page per subcommand (evctl-read.1, ...) into this folder
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Parses durations as people write them: `250ms`, `10s`, `1.5s`, `2m`, `1h`; a bare number is
/// seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    // A bare number is seconds on the command line (`--timeout 2`); a number with a unit is read
    // by the same parser as map and site files, so `250ms` means the same everywhere.
    let duration = if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == '.') {
        text.parse::<f64>()
            .ok()
            .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
    } else {
        device_maps::parse_duration(text)
    };
    let Some(duration) = duration else {
        let unit = text.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
        let number = &text[..text.len() - unit.len()];
        return Err(
            if number.parse::<f64>().is_ok() && !unit.trim().is_empty() {
                format!(
                    "unknown duration unit `{}`; use ms, s, m or h (e.g. 500ms, 10s)",
                    unit.trim()
                )
            } else {
                format!("`{text}` is not a duration; write e.g. 500ms, 10s or 1m")
            },
        );
    };
    if duration > Duration::from_secs(1_000_000_000) {
        return Err(format!("`{text}` is out of range"));
    }
    Ok(duration)
}

/// A duration that must be more than zero (a timeout, an interval).
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(format!(
            "`{text}` is zero; it must be more than 0 (e.g. 500ms, 10s)"
        ));
    }
    Ok(duration)
}

/// A host name or address: not empty, no spaces.
pub fn parse_host(text: &str) -> Result<String, String> {
    let host = text.trim();
    if host.is_empty() {
        return Err("the host is empty; give a host name or IP address".to_owned());
    }
    if host.contains(char::is_whitespace) {
        return Err(format!("`{text}` is not a host name or IP address"));
    }
    Ok(host.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// docs/cli.md documents every flag of every command (`em` has its own `--help` pages).
    #[test]
    fn the_reference_names_every_flag() {
        let doc = include_str!("../../../docs/cli.md");
        let cli = Cli::command();
        let mut missing = Vec::new();
        let commands = std::iter::once(&cli).chain(
            cli.get_subcommands()
                .filter(|c| !matches!(c.get_name(), "em" | "help")),
        );
        for command in commands {
            for arg in command.get_arguments() {
                if let Some(long) = arg.get_long()
                    && !matches!(long, "help" | "version")
                    && !doc.contains(&format!("--{long}"))
                {
                    missing.push(format!("{} --{long}", command.get_name()));
                }
            }
        }
        assert!(missing.is_empty(), "not in docs/cli.md: {missing:?}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5 fortnights").is_err());
        assert_eq!(parse_duration(" 10 s "), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("2min"), Ok(Duration::from_secs(120)));
        assert!(
            parse_duration("5x")
                .unwrap_err()
                .contains("unknown duration unit `x`")
        );
        assert!(
            parse_duration("1.2.3s")
                .unwrap_err()
                .contains("is not a duration")
        );
        assert!(
            parse_duration("-1s")
                .unwrap_err()
                .contains("is not a duration")
        );
        assert!(
            parse_duration("")
                .unwrap_err()
                .contains("is not a duration")
        );
        assert!(
            parse_duration("2000000000")
                .unwrap_err()
                .contains("out of range")
        );
    }
}
