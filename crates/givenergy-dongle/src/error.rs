//! Errors of decoding and encoding frames.

/// Why a whole frame could not be decoded. Every variant names what it saw, so a log line is
/// enough to find the frame in a capture.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer bytes than the smallest frame of that kind.
    #[error("frame of {len} bytes is too short (a {what} needs at least {need})")]
    TooShort {
        /// Bytes present.
        len: usize,
        /// Bytes needed.
        need: usize,
        /// What kind of frame was being decoded.
        what: &'static str,
    },
    /// The frame does not start with `59 59 00 01`.
    #[error("frame does not start with the marker 59 59 00 01 (found {found:02x?})")]
    Marker {
        /// The first bytes found.
        found: Vec<u8>,
    },
    /// The length field disagrees with the bytes present.
    #[error("length field says {declared} bytes follow it, but {actual} do")]
    Length {
        /// Value of the length field.
        declared: usize,
        /// Bytes after the length field.
        actual: usize,
    },
    /// The length field is outside what the dongle ever sends.
    #[error("length field {declared} is outside the accepted range {min}..={max}")]
    LengthRange {
        /// Value of the length field.
        declared: usize,
        /// Smallest accepted.
        min: usize,
        /// Largest accepted.
        max: usize,
    },
    /// The unit id byte is neither 0 nor 1.
    #[error("unit id {0:#04x} is not 0x00 or 0x01")]
    UnitId(u8),
    /// The main function byte is neither heartbeat (1) nor transparent (2).
    #[error("main function {0:#04x} is neither heartbeat (0x01) nor transparent (0x02)")]
    MainFunction(u8),
    /// A heartbeat whose length field is not 13.
    #[error("heartbeat with length field {declared} (a heartbeat always has 13)")]
    HeartbeatLength {
        /// Value of the length field.
        declared: usize,
    },
    /// The CRC at the end of a transparent frame does not match its contents.
    #[error(
        "CRC mismatch on a frame for device {device:#04x} function {function:#04x}: carried {wire:#06x}, computed {computed:#06x}"
    )]
    Crc {
        /// Device address byte.
        device: u8,
        /// Function code byte.
        function: u8,
        /// CRC carried by the frame (read low byte first).
        wire: u16,
        /// CRC computed over the frame.
        computed: u16,
    },
    /// A function code this crate does not know how to decode.
    #[error(
        "device {device:#04x}: function {function:#04x} with {body_len} bytes after the length-of-rest field is not a known request or response"
    )]
    Function {
        /// Device address byte.
        device: u8,
        /// Function code byte.
        function: u8,
        /// Bytes from the device address to the end.
        body_len: usize,
    },
    /// A read response whose count field disagrees with the values carried.
    #[error(
        "device {device:#04x} function {function:#04x} base {base}: count field says {count} registers but {carried_bytes} value bytes follow"
    )]
    Count {
        /// Device address byte.
        device: u8,
        /// Function code byte.
        function: u8,
        /// Base register.
        base: u16,
        /// Count field.
        count: u16,
        /// Value bytes carried.
        carried_bytes: usize,
    },
}

/// Why a frame could not be encoded. Nothing is sent when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A serial that is not ten printable ASCII characters.
    #[error("serial {text:?} is not ten printable ASCII characters")]
    Serial {
        /// The rejected text.
        text: String,
    },
    /// A register count of zero or above the dongle's page of 60.
    #[error(
        "device {device:#04x}: cannot read {count} registers at {base}; the dongle reads 1 to 60 per request"
    )]
    Count {
        /// Device address.
        device: u8,
        /// Base register.
        base: u16,
        /// Requested count.
        count: u16,
    },
    /// A read response whose values do not fit in one frame or whose base overflows.
    #[error(
        "device {device:#04x}: a response with {values} values at base {base} cannot be encoded (1 to 60 values, ending at or below 65535)"
    )]
    Values {
        /// Device address.
        device: u8,
        /// Base register.
        base: u16,
        /// Number of values given.
        values: usize,
    },
    /// A read range that runs past register 65535.
    #[error("device {device:#04x}: reading {count} registers at {base} runs past register 65535")]
    Range {
        /// Device address.
        device: u8,
        /// Base register.
        base: u16,
        /// Requested count.
        count: u16,
    },
    /// A LAN-config text that cannot be sent as one.
    #[error("LAN-config field {field:?} contains a comma, a control character or non-ASCII")]
    LanConfig {
        /// The rejected field.
        field: String,
    },
}
