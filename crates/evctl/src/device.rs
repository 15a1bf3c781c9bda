//! Opening a device: a client for a resolved [`Target`], or an in-process simulator of its map
//! on loopback (`--simulated`) with the client pointed at it.
//!
//! Everything protocol-shaped lives in the libraries: `modbus-client` talks Modbus (and the
//! GivEnergy dongle framing), `simulator` serves a map. This module only picks the library
//! objects from the map and the flags and hands out one `RegisterIo` (service's
//! [`DeviceClient`]).

use std::time::Duration;

use anyhow::Context as _;
use device_maps::Transport;
use modbus_client::dongle::{DongleClient, DongleOptions};
use modbus_client::{ClientOptions, Endpoint, Layout, ModbusClient};
use service::DeviceClient;
use simulator::dongle::{DongleSimulator, DongleSimulatorHandle};
use simulator::modbus::{Simulator, SimulatorHandle};

use crate::report::Usage;
use crate::target::Target;

/// A simulator started for `--simulated`; it stops when dropped, so it is only ever held.
#[derive(Debug)]
#[allow(dead_code)]
pub enum SimHandle {
    Modbus(SimulatorHandle),
    Dongle(DongleSimulatorHandle),
}

/// A device connection for one command.
pub struct Device {
    /// The service's device client (the `RegisterIo` `evctl serve` polls through), built
    /// here with one connection and the map's retries.
    pub client: DeviceClient,
    /// The simulator behind a `--simulated` device.
    pub _simulator: Option<SimHandle>,
}

impl Device {
    /// The register I/O for one read, write or heartbeat: after the first network failure the
    /// rest of it fails at once with the same cause (service's [`service::FailFast`], as
    /// `evctl serve` polls), so a silent device costs one request's timeouts, not one per request.
    pub fn io(&self) -> service::FailFast {
        service::FailFast::new(self.client.clone())
    }

    /// Opens the target: a real device at its address, or (with `simulated`) a simulator of its
    /// map on `127.0.0.1:0` holding the map's example values. No connection is made until the
    /// first request.
    pub async fn open(target: &mut Target, simulated: bool) -> anyhow::Result<Device> {
        let map = std::sync::Arc::clone(&target.map);
        let map = &map;
        let dongle = map.connection.transport == Transport::GivenergyDongle;
        let (host, port, simulator) = if simulated {
            let builder = Simulator::builder(map).units(target.units.clone());
            let (addr, handle) = if dongle {
                let bank = builder
                    .bank()
                    .with_context(|| format!("cannot simulate map `{}`", map.id))?;
                let handle = DongleSimulator::builder(bank)
                    .bind("127.0.0.1:0")
                    .await
                    .context("cannot start the simulator")?;
                (handle.local_addr(), SimHandle::Dongle(handle))
            } else {
                let handle = builder
                    .bind("127.0.0.1:0")
                    .await
                    .context("cannot start the simulator")?;
                (handle.local_addr(), SimHandle::Modbus(handle))
            };
            (addr.ip().to_string(), addr.port(), Some(handle))
        } else {
            target.address()?;
            let host = target.host.clone().unwrap_or_default();
            (host, target.port, None)
        };
        if simulated {
            target.host = Some(host.clone());
            target.port = port;
        }
        let timeout = target.timeout;
        let client = if dongle {
            let address = target.address()?;
            let options = DongleOptions {
                connect_timeout: timeout.min(Duration::from_secs(5)),
                request_timeout: timeout,
                ..DongleOptions::default()
            };
            DeviceClient::Dongle(DongleClient::new(address, options))
        } else {
            let endpoint = Endpoint::for_map(map, &host, Some(port)).map_err(|e| {
                anyhow::Error::new(e).context(Usage(format!("cannot open {target}")))
            })?;
            let options = ClientOptions {
                connect_timeout: timeout.min(Duration::from_secs(5)),
                request_timeout: timeout,
                // One command needs one connection; the device's other slots stay free for
                // other clients.
                max_connections: 1,
                ..ClientOptions::from_connection(&map.connection)
            };
            DeviceClient::Modbus(
                ModbusClient::new(endpoint, options)
                    .with_layout(Layout::from_map(map, &target.units)),
            )
        };
        Ok(Device {
            client,
            _simulator: simulator,
        })
    }
}

impl Device {
    /// For a `sunspec:` map: reads the device's chain of models and puts the map expanded for
    /// it into `target`, printing the chain found on stderr. Returns whether it did; a map
    /// without `sunspec:` is left alone.
    pub async fn walk_sunspec(&self, target: &mut Target) -> anyhow::Result<bool> {
        let Some(spec) = target.map.sunspec.as_ref().filter(|s| !s.walked) else {
            return Ok(false);
        };
        let unit = target.units.main_id();
        let chain = device_maps::sunspec::walk(&mut self.io(), unit, &spec.bases)
            .await
            .with_context(|| format!("cannot walk the SunSpec chain of {target}"))?;
        let map = target
            .map
            .with_sunspec_chain(&chain)
            .context("the map has no `sunspec:` block")?
            .with_context(|| {
                format!(
                    "cannot expand map `{}` for the chain of {target}",
                    target.map.id
                )
            })?;
        eprintln!(
            "{target}: SunSpec chain of {} model(s) at unit {unit}, {chain}",
            chain.models.len()
        );
        if chain != spec.chain {
            // `evctl serve` polls a map's own chain: this is the block a map for this device
            // needs.
            eprintln!(
                "  (for `evctl serve`, a map of this device's chain has `sunspec: {}`)",
                chain.to_yaml()
            );
        }
        target.map = std::sync::Arc::new(map);
        Ok(true)
    }
}
