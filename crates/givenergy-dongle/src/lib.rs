//! The framing spoken by GivEnergy's Wi-Fi/Ethernet dongle on TCP port 8899.
//!
//! GivEnergy inverters are reached through a dongle that wraps Modbus requests in its own frame
//! with an adapter serial, a length field and a CRC. This crate encodes and decodes those frames
//! and resynchronises on a byte stream; it never opens a socket.
