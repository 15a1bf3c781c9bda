//! End-to-end tests of the `evctl` binary.
//!
//! Every test runs the real binary (`CARGO_BIN_EXE_evctl`) as a child process. Devices are
//! simulators on loopback, started in-process from the `simulator` library on port 0 (so the test
//! can count the requests they receive and inspect their registers) or as `evctl simulate`
//! children with fault options. Output is compared with insta snapshots, with temporary paths,
//! ports and timestamps filtered out. No test measures time: speed is for `docs/performance.md`.
//!
//! One test binary (registered in `crates/evctl/Cargo.toml`) holds every module, as ripgrep does.

mod util;

mod faults;
mod identify;
mod maps;
mod network;
mod new_meter;
mod poll;
mod read;
mod scan;
mod simulate;
mod sunspec;
mod usage;
mod write;
