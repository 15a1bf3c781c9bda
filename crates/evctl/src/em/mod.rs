//! `evctl em`: EVSEMaster chargers over UDP.
//!
//! Each subcommand starts an [`emproto::driver::Driver`] on the configured port, lets it load the
//! known chargers from the state directory, waits for what it needs (a charger heard, logged in,
//! a status), makes one request and prints. All protocol behaviour (login, keep-alive, timers,
//! range checks, rate limit, persistence, renderings) lives in `emproto`; this module only turns
//! flags into library calls and results into text and exit codes.

mod args;

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use emproto::driver::{Driver, DriverConfig, DriverError, DriverEvent};
use emproto::model::StartParams;
use emproto::session::{
    self, ChargerView, CommandError, ConfigItem, RequestError, SelectError, SessionConfig,
};
use emproto::wire::{
    Language, OfflineCharge, Password, ReservationResult, Serial, TemperatureUnit,
};
use simulator::em::{EmCharger, EmChargerConfig};
use tokio::sync::broadcast;

pub use args::EmArgs;
use args::{
    ConfigCommand, ConfigGetArgs, ConfigSetArgs, DiscoverArgs, EmCommand, Format, ListFormat,
    LoginArgs, NetArgs, SelectArgs, SimulateArgs, StartArgs, StatusArgs, StopArgs, WatchArgs,
};

use crate::report::Usage;

/// Runs one `evctl em` subcommand.
pub async fn run(args: EmArgs) -> anyhow::Result<ExitCode> {
    let net = args.net;
    match args.command {
        EmCommand::Discover(a) => discover(&net, &a).await,
        EmCommand::Login(a) => login(&net, &a).await,
        EmCommand::Status(a) => status(&net, &a).await,
        EmCommand::Watch(a) => watch(&net, &a).await,
        EmCommand::Config(ConfigCommand::Get(a)) => config_get(&net, &a).await,
        EmCommand::Config(ConfigCommand::Set(a)) => config_set(&net, &a).await,
        EmCommand::Start(a) => start(&net, &a).await,
        EmCommand::Stop(a) => stop(&net, &a).await,
        EmCommand::Simulate(a) => simulate(&a).await,
        EmCommand::Forget(a) => forget(&net, &a).await,
    }
}

/// Writes `text` to stdout in one go.
fn print(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// A usage error (exit status 2) with `source` as its cause.
fn usage_from(err: impl Into<anyhow::Error>, message: impl Into<String>) -> anyhow::Error {
    err.into().context(Usage(message.into()))
}

fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(message.into()))
}

/// Driver errors become anyhow errors; bad parameters caught before sending are usage errors.
fn driver_err(err: DriverError) -> anyhow::Error {
    match &err {
        DriverError::Command(
            CommandError::Start { .. } | CommandError::Config { .. } | CommandError::Text { .. },
        ) => {
            let msg = err.to_string();
            usage_from(err, msg)
        }
        DriverError::Request {
            serial,
            source: RequestError::WrongPassword,
            ..
        } => {
            let msg = format!(
                "charger {serial} rejected the password; check it (factory default: 123456) and run \
                 `evctl em login {serial}` again"
            );
            anyhow::Error::new(err).context(msg)
        }
        _ => anyhow::Error::new(err),
    }
}

fn state_dir(net: &NetArgs) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &net.state_dir {
        return Ok(dir.clone());
    }
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(x).join("evctl"));
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(home).join(".local/state/evctl"));
    }
    Err(usage(
        "no state directory: set --state-dir, EVCTL_STATE_DIR or HOME",
    ))
}

async fn start_driver(net: &NetArgs, rate_limit: Option<Duration>) -> anyhow::Result<Driver> {
    let defaults = DriverConfig::default();
    let config = DriverConfig {
        bind: SocketAddr::new(net.bind, net.port),
        session: SessionConfig {
            offline_after: net.offline_after,
            ..defaults.session
        },
        state_dir: Some(state_dir(net)?),
        dump: net.dump,
        min_switch_interval: rate_limit.unwrap_or(defaults.min_switch_interval),
    };
    let driver = Driver::start(config).await.map_err(|e| {
        let hint = if matches!(&e, DriverError::Bind { .. }) {
            " (is another EM client running on this port? use --port)"
        } else {
            ""
        };
        anyhow::Error::new(e).context(format!("cannot start the EM client{hint}"))
    })?;
    spawn_printer(driver.subscribe());
    Ok(driver)
}

