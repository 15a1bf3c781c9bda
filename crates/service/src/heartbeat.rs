//! Sending the heartbeats a device map declares, over any [`RegisterIo`], and keeping their
//! [`Schedule`]: shared by the service's pollers and any other loop (`evctl poll` keeps the same
//! heartbeats the same way).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use device_maps::{DeviceMap, Heartbeat, Reading, RegisterIo, Units, WriteError};
use modbus_core::Value;
use tokio::time::Instant;

/// The least time between two sends of one heartbeat, whatever the map or the device says
/// (a register holding 0 must not make a loop spin). Low enough for any interval a map
/// declares; the service's pollers add their own floor of a second.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// When each heartbeat of a map is due: all of them at once at the start, then each at the
/// interval its last send returned (never less than [`MIN_INTERVAL`]).
///
/// A loop waits on [`Schedule::next_due`] (when the schedule is not empty), then sends each of
/// [`Schedule::due`] and passes the interval [`send`] returned to [`Due::sent`].
#[derive(Debug, Clone)]
pub struct Schedule {
    beats: Vec<Due>,
}

/// One heartbeat and when it is due.
#[derive(Debug, Clone)]
pub struct Due {
    /// The heartbeat.
    pub heartbeat: Heartbeat,
    due: Instant,
}

impl Due {
    /// Records a send: the heartbeat is due again `interval` from now (at least
    /// [`MIN_INTERVAL`]).
    pub fn sent(&mut self, interval: Duration) {
        self.due = Instant::now() + interval.max(MIN_INTERVAL);
    }
}

impl Schedule {
    /// Every heartbeat of `map`, due now.
    pub fn new(map: &DeviceMap) -> Schedule {
        let now = Instant::now();
        Schedule {
            beats: map
                .heartbeats
                .iter()
                .map(|heartbeat| Due {
                    heartbeat: heartbeat.clone(),
                    due: now,
                })
                .collect(),
        }
    }

    /// Whether the map has no heartbeats (then [`Schedule::next_due`] is an hour away).
    pub fn is_empty(&self) -> bool {
        self.beats.is_empty()
    }

    /// When the next heartbeat is due.
    pub fn next_due(&self) -> Instant {
        self.beats
            .iter()
            .map(|b| b.due)
            .min()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))
    }

    /// The heartbeats due now.
    pub fn due(&mut self) -> impl Iterator<Item = &mut Due> {
        let now = Instant::now();
        self.beats.iter_mut().filter(move |b| b.due <= now)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_heartbeat_is_due_at_the_start_and_never_again_at_once() {
        let registry = device_maps::Registry::built_in().expect("built-in maps load");
        let map = registry
            .get("vestel-evc04")
            .expect("vestel-evc04 is built in");
        let mut schedule = Schedule::new(map);
        assert!(!schedule.is_empty());
        assert_eq!(schedule.due().count(), map.heartbeats.len());
        // An interval of 0 (a register holding 0) still waits MIN_INTERVAL.
        for beat in schedule.due() {
            beat.sent(Duration::ZERO);
        }
        assert_eq!(schedule.due().count(), 0);
        assert!(schedule.next_due() > Instant::now());
    }
}
