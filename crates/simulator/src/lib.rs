//! Simulated devices that speak the real protocols over real sockets on loopback.
//!
//! Every evctl test, and `evctl read --simulated`, talks to one of these instead of hardware: a
//! Modbus TCP server that serves any device map ([`modbus`]), and an EVSEMaster charger on UDP
//! ([`em`]). Each binds the address it is given (tests bind port 0) and can inject faults.

pub mod dongle;
pub mod em;
pub mod modbus;
