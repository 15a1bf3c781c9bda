//! Fault injection: the ways a real device or network misbehaves, on demand and deterministic.

use std::num::NonZeroU32;
use std::time::Duration;

use super::Exception;

/// Faults the simulator injects. The default injects none.
///
/// Every "every N" fault counts requests over the whole simulator (all connections), starting
/// at 1: with `drop_every = 3`, requests 3, 6, 9, ... are affected. When several faults hit the
/// same request, the first in this order wins: drop, garbage, wrong transaction id, exception.
/// A request that is dropped, answered with garbage or with an exception is not applied to the
/// registers; one answered under a wrong transaction id is (the device did the work, its answer
/// went astray), so a client that retries it must be writing idempotently. The counting is deterministic,
/// so a test knows exactly which request fails and a client with retries always recovers when
/// the faults leave room for a retry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Added before every response (and before a dropped connection closes).
    pub latency: Duration,
    /// Every Nth request closes the connection without an answer.
    pub drop_every: Option<NonZeroU32>,
    /// At most this many connections at once; a connection beyond it is accepted and closed
    /// straight away, as a charger does when its only master slot is taken.
    pub max_connections: Option<usize>,
    /// Every Nth request answers this exception instead of being served.
    pub exception_every: Option<(NonZeroU32, Exception)>,
    /// Every Nth request answers eight bytes that are not a Modbus frame
    /// (`DE AD BE EF 00 00 00 00`, an invalid protocol id in Modbus TCP, a bad CRC in RTU).
    pub garbage_every: Option<NonZeroU32>,
    /// Every Nth request answers a correct response under another transaction id (Modbus TCP;
    /// with RTU framing the CRC is corrupted instead, RTU having no transaction id).
    pub wrong_transaction_id_every: Option<NonZeroU32>,
    /// Every write answers [`Exception::IllegalFunction`], as a device with writing disabled.
    pub read_only: bool,
    /// A connection idle this long is closed by the device (Alfen: 60 s).
    pub idle_timeout: Option<Duration>,
    /// A write is checked and acknowledged at once but changes the registers only this long
    /// later, as real devices apply writes a moment after acknowledging them; reads in
    /// between see the old value.
    pub apply_writes_after: Option<Duration>,
}

/// What the fault plan says to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Serve,
    Drop,
    Garbage,
    WrongTransactionId,
    Exception(Exception),
}

fn hits(every: Option<NonZeroU32>, n: u64) -> bool {
    every.is_some_and(|every| n.is_multiple_of(u64::from(every.get())))
}

impl Faults {
    /// No faults at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether any fault is configured.
    pub fn is_none(&self) -> bool {
        *self == Self::default()
    }

    pub(crate) fn verdict(&self, n: u64) -> Verdict {
        if hits(self.drop_every, n) {
            Verdict::Drop
        } else if hits(self.garbage_every, n) {
            Verdict::Garbage
        } else if hits(self.wrong_transaction_id_every, n) {
            Verdict::WrongTransactionId
        } else if let Some((every, code)) = self.exception_every
            && hits(Some(every), n)
        {
            Verdict::Exception(code)
        } else {
            Verdict::Serve
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_the_documented_precedence() {
        let n = |v: u32| NonZeroU32::new(v);
        let faults = Faults {
            drop_every: n(6),
            garbage_every: n(3),
            wrong_transaction_id_every: n(2),
            exception_every: n(5).map(|every| (every, Exception::ServerDeviceBusy)),
            ..Faults::none()
        };
        let verdicts: Vec<Verdict> = (1..=6).map(|i| faults.verdict(i)).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Serve,
                Verdict::WrongTransactionId,
                Verdict::Garbage,
                Verdict::WrongTransactionId,
                Verdict::Exception(Exception::ServerDeviceBusy),
                Verdict::Drop,
            ]
        );
        assert!(Faults::none().is_none());
        assert!(!faults.is_none());
    }
}
