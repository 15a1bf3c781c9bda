//! Talking to real Modbus devices.
//!
//! This crate implements device-maps' register I/O over the network with tokio-modbus: Modbus
//! TCP, RTU over TCP (serial gateways that pass RTU frames through a socket) and, behind the
//! `serial` cargo feature, RTU on a local serial port. It owns connections, timeouts, retries,
//! pacing and the learning of a device's unmapped holes, and knows nothing about what the
//! registers mean: words in, words out.
//!
//! The main types:
//!
//! - [`Endpoint`] (transport and `host:port`) and [`ClientOptions`] (timeouts, retries,
//!   backoff, pacing, connection limit, idle timeout);
//! - [`Pool`], which keeps one set of persistent connections per endpoint, and
//!   [`ModbusClient`], a cheap handle on one endpoint that serves every unit id behind it;
//! - [`Error`], which always names the request ([`Target`]: endpoint, unit, table, address,
//!   count) and keeps transport failures apart from the device's [`Exception`]s;
//! - the glue to device maps: [`ClientOptions::from_connection`], [`Endpoint::for_map`],
//!   [`Layout::from_map`] and [`Pool::client_for_map`], and `device_maps::RegisterIo` for
//!   [`ModbusClient`], so device-maps' read and write plans run over it unchanged;
//! - [`dongle`]: the GivEnergy Wi-Fi dongle's own framing, beside Modbus proper.
//!
//! The key design decision is that the connection, not the unit id, is the scarce resource.
//! Chargers allow one or two Modbus masters and drop settings when their connection closes, so
//! every request to an endpoint, from any unit id and any task, goes through the endpoint's
//! pool, which never opens more connections than the map allows, keeps them open between
//! requests, reopens them after a drop, and paces requests as the device needs.
//!
//! Holes: a read planned across undeclared addresses may be refused with "illegal data
//! address". Given the map's [`Layout`], the client then reads the declared pieces alone,
//! remembers the device's holes for the rest of the run and says so once in the log.
//!
//! Reading a whole device through its map:
//!
//! ```no_run
//! # async fn demo(map: std::sync::Arc<device_maps::DeviceMap>) -> Result<(), Box<dyn std::error::Error>> {
//! let units = map.units();
//! let mut client = modbus_client::Pool::new().client_for_map(&map, &units, "127.0.0.1", None)?;
//! let plan = map.plan_read(&map.select::<&str>(&[])?, &units)?;
//! let snapshot = plan.execute(&mut client).await;
//! # let _ = snapshot;
//! # Ok(())
//! # }
//! ```
//!
//! Raw registers:
//!
//! ```no_run
//! use modbus_client::{ClientOptions, Endpoint, ModbusClient};
//! use modbus_core::Table;
//!
//! # async fn demo() -> Result<(), modbus_client::Error> {
//! let options = ClientOptions { max_connections: 2, ..ClientOptions::default() };
//! let client = ModbusClient::new(Endpoint::tcp("127.0.0.1:502"), options);
//! let words = client.read(1, Table::Holding, 1206, 2).await?;
//! client.write(1, Table::Holding, 1210, &[0x4120, 0x0000]).await?;
//! # let _ = words;
//! # Ok(())
//! # }
//! ```

mod client;
pub mod dongle;
mod error;
mod holes;
mod map;
mod options;
mod stream;

pub use client::{ModbusClient, Pool};
pub use error::{Error, Exception, Operation, Target};
pub use holes::Layout;
pub use map::{DEFAULT_BAUD_RATE, UnsupportedTransport};
pub use options::{ClientOptions, Endpoint, Transport};
