//! The running service: one task per device, the latest state of each, a broadcast of
//! updates, and checked commands.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use device_maps::{DeviceMap, ExecuteError, Units, WriteConfirm, WriteError, WritePlan};
use modbus_core::Value;
use serde::Serialize;
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;

use crate::client::{Clients, DeviceClient, IoError};
use crate::config::{DeviceConfig, PollConfig, SiteConfig};

/// Everything needed to poll one device, resolved from the site config and its map.
#[derive(Debug, Clone)]
pub struct DeviceSpec {
    /// The device id (globally unique across the site).
    pub id: String,
    /// Its map.
    pub map: Arc<DeviceMap>,
    /// Host name or address.
    pub host: String,
    /// Port; default: the map's.
    pub port: Option<u16>,
    /// Unit ids.
    pub units: Units,
    /// Poll interval.
    pub interval: Duration,
    /// Time allowed per request.
    pub timeout: Duration,
    /// Whether the map's checks are read and must hold before values are trusted or
    /// commands written (site config `verify: false` turns them off, with a warning).
    pub verify: bool,
    /// The read-back window of commands (the map's `write_confirm`, `confirm_within` of the
    /// site file overriding its window).
    pub confirm: WriteConfirm,
}

impl DeviceSpec {
    /// Resolves a device entry of the site config with its map.
    pub fn from_config(
        id: &str,
        entry: &DeviceConfig,
        map: Arc<DeviceMap>,
        poll: &PollConfig,
    ) -> Result<DeviceSpec, StartError> {
        let mut units = map.units();
        if let Some(unit) = entry.unit {
            units.set_main(unit);
        }
        for (role, unit) in &entry.units {
            units.set(role, *unit).map_err(|source| StartError::Units {
                device: id.to_owned(),
                source,
            })?;
        }
        // An EVSEMaster charger is found by its serial, wherever it is.
        let host = match &entry.host {
            Some(host) => host.clone(),
            None if map.id == crate::em::MAP_ID => String::new(),
            None => {
                return Err(StartError::NoHost {
                    device: id.to_owned(),
                });
            }
        };
        Ok(DeviceSpec {
            id: id.to_owned(),
            host,
            port: entry.port,
            units,
            interval: entry.interval.unwrap_or(poll.interval),
            timeout: entry.timeout.unwrap_or(map.connection.timeout),
            verify: entry.verify.unwrap_or(true),
            confirm: WriteConfirm {
                within: entry
                    .confirm_within
                    .unwrap_or(map.connection.write_confirm.within),
                ..map.connection.write_confirm
            },
            map,
        })
    }
}

/// Resolves every device this process serves (its shard of the site), finding maps with
/// `find_map` (the CLI passes its own map lookup, so `--maps` and `EVCTL_MAPS` work the same).
pub fn device_specs<E>(
    config: &SiteConfig,
    mut find_map: impl FnMut(&str) -> Result<Option<Arc<DeviceMap>>, E>,
) -> Result<Vec<DeviceSpec>, StartError>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut specs = Vec::new();
    for (id, entry) in config.served_devices() {
        if entry.map == crate::em::MAP_ID {
            let map = crate::em::map().map_err(|source| StartError::Map {
                device: id.clone(),
                map: entry.map.clone(),
                source: Box::new(source),
            })?;
            specs.push(DeviceSpec::from_config(
                id,
                entry,
                Arc::new(map),
                &config.poll,
            )?);
            continue;
        }
        let map = find_map(&entry.map)
            .map_err(|source| StartError::Map {
                device: id.clone(),
                map: entry.map.clone(),
                source: source.into(),
            })?
            .ok_or_else(|| StartError::UnknownMap {
                device: id.clone(),
                map: entry.map.clone(),
            })?;
        specs.push(DeviceSpec::from_config(id, entry, map, &config.poll)?);
    }
    Ok(specs)
}

