//! The server-wide budget of bytes buffered from peers: request bodies being read, and what a
//! WebSocket has read of a message not yet complete. Each connection holds a share while it
//! buffers and gives it back when the message is handed on; a connection that would take the
//! budget past its total is refused (HTTP 503, or its session ends with a reason naming it).
//!
//! It must not be per connection only: many connections each below the per-message limit can
//! still exhaust memory together.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::transport::{Transport, TransportError};

/// The budget shared by every connection of a server: bytes taken, against a total. Nothing
/// ever waits for room (a peer beyond it is refused), so two atomics are all it takes.
#[derive(Clone)]
pub(crate) struct Budget {
    taken: Arc<AtomicUsize>,
    total: usize,
}

impl Budget {
    pub(crate) fn new(total: usize) -> Budget {
        Budget {
            taken: Arc::new(AtomicUsize::new(0)),
            total,
        }
    }

    /// A new, empty share for one connection or request.
    pub(crate) fn share(&self) -> Share {
        Share {
            budget: self.clone(),
            held: AtomicUsize::new(0),
        }
    }

    /// What a peer is told when the budget is exhausted.
    fn exhausted(&self) -> String {
        format!(
            "the server is buffering too much data from its peers (max_buffered_bytes {})",
            self.total
        )
    }
}

/// What one connection (or one request) holds of the budget; given back when dropped. Shared
/// by a connection's socket (which takes) and its transport (which gives back), without a lock.
pub(crate) struct Share {
    budget: Budget,
    held: AtomicUsize,
}

impl Share {
    /// Takes `n` more bytes; fails, taking nothing, when the budget has not that many left.
    pub(crate) fn take(&self, n: usize) -> Result<(), String> {
        if n == 0 {
            return Ok(());
        }
        let total = self.budget.total;
        self.budget
            .taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |taken| {
                taken.checked_add(n).filter(|&after| after <= total)
            })
            .map_err(|_| self.budget.exhausted())?;
        self.held.fetch_add(n, Ordering::AcqRel);
        Ok(())
    }

    /// Gives back everything held.
    pub(crate) fn release(&self) {
        let held = self.held.swap(0, Ordering::AcqRel);
        if held > 0 {
            self.budget.taken.fetch_sub(held, Ordering::AcqRel);
        }
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        self.release();
    }
}

/// A connection's socket, counting every byte read against the connection's share until the
/// message they belong to is complete (see [`MeteredTransport`]).
pub(crate) struct MeteredIo<T> {
    pub(crate) io: T,
    pub(crate) share: Arc<Share>,
}

impl<T: AsyncRead + Unpin> AsyncRead for MeteredIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        if let Poll::Ready(Ok(())) = polled {
            if let Err(why) = self.share.take(read) {
                return Poll::Ready(Err(io::Error::other(why)));
            }
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for MeteredIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// A transport over a [`MeteredIo`]: each complete message gives the bytes it was read from back
/// to the budget (the session parses it at once).
pub(crate) struct MeteredTransport<T> {
    pub(crate) inner: T,
    pub(crate) share: Arc<Share>,
}

impl<T: Transport> Transport for MeteredTransport<T> {
    type Received<'a> = T::Received<'a>;

    fn poll_recv<'a>(
        self: Pin<&'a mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<T::Received<'a>, TransportError>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_recv(cx);
        if let Poll::Ready(Some(Ok(_))) = &polled {
            this.share.release();
        }
        polled
    }
    fn poll_send_ready(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        Pin::new(&mut self.inner).poll_send_ready(cx)
    }
    fn start_send_text(mut self: Pin<&mut Self>, message: &str) -> Result<(), TransportError> {
        Pin::new(&mut self.inner).start_send_text(message)
    }
    fn poll_flush_sent(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        Pin::new(&mut self.inner).poll_flush_sent(cx)
    }
    fn poll_close_sent(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        Pin::new(&mut self.inner).poll_close_sent(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_together_never_exceed_the_budget_and_release_gives_back() {
        let budget = Budget::new(100);
        let (a, b) = (budget.share(), budget.share());
        a.take(60).unwrap();
        let refused = b.take(50).unwrap_err();
        assert!(refused.contains("max_buffered_bytes 100"), "{refused}");
        b.take(40).unwrap();
        a.release();
        b.take(60).unwrap();
        assert!(a.take(1).is_err());
        drop(b);
        a.take(100).unwrap();
    }
}
