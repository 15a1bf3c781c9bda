//! One device's task: poll on schedule, keep heartbeats, back off while the device is down,
//! publish every outcome.
//!
//! Each device has its own task, so a device that hangs costs only its own schedule. Within a
//! poll, the first request that fails on the network makes the rest of that poll fail at once
//! ([`FailFast`], shared with the CLI): a dead device costs one timeout per poll, not one per
//! request.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, SystemTime};

use device_maps::{Heartbeat, Missing, ReadPlan, Reading, Snapshot};
use modbus_core::Value;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

use crate::client::FailFast;
use crate::runtime::{DeviceHandle, DeviceUpdate};

/// The delay before the next poll after `failures` failed polls in a row: the interval, then
/// doubling, never more than `max_backoff` (but never less than the interval).
pub fn backoff(interval: Duration, failures: u32, max_backoff: Duration) -> Duration {
    if failures <= 1 {
        return interval;
    }
    let factor = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX);
    interval
        .saturating_mul(factor)
        .min(max_backoff.max(interval))
}

/// Where a device's first poll falls within its interval, spread by a hash of its id so a
/// thousand devices do not all start in the same millisecond.
fn first_offset(id: &str, interval: Duration) -> Duration {
    let slot = u32::try_from(crate::config::fnv1a(id) % 1000).unwrap_or(0);
    interval.mul_f64(f64::from(slot) / 1000.0)
}

pub(crate) async fn run(
    device: Arc<DeviceHandle>,
    updates: broadcast::Sender<DeviceUpdate>,
    max_backoff: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let map = Arc::clone(&device.spec.map);
    let interval = device.spec.interval;
    let plan = match map
        .select::<&str>(&[])
        .map_err(|e| e.to_string())
        .and_then(|sel| {
            map.plan_read_with(&sel, &device.spec.units, device.spec.verify)
                .map_err(|e| e.to_string())
        }) {
        Ok(plan) => plan,
        Err(err) => {
            tracing::error!(device = %device.id, error = %err, "cannot plan the reads; not polling");
            return;
        }
    };
    let mut beats = crate::heartbeat::Schedule::new(&map);
    let mut last_good: HashMap<String, Reading> = HashMap::new();
    let mut next = Instant::now() + first_offset(&device.id, interval);
    tracing::debug!(device = %device.id, address = %device.address(), ?interval, requests = plan.requests().len(), "polling");
    loop {
        let next_beat = beats.next_due();
        let scheduled = tokio::select! {
            _ = stop.changed() => break,
            () = tokio::time::sleep_until(next) => Some(next),
            () = device.poll_now.notified() => None,
            () = tokio::time::sleep_until(next_beat), if !beats.is_empty() => {
                for beat in beats.due() {
                    let interval = send_heartbeat(&device, &beat.heartbeat, &last_good).await;
                    // A service never sends one heartbeat more than once a second.
                    beat.sent(interval.max(Duration::from_secs(1)));
                }
                continue;
            }
        };
        let started = Instant::now();
        let lag = scheduled.map_or(Duration::ZERO, |s| started.saturating_duration_since(s));
        // A stop does not wait for a poll of a device that hangs.
        let failures = tokio::select! {
            _ = stop.changed() => break,
            failures = poll_once(&device, &plan, &updates, &mut last_good, lag) => failures,
        };
        if scheduled.is_some() {
            next = if failures == 0 {
                // Next slot on the grid; skip slots already missed.
                let mut n = next + interval;
                let now = Instant::now();
                if n <= now {
                    let behind =
                        now.saturating_duration_since(n).as_nanos() / interval.as_nanos().max(1);
                    n += interval.saturating_mul(u32::try_from(behind + 1).unwrap_or(u32::MAX));
                }
                n
            } else {
                Instant::now() + backoff(interval, failures, max_backoff)
            };
        }
    }
    tracing::debug!(device = %device.id, "poller stopped");
}

