//! The read cache: how long an answer may be reused per table, and the answers themselves.
//!
//! An entry is keyed by the exact read (unit, table, address, count), so a client polling the
//! same block every second hits it; a write invalidates every entry it overlaps on its unit and
//! table. Entries older than their table's max age are never served and are dropped as the
//! cache is used, so memory stays bounded by the number of distinct reads in one max age.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use modbus_core::Table;

/// A `--cache` value that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not a cache policy: write TABLE=DURATION[,...] with tables input, holding, coil, discrete (e.g. input=1s,holding=10s)"
)]
pub struct CachePolicyError {
    /// The text given.
    pub text: String,
}

/// The max age of cached answers per table; a table without one is never cached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CachePolicy {
    max_age: [Option<Duration>; 4],
}

impl CachePolicy {
    /// Nothing cached.
    pub fn none() -> Self {
        Self::default()
    }

    /// Caches `table` for `max_age` (zero turns it off).
    pub fn with(mut self, table: Table, max_age: Duration) -> Self {
        self.max_age[table.index()] = (!max_age.is_zero()).then_some(max_age);
        self
    }

    /// The max age of `table`, if it is cached.
    pub fn max_age(&self, table: Table) -> Option<Duration> {
        self.max_age[table.index()]
    }

    /// Whether any table is cached.
    pub fn is_enabled(&self) -> bool {
        self.max_age.iter().any(Option::is_some)
    }

    fn longest(&self) -> Duration {
        self.max_age
            .iter()
            .flatten()
            .max()
            .copied()
            .unwrap_or_default()
    }
}

impl FromStr for CachePolicy {
    type Err = CachePolicyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || CachePolicyError {
            text: text.to_owned(),
        };
        let mut policy = Self::none();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (table, age) = part.split_once('=').ok_or_else(bad)?;
            let table: Table = table.trim().parse().map_err(|_| bad())?;
            let age = device_maps::parse_duration(age.trim()).ok_or_else(bad)?;
            policy = policy.with(table, age);
        }
        Ok(policy)
    }
}

impl fmt::Display for CachePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = [Table::Coil, Table::Discrete, Table::Input, Table::Holding]
            .into_iter()
            .filter_map(|t| self.max_age(t).map(|age| format!("{t}={age:?}")))
            .collect();
        if parts.is_empty() {
            f.write_str("off")
        } else {
            f.write_str(&parts.join(","))
        }
    }
}

/// One read, as a key for coalescing and caching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ReadKey {
    pub(crate) unit: u8,
    pub(crate) table: Table,
    pub(crate) address: u16,
    pub(crate) count: u16,
}

impl ReadKey {
    fn overlaps(&self, unit: u8, table: Table, address: u16, count: u16) -> bool {
        let (a0, a1) = (
            u32::from(self.address),
            u32::from(self.address) + u32::from(self.count),
        );
        let (b0, b1) = (u32::from(address), u32::from(address) + u32::from(count));
        self.unit == unit && self.table == table && a0 < b1 && b0 < a1
    }
}

/// The cached answers of one upstream.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    entries: HashMap<ReadKey, (Instant, Arc<Vec<u16>>)>,
    last_sweep: Option<Instant>,
}

impl Cache {
    /// A fresh enough answer to `key`.
    pub(crate) fn get(
        &self,
        key: &ReadKey,
        max_age: Duration,
        now: Instant,
    ) -> Option<Arc<Vec<u16>>> {
        let (at, words) = self.entries.get(key)?;
        (now.saturating_duration_since(*at) < max_age).then(|| Arc::clone(words))
    }

    /// Keeps an answer read at `at`, and forgets answers too old to be served any more.
    pub(crate) fn put(
        &mut self,
        key: ReadKey,
        words: Arc<Vec<u16>>,
        at: Instant,
        policy: &CachePolicy,
    ) {
        self.entries.insert(key, (at, words));
        let longest = policy.longest();
        if self
            .last_sweep
            .is_none_or(|last| at.saturating_duration_since(last) >= longest)
        {
            self.entries.retain(|k, (t, _)| {
                policy
                    .max_age(k.table)
                    .is_some_and(|age| at.saturating_duration_since(*t) < age)
            });
            self.last_sweep = Some(at);
        }
    }

    /// Forgets every answer overlapping a write; returns how many.
    pub(crate) fn invalidate(&mut self, unit: u8, table: Table, address: u16, count: u16) -> usize {
        let before = self.entries.len();
        self.entries
            .retain(|k, _| !k.overlaps(unit, table, address, count));
        before - self.entries.len()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        let policy: CachePolicy = "input=1s, holding=10s".parse().unwrap();
        assert_eq!(policy.max_age(Table::Input), Some(Duration::from_secs(1)));
        assert_eq!(
            policy.max_age(Table::Holding),
            Some(Duration::from_secs(10))
        );
        assert_eq!(policy.max_age(Table::Coil), None);
        assert_eq!(policy.to_string(), "input=1s,holding=10s");
        assert!(!"".parse::<CachePolicy>().unwrap().is_enabled());
        assert_eq!(
            "ir=500ms".parse::<CachePolicy>().unwrap().to_string(),
            "input=500ms"
        );
        for bad in ["input", "input=soon", "registers=1s", "input=1s;holding=2s"] {
            assert!(bad.parse::<CachePolicy>().is_err(), "{bad}");
        }
        assert!(!"input=0s".parse::<CachePolicy>().unwrap().is_enabled());
    }

    #[test]
    fn entries_expire_and_writes_invalidate_what_they_overlap() {
        let policy: CachePolicy = "holding=10s".parse().unwrap();
        let t0 = Instant::now();
        let key = |address, count| ReadKey {
            unit: 1,
            table: Table::Holding,
            address,
            count,
        };
        let mut cache = Cache::default();
        cache.put(key(100, 10), Arc::new(vec![1; 10]), t0, &policy);
        cache.put(key(200, 2), Arc::new(vec![2; 2]), t0, &policy);
        let age = Duration::from_secs(10);
        assert!(
            cache
                .get(&key(100, 10), age, t0 + Duration::from_secs(9))
                .is_some()
        );
        assert!(cache.get(&key(100, 10), age, t0 + age).is_none());
        assert!(cache.get(&key(100, 9), age, t0).is_none());
        // A write to 109 overlaps 100..110 only; other units and tables are untouched.
        assert_eq!(cache.invalidate(2, Table::Holding, 109, 1), 0);
        assert_eq!(cache.invalidate(1, Table::Coil, 109, 1), 0);
        assert_eq!(cache.invalidate(1, Table::Holding, 110, 5), 0);
        assert_eq!(cache.invalidate(1, Table::Holding, 109, 1), 1);
        assert!(cache.get(&key(200, 2), age, t0).is_some());
        // Old entries are swept as new ones arrive.
        cache.put(
            key(300, 1),
            Arc::new(vec![3]),
            t0 + Duration::from_secs(11),
            &policy,
        );
        assert_eq!(cache.len(), 1);
    }
}
