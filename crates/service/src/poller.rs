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
    // The latest published readings: this poll's values, else the last good ones. The stale
    // values of the next poll come from it, so a poll copies nothing when every read succeeds.
    let mut latest: Option<Arc<Snapshot>> = None;
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
                    let interval =
                        send_heartbeat(&device, &beat.heartbeat, latest.as_deref()).await;
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
            failures = poll_once(&device, &plan, &updates, &mut latest, lag) => failures,
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
    latest: &mut Option<Arc<Snapshot>>,
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
        Some(s) => carry_stale(s, latest.as_deref()),
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
    *latest = Some(Arc::clone(&merged));
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

/// [`with_stale`] for a poller, which keeps its latest published snapshot rather than a map of
/// every last good reading: a reading whose request failed, or that was withheld because the
/// map's check could not be read, takes the value `previous` has for it (this poll's
/// predecessor's value or, carried forward, the last good one), and is named stale. A poll
/// whose reads all succeed copies nothing. Readings come in plan order, so the predecessor is
/// looked for at the same position first.
fn carry_stale(mut snapshot: Snapshot, previous: Option<&Snapshot>) -> (Snapshot, Vec<String>) {
    let mut stale = Vec::new();
    let Some(previous) = previous else {
        return (snapshot, stale);
    };
    for (i, reading) in snapshot.readings.iter_mut().enumerate() {
        if !matches!(
            reading.value,
            Err(Missing::ReadFailed(_) | Missing::Unverified { .. })
        ) {
            continue;
        }
        let before = previous
            .readings
            .get(i)
            .filter(|p| p.name == reading.name)
            .or_else(|| previous.readings.iter().find(|p| p.name == reading.name));
        if let Some(before) = before.filter(|p| p.value.is_ok()) {
            stale.push(reading.name.clone());
            *reading = before.clone();
        }
    }
    (snapshot, stale)
}

/// Sends one heartbeat (bounded in time) and returns the time until the next one.
async fn send_heartbeat(
    device: &DeviceHandle,
    heartbeat: &Heartbeat,
    latest: Option<&Snapshot>,
) -> Duration {
    // The register an interval may come from (Vestel: failsafe_timeout), as last read.
    let last_good: HashMap<String, Reading> = heartbeat
        .interval_register()
        .and_then(|name| {
            latest?
                .readings
                .iter()
                .find(|r| r.name == name && r.value.is_ok())
        })
        .map(|r| (r.name.clone(), r.clone()))
        .into_iter()
        .collect();
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
        &last_good,
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

    fn reading(name: &str, value: Result<Value, Missing>) -> Reading {
        Reading {
            name: name.to_owned(),
            title: name.to_owned(),
            value,
            unit: None,
            label: None,
            flags: Vec::new(),
            group: None,
            kind: device_maps::Kind::Measurement,
            unit_id: 1,
            read_at: None,
        }
    }

    fn snapshot(values: &[(&str, Option<f64>)]) -> Snapshot {
        let withheld = || Missing::Unverified {
            register: "check".to_owned(),
        };
        Snapshot {
            device: "m".to_owned(),
            readings: values
                .iter()
                .map(|(name, v)| reading(name, v.map(Value::Float).ok_or_else(withheld)))
                .collect(),
            started_at: SystemTime::UNIX_EPOCH,
            finished_at: SystemTime::UNIX_EPOCH,
            requests: 1,
            mismatch: None,
        }
    }

    /// The poller's stale values, from its latest snapshot, are those of `with_stale`, from a
    /// map of every last good reading, over polls that read all, some and none of the values.
    #[test]
    fn carried_stale_values_are_the_last_good_ones() {
        let polls = [
            snapshot(&[("a", None), ("b", Some(1.0)), ("c", None)]),
            snapshot(&[("a", Some(2.0)), ("b", Some(3.0)), ("c", None)]),
            snapshot(&[("a", None), ("b", None), ("c", None)]),
            snapshot(&[("a", None), ("b", Some(4.0)), ("c", Some(5.0))]),
            snapshot(&[("a", None), ("b", None), ("c", None)]),
        ];
        let mut last_good = HashMap::new();
        let mut latest: Option<Snapshot> = None;
        for (n, poll) in polls.into_iter().enumerate() {
            let (expected, expected_stale) = with_stale(poll.clone(), &mut last_good);
            let (merged, stale) = carry_stale(poll, latest.as_ref());
            assert_eq!(merged.readings, expected.readings, "poll {n}");
            assert_eq!(stale, expected_stale, "poll {n}");
            latest = Some(merged);
        }
        let last = latest.unwrap();
        let values: Vec<Option<f64>> = last
            .readings
            .iter()
            .map(|r| r.value().and_then(Value::as_f64))
            .collect();
        assert_eq!(values, [Some(2.0), Some(4.0), Some(5.0)]);
    }

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
