//! Talking to real Modbus devices.
//!
//! This crate implements device-maps' register I/O over the network: Modbus TCP, RTU over TCP,
//! and (later) the GivEnergy dongle framing. It owns connections, timeouts, retries, pacing and
//! the learning of a device's unmapped holes, and nothing about what the registers mean.
