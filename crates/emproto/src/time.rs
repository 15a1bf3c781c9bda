//! EM time: the charger's Asia/Shanghai wall clock (UTC+8, no DST) carried as a `u32`.
//!
//! The charger knows no time zones. The app tells it a moment as the Unix time of the *user's
//! local* wall-clock date and time read as if it were Shanghai time, so a charger in Amsterdam
//! shows Amsterdam wall-clock time: `em = unix + local_offset − 8 h`. Decoding reads the Shanghai
//! wall-clock fields of `em` and places them in the local zone again. Both directions need the
//! user's zone; this module takes it as a [`jiff::tz::TimeZone`] argument and never reads the
//! system clock or the system zone itself.
//!
//! ```
//! use emproto::time::EmTime;
//! use jiff::{Timestamp, tz::{TimeZone, offset}};
//!
//! // A Besen capture: phone time 2022-04-08T21:32:08Z, phone at UTC+2.
//! let phone = TimeZone::fixed(offset(2));
//! let now = Timestamp::from_second(1_649_453_528).unwrap();
//! let em = EmTime::from_timestamp(now, &phone).unwrap();
//! assert_eq!(em, EmTime(0x6250_5578));
//! assert_eq!(em.wall_clock().to_string(), "2022-04-08T23:32:08");
//! assert_eq!(em.to_timestamp(&phone), Some(now));
//! ```

use std::fmt;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use thiserror::Error;

/// The charger's fixed offset: Asia/Shanghai, UTC+8, no daylight saving time.
pub const CHARGER_OFFSET: Offset = Offset::constant(8);

/// A timestamp as the charger carries it. 0 and `0xffffffff` mean "no time".
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct EmTime(pub u32);

/// A moment that EM time cannot carry (before 1970 or after 2106 on the charger's clock).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "{wall_clock} is outside the range of EM time (1970-01-01T08:00 to 2106-02-07T14:28:15 wall clock)"
)]
pub struct TimeRangeError {
    /// The wall-clock time that did not fit.
    pub wall_clock: DateTime,
}

impl EmTime {
    /// "No time" as some firmware sends it.
    pub const UNSET: Self = Self(0xffff_ffff);

    /// Whether this is a real time (neither 0 nor `0xffffffff`).
    pub const fn is_set(self) -> bool {
        self.0 != 0 && self.0 != 0xffff_ffff
    }

    /// The charger's wall-clock date and time.
    pub fn wall_clock(self) -> DateTime {
        // u32 seconds are always within jiff's range, so the fallback is never taken.
        Timestamp::from_second(i64::from(self.0))
            .unwrap_or(Timestamp::UNIX_EPOCH)
            .to_zoned(TimeZone::fixed(CHARGER_OFFSET))
            .datetime()
    }

    /// The EM time showing `wall_clock` on the charger.
    pub fn from_wall_clock(wall_clock: DateTime) -> Result<Self, TimeRangeError> {
        let err = || TimeRangeError { wall_clock };
        let seconds = wall_clock
            .to_zoned(TimeZone::fixed(CHARGER_OFFSET))
            .map_err(|_| err())?
            .timestamp()
            .as_second();
        u32::try_from(seconds).map(Self).map_err(|_| err())
    }

    /// The EM time for the moment `instant`, for a user in `local` (the charger then shows the
    /// user's wall-clock time).
    pub fn from_timestamp(instant: Timestamp, local: &TimeZone) -> Result<Self, TimeRangeError> {
        Self::from_wall_clock(instant.to_zoned(local.clone()).datetime())
    }

    /// The moment this EM time means for a user in `local`, or `None` for "no time". A wall
    /// clock that falls into a DST gap or fold is resolved the way RFC 5545 does (later for a
    /// gap, earlier for a fold).
    pub fn to_timestamp(self, local: &TimeZone) -> Option<Timestamp> {
        if !self.is_set() {
            return None;
        }
        local
            .to_ambiguous_zoned(self.wall_clock())
            .compatible()
            .ok()
            .map(|z| z.timestamp())
    }

    /// The moment this EM time means if the charger's clock really ran on Shanghai time (as when
    /// its clock was never set by an app): the `u32` read as Unix seconds.
    pub fn to_shanghai_timestamp(self) -> Option<Timestamp> {
        if !self.is_set() {
            return None;
        }
        Timestamp::from_second(i64::from(self.0)).ok()
    }
}

