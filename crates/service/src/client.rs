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
    /// Not sent: an earlier request of the same read failed on the network.
    #[error("not sent: an earlier request of this read failed ({reason})")]
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

/// One read's (or one command's) register I/O over a [`DeviceClient`]: after the first failure
/// on the network (timeout, connection refused or closed, garbled answer), every further request
/// fails at once with [`IoError::Skipped`] naming that cause, without touching the network. A dead
/// device thus costs one request's timeouts, not one per request of the read plan. A refusal by
/// the device itself (a Modbus exception) does not count: the next request may well succeed.
///
/// Used by the service's pollers and by every `evctl` command that talks to a device; make a new
/// one per read.
#[derive(Debug)]
pub struct FailFast {
    client: DeviceClient,
    failed: Option<String>,
}

impl FailFast {
    /// Wraps `client` for one read.
    pub fn new(client: DeviceClient) -> Self {
        Self {
            client,
            failed: None,
        }
    }

    /// The network failure that stopped this read, if any.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    fn note(&mut self, result: &Result<impl Sized, IoError>) {
        if let Err(err) = result {
            let network = match err {
                IoError::Modbus(e) => e.is_transport(),
                IoError::Dongle(e) => e.is_transport(),
                IoError::Em(e) => !matches!(e, crate::em::EmError::Unsupported { .. }),
                IoError::Skipped { .. } => false,
            };
            if network && self.failed.is_none() {
                self.failed = Some(err.to_string());
            }
        }
    }

    fn skipped(&self) -> Option<IoError> {
        self.failed.as_ref().map(|reason| IoError::Skipped {
            reason: reason.clone(),
        })
    }
}

impl RegisterIo for FailFast {
    type Error = IoError;

    async fn read(
        &mut self,
        unit: u8,
        table: Table,
        address: u16,
        count: u16,
    ) -> Result<Vec<u16>, IoError> {
        if let Some(err) = self.skipped() {
            return Err(err);
        }
        let result = self.client.read(unit, table, address, count).await;
        self.note(&result);
        result
    }

    fn write(
        &mut self,
        unit: u8,
        table: Table,
        address: u16,
        values: &[u16],
    ) -> impl Future<Output = Result<(), IoError>> + Send {
        let values = values.to_vec();
        async move {
            if let Some(err) = self.skipped() {
                return Err(err);
            }
            let result = self.client.write(unit, table, address, &values).await;
            self.note(&result);
            result
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
    /// The pool every Modbus device's client comes from.
    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

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
