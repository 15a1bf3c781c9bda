//! Previews a map file's example values in every output format, without a device or the CLI:
//! the file is loaded with device-maps' strict loader, read through an in-memory device that
//! holds its examples, and rendered.
//!
//! ```text
//! cargo run -p outputs --example render -- devices/alfen-eve.yaml [human|json|prometheus|influx] [--nested]
//! ```

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use outputs::{Format, Options};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(file) = args.first() else {
        eprintln!("usage: render MAP.yaml [human|json|prometheus|influx] [--nested]");
        return ExitCode::from(2);
    };
    let format = match args.get(1).filter(|a| !a.starts_with("--")) {
        Some(name) => match name.parse::<Format>() {
            Ok(format) => format,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => Format::Human,
    };
    let options = Options {
        nested: args.iter().any(|a| a == "--nested"),
        ..Options::default()
    };

    let map = match device_maps::load_file(Path::new(file)) {
        Ok(map) => Arc::new(map),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let plan = match map
        .select::<&str>(&[])
        .map_err(|e| e.to_string())
        .and_then(|selection| {
            map.plan_read(&selection, &map.units())
                .map_err(|e| e.to_string())
        }) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {file}: a full read cannot be planned: {e}");
            return ExitCode::from(2);
        }
    };
    let mut device = device_maps::MemoryDevice::with_examples(&map);
    let snapshot = device_maps::block_on(plan.execute(&mut device));
    eprintln!(
        "{file}: {} registers, a full read is {} request(s)",
        map.registers.len(),
        plan.requests().len()
    );
    for reading in snapshot.missing() {
        if let Err(why) = &reading.value {
            eprintln!(
                "warning: example of `{}` does not decode: {why}",
                reading.name
            );
        }
    }
    print!("{}", outputs::render(&snapshot, &map, format, &options));
    ExitCode::SUCCESS
}
