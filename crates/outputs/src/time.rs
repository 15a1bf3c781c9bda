//! Time stamps without a date library: RFC 3339 in UTC and nanoseconds since the epoch.

use std::time::{SystemTime, UNIX_EPOCH};

/// `2026-11-20T23:24:07Z` (with milliseconds when there are any). Times before 1970 print as
/// the epoch: a reading cannot be older than the clock.
pub(crate) fn rfc3339(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let millis = since.subsec_millis();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let time = format!("{:02}:{:02}:{:02}", rem / 3600, (rem % 3600) / 60, rem % 60);
    if millis == 0 {
        format!("{year:04}-{month:02}-{day:02}T{time}Z")
    } else {
        format!("{year:04}-{month:02}-{day:02}T{time}.{millis:03}Z")
    }
}

/// Nanoseconds since the Unix epoch, saturating (0 before 1970, `i64::MAX` after 2262).
pub(crate) fn unix_nanos(at: SystemTime) -> i64 {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (the well-known era arithmetic: 400-year eras of 146 097 days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn known_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_689_454_419);
        assert_eq!(rfc3339(t), "2023-07-15T20:53:39Z");
        let leap = UNIX_EPOCH + Duration::from_millis(951_782_400_250);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.250Z");
        assert_eq!(
            unix_nanos(UNIX_EPOCH + Duration::from_secs(2)),
            2_000_000_000
        );
    }
}
