//! A byte stream that remembers whether the device closed it.
//!
//! tokio-modbus reports the end of a stream as an I/O error with whatever the last OS error
//! happened to be, which reads as nonsense ("resource temporarily unavailable"). Wrapping the
//! socket lets the client say what happened: the device closed the connection.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Set once the peer has closed its side of a [`Watched`] stream.
#[derive(Debug, Clone, Default)]
pub(crate) struct Closed(Arc<AtomicBool>);

impl Closed {
    pub(crate) fn get(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A stream whose end of input is recorded in a [`Closed`] flag.
#[derive(Debug)]
pub(crate) struct Watched<S> {
    inner: S,
    closed: Closed,
}

impl<S> Watched<S> {
    pub(crate) fn new(inner: S) -> (Self, Closed) {
        let closed = Closed::default();
        (
            Self {
                inner,
                closed: closed.clone(),
            },
            closed,
        )
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let wants = buf.remaining() > 0;
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if wants && matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() == before {
            self.closed.0.store(true, Ordering::SeqCst);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
