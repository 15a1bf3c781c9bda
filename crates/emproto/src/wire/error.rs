//! Errors of the wire layer: one for the envelope, one for payloads (the crate's nom error),
//! one for encoding.

use nom::error::{ErrorKind, ParseError};
use thiserror::Error;

use super::{Command, Serial};

/// Why a datagram (or the rest of a UDP packet) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FrameError {
    /// Fewer bytes than the 25-byte envelope.
    #[error("{available} byte(s) at offset {offset} are too few for a datagram (25 at least)")]
    TooShort {
        /// Offset of the datagram in the UDP packet.
        offset: usize,
        /// Bytes left from that offset.
        available: usize,
    },
    /// The first two bytes are not `06 01`.
    #[error("bad magic {found:02x?} at offset {offset} (expected [06, 01])")]
    BadMagic {
        /// Offset of the datagram in the UDP packet.
        offset: usize,
        /// The two bytes found.
        found: [u8; 2],
    },
    /// The length field is below 25 or beyond the end of the packet.
    #[error(
        "length field {declared} at offset {offset} is impossible ({available} byte(s) available, 25 at least)"
    )]
    BadLength {
        /// Offset of the datagram in the UDP packet.
        offset: usize,
        /// The length field.
        declared: u16,
        /// Bytes left from that offset.
        available: usize,
    },
    /// The last two bytes are not `0f 02`.
    #[error("bad tail {found:02x?} in the datagram at offset {offset} (expected [0f, 02])")]
    BadTail {
        /// Offset of the datagram in the UDP packet.
        offset: usize,
        /// The two bytes found.
        found: [u8; 2],
    },
    /// The checksum matches neither the byte sum mod 65536 nor mod 65535.
    #[error(
        "checksum {declared:#06x} of {command:?} from {serial} matches neither byte-sum convention ({mod_65536:#06x} mod 65536, {mod_65535:#06x} mod 65535)"
    )]
    BadChecksum {
        /// Serial in the envelope.
        serial: Serial,
        /// Command in the envelope.
        command: Command,
        /// The checksum field.
        declared: u16,
        /// Byte sum mod 65536.
        mod_65536: u16,
        /// Byte sum mod 65535.
        mod_65535: u16,
    },
    /// The envelope is sound but the payload does not fit its command's layout.
    #[error(
        "{command:?} from {serial} has a payload of {len} byte(s) that does not fit its layout"
    )]
    Payload {
        /// Serial in the envelope.
        serial: Serial,
        /// Command in the envelope.
        command: Command,
        /// Payload length.
        len: usize,
        /// What was wrong.
        #[source]
        source: PayloadError,
    },
}

impl FrameError {
    /// Whether parsing could go on with the next datagram of the same packet (the length field
    /// was trustworthy).
    pub fn is_recoverable(&self) -> bool {
        matches!(self, Self::BadChecksum { .. } | Self::Payload { .. })
    }
}

/// Why a payload does not fit its layout. This is the crate's nom error type: the public
/// `parse_*` functions return `IResult<&[u8], T, PayloadError>`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The payload length is not one the layout allows.
    #[error("payload length {found} is not allowed (expected {expected})")]
    Length {
        /// The lengths the layout allows, in words.
        expected: &'static str,
        /// The length found.
        found: usize,
    },
    /// A nom combinator failed.
    #[error("malformed payload ({kind:?} with {remaining} byte(s) left)")]
    Nom {
        /// The failing combinator.
        kind: ErrorKind,
        /// Bytes left when it failed.
        remaining: usize,
    },
}

impl PayloadError {
    pub(crate) fn length(expected: &'static str, found: usize) -> nom::Err<Self> {
        nom::Err::Error(Self::Length { expected, found })
    }
}

impl ParseError<&[u8]> for PayloadError {
    fn from_error_kind(input: &[u8], kind: ErrorKind) -> Self {
        Self::Nom {
            kind,
            remaining: input.len(),
        }
    }

    fn append(_input: &[u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

/// Why a datagram could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The payload does not fit the 16-bit length field.
    #[error("{command:?} payload of {len} bytes is too long for one datagram (65510 at most)")]
    TooLong {
        /// Command being encoded.
        command: Command,
        /// Payload length.
        len: usize,
    },
}
