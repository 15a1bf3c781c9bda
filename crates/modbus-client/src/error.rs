//! What can go wrong talking to a device, with the request it happened to.

use std::fmt;
use std::time::Duration;

use modbus_core::Table;

/// A Modbus exception: the device received the request and said no.
///
/// Exceptions are the device's answer, not a network failure, so they are kept apart from
/// transport errors ([`Error::Exception`] versus the others) and each is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exception {
    /// 0x01: the device does not support this function here (often: writing a read-only
    /// register, or writing at all when writing is disabled).
    IllegalFunction,
    /// 0x02: an address in the request is not one the device serves.
    IllegalDataAddress,
    /// 0x03: a value or count in the request is not acceptable.
    IllegalDataValue,
    /// 0x04: the device failed while performing the request.
    ServerDeviceFailure,
    /// 0x05: the device accepted a long-running request.
    Acknowledge,
    /// 0x06: the device is busy; the request may be retried.
    ServerDeviceBusy,
    /// 0x08: the device found a memory parity error.
    MemoryParityError,
    /// 0x0A: a gateway has no path to the target unit.
    GatewayPathUnavailable,
    /// 0x0B: no response from the unit behind a gateway (often: wrong unit id).
    GatewayTargetDevice,
    /// Any other code.
    Other(u8),
}

impl Exception {
    /// The exception from its code on the wire.
    pub fn from_code(code: u8) -> Self {
        match code {
            0x01 => Exception::IllegalFunction,
            0x02 => Exception::IllegalDataAddress,
            0x03 => Exception::IllegalDataValue,
            0x04 => Exception::ServerDeviceFailure,
            0x05 => Exception::Acknowledge,
            0x06 => Exception::ServerDeviceBusy,
            0x08 => Exception::MemoryParityError,
            0x0A => Exception::GatewayPathUnavailable,
            0x0B => Exception::GatewayTargetDevice,
            other => Exception::Other(other),
        }
    }

    /// The code on the wire.
    pub fn code(self) -> u8 {
        match self {
            Exception::IllegalFunction => 0x01,
            Exception::IllegalDataAddress => 0x02,
            Exception::IllegalDataValue => 0x03,
            Exception::ServerDeviceFailure => 0x04,
            Exception::Acknowledge => 0x05,
            Exception::ServerDeviceBusy => 0x06,
            Exception::MemoryParityError => 0x08,
            Exception::GatewayPathUnavailable => 0x0A,
            Exception::GatewayTargetDevice => 0x0B,
            Exception::Other(code) => code,
        }
    }

    /// The exception's name as the Modbus specification words it.
    pub fn name(self) -> &'static str {
        match self {
            Exception::IllegalFunction => "illegal function",
            Exception::IllegalDataAddress => "illegal data address",
            Exception::IllegalDataValue => "illegal data value",
            Exception::ServerDeviceFailure => "server device failure",
            Exception::Acknowledge => "acknowledge",
            Exception::ServerDeviceBusy => "server device busy",
            Exception::MemoryParityError => "memory parity error",
            Exception::GatewayPathUnavailable => "gateway path unavailable",
            Exception::GatewayTargetDevice => "gateway target device failed to respond",
            Exception::Other(_) => "unknown exception",
        }
    }

    /// Whether the same request may succeed if sent again a little later (busy, acknowledge).
    pub fn is_transient(self) -> bool {
        matches!(self, Exception::ServerDeviceBusy | Exception::Acknowledge)
    }
}

impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:02X})", self.name(), self.code())
    }
}

impl From<tokio_modbus::ExceptionCode> for Exception {
    fn from(code: tokio_modbus::ExceptionCode) -> Self {
        Exception::from_code(u8::from(code))
    }
}

/// Whether a request read or wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A read of registers or bits.
    Read,
    /// A write of registers or bits.
    Write,
}

/// The request an error happened to: where, which unit, which table and addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The endpoint, `host:port` (or a serial device path).
    pub endpoint: String,
    /// The Modbus unit id.
    pub unit: u8,
    /// Read or write.
    pub operation: Operation,
    /// The table.
    pub table: Table,
    /// First wire address.
    pub address: u16,
    /// Number of registers or bits.
    pub count: u16,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.operation {
            Operation::Read => "reading",
            Operation::Write => "writing",
        };
        let what = if self.table.is_bits() {
            "bit"
        } else {
            "register"
        };
        let plural = if self.count == 1 { "" } else { "s" };
        write!(
            f,
            "{} unit {}: {verb} {} {} {what}{plural} at address {}",
            self.endpoint, self.unit, self.count, self.table, self.address
        )
    }
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

