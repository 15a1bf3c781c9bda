//! One register client per device, over the transport its map names, sharing connections per
//! endpoint across the whole service.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use device_maps::{DeviceMap, RegisterIo, Transport, Units};
use modbus_client::dongle::{DongleClient, DongleError, DongleOptions};
use modbus_client::{ClientOptions, Endpoint, Layout, ModbusClient, Pool};
use modbus_core::Table;

/// The client of one device: Modbus (TCP, RTU over TCP, serial) or the GivEnergy dongle.
#[derive(Debug, Clone)]
pub enum DeviceClient {
    /// Through modbus-client's pool.
    Modbus(ModbusClient),
    /// Through the GivEnergy dongle client.
    Dongle(DongleClient),
    /// An EVSEMaster charger through emproto's driver.
    Em(crate::em::EmIo),
}

/// A failure of either client.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// A Modbus request failed.
    #[error(transparent)]
    Modbus(#[from] modbus_client::Error),
    /// A dongle request failed.
    #[error(transparent)]
    Dongle(#[from] DongleError),
    /// An EVSEMaster charger request failed.
    #[error(transparent)]
    Em(#[from] crate::em::EmError),
    /// Not sent: an earlier request of the same poll failed on the network.
    #[error("not sent: an earlier request of this poll failed ({reason})")]
    Skipped {
        /// The earlier failure.
        reason: String,
    },
}

impl IoError {
    /// Whether the device did not answer in time (as opposed to refusing or the connection
    /// failing).
    pub fn is_timeout(&self) -> bool {
        match self {
            IoError::Modbus(e) => matches!(
                e,
                modbus_client::Error::Timeout { .. } | modbus_client::Error::ConnectTimeout { .. }
            ),
            IoError::Dongle(e) => matches!(
                e,
                DongleError::Timeout { .. } | DongleError::ConnectTimeout { .. }
            ),
            IoError::Em(crate::em::EmError::Driver { source, .. }) => {
                matches!(**source, emproto::driver::DriverError::Timeout { .. })
            }
            IoError::Em(_) | IoError::Skipped { .. } => false,
        }
    }
}

impl RegisterIo for DeviceClient {
    type Error = IoError;

    fn read(
        &mut self,
        unit: u8,
        table: Table,
        address: u16,
        count: u16,
    ) -> impl Future<Output = Result<Vec<u16>, IoError>> + Send {
        let this = self.clone();
        async move {
            match this {
                DeviceClient::Modbus(c) => Ok(c.read(unit, table, address, count).await?),
                DeviceClient::Dongle(c) => Ok(c.read(unit, table, address, count).await?),
                DeviceClient::Em(mut c) => Ok(c.read(unit, table, address, count).await?),
            }
        }
    }

    fn write(
        &mut self,
        unit: u8,
        table: Table,
        address: u16,
        values: &[u16],
    ) -> impl Future<Output = Result<(), IoError>> + Send {
        let this = self.clone();
        let values = values.to_vec();
        async move {
            match this {
                DeviceClient::Modbus(c) => Ok(c.write(unit, table, address, &values).await?),
                DeviceClient::Dongle(c) => Ok(c.write(unit, table, address, &values).await?),
                DeviceClient::Em(mut c) => Ok(c.write(unit, table, address, &values).await?),
            }
        }
    }
}

/// Connections of the whole service: one modbus-client [`Pool`] (so devices behind one gateway
/// share its connections and never exceed its limit) and one dongle client per dongle.
#[derive(Debug, Clone, Default)]
pub struct Clients {
    pool: Pool,
    dongles: Arc<Mutex<HashMap<String, DongleClient>>>,
}

impl Clients {
    /// The client for a device described by `map` at `address` (`host:port`), with `timeout`
    /// per request.
    pub fn client(
        &self,
        map: &DeviceMap,
        units: &Units,
        host: &str,
        port: Option<u16>,
        timeout: Duration,
    ) -> Result<DeviceClient, modbus_client::UnsupportedTransport> {
        if map.connection.transport == Transport::GivenergyDongle {
            let port = port.unwrap_or(map.connection.port);
            let address = if host.contains(':') && !host.starts_with('[') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            let mut dongles = self.dongles.lock().unwrap_or_else(PoisonError::into_inner);
            let client = dongles.entry(address.clone()).or_insert_with(|| {
                let options = DongleOptions {
                    connect_timeout: timeout,
                    request_timeout: timeout,
                    // As for Modbus: one retry, so a dead dongle costs two timeouts, not three.
                    retries: 1,
                    ..DongleOptions::from_connection(&map.connection)
                };
                DongleClient::new(address, options)
            });
            return Ok(DeviceClient::Dongle(client.clone()));
        }
        let endpoint = Endpoint::for_map(map, host, port)?;
        let options = ClientOptions {
            connect_timeout: timeout,
            request_timeout: timeout,
            // A poller must notice a dead device within its timeout, not after three of them.
            retries: 1,
            ..ClientOptions::from_connection(&map.connection)
        };
        Ok(DeviceClient::Modbus(
            self.pool
                .client(endpoint, options)
                .with_layout(Layout::from_map(map, units)),
        ))
    }
}
