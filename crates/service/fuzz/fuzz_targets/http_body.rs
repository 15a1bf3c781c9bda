//! Parses arbitrary bytes as the body of `POST /devices/{id}/registers` and `.../actions/{name}`:
//! name and value pairs or a 400 with its message, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = service::http::parse_command_body(data, false);
    let _ = service::http::parse_command_body(data, true);
});
