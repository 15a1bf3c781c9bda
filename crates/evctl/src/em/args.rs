//! The `evctl em` command line as clap sees it.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

use crate::cli::parse_duration;

/// EVSEMaster chargers (Besen, Telestar, Morec, Deltaco, ...) over their UDP protocol.
///
/// Chargers announce themselves by broadcast to UDP port 28376; evctl listens there, logs in with
/// the charger's six-digit password and remembers chargers (address, port, password) in the state
/// directory. A charger is selected by any unique part of its serial, brand or model.
#[derive(Args, Debug)]
pub struct EmArgs {
    #[command(subcommand)]
    pub command: EmCommand,

    #[command(flatten)]
    pub net: NetArgs,
}

/// Options shared by every `evctl em` subcommand.
#[derive(Args, Debug, Clone)]
pub struct NetArgs {
    /// Local UDP port (real chargers always send to 28376; other ports suit simulators and tests)
    #[arg(long, global = true, default_value_t = 28376, env = "EVCTL_EM_PORT")]
    pub port: u16,

    /// Local address to bind (0.0.0.0 receives broadcasts)
    #[arg(long, global = true, default_value = "0.0.0.0", env = "EVCTL_EM_BIND")]
    pub bind: IpAddr,

    /// Directory for the known chargers and the start/stop log
    /// (default: $XDG_STATE_HOME/evctl or ~/.local/state/evctl)
    #[arg(long, global = true, env = "EVCTL_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// How long to wait for a charger to answer (e.g. 20s)
    #[arg(long, global = true, default_value = "20s", value_name = "DURATION", value_parser = parse_duration)]
    pub wait: Duration,

    /// Print every datagram sent and received, in hex, with password bytes masked
    #[arg(long, global = true)]
    pub dump: bool,

    /// A charger is offline when nothing was heard from it for this long
    #[arg(long, global = true, default_value = "11s", value_name = "DURATION", value_parser = parse_duration)]
    pub offline_after: Duration,
}

#[derive(Subcommand, Debug)]
pub enum EmCommand {
    /// Listen for charger announcements and list the chargers heard
    Discover(DiscoverArgs),
    /// Log in to a charger and remember its password for later commands
    Login(LoginArgs),
    /// Print the status of one charger, or of every known charger
    Status(StatusArgs),
    /// Print changes of chargers as they arrive, until Ctrl-C
    Watch(WatchArgs),
    /// Read or change a charger's configuration
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Start a charging session (now, or planned with --at)
    Start(StartArgs),
    /// Stop the charging session (also cancels a planned one)
    Stop(StopArgs),
    /// Run a simulated charger on loopback that announces itself to a client
    Simulate(SimulateArgs),
    /// Forget a known charger's address and password (a charger still talking is heard again)
    Forget(SelectArgs),
}

#[derive(Args, Debug)]
pub struct DiscoverArgs {
    /// How long to listen
    #[arg(long, short = 't', default_value = "10s", value_name = "DURATION", value_parser = parse_duration)]
    pub seconds: Duration,

    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = ListFormat::Human)]
    pub format: ListFormat,
}

#[derive(Args, Debug)]
pub struct SelectArgs {
    /// Any unique part of the charger's serial, brand or model
    pub charger: String,
}

/// The password comes from, in this order: --password-file, --password-env VAR, the
/// EVCTL_EM_PASSWORD environment variable, a prompt (on a terminal), or the first line of stdin.
/// It is never printed; it is saved (mode 0600) in the state directory after a successful login.
#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Any unique part of the charger's serial, brand or model
    pub charger: String,

    /// Read the password from this file (first line)
    #[arg(long, value_name = "FILE", conflicts_with = "password_env")]
    pub password_file: Option<PathBuf>,

    /// Read the password from this environment variable
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Any unique part of the charger's serial, brand or model (default: every known charger)
    pub charger: Option<String>,

    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Only this charger (any unique part of serial, brand or model)
    pub charger: Option<String>,

    /// Stop after this long (default: until Ctrl-C)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = ListFormat::Human)]
    pub format: ListFormat,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the configuration (name, language, temperature unit, offline charge, max current)
    Get(ConfigGetArgs),
    /// Change one or more configuration items
    Set(ConfigSetArgs),
}

#[derive(Args, Debug)]
pub struct ConfigGetArgs {
    /// Any unique part of the charger's serial, brand or model
    pub charger: Option<String>,

    /// Output format
    #[arg(long, short = 'f', value_enum, default_value_t = ListFormat::Human)]
    pub format: ListFormat,
}

#[derive(Args, Debug)]
pub struct ConfigSetArgs {
    /// Any unique part of the charger's serial, brand or model
    pub charger: Option<String>,

