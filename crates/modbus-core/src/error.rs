//! Error types. Each names the data type, value or span at fault, so a caller that adds the
//! register name and device has a complete message.

use crate::plan::Span;
use crate::types::DataType;

/// A name (data type, table, order, sentinel, value) that could not be parsed. The message lists
/// what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{input}`; expected one of: {allowed}")]
pub struct ParseError {
    kind: &'static str,
    input: String,
    allowed: &'static str,
}

impl ParseError {
    pub(crate) fn new(kind: &'static str, input: &str, allowed: &'static str) -> Self {
        ParseError {
            kind,
            input: input.to_owned(),
            allowed,
        }
    }

    /// What was being parsed ("data type", "table", ...).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The text that did not parse.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// The accepted names, as one human-readable list.
    pub fn allowed(&self) -> &'static str {
        self.allowed
    }
}

/// A [`Codec`](crate::Codec) description that cannot work: a count that does not fit the type,
/// a scale of zero, a sentinel wider than the value, and the like.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// A fixed-width type was given a different register count.
    #[error("{data_type} takes {expected} register(s), but a count of {declared} was given")]
    CountMismatch {
        /// The type.
        data_type: DataType,
        /// Its width in registers.
        expected: u16,
        /// The count given.
        declared: u16,
    },
    /// A string type was given no register count.
    #[error("{data_type} needs a register count")]
    MissingCount {
        /// The type.
        data_type: DataType,
    },
    /// A string type was given a count of zero.
    #[error("{data_type} needs a register count of at least 1")]
    ZeroCount {
        /// The type.
        data_type: DataType,
    },
    /// Scale is zero, NaN or infinite.
    #[error("scale {scale} is not usable: it must be finite and not zero")]
    BadScale {
        /// The scale given.
        scale: f64,
    },
    /// Offset is NaN or infinite.
    #[error("offset {offset} is not usable: it must be finite")]
    BadOffset {
        /// The offset given.
        offset: f64,
    },
    /// Scale or offset on a string or bit field.
    #[error("scale and offset apply only to numbers, not to {data_type}")]
    ScaleOnNonNumeric {
        /// The type.
        data_type: DataType,
    },
    /// A sentinel that can never match a value of this type.
    #[error("sentinel {sentinel} does not fit {data_type}")]
    SentinelDoesNotFit {
        /// The type.
        data_type: DataType,
        /// The sentinel.
        sentinel: crate::Sentinel,
    },
}

/// Registers that could not be turned into a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The number of words does not match the codec.
    #[error("{data_type} needs {expected} register(s), got {got}")]
    Length {
        /// The type being decoded.
        data_type: DataType,
        /// Registers the codec expects.
        expected: u16,
        /// Registers supplied.
        got: usize,
    },
    /// The bytes of a string register are not valid text.
    #[error("{data_type} value is not valid text (bad character data at byte {position})")]
    InvalidText {
        /// The type being decoded.
        data_type: DataType,
        /// Offset of the first bad byte (for `string`) or UTF-16 unit (for `string1`).
        position: usize,
    },
}

/// A value that cannot be written as the codec's type. Nothing is produced.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The value is of a kind the type cannot hold (text into a number, a number into text...).
    #[error("a {kind} value cannot be written as {data_type}")]
    WrongKind {
        /// The type being encoded.
        data_type: DataType,
        /// The kind of the value given ("text", "integer", ...).
        kind: &'static str,
    },
    /// After scale and offset the value is outside the range of the type.
    #[error("{value} is out of range for {data_type} (raw value {raw} after scale and offset)")]
    OutOfRange {
        /// The type being encoded.
        data_type: DataType,
        /// The value given, as text.
        value: String,
        /// The raw value it would need, as text.
        raw: String,
    },
    /// After scale and offset the value is not a whole number, but the type is an integer.
    #[error("{value} is not a whole number of steps for {data_type} (raw value {raw})")]
    NotWhole {
        /// The type being encoded.
        data_type: DataType,
        /// The value given.
        value: f64,
        /// The raw value it would need.
        raw: f64,
    },
    /// The text is longer than the registers hold.
    #[error("text of {len} characters does not fit {data_type} of {max} characters")]
    TextTooLong {
        /// The type being encoded.
        data_type: DataType,
        /// Its length, in the type's characters.
        len: usize,
        /// The capacity.
        max: usize,
    },
    /// The text contains a NUL character, which reads back as the end of the text.
    #[error("text for {data_type} contains a NUL character")]
    NulInText {
        /// The type being encoded.
        data_type: DataType,
    },
    /// The output buffer given to [`Codec::encode_into`](crate::Codec::encode_into) has the
    /// wrong length.
    #[error("{data_type} needs {expected} register(s), the buffer holds {got}")]
    Length {
        /// The type being encoded.
        data_type: DataType,
        /// Registers the codec writes.
        expected: u16,
        /// Registers in the buffer.
        got: usize,
    },
}

/// A read that cannot be planned, or responses that do not fit a plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The limits themselves are unusable.
    #[error("invalid device limits: {reason}")]
    InvalidLimits {
        /// What is wrong.
        reason: &'static str,
    },
    /// A span of zero registers or bits.
    #[error("span #{index} ({span}) is empty")]
    EmptySpan {
        /// Position in the input.
        index: usize,
        /// The span.
        span: Span,
    },
    /// A span that runs past address 65535.
    #[error("span #{index} ({span}) runs past address 65535")]
    PastEnd {
        /// Position in the input.
        index: usize,
        /// The span.
        span: Span,
    },
    /// A span larger than one request may read.
    #[error("span #{index} ({span}) is larger than the {max} items one request may read")]
    TooLarge {
        /// Position in the input.
        index: usize,
        /// The span.
        span: Span,
        /// The device's limit for this table.
        max: u16,
    },
    /// A span that crosses a page boundary, so no single request may read it.
    #[error("span #{index} ({span}) crosses a boundary of the device's {page_size}-item pages")]
    CrossesPage {
        /// Position in the input.
        index: usize,
        /// The span.
        span: Span,
        /// The page size.
        page_size: u16,
    },
    /// A span index outside the plan.
    #[error("span #{index} is not in this plan of {spans} span(s)")]
    NoSuchSpan {
        /// The index asked for.
        index: usize,
        /// Spans in the plan.
        spans: usize,
    },
    /// Fewer responses than requests.
    #[error("response for request #{request} is missing ({got} response(s) for the plan)")]
    MissingResponse {
        /// The request without a response.
        request: usize,
        /// Responses supplied.
        got: usize,
    },
    /// A response of the wrong length.
    #[error("response for request #{request} has {got} item(s), the request asked for {expected}")]
    ResponseLength {
        /// The request.
        request: usize,
        /// Items requested.
        expected: u16,
        /// Items received.
        got: usize,
    },
}