/// Polls once, records the state and publishes it; returns the failures in a row.
async fn poll_once(
    device: &Arc<DeviceHandle>,
    plan: &ReadPlan,
    updates: &broadcast::Sender<DeviceUpdate>,
    last_good: &mut HashMap<String, Reading>,
    lag: Duration,
) -> u32 {
    let attempt = SystemTime::now();
    let timeout = device.spec.timeout;
    let requests = u32::try_from(plan.requests().len()).unwrap_or(u32::MAX);
    // Safety net over the per-request timeouts: two attempts per request, the wait before the
    // retry (at most 1 s in either client) and the device's pacing.
    let deadline = (timeout.saturating_mul(2) + Duration::from_secs(1))
        .saturating_mul(requests.saturating_add(1))
        + device.spec.map.connection.pacing.saturating_mul(requests);
    let mut io = FailFast::new(device.client.clone());
    let result = tokio::time::timeout(deadline, plan.execute(&mut io)).await;
    let (snapshot, error) = match result {
        Ok(snapshot) => {
            let answered = snapshot
                .readings
                .iter()
                .any(|r| !matches!(r.value, Err(Missing::ReadFailed(_))));
            let error = if let Some(mismatch) = &snapshot.mismatch {
                // Every value is withheld; the device is not what its map describes.
                Some(format!("{mismatch}; {}", device_maps::Mismatch::HINT))
            } else if answered || snapshot.readings.is_empty() {
                None
            } else {
                Some(
                    io.failure()
                        .map(str::to_owned)
                        .or_else(|| {
                            snapshot.readings.iter().find_map(|r| match &r.value {
                                Err(Missing::ReadFailed(f)) => Some(f.to_string()),
                                _ => None,
                            })
                        })
                        .unwrap_or_else(|| "every request failed".to_owned()),
                )
            };
            (Some(snapshot), error)
        }
        Err(_) => (
            None,
            Some(format!(
                "the poll did not finish within {}",
                crate::format_duration(deadline)
            )),
        ),
    };
    let available = error.is_none();
    let (merged, stale) = match snapshot {
        Some(s) => with_stale(s, last_good),
        None => {
            let previous = device.status().snapshot;
            let stale: Vec<String> = previous
                .as_ref()
                .map(|p| p.readings.iter().map(|r| r.name.clone()).collect())
                .unwrap_or_default();
            let snapshot = previous.map(|p| (*p).clone()).unwrap_or_else(|| Snapshot {
                device: device.spec.map.id.clone(),
                readings: Vec::new(),
                started_at: attempt,
                finished_at: SystemTime::now(),
                requests: 0,
                mismatch: None,
            });
            (snapshot, stale)
        }
    };
    let merged = Arc::new(merged);
    let stale: Arc<[String]> = stale.into();
    let error: Option<Arc<str>> = error.map(Arc::from);
    let (changed, failures) = {
        let mut status = device
            .status
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let changed = status.polls == 0 || status.available != available;
        status.polls += 1;
        status.last_attempt = Some(attempt);
        status.last_lag = lag;
        status.available = available;
        status.last_error = error.clone();
        status.stale = Arc::clone(&stale);
        if available {
            status.consecutive_failures = 0;
            status.last_success = Some(SystemTime::now());
        } else {
            status.failures += 1;
            status.consecutive_failures = status.consecutive_failures.saturating_add(1);
        }
        if available || status.snapshot.is_none() {
            status.snapshot = Some(Arc::clone(&merged));
        }
        (changed, status.consecutive_failures)
    };
    if changed {
        if available {
            tracing::info!(device = %device.id, "device available");
        } else {
            tracing::warn!(device = %device.id, error = error.as_deref().unwrap_or(""), "device unavailable");
        }
    } else if let Some(err) = &error {
        tracing::debug!(device = %device.id, error = %err, failures, "poll failed");
    }
    let _ = updates.send(DeviceUpdate {
        id: Arc::clone(&device.id),
        snapshot: merged,
        stale,
        available,
        availability_changed: changed,
        lag,
        error,
    });
    failures
}

/// Replaces readings whose request failed, or that were withheld because the map's check
/// could not be read, by the last value read (which keeps its own `read_at`), and names them.
pub fn with_stale(
    mut snapshot: Snapshot,
    last_good: &mut HashMap<String, Reading>,
) -> (Snapshot, Vec<String>) {
    let mut stale = Vec::new();
    for reading in &mut snapshot.readings {
        match &reading.value {
            Ok(_) => {
                last_good.insert(reading.name.clone(), reading.clone());
            }
            Err(Missing::ReadFailed(_) | Missing::Unverified { .. }) => {
                if let Some(previous) = last_good.get(&reading.name) {
                    stale.push(reading.name.clone());
                    *reading = previous.clone();
                }
            }
            Err(_) => {}
        }
    }
    (snapshot, stale)
}

/// Sends one heartbeat (bounded in time) and returns the time until the next one.
async fn send_heartbeat(
    device: &DeviceHandle,
    heartbeat: &Heartbeat,
    last_good: &HashMap<String, Reading>,
) -> Duration {
    let mut client = device.client.clone();
    let written: HashMap<String, Value> = device
        .last_written
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let deadline = device.spec.timeout.saturating_mul(4);
    let sent = crate::heartbeat::send(
        &device.spec.map,
        &device.spec.units,
        heartbeat,
        &mut client,
        &written,
        last_good,
    );
    match tokio::time::timeout(deadline, sent).await {
        Ok((interval, Ok(requests))) => {
            tracing::debug!(device = %device.id, heartbeat = %heartbeat.name, requests, "heartbeat sent");
            interval
        }
        Ok((interval, Err(err))) => {
            tracing::warn!(device = %device.id, error = %error_chain(&err), "heartbeat not sent");
            interval
        }
        Err(_) => {
            tracing::warn!(device = %device.id, heartbeat = %heartbeat.name, "heartbeat timed out");
            heartbeat.interval(None)
        }
    }
}

/// An error and its causes on one line.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = Duration::from_secs;
        assert_eq!(backoff(s(1), 0, s(60)), s(1));
        assert_eq!(backoff(s(1), 1, s(60)), s(1));
        assert_eq!(backoff(s(1), 2, s(60)), s(2));
        assert_eq!(backoff(s(1), 4, s(60)), s(8));
        assert_eq!(backoff(s(1), 40, s(60)), s(60));
        assert_eq!(backoff(s(120), 3, s(60)), s(120));
    }
}