impl fmt::Debug for EmTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_set() {
            write!(f, "EmTime({:#010x} {})", self.0, self.wall_clock())
        } else {
            write!(f, "EmTime({:#010x} unset)", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use jiff::tz::offset;

    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    /// Central European time with its DST rules, without needing a tz database.
    fn amsterdam() -> TimeZone {
        TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap()
    }

    #[test]
    fn captured_and_documented_examples() {
        // BS20 capture: charge id embeds phone time 1649453528, phone at UTC+2.
        assert_eq!(
            EmTime::from_timestamp(ts(1_649_453_528), &TimeZone::fixed(offset(2))),
            Ok(EmTime(0x6250_5578))
        );
        // Same moment seen from Amsterdam (CEST in April).
        assert_eq!(
            EmTime::from_timestamp(ts(1_649_453_528), &amsterdam()),
            Ok(EmTime(0x6250_5578))
        );
        // 2025-03-07T12:00:00Z at UTC and at Amsterdam (CET, UTC+1).
        assert_eq!(
            EmTime::from_timestamp(ts(1_741_348_800), &TimeZone::UTC),
            Ok(EmTime(0x67ca_6f40))
        );
        assert_eq!(
            EmTime::from_timestamp(ts(1_741_348_800), &amsterdam()),
            Ok(EmTime(0x67ca_7d50))
        );
        // JB capture: 23:48:05 wall clock in Paris (UTC+2).
        assert_eq!(
            EmTime(0x6abf_d235).wall_clock().to_string(),
            "2026-10-02T23:48:05"
        );
        assert_eq!(
            EmTime(0x6abf_d235).to_timestamp(&amsterdam()),
            Some("2026-10-02T21:48:05Z".parse().unwrap())
        );
        // BS20 clock reports.
        assert_eq!(
            EmTime(0x6250_5cdc).wall_clock().to_string(),
            "2022-04-09T00:03:40"
        );
        assert_eq!(
            EmTime(0x6250_5cd4).wall_clock().to_string(),
            "2022-04-09T00:03:32"
        );
    }

    #[test]
    fn round_trips_through_any_zone() {
        let zones = [
            TimeZone::UTC,
            TimeZone::fixed(offset(8)),
            TimeZone::fixed(offset(-10)),
            TimeZone::fixed(offset(14)),
            amsterdam(),
            TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap(),
        ];
        for zone in &zones {
            for s in [
                86_400,
                1_649_453_528,
                1_741_348_800,
                1_790_956_085,
                3_000_000_000,
            ] {
                let em = EmTime::from_timestamp(ts(s), zone).unwrap();
                assert_eq!(em.to_timestamp(zone), Some(ts(s)), "{zone:?} {s}");
            }
        }
        // For a user in Shanghai EM time is plain Unix time; at UTC it is 8 h behind.
        let em = EmTime::from_timestamp(ts(1_000_000), &TimeZone::fixed(offset(8))).unwrap();
        assert_eq!(em, EmTime(1_000_000));
        assert_eq!(em.to_shanghai_timestamp(), Some(ts(1_000_000)));
        let em = EmTime::from_timestamp(ts(1_000_000), &TimeZone::UTC).unwrap();
        assert_eq!(em, EmTime(1_000_000 - 8 * 3600));
    }

    #[test]
    fn dst_gap_and_fold_and_range() {
        // 2025-03-30 02:30 does not exist in Amsterdam: it resolves to 03:30 CEST = 01:30Z.
        let gap = EmTime::from_wall_clock("2025-03-30T02:30:00".parse().unwrap()).unwrap();
        assert_eq!(
            gap.to_timestamp(&amsterdam()),
            Some("2025-03-30T01:30:00Z".parse().unwrap())
        );
        // 2025-10-26 02:30 happens twice: the earlier one (CEST) is chosen.
        let fold = EmTime::from_wall_clock("2025-10-26T02:30:00".parse().unwrap()).unwrap();
        assert_eq!(
            fold.to_timestamp(&amsterdam()),
            Some("2025-10-26T00:30:00Z".parse().unwrap())
        );
        // No time.
        assert_eq!(EmTime(0).to_timestamp(&TimeZone::UTC), None);
        assert_eq!(EmTime::UNSET.to_timestamp(&TimeZone::UTC), None);
        // Out of range: before 1970-01-01T08:00 or after 2106-02-07T14:28:15 wall clock.
        assert!(EmTime::from_wall_clock("1970-01-01T07:59:59".parse().unwrap()).is_err());
        assert!(EmTime::from_wall_clock("2106-02-07T14:28:16".parse().unwrap()).is_err());
        assert!(EmTime::from_wall_clock("2106-02-07T14:28:15".parse().unwrap()).is_ok());
        assert!(EmTime::from_timestamp(ts(0), &TimeZone::UTC).is_err());
    }
}
