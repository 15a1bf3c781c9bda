//! Loads map files with device-maps' strict loader and prints what it thinks of them.
//!
//! `cargo run -p outputs --example check_map -- devices/alfen-eve.yaml ...`

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut failed = false;
    for arg in std::env::args().skip(1) {
        match device_maps::load_file(Path::new(&arg)) {
            Ok(map) => {
                let map = std::sync::Arc::new(map);
                let requests = map
                    .select::<&str>(&[])
                    .ok()
                    .and_then(|selection| map.plan_read(&selection, &map.units()).ok());
                match requests {
                    Some(plan) => {
                        let mut device = device_maps::MemoryDevice::with_examples(&map);
                        let snapshot = device_maps::block_on(plan.execute(&mut device));
                        let missing: Vec<String> = snapshot
                            .missing()
                            .map(|r| {
                                format!(
                                    "{} ({})",
                                    r.name,
                                    r.value
                                        .as_ref()
                                        .err()
                                        .map(ToString::to_string)
                                        .unwrap_or_default()
                                )
                            })
                            .collect();
                        println!(
                            "{arg}: ok, {} registers, a full read is {} request(s): {}; missing from the examples: {:?}",
                            map.registers.len(),
                            plan.requests().len(),
                            plan.requests()
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", "),
                            missing
                        );
                    }
                    None => println!("{arg}: loads, but a full read cannot be planned"),
                }
            }
            Err(e) => {
                failed = true;
                println!("{arg}: {e}");
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    println!("  caused by: {s}");
                    source = s.source();
                }
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