/// Why the service cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A device names a map that does not exist.
    #[error(
        "device `{device}` names map `{map}`, which does not exist (`evctl list` shows every map)"
    )]
    UnknownMap {
        /// The device id.
        device: String,
        /// The map id.
        map: String,
    },
    /// A device's map could not be loaded.
    #[error("device `{device}`: cannot load map `{map}`")]
    Map {
        /// The device id.
        device: String,
        /// The map id.
        map: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A device has no host.
    #[error("device `{device}` has no `host`")]
    NoHost {
        /// The device id.
        device: String,
    },
    /// A device's unit ids do not fit its map.
    #[error("device `{device}`: bad unit id")]
    Units {
        /// The device id.
        device: String,
        /// Why.
        #[source]
        source: device_maps::UnitError,
    },
    /// A device's transport is not supported.
    #[error("device `{device}`")]
    Transport {
        /// The device id.
        device: String,
        /// Why.
        #[source]
        source: modbus_client::UnsupportedTransport,
    },
    /// An EVSEMaster charger without the driver set up (use [`crate::start_site`]).
    #[error(
        "device `{device}` is an EVSEMaster charger, but no EVSEMaster driver was started for it"
    )]
    NoEmDriver {
        /// The device id.
        device: String,
    },
    /// Two devices share an id.
    #[error("device id `{device}` is used twice")]
    Duplicate {
        /// The device id.
        device: String,
    },
}

/// One poll's outcome, sent to every subscriber.
#[derive(Debug, Clone)]
pub struct DeviceUpdate {
    /// The device id.
    pub id: Arc<str>,
    /// The latest readings: this poll's values, and for values this poll could not read the
    /// last value read (with its own `read_at`, so its age shows). Never a silent 0.
    pub snapshot: Arc<device_maps::Snapshot>,
    /// Names of the readings that are stale (this poll failed to read them).
    pub stale: Arc<[String]>,
    /// Whether the device answered this poll at all.
    pub available: bool,
    /// Whether `available` differs from the previous poll's (the first poll counts as a change).
    pub availability_changed: bool,
    /// How late the poll started against its schedule.
    pub lag: Duration,
    /// Why the poll failed, when it did (no secrets: device errors only).
    pub error: Option<Arc<str>>,
}

/// The latest known state of one device.
#[derive(Debug, Clone, Default)]
pub struct DeviceStatus {
    /// Latest readings (see [`DeviceUpdate::snapshot`]); none before the first answer.
    pub snapshot: Option<Arc<device_maps::Snapshot>>,
    /// Stale reading names.
    pub stale: Arc<[String]>,
    /// Whether the last poll got an answer; false before the first poll.
    pub available: bool,
    /// When the device last answered.
    pub last_success: Option<SystemTime>,
    /// When the last poll started.
    pub last_attempt: Option<SystemTime>,
    /// The last poll's error.
    pub last_error: Option<Arc<str>>,
    /// Polls so far.
    pub polls: u64,
    /// Polls that got no answer.
    pub failures: u64,
    /// Failed polls in a row.
    pub consecutive_failures: u32,
    /// How late the last scheduled poll started.
    pub last_lag: Duration,
}

/// One device of the running service.
#[derive(Debug)]
pub struct DeviceHandle {
    pub(crate) spec: DeviceSpec,
    pub(crate) id: Arc<str>,
    pub(crate) client: DeviceClient,
    pub(crate) status: RwLock<DeviceStatus>,
    /// Values written through commands, for heartbeats that refresh them (Alfen setpoints).
    pub(crate) last_written: Mutex<HashMap<String, Value>>,
    pub(crate) poll_now: Notify,
}

impl DeviceHandle {
    /// The device id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its map (register names, kinds and units for discovery).
    pub fn map(&self) -> &Arc<DeviceMap> {
        &self.spec.map
    }

    /// Its unit ids.
    pub fn units(&self) -> &Units {
        &self.spec.units
    }

    /// The resolved spec (host, port, interval, timeout).
    pub fn spec(&self) -> &DeviceSpec {
        &self.spec
    }

    /// A copy of the latest state.
    pub fn status(&self) -> DeviceStatus {
        self.status
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `host:port` (`evsemaster <serial>` for an EVSEMaster charger, found by its serial).
    pub fn address(&self) -> String {
        if let DeviceClient::Em(io) = &self.client {
            return format!("evsemaster {}", io.serial());
        }
        let port = self.spec.port.unwrap_or(self.spec.map.connection.port);
        if self.spec.host.contains(':') && !self.spec.host.starts_with('[') {
            format!("[{}]:{port}", self.spec.host)
        } else {
            format!("{}:{port}", self.spec.host)
        }
    }
}

/// Service-wide options.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// Longest wait between polls of a failing device.
    pub max_backoff: Duration,
    /// Updates a slow subscriber may fall behind before it misses some.
    pub update_capacity: usize,
    /// The EVSEMaster driver and chargers, when the site has any.
    pub em: Option<crate::em::EmSetup>,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        Self {
            max_backoff: Duration::from_secs(60),
            update_capacity: 4096,
            em: None,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) devices: BTreeMap<String, Arc<DeviceHandle>>,
    pub(crate) updates: broadcast::Sender<DeviceUpdate>,
    pub(crate) options: ServiceOptions,
    pub(crate) started: SystemTime,
    pub(crate) stop: watch::Sender<bool>,
    pub(crate) pool: modbus_client::Pool,
}

