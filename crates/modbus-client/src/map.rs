//! Glue from a device map to a client: options, endpoint, layout, and [`RegisterIo`].

use std::future::Future;

use device_maps::{Connection, DeviceMap, RegisterIo, Units};
use modbus_core::Table;

use crate::client::{ModbusClient, Pool};
use crate::error::Error;
use crate::holes::Layout;
use crate::options::{ClientOptions, Endpoint, Transport};

/// Baud rate used for serial RTU when nothing else is said (the most common meter default).
pub const DEFAULT_BAUD_RATE: u32 = 9600;

/// A map whose transport this crate does not speak through [`ModbusClient`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("map `{map}` uses the {transport} transport, which the Modbus client does not speak")]
pub struct UnsupportedTransport {
    /// The map id.
    pub map: String,
    /// The transport's name.
    pub transport: String,
}

impl ClientOptions {
    /// Options as a map's connection section says: its timeout (for connecting and for each
    /// request), pacing, connection limit and idle timeout; retries and backoff keep their
    /// defaults.
    pub fn from_connection(connection: &Connection) -> Self {
        Self {
            connect_timeout: connection.timeout,
            request_timeout: connection.timeout,
            pacing: connection.pacing,
            max_connections: usize::from(connection.max_connections.max(1)),
            idle_timeout: connection.idle_timeout,
            ..Self::default()
        }
    }
}

impl Endpoint {
    /// The endpoint of a device described by `map` at `host` (a host name or IP address, or a
    /// serial device path for serial RTU), on `port` or the map's default port. A GivEnergy
    /// dongle map is refused: it needs the dongle client.
    pub fn for_map(
        map: &DeviceMap,
        host: &str,
        port: Option<u16>,
    ) -> Result<Self, UnsupportedTransport> {
        let port = port.unwrap_or(map.connection.port);
        let address = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        match map.connection.transport {
            device_maps::Transport::ModbusTcp => Ok(Endpoint::tcp(address)),
            device_maps::Transport::RtuOverTcp => Ok(Endpoint::rtu_over_tcp(address)),
            device_maps::Transport::SerialRtu => Ok(Endpoint {
                transport: Transport::Serial {
                    baud_rate: DEFAULT_BAUD_RATE,
                },
                address: host.to_owned(),
            }),
            other => Err(UnsupportedTransport {
                map: map.id.clone(),
                transport: other.to_string(),
            }),
        }
    }
}

impl Layout {
    /// Every register of `map`, at the unit ids `units` resolves (after `--unit` overrides).
    pub fn from_map(map: &DeviceMap, units: &Units) -> Self {
        let mut layout = Layout::new();
        for register in &map.registers {
            layout.insert(
                units.resolve(&register.unit_id),
                register.table,
                register.wire_address,
                register.count,
            );
        }
        layout
    }
}

impl Pool {
    /// A client for the device `map` describes at `host` (and `port`, or the map's), with the
    /// map's options and layout, sharing connections with every other client of that endpoint
    /// in this pool.
    pub fn client_for_map(
        &self,
        map: &DeviceMap,
        units: &Units,
        host: &str,
        port: Option<u16>,
    ) -> Result<ModbusClient, UnsupportedTransport> {
        let endpoint = Endpoint::for_map(map, host, port)?;
        Ok(self
            .client(endpoint, ClientOptions::from_connection(&map.connection))
            .with_layout(Layout::from_map(map, units)))
    }
}

impl RegisterIo for ModbusClient {
    type Error = Error;

    fn read(
        &mut self,
        unit: u8,
        table: Table,
        address: u16,
        count: u16,
    ) -> impl Future<Output = Result<Vec<u16>, Error>> + Send {
        ModbusClient::read(self, unit, table, address, count)
    }

    fn write(
        &mut self,
        unit: u8,
        table: Table,
        address: u16,
        values: &[u16],
    ) -> impl Future<Output = Result<(), Error>> + Send {
        ModbusClient::write(self, unit, table, address, values)
    }
}
