//! Exit codes and error printing.
//!
//! Errors travel as `anyhow::Error`. A usage or configuration problem carries a [`Usage`] context
//! somewhere in its chain and exits 2; everything else is a device or network failure and exits 1.
//! The printed form is one `error:` line, one `  caused by:` line per link of the chain, and a
//! `  hint:` line when the chain says something a person can act on.

use std::fmt;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use modbus_client::Exception;

/// Marks an error as a usage or configuration error (exit status 2).
#[derive(Debug)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Builds a usage error from a message.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(message.into()))
}

/// A library error shared between the readings of one failed request (device-maps keeps it
/// as an `Arc`), made a link of an `anyhow` chain.
#[derive(Debug, Clone)]
pub struct SharedError(pub Arc<dyn std::error::Error + Send + Sync>);

impl fmt::Display for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for SharedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

pub const FAILURE: u8 = 1;
pub const USAGE: u8 = 2;

/// The exit status for an error.
pub fn exit_code(err: &anyhow::Error) -> ExitCode {
    if is_usage(err) {
        ExitCode::from(USAGE)
    } else {
        ExitCode::from(FAILURE)
    }
}

pub fn is_usage(err: &anyhow::Error) -> bool {
    err.downcast_ref::<Usage>().is_some()
}

/// Prints `err` on stderr in the project's format.
pub fn print(err: &anyhow::Error) {
    let text = render(err);
    let mut stderr = std::io::stderr().lock();
    // Nothing sensible is left to do if stderr itself is gone.
    let _ = stderr.write_all(text.as_bytes());
}

/// The printed form of an error (without colour, so tests can snapshot it).
pub fn render(err: &anyhow::Error) -> String {
    let mut out = String::new();
    let mut links = err.chain().map(|e| e.to_string());
    let mut previous = String::new();
    if let Some(top) = links.next() {
        out.push_str(&format!("error: {top}\n"));
        previous = top;
    }
    for link in links {
        // Some errors repeat their source in their own message; show each text once.
        if link.is_empty() || previous.ends_with(&link) {
            continue;
        }
        out.push_str(&format!("  caused by: {link}\n"));
        previous = link;
    }
    if let Some(hint) = hint(err) {
        out.push_str(&format!("  hint: {hint}\n"));
    }
    out
}

/// The most specific suggestion the chain supports.
fn hint(err: &anyhow::Error) -> Option<String> {
    if err
        .chain()
        .any(|cause| cause.downcast_ref::<device_maps::Mismatch>().is_some())
    {
        return Some(device_maps::Mismatch::HINT.to_owned());
    }
    for cause in err.chain() {
        let client = cause
            .downcast_ref::<modbus_client::Error>()
            .or_else(|| {
                cause
                    .downcast_ref::<SharedError>()
                    .and_then(|shared| shared.0.downcast_ref::<modbus_client::Error>())
            })
            .or_else(|| {
                let io = cause.downcast_ref::<service::IoError>().or_else(|| {
                    cause
                        .downcast_ref::<SharedError>()
                        .and_then(|shared| shared.0.downcast_ref::<service::IoError>())
                })?;
                match io {
                    service::IoError::Modbus(e) => Some(e),
                    _ => None,
                }
            });
        if let Some(client) = client {
            return Some(client_hint(client));
        }
    }
    for cause in err.chain() {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && let Some(hint) = io_hint(io.kind())
        {
            return Some(hint.to_owned());
        }
    }
    None
}

fn client_hint(err: &modbus_client::Error) -> String {
    use modbus_client::Error as E;
    let endpoint = &err.target().endpoint;
    let port = endpoint.rsplit(':').next().unwrap_or("502");
    match err {
        E::Connect { source, .. } if source.kind() == std::io::ErrorKind::ConnectionRefused => {
            format!(
                "nothing accepts connections at {endpoint}: check the port (--port; Modbus TCP is \
                 usually 502) and that Modbus TCP is enabled on the device"
            )
        }
        E::Connect { .. } | E::ConnectTimeout { .. } => format!(
            "check the address, that the device is on and on this network, and that no firewall \
             drops TCP port {port}"
        ),
        E::NoConnection { .. } => "every connection the device allows is taken: another client \
             (evcc, Home Assistant, another evctl) may be holding it"
            .to_owned(),
        E::Timeout { target, .. } => format!(
            "the device took the connection but did not answer: check the unit id (--unit; this \
             request used unit {}); a gateway stays silent for a unit it does not have",
            target.unit
        ),
        E::Transport { .. } => "the device closed the connection: it may allow only one client \
             and another one (evcc, Home Assistant, another evctl) may be holding it"
            .to_owned(),
        E::Protocol { .. } => "the answer did not match the request: check that this is a Modbus \
             TCP device on this port (a serial gateway may need the rtu-over-tcp transport)"
            .to_owned(),
        E::ShortResponse { .. } => {
            "the device answered fewer registers than asked: the map may not fit this model or \
             firmware"
                .to_owned()
        }
        E::Exception {
            target, exception, ..
        } => match exception {
            Exception::IllegalDataAddress => format!(
                "unit {} does not serve that address: check the unit id (--unit) and that the map \
                 fits this model and firmware",
                target.unit
            ),
            Exception::GatewayPathUnavailable | Exception::GatewayTargetDevice => format!(
                "the gateway cannot reach unit {}: check the unit id (--unit)",
                target.unit
            ),
            Exception::IllegalFunction => "the device refused the function: writing (or this \
                 table) may be disabled in the device's settings"
                .to_owned(),
            Exception::IllegalDataValue => "the device refused the value: check the register's \
                 allowed values (evctl describe <map> <register>) and the word order of the map"
                .to_owned(),
            Exception::ServerDeviceBusy | Exception::Acknowledge => {
                "the device is busy: try again, or poll less often".to_owned()
            }
            _ => "the device refused the request".to_owned(),
        },
        _ => "see the error above".to_owned(),
    }
}

fn io_hint(kind: std::io::ErrorKind) -> Option<&'static str> {
    use std::io::ErrorKind::*;
    Some(match kind {
        ConnectionRefused => {
            "nothing accepts connections there: check the port (Modbus TCP is usually 502) and \
             that Modbus TCP is enabled on the device"
        }
        TimedOut => {
            "no answer in time: check the address, that the device is powered and on this \
             network, and that no firewall drops the port"
        }
        ConnectionReset | ConnectionAborted | UnexpectedEof | BrokenPipe => {
            "the device closed the connection: another client may be holding its only \
             connection"
        }
        AddrInUse => "another program already listens there: choose another --listen port",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn usage_anywhere_in_the_chain_exits_2() {
        let err = Err::<(), _>(usage("bad value"))
            .context("writing garage")
            .expect_err("is an error");
        assert!(is_usage(&err));
        let err = Err::<(), _>(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))
            .context("reading garage")
            .expect_err("is an error");
        assert!(!is_usage(&err));
    }

    #[test]
    fn renders_chain_and_hint() {
        let err = Err::<(), _>(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))
            .context("connecting to 127.0.0.1:1")
            .context("cannot read alfen-eve")
            .expect_err("is an error");
        let text = render(&err);
        assert!(text.starts_with("error: cannot read alfen-eve\n  caused by: connecting to"));
        assert!(
            text.contains("  hint: nothing accepts connections"),
            "{text}"
        );
    }
}
