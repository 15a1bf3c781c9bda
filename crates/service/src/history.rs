//! A short, bounded history of every numeric reading, for the dashboard's charts.
//!
//! [`History::follow`] records each fresh numeric value of every device (stale values were
//! recorded when they were read) into a ring per register. A ring spans one `window` with at
//! most [`MAX_POINTS`] points: at the device's poll interval when that fits, else one point per
//! `window / MAX_POINTS` (a chart a few hundred pixels wide shows no more). Memory is bounded
//! by devices × registers × points whatever runs for how long; `/metrics` shows the series,
//! points and bytes held, and `examples/history_memory.rs` measures a full site.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use tokio::task::JoinHandle;

use crate::runtime::Service;

/// Most points a ring keeps, whatever the window and the interval.
pub const MAX_POINTS: usize = 720;

/// Bytes one point takes (time in milliseconds and value).
const POINT_BYTES: usize = size_of::<(u64, f64)>();

/// Points of one register: time in ms since the Unix epoch, and value.
type Ring = VecDeque<(u64, f64)>;

#[derive(Default)]
struct Rings {
    /// Device id, then register name, to its ring.
    series: HashMap<Arc<str>, HashMap<String, Ring>>,
    points: usize,
}

/// The recorder. Cheap to clone.
#[derive(Clone)]
pub struct History {
    window: Duration,
    rings: Arc<Mutex<Rings>>,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// What the history holds now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryStats {
    /// Registers with at least one point.
    pub series: usize,
    /// Points in all rings.
    pub points: usize,
    /// Bytes the points take (the rings' own bookkeeping aside).
    pub bytes: usize,
}

impl History {
    /// A history of the last `window` of every numeric register.
    pub fn new(window: Duration) -> History {
        History {
            window,
            rings: Arc::new(Mutex::new(Rings::default())),
        }
    }

    /// The points a ring of a device polled every `interval` keeps.
    pub fn capacity(&self, interval: Duration) -> usize {
        let interval = interval.max(Duration::from_millis(1));
        let n = self.window.as_nanos().div_ceil(interval.as_nanos());
        usize::try_from(n)
            .unwrap_or(MAX_POINTS)
            .clamp(1, MAX_POINTS)
    }

    /// The time between two points of a ring of a device polled every `interval`, in ms: the
    /// interval, or longer when the window holds more polls than a ring keeps.
    pub fn spacing_ms(&self, interval: Duration) -> u64 {
        let spread = self.window.as_millis() / self.capacity(interval) as u128;
        u64::try_from(spread.max(interval.as_millis())).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Rings> {
        self.rings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds one point to the ring of `device`/`register`, dropping the oldest beyond
    /// `capacity`; a point closer than `spacing_ms` to the last one (less a tenth, for the
    /// scheduling jitter of polls) is left out.
    pub fn record(
        &self,
        device: &Arc<str>,
        register: &str,
        at_ms: u64,
        value: f64,
        capacity: usize,
        spacing_ms: u64,
    ) {
        let mut rings = self.lock();
        let ring = rings
            .series
            .entry(Arc::clone(device))
            .or_default()
            .entry(register.to_owned())
            .or_default();
        if let Some((last, _)) = ring.back()
            && at_ms.saturating_sub(*last) < spacing_ms - spacing_ms / 10
        {
            return;
        }
        ring.push_back((at_ms, value));
        let mut delta: isize = 1;
        while ring.len() > capacity {
            ring.pop_front();
            delta -= 1;
        }
        rings.points = rings.points.saturating_add_signed(delta);
    }

    /// The points of `device`/`register`, oldest first (time in ms since the Unix epoch).
    pub fn series(&self, device: &str, register: &str) -> Vec<(u64, f64)> {
        self.lock()
            .series
            .get(device)
            .and_then(|d| d.get(register))
            .map(|ring| ring.iter().copied().collect())
            .unwrap_or_default()
    }

    /// What is held now.
    pub fn stats(&self) -> HistoryStats {
        let rings = self.lock();
        HistoryStats {
            series: rings.series.values().map(HashMap::len).sum(),
            points: rings.points,
            bytes: rings.points * POINT_BYTES,
        }
    }

    /// Records every fresh numeric reading of `service` until it stops.
    pub fn follow(&self, service: &Service) -> JoinHandle<()> {
        let this = self.clone();
        service.follow_updates("history", move |service, update| {
            if !update.available {
                return;
            }
            let Some(device) = service.device(&update.id) else {
                return;
            };
            let capacity = this.capacity(device.spec().interval);
            let spacing = this.spacing_ms(device.spec().interval);
            let at = update
                .snapshot
                .started_at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            for reading in &update.snapshot.readings {
                if update.stale.contains(&reading.name) {
                    continue;
                }
                let Ok(value) = &reading.value else { continue };
                // Enumerations and times of day are not charted: a number with a label is a
                // state.
                if reading.label.is_some() {
                    continue;
                }
                if let Some(number) = value.as_f64().filter(|v| v.is_finite()) {
                    this.record(&update.id, &reading.name, at, number, capacity, spacing);
                }
            }
        })
    }

    /// Prometheus lines for what the history holds.
    pub fn metrics(&self) -> String {
        let s = self.stats();
        format!(
            "# HELP evctl_history_series Registers with a dashboard history\n\
             # TYPE evctl_history_series gauge\n\
             evctl_history_series {}\n\
             # HELP evctl_history_points Points held by the dashboard history\n\
             # TYPE evctl_history_points gauge\n\
             evctl_history_points {}\n\
             # HELP evctl_history_bytes Bytes the dashboard history's points take\n\
             # TYPE evctl_history_bytes gauge\n\
             evctl_history_bytes {}\n",
            s.series, s.points, s.bytes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_keeps_the_window_at_the_interval_and_counts_its_points() {
        let history = History::new(Duration::from_secs(60));
        assert_eq!(history.capacity(Duration::from_secs(10)), 6);
        assert_eq!(history.spacing_ms(Duration::from_secs(10)), 10_000);
        assert_eq!(history.capacity(Duration::from_millis(7)), MAX_POINTS);
        assert_eq!(history.spacing_ms(Duration::from_millis(7)), 83);
        assert_eq!(history.capacity(Duration::from_secs(600)), 1);
        let id: Arc<str> = Arc::from("meter");
        for i in 0..10u32 {
            history.record(&id, "power", u64::from(i) * 10, f64::from(i), 6, 10);
        }
        // Too soon after the last point: left out.
        history.record(&id, "power", 95, 99.0, 6, 10);
        history.record(&id, "voltage", 0, 230.0, 6, 10);
        let power: Vec<f64> = history
            .series("meter", "power")
            .iter()
            .map(|p| p.1)
            .collect();
        assert_eq!(power, [4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        assert_eq!(
            history.stats(),
            HistoryStats {
                series: 2,
                points: 7,
                bytes: 7 * 16
            }
        );
        assert!(history.series("meter", "nothing").is_empty());
        assert!(history.metrics().contains("evctl_history_points 7\n"));
    }
}
