//! Feeds arbitrary UDP payloads to the EM packet parser: it must never panic, and every
//! datagram that parses must survive encode → parse unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(mismatch) = emproto::wire::check_round_trip(data) {
        panic!("round trip changed a datagram: {mismatch:?}");
    }
});
