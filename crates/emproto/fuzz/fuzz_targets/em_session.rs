//! Drives the sans-IO endpoint with an arbitrary sequence of packets from arbitrary sources and
//! clock steps: it must never panic, whatever arrives and whenever.
#![no_main]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use emproto::session::{Endpoint, SessionConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut endpoint = Endpoint::new(SessionConfig::default());
    let mut now = Instant::now();
    let mut rest = data;
    // Each step: a clock step (100 ms units), a source (last octet), a length, the packet.
    while let [step, source, len, tail @ ..] = rest {
        now += Duration::from_millis(u64::from(*step) * 100);
        let len = usize::from(*len).min(tail.len());
        let (packet, after) = tail.split_at(len);
        let from = SocketAddr::from((Ipv4Addr::new(127, 0, 0, *source), 28376));
        endpoint.handle_packet(now, from, packet);
        endpoint.handle_timeout(now);
        while endpoint.poll_transmit().is_some() {}
        while endpoint.poll_event().is_some() {}
        let _ = endpoint.poll_timeout();
        rest = after;
    }
});
