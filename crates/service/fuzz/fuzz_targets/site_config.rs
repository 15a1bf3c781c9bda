//! Loads arbitrary text as a site config: a config or an error (several mistakes each with a
//! line), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match service::SiteConfig::parse(text, std::path::Path::new("fuzz.yaml")) {
        Ok(config) => {
            let _ = config.served_devices().count();
        }
        Err(err) => {
            let _ = err.to_string();
        }
    }
});
