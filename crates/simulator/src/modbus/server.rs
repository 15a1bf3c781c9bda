//! The accept loop and one task per connection: framing, faults, logging.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::bank::RegisterBank;
use super::faults::{Faults, Verdict};
use super::pdu;
use super::{Framing, RequestLog, Stats};

/// The bytes a garbage fault answers.
const GARBAGE: [u8; 8] = [0xDE, 0xAD, 0xBE, 0xEF, 0, 0, 0, 0];

/// State shared by the accept loop, every connection and the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) bank: Mutex<RegisterBank>,
    pub(crate) faults: Faults,
    pub(crate) framing: Framing,
    pub(crate) log: RequestLog,
    pub(crate) requests: AtomicU64,
    pub(crate) active: AtomicUsize,
    pub(crate) accepted: AtomicU64,
    pub(crate) refused: AtomicU64,
}

impl Shared {
    pub(crate) fn stats(&self) -> Stats {
        Stats {
            accepted: self.accepted.load(Ordering::SeqCst),
            refused: self.refused.load(Ordering::SeqCst),
            active: self.active.load(Ordering::SeqCst),
        }
    }
}

/// Decrements the active connection count when a connection task ends, however it ends.
struct ActiveGuard(Arc<Shared>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut next_connection: u64 = 0;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                tracing::warn!(error = %err, "simulator: accept failed");
                continue;
            }
        };
        if let Some(limit) = shared.faults.max_connections
            && shared.active.load(Ordering::SeqCst) >= limit
        {
            shared.refused.fetch_add(1, Ordering::SeqCst);
            tracing::debug!(%peer, limit, "simulator: connection refused, limit reached");
            drop(stream);
            continue;
        }
        shared.active.fetch_add(1, Ordering::SeqCst);
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        next_connection += 1;
        let guard = ActiveGuard(Arc::clone(&shared));
        let shutdown = shutdown.clone();
        let connection = next_connection;
        tokio::spawn(async move {
            let shared = Arc::clone(&guard.0);
            if let Err(err) = serve_connection(stream, peer, connection, &shared, shutdown).await {
                tracing::debug!(%peer, error = %err, "simulator: connection ended");
            }
            drop(guard);
        });
    }
}

/// One request as it came off the wire.
struct Frame {
    transaction_id: u16,
    unit: u8,
    pdu: Vec<u8>,
}

async fn read_frame(stream: &mut TcpStream, framing: Framing) -> std::io::Result<Option<Frame>> {
    match framing {
        Framing::Tcp => {
            let mut header = [0u8; 7];
            match stream.read_exact(&mut header).await {
                Ok(_) => {}
                Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
                Err(err) => return Err(err),
            }
            let transaction_id = u16::from_be_bytes([header[0], header[1]]);
            let protocol = u16::from_be_bytes([header[2], header[3]]);
            let length = usize::from(u16::from_be_bytes([header[4], header[5]]));
            if protocol != 0 || !(2..=254).contains(&length) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "not a Modbus TCP header",
                ));
            }
            let mut pdu = vec![0u8; length - 1];
            stream.read_exact(&mut pdu).await?;
            Ok(Some(Frame {
                transaction_id,
                unit: header[6],
                pdu,
            }))
        }
        Framing::RtuOverTcp => {
            let mut frame = Vec::with_capacity(16);
            let mut byte = [0u8; 1];
            loop {
                match pdu::rtu_request_len(&frame) {
                    Ok(Some(len)) if frame.len() >= len => break,
                    Ok(_) => {}
                    Err(()) => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            "unknown RTU function code",
                        ));
                    }
                }
                match stream.read(&mut byte).await? {
                    0 if frame.is_empty() => return Ok(None),
                    0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                    _ => frame.push(byte[0]),
                }
            }
            let (body, crc) = frame.split_at(frame.len() - 2);
            if pdu::crc16(body).to_le_bytes() != [crc[0], crc[1]] {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "RTU CRC mismatch",
                ));
            }
            Ok(Some(Frame {
                transaction_id: 0,
                unit: body[0],
                pdu: body[1..].to_vec(),
            }))
        }
    }
}

