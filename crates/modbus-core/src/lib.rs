//! Modbus register values without any I/O.
//!
//! A Modbus device hands out 16-bit words; everything a person cares about (a FLOAT32 voltage in
//! swapped word order, a serial number packed two characters per register, a flag in a bit
//! field) is an interpretation of those words. This crate owns that interpretation, in both
//! directions, plus the planner that turns "these registers" into the fewest requests a device
//! allows. It never opens a socket and never depends on an async runtime.