/// The running service: cheap to clone, shared by the HTTP API, InfluxDB and MQTT.
#[derive(Clone)]
pub struct Service {
    pub(crate) inner: Arc<Inner>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("devices", &self.inner.devices.len())
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Starts polling every device, each in its own task (call inside a tokio runtime).
    pub fn start(specs: Vec<DeviceSpec>, options: ServiceOptions) -> Result<Service, StartError> {
        let clients = Clients::default();
        let mut devices = BTreeMap::new();
        for spec in specs {
            if !spec.verify && !spec.map.checks.is_empty() {
                tracing::warn!(device = %spec.id, map = %spec.map.id, "verify: false: the map's checks of the device are skipped and its values trusted as they come");
            }
            let client = if spec.map.id == crate::em::MAP_ID {
                let setup = options.em.as_ref();
                let target = setup.and_then(|em| em.chargers.get(&spec.id));
                match (setup, target) {
                    (Some(setup), Some(target)) => DeviceClient::Em(crate::em::EmIo::new(
                        Arc::clone(&setup.driver),
                        target.serial,
                        target.password.clone(),
                    )),
                    _ => {
                        return Err(StartError::NoEmDriver {
                            device: spec.id.clone(),
                        });
                    }
                }
            } else {
                clients
                    .client(&spec.map, &spec.units, &spec.host, spec.port, spec.timeout)
                    .map_err(|source| StartError::Transport {
                        device: spec.id.clone(),
                        source,
                    })?
            };
            let handle = Arc::new(DeviceHandle {
                id: Arc::from(spec.id.as_str()),
                spec,
                client,
                status: RwLock::new(DeviceStatus::default()),
                last_written: Mutex::new(HashMap::new()),
                poll_now: Notify::new(),
            });
            let id = handle.spec.id.clone();
            if devices.insert(id.clone(), handle).is_some() {
                return Err(StartError::Duplicate { device: id });
            }
        }
        let (updates, _) = broadcast::channel(options.update_capacity.max(16));
        let (stop, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            devices,
            updates,
            options,
            started: SystemTime::now(),
            stop,
            pool: clients.pool().clone(),
        });
        let tasks = inner
            .devices
            .values()
            .map(|device| {
                tokio::spawn(crate::poller::run(
                    Arc::clone(device),
                    inner.updates.clone(),
                    inner.options.max_backoff,
                    inner.stop.subscribe(),
                ))
            })
            .collect();
        Ok(Service {
            inner,
            tasks: Arc::new(Mutex::new(tasks)),
        })
    }

    /// The modbus-client pool of every Modbus device's connections. A client taken from it
    /// for a device's endpoint shares the poller's connection (the proxy of `evctl serve`).
    pub fn pool(&self) -> &modbus_client::Pool {
        &self.inner.pool
    }

    /// Every device, by id.
    pub fn devices(&self) -> impl Iterator<Item = &Arc<DeviceHandle>> {
        self.inner.devices.values()
    }

    /// The device `id`.
    pub fn device(&self, id: &str) -> Option<&Arc<DeviceHandle>> {
        self.inner.devices.get(id)
    }

    /// Updates from every device from now on. A subscriber that falls more than
    /// [`ServiceOptions::update_capacity`] updates behind gets `RecvError::Lagged` and then
    /// the newest ones; [`DeviceHandle::status`] always has the latest state.
    pub fn subscribe(&self) -> broadcast::Receiver<DeviceUpdate> {
        self.inner.updates.subscribe()
    }

    /// Runs `f` on every update from now on, on a task of its own, until the service stops:
    /// the loop every output (InfluxDB, the dashboard's history) needs. An output that falls
    /// behind skips what it missed, with a warning naming `output`; it never holds up a poll.
    pub fn follow_updates(
        &self,
        output: &'static str,
        mut f: impl FnMut(&Service, DeviceUpdate) + Send + 'static,
    ) -> JoinHandle<()> {
        let mut updates = self.subscribe();
        let mut stop = self.stopping();
        let service = self.clone();
        tokio::spawn(async move {
            loop {
                let update = tokio::select! {
                    _ = stop.changed() => break,
                    update = updates.recv() => update,
                };
                match update {
                    Ok(update) => f(&service, update),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(output, missed, "output fell behind; some polls skipped");
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        })
    }

    /// When the service started.
    pub fn started(&self) -> SystemTime {
        self.inner.started
    }

    /// A receiver that turns true when the service stops (for outputs' own tasks).
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.inner.stop.subscribe()
    }

    /// Stops every poller and waits for them.
    pub async fn shutdown(&self) {
        let _ = self.inner.stop.send(true);
        let tasks: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for task in tasks {
            let _ = task.await;
        }
    }

    /// Writes `NAME=VALUE` pairs to device `id`, checked exactly as `evctl write` checks them
    /// (access, range, enumeration, step; device-dependent bounds read first), then polls the
    /// device again so subscribers see the result.
    pub async fn write(
        &self,
        id: &str,
        assignments: &[(String, String)],
    ) -> Result<CommandReport, CommandError> {
        let device = self.device_or_err(id)?;
        let texts: Vec<String> = assignments
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        if texts.is_empty() {
            return Err(CommandError::Empty {
                device: id.to_owned(),
            });
        }
        let plan = device
            .spec
            .map
            .plan_writes(&texts, &device.spec.units)
            .map_err(|source| CommandError::Invalid {
                device: id.to_owned(),
                source: Box::new(source),
            })?;
        self.execute(device, plan).await
    }

    /// Runs the action `name` with `key=value` parameters on device `id`, checked exactly as
    /// `evctl call` checks it.
    pub async fn action(
        &self,
        id: &str,
        name: &str,
        params: &[(String, String)],
    ) -> Result<CommandReport, CommandError> {
        let device = self.device_or_err(id)?;
        let texts: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let plan = device
            .spec
            .map
            .plan_action(name, &texts, &device.spec.units)
            .map_err(|source| CommandError::Invalid {
                device: id.to_owned(),
                source: Box::new(source),
            })?;
        self.execute(device, plan).await
    }

    fn device_or_err(&self, id: &str) -> Result<&Arc<DeviceHandle>, CommandError> {
        self.device(id).ok_or_else(|| CommandError::UnknownDevice {
            device: id.to_owned(),
        })
    }

    async fn execute(
        &self,
        device: &Arc<DeviceHandle>,
        plan: WritePlan,
    ) -> Result<CommandReport, CommandError> {
        let id = device.id().to_owned();
        let mut client = device.client.clone();
        let plan = if device.spec.verify {
            plan
        } else {
            plan.without_verification()
        };
        // Reads of bounds, the writes and read-backs: a generous but finite time, plus the
        // read-back window.
        let confirm = device.spec.confirm;
        let deadline = device
            .spec
            .timeout
            .saturating_mul(4 * (plan.writes.len() as u32 + 2))
            .saturating_add(confirm.within);
        let result = tokio::time::timeout(
            deadline,
            plan.execute_confirming(&mut client, confirm, tokio::time::sleep),
        )
        .await;
        let report = match result {
            Err(_) => {
                return Err(CommandError::Timeout {
                    device: id,
                    after: deadline,
                });
            }
            Ok(Err(ExecuteError::Invalid(source))) => {
                return Err(CommandError::Invalid {
                    device: id,
                    source: Box::new(source),
                });
            }
            Ok(Err(ExecuteError::Plan(source))) => {
                return Err(CommandError::Plan { device: id, source });
            }
            Ok(Err(ExecuteError::Unverified { register, source })) => {
                return Err(CommandError::Unverified {
                    device: id,
                    register,
                    source,
                });
            }
            Ok(Err(ExecuteError::Mismatch(source))) => {
                tracing::warn!(device = %id, error = %source, "command refused: the device failed its map's checks");
                return Err(CommandError::Mismatch {
                    device: id,
                    source: Box::new(source),
                });
            }
            Ok(Err(ExecuteError::Write {
                register,
                request,
                done,
                source,
            })) => {
                return Err(CommandError::Device {
                    device: id,
                    register,
                    request,
                    done,
                    source: Box::new(source),
                });
            }
            Ok(Ok(report)) => report,
        };
        {
            let mut written = device
                .last_written
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for w in &plan.writes {
                written.insert(w.register.clone(), w.value.clone());
            }
        }
        tracing::info!(device = %id, requests = report.sent.len(), "command written");
        device.poll_now.notify_one();
        Ok(CommandReport {
            device: id,
            sent: report
                .sent
                .iter()
                .map(|r| format!("{r}  # {}", r.register))
                .collect(),
            confirmations: report
                .confirmations
                .iter()
                .map(|c| Confirmation {
                    register: c.register.clone(),
                    read_register: c.read_register.clone(),
                    expected: c.expected.to_string(),
                    read: match &c.read {
                        Ok(v) => Some(v.to_string()),
                        Err(_) => None,
                    },
                    confirmed: c.confirmed,
                })
                .collect(),
        })
    }
}

