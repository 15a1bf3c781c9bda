//! Loads arbitrary text as a device map: a map or an error naming file, line and column, never
//! a panic; a map that loads plans a full read.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match device_maps::parse_map("fuzz", text) {
        Ok(map) => {
            let map = Arc::new(map);
            if let Ok(selection) = map.select::<&str>(&[]) {
                let _ = map.plan_read(&selection, &map.units());
            }
        }
        Err(err) => {
            let _ = err.to_string();
            let _ = err.location();
        }
    }
});
