//! Device register maps written in YAML, and everything a program does with them short of
//! talking to the network.
//!
//! A device (a charger, a meter, an inverter) is described by one YAML file: its connection
//! defaults and request limits, every register with its address as the vendor's document
//! prints it, type, order, scale, unit and meaning, the heartbeats it needs and the named
//! actions it supports. `docs/map-format.md` is the reference for the format. This crate
//!
//! - loads maps **strictly** ([`parse_map`], [`load_file`]): an unknown key, an overlap, a
//!   count that does not fit its type and two dozen other mistakes are a [`MapError`] naming
//!   file, line and column, what is wrong and what is allowed;
//! - keeps the maps of the workspace's `devices/` folder compiled in and adds the user's own
//!   at run time, by id, in a [`Registry`] (overrides come back as [`Warning`]s, as data);
//! - plans reads with modbus-core's optimal planner under each device's limits
//!   ([`DeviceMap::plan_read`]) and decodes the answers into a [`Snapshot`] of [`Reading`]s,
//!   where a value that could not be read is [`Missing`] with the reason, never a silent 0;
//! - computes a map's [`Derived`] values (GivTCP's PV power, power flows, battery mode) from the
//!   decoded values with the small [`expr`] language, after every read, into the same snapshot;
//! - turns `NAME=VALUE` text and named actions into checked, encoded [`WriteRequest`]s
//!   ([`DeviceMap::plan_writes`], [`DeviceMap::plan_action`]), checked before a byte leaves;
//! - checks writes that arrive as raw words, as a proxy sees them, by the same rules
//!   ([`DeviceMap::check_wire_write`], refusing with a [`WireRefusal`]).
//!
//! # Key design decision
//!
//! device-maps never opens a socket and knows no async runtime. Everything that touches a
//! device goes through the small [`RegisterIo`] trait (read a range of one unit and table;
//! write one or several registers in one request), which a transport crate implements over
//! tokio-modbus or the GivEnergy dongle, and which [`MemoryDevice`] implements in memory for
//! tests. Planning, decoding and validation are plain functions over data, so they are tested
//! without any network, and every consumer (the CLI, the simulator, the poller) shares them.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use device_maps::{MemoryDevice, block_on, parse_map};
//!
//! let map = Arc::new(parse_map("demo-meter", r#"
//! manufacturer: Demo
//! model: Meter
//! connection: {unit_ids: {meter: 1}, address_base: 30001, max_registers: 50}
//! defaults: {table: input}
//! registers:
//!   - {name: voltage, address: 30001, type: float32, unit: V, example: 230.5}
//!   - {name: energy, address: 30073, type: float32, unit: kWh, kind: counter, example: 1234.5}
//! "#)?);
//!
//! // An in-memory device holding the map's example values.
//! let mut device = MemoryDevice::with_examples(&map);
//! let plan = map.plan_read(&map.select::<&str>(&[])?, &map.units())?;
//! assert_eq!(plan.requests().len(), 2); // 30001 and 30073 are too far apart for one request
//! let snapshot = block_on(plan.execute(&mut device)); // a real transport runs on tokio
//! assert_eq!(snapshot.value("voltage").and_then(|v| v.as_f64()), Some(230.5));
//!
//! // Writes are checked and encoded before anything is sent.
//! let err = map.plan_writes(&["voltage=240"], &map.units()).unwrap_err();
//! assert_eq!(err.to_string(), "register `voltage` is read-only (writable registers: none)");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod action;
mod category;
mod check;
mod error;
mod examples;
pub mod expr;
mod extent;
mod identify;
mod io;
mod load;
mod locate;
mod memory;
mod model;
pub mod raw;
mod read;
mod registry;
mod role;
#[cfg(feature = "schema")]
mod schema;
pub mod sunspec;
mod units;
mod wire;
mod write;

pub use action::{ParamValue, param_allowed, parse_param};
pub use category::Category;
pub use check::{Check, Expect, Expected, Mismatch, glob};
pub use error::MapError;
pub use examples::{ExampleError, encode_value, example_words};
pub use identify::{FailureScope, Found, Identification, Verdict, identify};
pub use io::RegisterIo;
pub use load::{load_file, parse_duration, parse_map};
pub use locate::Locations;
pub use memory::{MemoryDevice, Request, Unmapped};
pub use model::{
    Access, Action, AddressBase, Block, Bound, Connection, Derived, DeviceMap, Every, Format,
    Heartbeat, HeartbeatWrite, JsonEnums, Kind, Output, Param, ParamType, ReadBack, Register,
    RegisterType, Scale, Source, Step, Transport, UnitRef, Valid, WriteConfirm, WriteRule,
};
pub use read::{Missing, ReadFailure, ReadPlan, Reading, SelectError, Snapshot, describe_value};
pub use registry::{MAPS_ENV, Registry, RegistryError, UserFolders, Warning};
pub use role::{Dimension, Quantity, Role};
#[cfg(feature = "schema")]
pub use schema::json_schema;
pub use units::{UnitError, Units};
pub use wire::WireRefusal;
pub use write::{
    Confirmation, ExecuteError, PlannedWrite, Resolved, WriteError, WritePlan, WriteReport,
    WriteRequest, allowed_values, parse_register_value,
};

use std::future::Future;

/// modbus-core, re-exported so users of this crate name the same types.
pub use modbus_core;

/// Runs a future that never waits on I/O (such as a read through [`MemoryDevice`]) to
/// completion on the current thread. For tests, examples and tools; real transports use their
/// own runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct ThreadWaker(std::thread::Thread);
    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}
