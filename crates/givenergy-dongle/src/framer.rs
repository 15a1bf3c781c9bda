//! Cutting a byte stream into whole frames.

use bytes::{Buf, Bytes, BytesMut};

use crate::crc::CrcCheck;
use crate::error::FrameError;
use crate::frame::{Frame, MARKER, check_header_fields, crc_check};

/// One whole frame cut from the stream: its outer header is valid and its length field matches
/// its size. Its contents are not yet decoded, so a frame with a bad CRC can still be inspected
/// (and logged) before [`RawFrame::decode`] rejects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    bytes: Bytes,
}

impl RawFrame {
    /// Wraps a whole frame after checking its outer header and length.
    ///
    /// # Errors
    /// [`FrameError`] when the bytes are not one whole frame.
    pub fn new(bytes: impl Into<Bytes>) -> Result<Self, FrameError> {
        let bytes = bytes.into();
        crate::frame::check_outer(&bytes)?;
        Ok(Self { bytes })
    }

    /// The frame's bytes, marker to last byte.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether this is a heartbeat (main function 0x01).
    #[must_use]
    pub fn is_heartbeat(&self) -> bool {
        self.bytes.get(7) == Some(&0x01)
    }

    /// The CRC verdict; `None` for heartbeats, which carry no CRC.
    #[must_use]
    pub fn crc(&self) -> Option<CrcCheck> {
        crc_check(&self.bytes)
    }

    /// Decodes the frame; see [`Frame::decode`].
    ///
    /// # Errors
    /// [`FrameError`] for a bad CRC or contents that are no known frame.
    pub fn decode(&self) -> Result<Frame, FrameError> {
        Frame::decode(&self.bytes)
    }
}

/// A stream decoder: push bytes as they arrive, take whole frames out.
///
/// It scans for the marker `59 59 00 01`, checks the header (length 12..=300, unit id 0 or 1,
/// main function 1 or 2), and waits until the whole frame has arrived. Bytes before a marker,
/// and markers followed by an impossible header, are dropped and counted, so the framer
/// resynchronises after garbage, a stray byte after a reconnect, or a frame cut off mid-way.
/// It never holds more than one frame plus a read's worth of bytes.
///
/// ```
/// use givenergy_dongle::{Frame, Framer};
/// let heartbeat = [0x59, 0x59, 0x00, 0x01, 0x00, 0x0d, 0x01, 0x01,
///                  b'W', b'F', b'0', b'0', b'0', b'0', b'G', b'0', b'0', b'0', 0x01];
/// let mut framer = Framer::new();
/// framer.push(&[0x00, 0xff]); // garbage
/// framer.push(&heartbeat[..5]); // a split frame
/// assert!(framer.next_frame().is_none());
/// framer.push(&heartbeat[5..]);
/// let frame = framer.next_frame().unwrap();
/// assert!(matches!(frame.decode(), Ok(Frame::Heartbeat(_))));
/// assert_eq!(framer.discarded_bytes(), 2);
/// ```
#[derive(Debug, Default)]
pub struct Framer {
    buf: BytesMut,
    discarded: u64,
}

impl Framer {
    /// An empty framer.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes received from the socket.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes dropped so far while resynchronising.
    #[must_use]
    pub fn discarded_bytes(&self) -> u64 {
        self.discarded
    }

    /// Bytes held, waiting for the rest of a frame.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Forgets buffered bytes (after a reconnect the old stream's tail is meaningless).
    pub fn clear(&mut self) {
        self.discard(self.buf.len());
    }

    fn discard(&mut self, n: usize) {
        self.buf.advance(n);
        self.discarded += n as u64;
    }

    /// The next whole frame, or `None` until more bytes arrive.
    pub fn next_frame(&mut self) -> Option<RawFrame> {
        loop {
            match find_marker(&self.buf) {
                None => {
                    // Keep a possible partial marker at the end.
                    let keep = partial_marker_suffix(&self.buf);
                    self.discard(self.buf.len() - keep);
                    return None;
                }
                Some(at) => self.discard(at),
            }
            if self.buf.len() < 8 {
                return None;
            }
            let length = usize::from(u16::from_be_bytes([self.buf[4], self.buf[5]]));
            if check_header_fields(length, self.buf[6], self.buf[7]).is_err() {
                // A marker inside garbage: step past it and scan again.
                self.discard(1);
                continue;
            }
            if self.buf.len() < 6 + length {
                return None;
            }
            let bytes = self.buf.split_to(6 + length).freeze();
            return Some(RawFrame { bytes });
        }
    }
}

impl Iterator for Framer {
    type Item = RawFrame;

    fn next(&mut self) -> Option<RawFrame> {
        self.next_frame()
    }
}

fn find_marker(buf: &[u8]) -> Option<usize> {
    buf.windows(MARKER.len()).position(|w| w == MARKER)
}

/// Length of the longest suffix of `buf` that is a proper prefix of the marker.
fn partial_marker_suffix(buf: &[u8]) -> usize {
    (1..MARKER.len())
        .rev()
        .find(|&n| buf.len() >= n && buf[buf.len() - n..] == MARKER[..n])
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_partial_marker_across_pushes() {
        let mut f = Framer::new();
        f.push(&[1, 2, 3, 0x59, 0x59]);
        assert!(f.next_frame().is_none());
        assert_eq!(f.buffered(), 2);
        assert_eq!(f.discarded_bytes(), 3);
    }

    #[test]
    fn skips_a_marker_with_an_impossible_header() {
        let mut f = Framer::new();
        // Length 0xffff: impossible; the real heartbeat follows.
        f.push(&[0x59, 0x59, 0x00, 0x01, 0xff, 0xff, 0x01, 0x01]);
        f.push(&[0x59, 0x59, 0x00, 0x01, 0x00, 0x0d, 0x01, 0x01]);
        f.push(b"AB0000G000\x01");
        let frame = f.next_frame().unwrap();
        assert!(frame.is_heartbeat());
        assert_eq!(f.discarded_bytes(), 8);
        assert_eq!(f.buffered(), 0);
    }
}