/// Why a request failed. Every variant names the request ([`Target`]); transport failures and
/// device exceptions are distinct variants.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The TCP connection (or serial port) could not be opened.
    #[error("{target}: cannot connect{}", attempts_note(*attempts))]
    Connect {
        /// The request.
        target: Target,
        /// How many times it was tried.
        attempts: u32,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// Connecting took longer than the connect timeout.
    #[error("{target}: connecting timed out after {timeout:?}{}", attempts_note(*attempts))]
    ConnectTimeout {
        /// The request.
        target: Target,
        /// How many times it was tried.
        attempts: u32,
        /// The connect timeout.
        timeout: Duration,
    },
    /// Every connection the device allows was busy for longer than the queue timeout.
    #[error(
        "{target}: all {max_connections} connection(s) the device allows stayed busy for {timeout:?}"
    )]
    NoConnection {
        /// The request.
        target: Target,
        /// The connection limit.
        max_connections: usize,
        /// How long the request waited.
        timeout: Duration,
    },
    /// No response arrived within the request timeout.
    #[error("{target}: no response within {timeout:?}{}", attempts_note(*attempts))]
    Timeout {
        /// The request.
        target: Target,
        /// How many times it was tried.
        attempts: u32,
        /// The request timeout.
        timeout: Duration,
    },
    /// The connection failed while the request was under way (closed, reset, unreadable bytes).
    #[error("{target}: connection failed{}", attempts_note(*attempts))]
    Transport {
        /// The request.
        target: Target,
        /// How many times it was tried.
        attempts: u32,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The device answered something that does not belong to the request (another transaction
    /// id, another function code).
    #[error("{target}: response does not match the request{}", attempts_note(*attempts))]
    Protocol {
        /// The request.
        target: Target,
        /// How many times it was tried.
        attempts: u32,
        /// What tokio-modbus found.
        #[source]
        source: Box<tokio_modbus::ProtocolError>,
    },
    /// The device answered a Modbus exception.
    #[error("{target}: device answered {exception}{}", attempts_note(*attempts))]
    Exception {
        /// The request.
        target: Target,
        /// How many times it was tried.
        attempts: u32,
        /// The exception.
        exception: Exception,
    },
    /// The request itself is not one Modbus can carry (count zero or above the protocol limit,
    /// a range past address 65535, writing an input table).
    #[error("{target}: invalid request: {reason}")]
    InvalidRequest {
        /// The request.
        target: Target,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The device answered a different number of registers than asked for.
    #[error("{target}: device answered {got} values")]
    ShortResponse {
        /// The request.
        target: Target,
        /// How many values came back.
        got: usize,
    },
}

impl Error {
    /// The request the error happened to.
    pub fn target(&self) -> &Target {
        match self {
            Error::Connect { target, .. }
            | Error::ConnectTimeout { target, .. }
            | Error::NoConnection { target, .. }
            | Error::Timeout { target, .. }
            | Error::Transport { target, .. }
            | Error::Protocol { target, .. }
            | Error::Exception { target, .. }
            | Error::InvalidRequest { target, .. }
            | Error::ShortResponse { target, .. } => target,
        }
    }

    /// The device's exception, when the device answered one.
    pub fn exception(&self) -> Option<Exception> {
        match self {
            Error::Exception { exception, .. } => Some(*exception),
            _ => None,
        }
    }

    /// Whether the failure was the network or the framing rather than the device's answer.
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            Error::Connect { .. }
                | Error::ConnectTimeout { .. }
                | Error::NoConnection { .. }
                | Error::Timeout { .. }
                | Error::Transport { .. }
                | Error::Protocol { .. }
                | Error::ShortResponse { .. }
        )
    }

    /// How many attempts were made before giving up.
    pub fn attempts(&self) -> u32 {
        match self {
            Error::Connect { attempts, .. }
            | Error::ConnectTimeout { attempts, .. }
            | Error::Timeout { attempts, .. }
            | Error::Transport { attempts, .. }
            | Error::Protocol { attempts, .. }
            | Error::Exception { attempts, .. } => *attempts,
            Error::NoConnection { .. }
            | Error::InvalidRequest { .. }
            | Error::ShortResponse { .. } => 1,
        }
    }

    pub(crate) fn set_attempts(&mut self, n: u32) {
        match self {
            Error::Connect { attempts, .. }
            | Error::ConnectTimeout { attempts, .. }
            | Error::Timeout { attempts, .. }
            | Error::Transport { attempts, .. }
            | Error::Protocol { attempts, .. }
            | Error::Exception { attempts, .. } => *attempts = n,
            Error::NoConnection { .. }
            | Error::InvalidRequest { .. }
            | Error::ShortResponse { .. } => {}
        }
    }
}
