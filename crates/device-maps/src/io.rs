//! [`RegisterIo`]: the one door between a device map and a device.
//!
//! device-maps plans and decodes; it never opens a socket. A transport crate (Modbus TCP over
//! tokio-modbus, the GivEnergy dongle, a simulator, an in-memory table in a test) implements
//! this trait, and [`crate::read`] and [`crate::write`] drive it.

use std::future::Future;

use modbus_core::Table;

/// Reads and writes raw registers of one device endpoint.
///
/// The trait is async without naming a runtime: its futures must be `Send` so a multi-threaded
/// executor can run them, and nothing here depends on tokio.
///
/// Conventions every implementation follows:
///
/// - `unit` is the Modbus unit (slave) id; one endpoint may serve several.
/// - `address` is the 0-based wire address.
/// - For [`Table::Coil`] and [`Table::Discrete`], each bit is one `u16` that is 0 or 1, in both
///   directions.
/// - `read` returns exactly `count` values, or an error.
/// - `write` sends **one** request: a single register with function 6 (a single coil with 5),
///   several with function 16 (several coils with 15). Callers never split a value across
///   requests; an implementation that cannot send several registers at once (the GivEnergy
///   dongle has no function 16) returns an error for them instead of splitting.
/// - Errors keep the transport failure and the device's exception apart (see the
///   implementation's error type); device-maps only needs them to be errors.
pub trait RegisterIo {
    /// What goes wrong.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Reads `count` registers (or bits) starting at `address`.
    fn read(
        &mut self,
        unit: u8,
        table: Table,
        address: u16,
        count: u16,
    ) -> impl Future<Output = Result<Vec<u16>, Self::Error>> + Send;

    /// Writes `values` starting at `address` in one request.
    fn write(
        &mut self,
        unit: u8,
        table: Table,
        address: u16,
        values: &[u16],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

impl<T: RegisterIo + Send> RegisterIo for &mut T {
    type Error = T::Error;

    fn read(
        &mut self,
        unit: u8,
        table: Table,
        address: u16,
        count: u16,
    ) -> impl Future<Output = Result<Vec<u16>, Self::Error>> + Send {
        (**self).read(unit, table, address, count)
    }

    fn write(
        &mut self,
        unit: u8,
        table: Table,
        address: u16,
        values: &[u16],
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        (**self).write(unit, table, address, values)
    }
}
