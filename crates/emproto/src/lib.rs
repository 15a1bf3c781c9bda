//! The EVSEMaster ("EM") protocol spoken by many low-cost EV chargers over UDP.
//!
//! Chargers sold as Besen, Telestar, Morec, Deltaco and others announce themselves by UDP
//! broadcast and are controlled by datagrams with a fixed envelope. This crate parses and encodes
//! those datagrams, models the charger, and runs the session logic without owning a socket; a
//! small tokio driver puts it on the network.
//!
//! The layers, bottom up:
//!
//! - [`wire`]: the 25-byte envelope ([`wire::Datagram`], [`wire::RawFrame`]), every payload
//!   layout the protocol notes give, and the command ids ([`wire::Command`]). nom 8 `complete`
//!   parsers, canonical encoders, typed errors. [`wire::parse_packet`] returns every datagram of
//!   a UDP packet: an unknown command is kept as [`wire::Payload::Raw`] and skipped by its
//!   length, and a bad datagram is an error in its place without losing the ones after it.
//! - [`time`]: EM time, the charger's Shanghai wall clock, to and from real instants for the
//!   user's zone.
//! - [`model`]: what users want to know (charger info, live state in physical units, the meta
//!   state, config, the current charge) and the checked construction of a charge start.
//!
//! The key decision of the wire layer is that parsed structs hold the raw wire values (in
//! newtypes that know their scale, and code newtypes that keep unknown values), so any datagram
//! re-encodes to the bytes it came from; units, derived values and time zones live in
//! [`model`] and [`time`], above it. No part of `wire`, `time` or `model` reads a clock or
//! touches a socket.
//!
//! ```
//! use emproto::wire::{parse_packet, Datagram, Password, Payload, Serial};
//!
//! // A charger's keep-alive, as it would arrive on the socket.
//! let serial: Serial = "9181102751219513".parse().unwrap();
//! let packet = Datagram::from_charger(serial, Payload::Heading).encode().unwrap();
//!
//! for datagram in parse_packet(&packet) {
//!     let datagram = datagram.unwrap();
//!     assert_eq!(datagram.payload, Payload::Heading);
//!     // The answer carries the charger password.
//!     let password = Password::new("123456").unwrap();
//!     let reply = Datagram::to_charger(datagram.serial, password, Payload::HeadingResponse(Some(0)));
//!     assert_eq!(reply.encode().unwrap().len(), 26);
//! }
//! ```

#[cfg(feature = "driver")]
pub mod driver;
pub mod model;
pub mod session;
pub mod time;
pub mod wire;
