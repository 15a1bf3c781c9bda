//! Fuzzes the dongle framer and decoder with arbitrary byte streams.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = givenergy_dongle::fuzzing::check_framer(data);
});