    /// Charger name (nickname)
    #[arg(long)]
    pub name: Option<String>,

    /// Display language: english, italian, german, french, spanish, hebrew
    #[arg(long)]
    pub language: Option<String>,

    /// Display temperature unit: celsius or fahrenheit
    #[arg(long)]
    pub temperature_unit: Option<String>,

    /// Offline charge (start mode) raw value: 0, 1 or 2 (meaning differs between models)
    #[arg(long)]
    pub offline_charge: Option<u8>,

    /// Configured maximum current in amperes (6 .. the charger's maximum)
    #[arg(long)]
    pub max_current: Option<u8>,
}

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Any unique part of the charger's serial, brand or model
    pub charger: Option<String>,

    /// Maximum current in amperes (6 .. the charger's maximum; default: the configured one)
    #[arg(long)]
    pub amps: Option<u8>,

    /// Planned start: HH:MM (next occurrence) or YYYY-MM-DDTHH:MM, local time
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,

    /// Stop after this many minutes
    #[arg(long, value_name = "MIN")]
    pub max_duration: Option<u16>,

    /// Stop after this much energy, in kWh
    #[arg(long, value_name = "KWH")]
    pub max_energy: Option<f64>,

    /// Charge on one phase only (three-phase chargers that support it)
    #[arg(long)]
    pub single_phase: bool,

    /// User id recorded in the charger's charge history
    #[arg(long, value_name = "ID")]
    pub user: Option<String>,

    /// Charge id recorded in the charger's charge history (default: generated)
    #[arg(long, value_name = "ID")]
    pub charge_id: Option<String>,

    /// Send even if a start or stop was sent to this charger recently (wears relays and contactors)
    #[arg(long)]
    pub force: bool,

    /// Minimum time between two start/stop commands to one charger
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = parse_duration)]
    pub rate_limit: Duration,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Any unique part of the charger's serial, brand or model
    pub charger: Option<String>,

    /// User id recorded as the person stopping
    #[arg(long, value_name = "ID")]
    pub user: Option<String>,

    /// Send even if a start or stop was sent to this charger recently (wears relays and contactors)
    #[arg(long)]
    pub force: bool,

    /// Minimum time between two start/stop commands to one charger
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = parse_duration)]
    pub rate_limit: Duration,
}

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Where the simulated charger sends its announcements: a loopback client address
    #[arg(long, default_value = "127.0.0.1:28376")]
    pub target: SocketAddr,

    /// Address the simulated charger binds (loopback only; port 0 picks a free one)
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,

    /// Serial, 16 hex digits
    #[arg(long, default_value = "0123456789abcdef")]
    pub serial: String,

    /// Password the simulated charger accepts (default: the factory default). Also read from
    /// EVCTL_EM_SIM_PASSWORD
    #[arg(
        long,
        env = "EVCTL_EM_SIM_PASSWORD",
        hide_env_values = true,
        default_value = "123456",
        hide_default_value = true
    )]
    pub password: String,

    /// Brand announced
    #[arg(long, default_value = "EVCTL")]
    pub brand: String,

    /// Model announced
    #[arg(long, default_value = "SIM-1P")]
    pub model: String,

    /// Maximum current per phase, A
    #[arg(long, default_value_t = 32)]
    pub max_current: u8,

    /// Number of phases (1 or 3)
    #[arg(long, default_value_t = 1)]
    pub phases: u8,

    /// No car plugged in (start is refused)
    #[arg(long)]
    pub no_car: bool,

    /// Interval of Login announcements while nobody is logged in
    #[arg(long, default_value = "3s", value_name = "DURATION", value_parser = parse_duration)]
    pub announce_every: Duration,

    /// Interval of status datagrams (and Headings at twice this) while a client is logged in
    #[arg(long, default_value = "5s", value_name = "DURATION", value_parser = parse_duration)]
    pub status_every: Duration,

    /// Fault: go silent (send and answer nothing) after this long
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub silent_after: Option<Duration>,

    /// Fault: answer every login with a password error
    #[arg(long)]
    pub reject_login: bool,

    /// Firmware family to imitate: bs20 (36-byte version reply) or sqw49 (37 bytes, with the
    /// trailing supportNew byte; output state 0 idle, 2 ready)
    #[arg(long, default_value = "bs20", value_name = "PROFILE", value_parser = parse_profile)]
    pub profile: simulator::em::EmProfile,

    /// Stop after this long (default: until Ctrl-C)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text with units
    Human,
    /// JSON
    Json,
    /// Prometheus text exposition format
    Prometheus,
    /// InfluxDB line protocol
    Influx,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// Aligned text
    Human,
    /// JSON
    Json,
}

fn parse_profile(text: &str) -> Result<simulator::em::EmProfile, String> {
    text.parse()
}
