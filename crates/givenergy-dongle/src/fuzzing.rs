//! The framer's fuzz property as an ordinary function, shared by the cargo-fuzz target in
//! `fuzz/` and by the proptest suite (nightly is not needed to exercise it).

use crate::frame::{Frame, MARKER};
use crate::framer::{Framer, RawFrame};

/// Feeds `data` to a [`Framer`] in chunks whose size is taken from the first byte, decodes every
/// frame cut, and checks the framer's promises. Returns the number of frames cut.
///
/// # Panics
/// When a promise is broken (that is the point of a fuzz property): a frame that does not start
/// with the marker or does not re-validate, a decodable frame whose re-encoding decodes to
/// something else, or a framer that holds more bytes than one frame plus one chunk.
#[must_use]
pub fn check_framer(data: &[u8]) -> usize {
    let (chunk, data) = match data.split_first() {
        Some((first, rest)) => (usize::from(*first).max(1), rest),
        None => return 0,
    };
    let mut framer = Framer::new();
    let mut frames = 0;
    for piece in data.chunks(chunk) {
        framer.push(piece);
        while let Some(raw) = framer.next_frame() {
            frames += 1;
            assert_eq!(
                raw.as_bytes()[..4],
                MARKER,
                "frame must start with the marker"
            );
            assert!(
                RawFrame::new(raw.as_bytes().to_vec()).is_ok(),
                "cut frame must re-validate"
            );
            if let Ok(frame) = raw.decode()
                && let Ok(bytes) = frame.encode()
            {
                assert_eq!(
                    Frame::decode(&bytes),
                    Ok(frame),
                    "re-encoded frame must decode the same"
                );
            }
        }
        assert!(
            framer.buffered() <= 306 + chunk,
            "framer holds {} bytes",
            framer.buffered()
        );
    }
    let buffered = framer.buffered() as u64;
    let cut_or_dropped = framer.discarded_bytes() + buffered;
    assert!(cut_or_dropped <= data.len() as u64, "framer invented bytes");
    frames
}