fn encode(framing: Framing, transaction_id: u16, unit: u8, pdu: &[u8], corrupt: bool) -> Vec<u8> {
    match framing {
        Framing::Tcp => {
            let transaction_id = if corrupt {
                transaction_id.wrapping_add(0x0101)
            } else {
                transaction_id
            };
            let length = u16::try_from(pdu.len() + 1).unwrap_or(u16::MAX);
            let mut out = Vec::with_capacity(7 + pdu.len());
            out.extend(transaction_id.to_be_bytes());
            out.extend([0, 0]);
            out.extend(length.to_be_bytes());
            out.push(unit);
            out.extend(pdu);
            out
        }
        Framing::RtuOverTcp => {
            let mut out = Vec::with_capacity(3 + pdu.len());
            out.push(unit);
            out.extend(pdu);
            let crc = pdu::crc16(&out) ^ if corrupt { 0x5A5A } else { 0 };
            out.extend(crc.to_le_bytes());
            out
        }
    }
}

/// Answers a write as the device would, from a copy of the bank, and applies it to the bank
/// itself `delay` later (the delayed-apply fault). A refused write changes nothing, ever.
fn serve_later(
    shared: &Arc<Shared>,
    delay: std::time::Duration,
    unit: u8,
    request: &[u8],
) -> Vec<u8> {
    let read_only = shared.faults.read_only;
    let mut copy = shared
        .bank
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let response = pdu::serve(&mut copy, unit, request, read_only);
    if !pdu::is_exception(&response) {
        let shared = Arc::clone(shared);
        let request = request.to_vec();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let mut bank = shared.bank.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = pdu::serve(&mut bank, unit, &request, read_only);
            tracing::debug!(unit, "simulator: delayed write applied");
        });
    }
    response
}

async fn serve_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    connection: u64,
    shared: &Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    tracing::debug!(%peer, connection, "simulator: connection accepted");
    loop {
        let next = async {
            match shared.faults.idle_timeout {
                Some(idle) => {
                    match tokio::time::timeout(idle, read_frame(&mut stream, shared.framing)).await
                    {
                        Ok(frame) => frame,
                        Err(_) => {
                            tracing::debug!(%peer, "simulator: idle timeout, closing");
                            Ok(None)
                        }
                    }
                }
                None => read_frame(&mut stream, shared.framing).await,
            }
        };
        let frame = tokio::select! {
            frame = next => frame?,
            _ = shutdown.changed() => return Ok(()),
        };
        let Some(frame) = frame else {
            return Ok(());
        };
        let n = shared.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let summary = pdu::summarize(&frame.pdu);
        shared.log.push(connection, frame.unit, summary);
        if !shared.faults.latency.is_zero() {
            tokio::time::sleep(shared.faults.latency).await;
        }
        let verdict = shared.faults.verdict(n);
        let (response, corrupt) = match verdict {
            Verdict::Drop => {
                tracing::debug!(%peer, n, "simulator: dropping the connection (fault)");
                return Ok(());
            }
            Verdict::Garbage => {
                stream.write_all(&GARBAGE).await?;
                continue;
            }
            Verdict::Exception(code) => (pdu::exception_pdu(summary.function, code), false),
            Verdict::WrongTransactionId | Verdict::Serve => {
                let response = match shared.faults.apply_writes_after {
                    Some(delay) if pdu::is_write(summary.function) => {
                        serve_later(shared, delay, frame.unit, &frame.pdu)
                    }
                    _ => {
                        let mut bank = shared.bank.lock().unwrap_or_else(PoisonError::into_inner);
                        pdu::serve(&mut bank, frame.unit, &frame.pdu, shared.faults.read_only)
                    }
                };
                (response, verdict == Verdict::WrongTransactionId)
            }
        };
        stream
            .write_all(&encode(
                shared.framing,
                frame.transaction_id,
                frame.unit,
                &response,
                corrupt,
            ))
            .await?;
    }
}
