//! Where a device is and how patiently to talk to it.

use std::fmt;
use std::time::Duration;

/// How Modbus frames travel to the device.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Modbus TCP (MBAP header with transaction ids), the default.
    Tcp,
    /// RTU frames (unit id, PDU, CRC) through a TCP connection, as serial-to-Ethernet gateways
    /// that do not translate to Modbus TCP speak.
    RtuOverTcp,
    /// RTU on a local serial port (RS-485 adapter); needs the `serial` cargo feature.
    Serial {
        /// Baud rate, for example 9600.
        baud_rate: u32,
    },
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transport::Tcp => f.write_str("modbus-tcp"),
            Transport::RtuOverTcp => f.write_str("rtu-over-tcp"),
            Transport::Serial { baud_rate } => write!(f, "serial-rtu at {baud_rate} baud"),
        }
    }
}

/// One device address: a transport and where to find it. Every unit id behind one endpoint
/// shares its connections.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// How frames travel.
    pub transport: Transport,
    /// `host:port` for the TCP transports, a device path (`/dev/ttyUSB0`) for serial.
    pub address: String,
}

impl Endpoint {
    /// Modbus TCP to `host:port`.
    pub fn tcp(address: impl Into<String>) -> Self {
        Self {
            transport: Transport::Tcp,
            address: address.into(),
        }
    }

    /// RTU over TCP to `host:port`.
    pub fn rtu_over_tcp(address: impl Into<String>) -> Self {
        Self {
            transport: Transport::RtuOverTcp,
            address: address.into(),
        }
    }

    /// Serial RTU on `path` at `baud_rate`.
    pub fn serial(path: impl Into<String>, baud_rate: u32) -> Self {
        Self {
            transport: Transport::Serial { baud_rate },
            address: path.into(),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

/// Timeouts, retries, pacing and connection limits for one endpoint.
///
/// The defaults suit a LAN device: 3 s to connect, 3 s per request, 2 retries (3 attempts)
/// with backoff from 100 ms doubling up to 2 s, no pacing, one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for each request, from sending to the whole response.
    pub request_timeout: Duration,
    /// Extra attempts after a failed one (transport failures and busy/acknowledge exceptions;
    /// other exceptions are the device's final answer and are not retried).
    pub retries: u32,
    /// Wait before the first retry; doubled before each further one.
    pub backoff: Duration,
    /// Longest wait between retries.
    pub max_backoff: Duration,
    /// Least time between the starts of two requests to the device.
    pub pacing: Duration,
    /// Most connections open to the endpoint at once (Vestel 1, Alfen 2).
    pub max_connections: usize,
    /// The device closes connections idle this long (Alfen 60 s): an idle connection older than
    /// this is not reused but replaced.
    pub idle_timeout: Option<Duration>,
    /// Longest wait for a free connection when all are busy.
    pub queue_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(3),
            retries: 2,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            pacing: Duration::ZERO,
            max_connections: 1,
            idle_timeout: None,
            queue_timeout: Duration::from_secs(30),
        }
    }
}

impl ClientOptions {
    /// The wait before retry number `retry` (1 for the first retry).
    pub fn backoff_before(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let options = ClientOptions::default();
        let waits: Vec<u128> = (1..=7)
            .map(|n| options.backoff_before(n).as_millis())
            .collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(options.backoff_before(60), Duration::from_secs(2));
    }
}