/// Prints `--dump` traffic and warnings on stderr while the command runs.
fn spawn_printer(mut events: broadcast::Receiver<DriverEvent>) {
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(DriverEvent::Traffic {
                    outgoing,
                    peer,
                    hex,
                }) => {
                    let arrow = if outgoing { "->" } else { "<-" };
                    eprintln!("{arrow} {peer} {hex}");
                }
                Ok(DriverEvent::Warning(text)) => tracing::warn!("{text}"),
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

/// Waits until exactly one charger matches `pattern` (or, without a pattern, until there is
/// exactly one charger), within `net.wait`.
async fn resolve(
    driver: &Driver,
    net: &NetArgs,
    pattern: Option<&str>,
) -> anyhow::Result<ChargerView> {
    // Waiting cannot make an ambiguous choice unique, so that ends the wait at once.
    let found = driver
        .wait_for("a matching charger", net.wait, |views| match pattern {
            Some(p) => match session::select(views, p) {
                Ok(v) => Some(Ok(v.clone())),
                Err(e @ SelectError::Ambiguous { .. }) => Some(Err(e.to_string())),
                Err(SelectError::NoMatch { .. }) => None,
            },
            None if views.len() == 1 => views.first().cloned().map(Ok),
            None if views.len() > 1 => Some(Err(format!(
                "{} chargers are known; name one (any unique part of its serial, brand or \
                 model): {}",
                views.len(),
                views
                    .iter()
                    .map(|v| v.serial.to_hex())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            None => None,
        })
        .await;
    match found {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(ambiguous)) => Err(usage(ambiguous)),
        Err(DriverError::Timeout { .. }) => match pattern {
            Some(p) => Err(anyhow::anyhow!(
                "no charger matching {p:?} was heard within {} s (chargers broadcast to UDP port \
                 {}; check the network, or use `evctl em discover`)",
                net.wait.as_secs(),
                net.port
            )),
            None => Err(anyhow::anyhow!(
                "no charger was heard within {} s on UDP port {}",
                net.wait.as_secs(),
                net.port
            )),
        },
        Err(e) => Err(driver_err(e)),
    }
}

/// Waits until the charger is logged in (and, with `need_state`, has sent a status).
async fn ready(
    driver: &Driver,
    net: &NetArgs,
    serial: Serial,
    need_state: bool,
) -> anyhow::Result<ChargerView> {
    let outcome = driver
        .wait_for("the login", net.wait, |views| {
            let v = views.iter().find(|v| v.serial == serial)?;
            if v.password_rejected || !v.has_password {
                return Some(v.clone());
            }
            (v.logged_in && (!need_state || v.state.is_some()) && !v.config_pending)
                .then(|| v.clone())
        })
        .await;
    let view = match outcome {
        Ok(v) => v,
        Err(DriverError::Timeout { .. }) => {
            let views = driver.chargers().await.map_err(driver_err)?;
            let v = views
                .into_iter()
                .find(|v| v.serial == serial)
                .context("the charger was forgotten")?;
            // Logged in with a status but an incomplete config is still usable.
            if v.logged_in && (!need_state || v.state.is_some()) {
                return Ok(v);
            }
            if !v.online {
                anyhow::bail!(
                    "charger {serial} is offline: nothing heard within {} s (last address {})",
                    net.wait.as_secs(),
                    v.address
                        .map_or_else(|| "unknown".to_owned(), |a| a.to_string())
                );
            }
            if !v.logged_in {
                anyhow::bail!(
                    "charger {serial} did not accept a login within {} s",
                    net.wait.as_secs()
                );
            }
            anyhow::bail!(
                "charger {serial} sent no status within {} s",
                net.wait.as_secs()
            );
        }
        Err(e) => return Err(driver_err(e)),
    };
    if !view.has_password {
        anyhow::bail!(
            "no password is known for charger {serial}; run `evctl em login {serial}` first"
        );
    }
    if view.password_rejected {
        anyhow::bail!(
            "charger {serial} rejected the stored password; run `evctl em login {serial}` with the right one"
        );
    }
    Ok(view)
}

async fn discover(net: &NetArgs, a: &DiscoverArgs) -> anyhow::Result<ExitCode> {
    let driver = start_driver(net, None).await?;
    tokio::time::sleep(a.seconds).await;
    let views = driver.chargers().await.map_err(driver_err)?;
    driver.shutdown().await.map_err(driver_err)?;
    let heard: Vec<&ChargerView> = views.iter().filter(|v| v.online).collect();
    match a.format {
        ListFormat::Json => {
            let list: Vec<serde_json::Value> = views
                .iter()
                .map(|v| {
                    serde_json::json!({
                        "serial": v.serial,
                        "brand": v.brand,
                        "model": v.model,
                        "address": v.address,
                        "online": v.online,
                        "has_password": v.has_password,
                        "max_current_a": v.info.as_ref().map(|i| i.max_current_a),
                        "phases": v.info.as_ref().map(|i| i.phases),
                    })
                })
                .collect();
            print(&format!("{}\n", serde_json::to_string_pretty(&list)?))?;
        }
        ListFormat::Human => {
            let mut out = format!(
                "{:<18} {:<10} {:<10} {:<22} {:<7} {}\n",
                "SERIAL", "BRAND", "MODEL", "ADDRESS", "ONLINE", "PASSWORD"
            );
            for v in &views {
                out.push_str(&format!(
                    "{:<18} {:<10} {:<10} {:<22} {:<7} {}\n",
                    v.serial.to_hex(),
                    v.brand,
                    v.model,
                    v.address.map_or_else(|| "-".to_owned(), |a| a.to_string()),
                    if v.online { "yes" } else { "no" },
                    if v.has_password { "saved" } else { "-" },
                ));
            }
            print(&out)?;
        }
    }
    if heard.is_empty() {
        anyhow::bail!(
            "no charger was heard within {} s on UDP port {} (chargers announce themselves by \
             broadcast every few seconds while no app is logged in; they must share this network)",
            a.seconds.as_secs(),
            net.port
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn read_password(a: &LoginArgs) -> anyhow::Result<Password> {
    let text = if let Some(path) = &a.password_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the password file {}", path.display()))?;
        text.lines().next().unwrap_or_default().trim().to_owned()
    } else if let Some(var) = &a.password_env {
        std::env::var(var).map_err(|_| usage(format!("environment variable {var} is not set")))?
    } else if let Ok(p) = std::env::var("EVCTL_EM_PASSWORD") {
        p
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("Password of charger {}: ", a.charger))
            .context("cannot read the password from the terminal")?
    } else {
        // Piped in: the first line of stdin.
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        line.trim().to_owned()
    };
    Password::new(text.trim())
        .map_err(|e| usage_from(e, "a charger password is 6 characters (usually digits)"))
}

async fn login(net: &NetArgs, a: &LoginArgs) -> anyhow::Result<ExitCode> {
    let password = read_password(a)?;
    let driver = start_driver(net, None).await?;
    let view = resolve(&driver, net, Some(&a.charger)).await?;
    driver
        .login(view.serial, password)
        .await
        .map_err(driver_err)?;
    driver.shutdown().await.map_err(driver_err)?;
    let label = format!("{} {}", view.brand, view.model);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "logged in to {} ({}); the password is saved in {}",
        view.serial,
        label.trim(),
        state_dir(net)?.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

async fn status(net: &NetArgs, a: &StatusArgs) -> anyhow::Result<ExitCode> {
    let driver = start_driver(net, None).await?;
    let views = match &a.charger {
        Some(pattern) => {
            let v = resolve(&driver, net, Some(pattern)).await?;
            vec![ready(&driver, net, v.serial, true).await?]
        }
        None => {
            // Every charger with a password: wait until each is logged in with a status.
            let _ = driver
                .wait_for("every charger's status", net.wait, |views| {
                    let pending = views.iter().any(|v| {
                        v.has_password
                            && !v.password_rejected
                            && (!v.logged_in || v.state.is_none())
                    });
                    (!views.is_empty() && !pending).then_some(())
                })
                .await;
            driver.chargers().await.map_err(driver_err)?
        }
    };
    driver.shutdown().await.map_err(driver_err)?;
    if views.is_empty() {
        anyhow::bail!(
            "no charger is known or was heard within {} s; run `evctl em discover`",
            net.wait.as_secs()
        );
    }
    let text = match a.format {
        Format::Human => session::human_text(&views),
        Format::Json if a.charger.is_some() => {
            format!("{}\n", serde_json::to_string_pretty(&views[0])?)
        }
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&views)?),
        Format::Prometheus => session::prometheus_text(&views),
        Format::Influx => {
            session::influx_lines(&views, Some(jiff::Timestamp::now().as_nanosecond()))
        }
    };
    print(&text)?;
    Ok(ExitCode::SUCCESS)
}

async fn watch(net: &NetArgs, a: &WatchArgs) -> anyhow::Result<ExitCode> {
    let driver = start_driver(net, None).await?;
    let mut events = driver.subscribe();
    let filter = a.charger.clone();
    let until = a.duration.map(|d| tokio::time::Instant::now() + d);
    let keep = |v: &ChargerView| filter.as_deref().is_none_or(|p| v.matches(p));
    for v in driver
        .chargers()
        .await
        .map_err(driver_err)?
        .iter()
        .filter(|v| keep(v))
    {
        print_event(a.format, "known", None, v)?;
    }
    loop {
        let next = async {
            match until {
                Some(t) => tokio::time::timeout_at(t, events.recv()).await.ok(),
                None => Some(events.recv().await),
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            e = next => match e {
                None => break,
                Some(Ok(DriverEvent::Added(v))) if keep(&v) => print_event(a.format, "added", None, &v)?,
                Some(Ok(DriverEvent::Changed(v, change))) if keep(&v) => {
                    print_event(a.format, "changed", Some(change), &v)?;
                }
                Some(Ok(DriverEvent::Removed(serial))) => {
                    print(&format!("{serial} removed\n"))?;
                }
                Some(Err(broadcast::error::RecvError::Closed)) => break,
                Some(_) => {}
            },
        }
    }
    driver.shutdown().await.map_err(driver_err)?;
    Ok(ExitCode::SUCCESS)
}

fn print_event(
    format: ListFormat,
    kind: &str,
    change: Option<session::Change>,
    v: &ChargerView,
) -> anyhow::Result<()> {
    let line = match format {
        ListFormat::Json => {
            let value = serde_json::json!({
                "event": kind,
                "change": change.map(|c| format!("{c:?}")),
                "charger": v,
            });
            format!("{}\n", serde_json::to_string(&value)?)
        }
        ListFormat::Human => {
            let what = change.map_or_else(String::new, |c| format!(" {}", describe_change(c)));
            let power = v
                .state
                .as_ref()
                .map_or_else(String::new, |s| format!(" {:.0} W", s.power_w));
            format!(
                "{} {} {}{what}: {}{power}\n",
                jiff::Zoned::now().strftime("%H:%M:%S"),
                v.serial,
                kind,
                v.meta_state.as_str()
            )
        }
    };
    print(&line)?;
    Ok(())
}

fn describe_change(c: session::Change) -> &'static str {
    use session::Change;
    match c {
        Change::Address => "address",
        Change::Online(true) => "online",
        Change::Online(false) => "offline",
        Change::LoggedIn(true) => "logged in",
        Change::LoggedIn(false) => "logged out",
        Change::Info => "info",
        Change::State => "state",
        Change::Config => "config",
        Change::Charge => "session",
        Change::PasswordRejected => "password rejected",
    }
}

async fn config_get(net: &NetArgs, a: &ConfigGetArgs) -> anyhow::Result<ExitCode> {
    let driver = start_driver(net, None).await?;
    let v = resolve(&driver, net, a.charger.as_deref()).await?;
    ready(&driver, net, v.serial, false).await?;
    let config = driver.fetch_config(v.serial).await.map_err(driver_err)?;
    driver.shutdown().await.map_err(driver_err)?;
    let text = match a.format {
        ListFormat::Json => format!("{}\n", serde_json::to_string_pretty(&config)?),
        ListFormat::Human => {
            let show = |o: Option<String>| o.unwrap_or_else(|| "unknown".to_owned());
            format!(
                "name               {}\nlanguage           {}\ntemperature unit   {}\noffline charge     {}\nmax current        {}\n",
                show(config.name.clone()),
                show(config.language.map(|l| l.to_string())),
                show(config.temperature_unit.map(|u| u.to_string())),
                show(config.offline_charge.map(|o| format!("{o} ({})", o.0))),
                show(config.max_current_a.map(|c| format!("{c} A"))),
            )
        }
    };
    print(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn parse_language(text: &str) -> anyhow::Result<Language> {
    let t = text.to_lowercase();
    if let Ok(n) = t.parse::<u8>() {
        return Ok(Language(n));
    }
    Language::KNOWN
        .iter()
        .copied()
        .find(|l| {
            l.name()
                .is_some_and(|n| n.to_lowercase().starts_with(&t) && t.len() >= 2)
        })
        .ok_or_else(|| {
            usage(format!(
                "unknown language {text:?}; use english, italian, german, french, spanish or hebrew"
            ))
        })
}

fn parse_unit(text: &str) -> anyhow::Result<TemperatureUnit> {
    match text.to_lowercase().as_str() {
        "c" | "celsius" | "1" => Ok(TemperatureUnit::CELSIUS),
        "f" | "fahrenheit" | "2" => Ok(TemperatureUnit::FAHRENHEIT),
        _ => Err(usage(format!(
            "unknown temperature unit {text:?}; use celsius or fahrenheit"
        ))),
    }
}

async fn config_set(net: &NetArgs, a: &ConfigSetArgs) -> anyhow::Result<ExitCode> {
    let mut items = Vec::new();
    if let Some(n) = &a.name {
        items.push(ConfigItem::Name(n.clone()));
    }
    if let Some(l) = &a.language {
        items.push(ConfigItem::Language(parse_language(l)?));
    }
    if let Some(u) = &a.temperature_unit {
        items.push(ConfigItem::TemperatureUnit(parse_unit(u)?));
    }
    if let Some(o) = a.offline_charge {
        items.push(ConfigItem::OfflineCharge(OfflineCharge(o)));
    }
    if let Some(m) = a.max_current {
        items.push(ConfigItem::MaxCurrent(m));
    }
    if items.is_empty() {
        return Err(usage(
            "nothing to set; give --name, --language, --temperature-unit, --offline-charge or --max-current",
        ));
    }
    let driver = start_driver(net, None).await?;
    let v = resolve(&driver, net, a.charger.as_deref()).await?;
    ready(&driver, net, v.serial, false).await?;
    let mut out = String::new();
    for item in items {
        let confirmed = driver
            .set_config(v.serial, item)
            .await
            .map_err(driver_err)?;
        out.push_str(&format!("{}: {confirmed}\n", v.serial));
    }
    driver.shutdown().await.map_err(driver_err)?;
    print(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// `HH:MM` (the next such time) or `YYYY-MM-DDTHH:MM[:SS]`, in the local zone.
fn parse_at(text: &str) -> anyhow::Result<jiff::Timestamp> {
    let tz = jiff::tz::TimeZone::system();
    let now = jiff::Zoned::now().with_time_zone(tz.clone());
    if let Ok(time) = jiff::civil::Time::strptime("%H:%M", text) {
        let today = now.date().to_datetime(time).to_zoned(tz.clone())?;
        let at = if today.timestamp() <= now.timestamp() {
            now.date().tomorrow()?.to_datetime(time).to_zoned(tz)?
        } else {
            today
        };
        return Ok(at.timestamp());
    }
    let dt: jiff::civil::DateTime = text
        .parse()
        .map_err(|e| usage_from(e, format!("--at {text:?} is not HH:MM or YYYY-MM-DDTHH:MM")))?;
    Ok(dt.to_zoned(tz)?.timestamp())
}

fn warn_force() {
    eprintln!(
        "warning: --force skips the start/stop rate limit; switching often wears the charger's \
         relays and the car's contactors"
    );
}

async fn start(net: &NetArgs, a: &StartArgs) -> anyhow::Result<ExitCode> {
    let start_at = a.at.as_deref().map(parse_at).transpose()?;
    if a.force {
        warn_force();
    }
    let driver = start_driver(net, Some(a.rate_limit)).await?;
    let v = resolve(&driver, net, a.charger.as_deref()).await?;
    let v = ready(&driver, net, v.serial, true).await?;
    let amps = match a.amps.or(v.config.max_current_a) {
        Some(a) => a,
        None => return Err(usage("the configured current is unknown; give --amps")),
    };
    let params = StartParams {
        max_current_a: amps,
        start_at,
        max_duration_min: a.max_duration,
        max_energy_kwh: a.max_energy,
        single_phase: a.single_phase,
        user_id: a.user.clone().unwrap_or_else(|| "evctl".to_owned()),
        charge_id: a.charge_id.clone(),
    };
    let result = driver.start_charge(v.serial, params, a.force).await;
    driver.shutdown().await.map_err(driver_err)?;
    let resp = result.map_err(driver_err)?;
    let what = match resp.reservation_result {
        ReservationResult::RESERVED => "session planned",
        ReservationResult::IN_THE_PAST => "start time was in the past; charging started",
        _ => "charging started",
    };
    print(&format!(
        "{}: {what} at {} A\n",
        v.serial, resp.max_current_a
    ))?;
    Ok(ExitCode::SUCCESS)
}

async fn stop(net: &NetArgs, a: &StopArgs) -> anyhow::Result<ExitCode> {
    if a.force {
        warn_force();
    }
    let driver = start_driver(net, Some(a.rate_limit)).await?;
    let v = resolve(&driver, net, a.charger.as_deref()).await?;
    let v = ready(&driver, net, v.serial, false).await?;
    let user = a.user.clone().unwrap_or_else(|| "evctl".to_owned());
    let result = driver.stop_charge(v.serial, &user, a.force).await;
    driver.shutdown().await.map_err(driver_err)?;
    result.map_err(driver_err)?;
    print(&format!("{}: charging stopped\n", v.serial))?;
    Ok(ExitCode::SUCCESS)
}

async fn forget(net: &NetArgs, a: &SelectArgs) -> anyhow::Result<ExitCode> {
    let driver = start_driver(net, None).await?;
    let views = driver.chargers().await.map_err(driver_err)?;
    let v = session::select(&views, &a.charger).map_err(|e| {
        let msg = e.to_string();
        usage_from(e, msg)
    })?;
    driver.forget(v.serial).await.map_err(driver_err)?;
    driver.shutdown().await.map_err(driver_err)?;
    print(&format!("{}: forgotten\n", v.serial))?;
    Ok(ExitCode::SUCCESS)
}

async fn simulate(a: &SimulateArgs) -> anyhow::Result<ExitCode> {
    let serial: Serial = a
        .serial
        .parse()
        .map_err(|e| usage_from(e, "--serial must be 16 hex digits"))?;
    if ![1, 3].contains(&a.phases) {
        return Err(usage("--phases must be 1 or 3"));
    }
    let mut cfg = EmChargerConfig::new(a.target);
    cfg.bind = a.listen;
    cfg.serial = serial;
    cfg.password.clone_from(&a.password);
    cfg.brand.clone_from(&a.brand);
    cfg.model.clone_from(&a.model);
    cfg.max_current_a = a.max_current;
    cfg.phases = a.phases;
    cfg.car_plugged = !a.no_car;
    cfg.announce_every = a.announce_every;
    cfg.status_every = a.status_every;
    cfg.heading_every = a.status_every * 2;
    cfg.drop_after = (a.status_every * 6).max(Duration::from_secs(30));
    cfg.silent_after = a.silent_after;
    cfg.reject_login = a.reject_login;
    cfg.profile = a.profile;
    let sim = EmCharger::start(cfg).await.map_err(|e| {
        if matches!(
            e,
            simulator::em::EmSimError::NotLoopback { .. } | simulator::em::EmSimError::Password(_)
        ) {
            let msg = e.to_string();
            usage_from(e, msg)
        } else {
            anyhow::Error::new(e)
        }
    })?;
    print(&format!(
        "simulated charger {serial} ({} {}, {} firmware) on {}, announcing to {}{}\n",
        a.brand,
        a.model,
        a.profile.name(),
        sim.local_addr(),
        a.target,
        if a.no_car { ", no car plugged in" } else { "" }
    ))?;
    match a.duration {
        Some(d) => {
            tokio::select! {
                _ = tokio::time::sleep(d) => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    sim.stop();
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_times_are_local_and_in_the_future() {
        let now = jiff::Timestamp::now();
        let at = parse_at("03:30").expect("HH:MM");
        assert!(at > now && at.duration_since(now) <= jiff::SignedDuration::from_hours(24));
        let at = parse_at("2031-05-06T07:08").expect("date and time");
        let local = at.to_zoned(jiff::tz::TimeZone::system());
        assert_eq!(
            local.strftime("%Y-%m-%d %H:%M").to_string(),
            "2031-05-06 07:08"
        );
        assert!(parse_at("tomorrow").is_err());
    }

    #[test]
    fn config_values_by_name_or_number() {
        assert_eq!(parse_language("German").expect("name"), Language::GERMAN);
        assert_eq!(parse_language("fr").expect("prefix"), Language::FRENCH);
        assert_eq!(parse_language("6").expect("number"), Language::HEBREW);
        assert!(parse_language("klingon").is_err());
        assert_eq!(parse_unit("F").expect("unit"), TemperatureUnit::FAHRENHEIT);
        assert!(parse_unit("kelvin").is_err());
    }
}
