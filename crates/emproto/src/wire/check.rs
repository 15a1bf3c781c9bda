//! The invariant the fuzz target and the property tests check, kept in the library so both run
//! the very same code (the fuzz target needs nightly; the property test runs on stable).

use super::{Datagram, Datagrams, FrameError};

/// A datagram that did not survive encode → parse unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundTripMismatch {
    /// Index of the datagram in the packet.
    pub index: usize,
    /// What the packet parsed to.
    pub parsed: Datagram,
    /// What its encoding parsed to (or why it did not).
    pub reparsed: Option<Result<Datagram, FrameError>>,
}

/// Parses every datagram of `packet`; each one that parses must encode, and its encoding must
/// parse back to an equal datagram. Returns how many datagrams parsed.
#[doc(hidden)]
pub fn check_round_trip(packet: &[u8]) -> Result<usize, Box<RoundTripMismatch>> {
    let mut count = 0;
    for (index, item) in Datagrams::new(packet).enumerate() {
        let Ok(parsed) = item else { continue };
        count += 1;
        let reparsed = parsed.encode().ok().map(|bytes| {
            let mut all = Datagrams::new(&bytes);
            let first = all.next();
            match (first, all.next()) {
                (Some(r), None) => r,
                _ => Err(FrameError::TooShort {
                    offset: 0,
                    available: bytes.len(),
                }),
            }
        });
        if reparsed.as_ref().and_then(|r| r.as_ref().ok()) != Some(&parsed) {
            return Err(Box::new(RoundTripMismatch {
                index,
                parsed,
                reparsed,
            }));
        }
    }
    Ok(count)
}
