//! The framing spoken by GivEnergy's Wi-Fi/Ethernet dongle on TCP port 8899.
//!
//! GivEnergy inverters are reached through a data adapter ("dongle") that wraps Modbus in its
//! own frame: a constant marker `59 59 00 01`, a length, a main function (0x01 heartbeat, 0x02
//! transparent), a ten-character adapter serial, and for transparent frames an eight-byte
//! length-of-rest, the device address (0x11 inverter, 0x32.. battery packs), the Modbus function
//! and a CRC-16/MODBUS sent low byte first. Responses insert the inverter's serial and echo the
//! base and count instead of a byte count; error responses carry no exception code.
//!
//! This crate is layer 1 of evctl and is pure: it turns bytes into [`Frame`]s and back and never
//! opens a socket. The main types are [`Frame`] (every kind of frame, with
//! [`Frame::encode`] and [`Frame::decode`]), [`Framer`] (a stream decoder that cuts whole frames
//! out of socket reads, resynchronising on garbage and coping with split and joined frames),
//! [`RawFrame`] (a cut frame whose CRC can be inspected before decoding) and [`ReplyKey`] (the
//! shape that pairs a reply with its request).
//!
//! Key design decision: replies are matched by shape, never by order. The transaction id is
//! always 0x5959 and the dongle fans every reply out to every connected client, so "the next
//! frame" may be an answer to someone else. [`ReplyKey::answered_by`] pairs a response or an
//! error response with a request by device address, function, base and count. Computed fields
//! (the length field, the length-of-rest, the CRC) are always computed, never constants.
//!
//! ```
//! use givenergy_dongle::{Frame, Framer, ReadFunction, ReadRequest, Serial};
//!
//! let request = Frame::ReadRequest(ReadRequest {
//!     adapter: Serial::CLIENT_DEFAULT,
//!     device: 0x11,
//!     function: ReadFunction::Holding,
//!     base: 0,
//!     count: 60,
//! });
//! let bytes = request.encode()?;
//! assert_eq!(&bytes[bytes.len() - 2..], &[0x47, 0x4b]); // CRC, low byte first
//!
//! let mut framer = Framer::new();
//! framer.push(&bytes);
//! let frame = framer.next_frame().expect("a whole frame").decode()?;
//! assert_eq!(frame, request);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod crc;
mod error;
mod frame;
mod framer;
pub mod fuzzing;
mod serial;

pub use crc::{CrcCheck, crc_wire_bytes, crc16_modbus};
pub use error::{EncodeError, FrameError};
pub use frame::{
    DEVICE_OFFSET, ErrorResponse, Frame, HEADER_LEN, Heartbeat, LanConfig, MARKER,
    MAX_LENGTH_FIELD, MAX_REGISTERS, MIN_LENGTH_FIELD, NullFrame, ReadFunction, ReadRequest,
    ReadResponse, ReplyKey, WRITE_SINGLE, WriteRequest, WriteResponse, crc_check,
};
pub use framer::{Framer, RawFrame};
pub use serial::Serial;

/// The dongle's TCP port.
pub const PORT: u16 = 8899;