/// What a command did.
#[derive(Debug, Clone, Serialize)]
pub struct CommandReport {
    /// The device id.
    pub device: String,
    /// Each request sent, as text (`FC16 unit 1 @1210 [..]  # register`).
    pub sent: Vec<String>,
    /// Read-backs, where the map asks for them.
    pub confirmations: Vec<Confirmation>,
}

/// One read-back.
#[derive(Debug, Clone, Serialize)]
pub struct Confirmation {
    /// The register written.
    pub register: String,
    /// The register read back.
    pub read_register: String,
    /// The value expected.
    pub expected: String,
    /// The value read; none when the read failed.
    pub read: Option<String>,
    /// Whether they match.
    pub confirmed: bool,
}

/// Why a command was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// No such device in this process.
    #[error("no device `{device}` here")]
    UnknownDevice {
        /// The id asked for.
        device: String,
    },
    /// No assignment given.
    #[error("nothing to write to `{device}`: give at least one register and value")]
    Empty {
        /// The device id.
        device: String,
    },
    /// The map refuses the command (unknown register or action, read-only, out of range...).
    #[error("refused before writing to `{device}`")]
    Invalid {
        /// The device id.
        device: String,
        /// What device-maps found.
        #[source]
        source: Box<WriteError>,
    },
    /// A read needed for the checks could not be planned.
    #[error("cannot plan the checks for `{device}`")]
    Plan {
        /// The device id.
        device: String,
        /// Why.
        #[source]
        source: modbus_core::PlanError,
    },
    /// The device failed a check of its map, so nothing was written.
    #[error("nothing was written to `{device}`: it failed its map's checks")]
    Mismatch {
        /// The device id.
        device: String,
        /// The check that failed.
        #[source]
        source: Box<device_maps::Mismatch>,
    },
    /// A check of the map could not be read, so nothing was written.
    #[error("nothing was written to `{device}`: the map's check of `{register}` could not be read")]
    Unverified {
        /// The device id.
        device: String,
        /// The register checked.
        register: String,
        /// Why the read failed.
        #[source]
        source: device_maps::ReadFailure,
    },
    /// The device failed a write.
    #[error("{request} for `{register}` of `{device}` failed ({done} earlier write(s) were sent)")]
    Device {
        /// The device id.
        device: String,
        /// The register.
        register: String,
        /// The request, as text.
        request: String,
        /// Writes sent before it.
        done: usize,
        /// Why.
        #[source]
        source: Box<IoError>,
    },
    /// The command did not finish in time.
    #[error("`{device}` did not finish the command within {}", crate::format_duration(*after))]
    Timeout {
        /// The device id.
        device: String,
        /// The time allowed.
        after: Duration,
    },
}

impl CommandError {
    /// Whether the thing asked for (device, register, action, parameter) does not exist.
    pub fn is_not_found(&self) -> bool {
        match self {
            CommandError::UnknownDevice { .. } => true,
            CommandError::Invalid { source, .. } => not_found(source),
            _ => false,
        }
    }

    /// Whether the device, not the request, failed by not answering in time.
    pub fn is_timeout(&self) -> bool {
        match self {
            CommandError::Timeout { .. } => true,
            CommandError::Device { source, .. } => source.is_timeout(),
            _ => false,
        }
    }
}

fn not_found(err: &WriteError) -> bool {
    match err {
        WriteError::UnknownRegister { .. } | WriteError::UnknownAction { .. } => true,
        WriteError::InAction { source, .. } => not_found(source),
        _ => false,
    }
}
