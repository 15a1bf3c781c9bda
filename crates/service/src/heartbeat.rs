//! Sending the heartbeats a device map declares, over any [`RegisterIo`]: shared by the
//! service's pollers and usable by any other loop (`evctl poll` keeps the same heartbeats).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use device_maps::{DeviceMap, Heartbeat, Reading, RegisterIo, Units, WriteError};
use modbus_core::Value;

/// Why a heartbeat was not sent.
#[derive(Debug, thiserror::Error)]
pub enum HeartbeatError {
    /// Its writes cannot be planned (for example a refresh of a value never written).
    #[error("heartbeat `{name}` of {map} cannot be planned")]
    Plan {
        /// The heartbeat.
        name: String,
        /// The map id.
        map: String,
        /// Why.
        #[source]
        source: WriteError,
    },
    /// Sending it failed.
    #[error("heartbeat `{name}` of {map} failed")]
    Send {
        /// The heartbeat.
        name: String,
        /// The map id.
        map: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Sends `heartbeat` once and returns the time until the next one, with the outcome
/// (`Ok(requests sent)`, zero when there was nothing to send).
///
/// An interval that is a register's value (Vestel: `failsafe_timeout / 2`) takes the value
/// from `last_good`, or reads that register now. A refresh heartbeat resends the values in
/// `last_written`.
pub async fn send<I: RegisterIo + Send>(
    map: &Arc<DeviceMap>,
    units: &Units,
    heartbeat: &Heartbeat,
    io: &mut I,
    last_written: &HashMap<String, Value>,
    last_good: &HashMap<String, Reading>,
) -> (Duration, Result<usize, HeartbeatError>) {
    let register_value = match heartbeat.interval_register() {
        None => None,
        Some(name) => match last_good.get(name).and_then(Reading::value) {
            Some(v) => v.as_f64(),
            None => read_one(map, units, name, io).await,
        },
    };
    let interval = heartbeat.interval(register_value);
    let outcome = match map.plan_heartbeat(heartbeat, units, |name| last_written.get(name).cloned())
    {
        Ok(Some(plan)) => match plan.execute(io).await {
            Ok(report) => Ok(report.sent.len()),
            Err(err) => Err(HeartbeatError::Send {
                name: heartbeat.name.clone(),
                map: map.id.clone(),
                source: Box::new(err),
            }),
        },
        Ok(None) => Ok(0),
        Err(source) => Err(HeartbeatError::Plan {
            name: heartbeat.name.clone(),
            map: map.id.clone(),
            source,
        }),
    };
    (interval, outcome)
}

async fn read_one<I: RegisterIo + Send>(
    map: &Arc<DeviceMap>,
    units: &Units,
    name: &str,
    io: &mut I,
) -> Option<f64> {
    let index = map.register_index(name)?;
    let plan = map.plan_read(&[index], units).ok()?;
    let snapshot = plan.execute(io).await;
    snapshot.value(name).and_then(Value::as_f64)
}
