//! The EVSEMaster ("EM") protocol spoken by many low-cost EV chargers over UDP.
//!
//! Chargers sold as Besen, Telestar, Morec, Deltaco and others announce themselves by UDP
//! broadcast and are controlled by datagrams with a fixed envelope. This crate parses and encodes
//! those datagrams, models the charger, and runs the session logic without owning a socket; a
//! small tokio driver puts it on the network.

pub mod model;
pub mod time;
pub mod wire;
