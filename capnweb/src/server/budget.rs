//! The server-wide budget of bytes buffered from peers: request bodies being read, and what a
//! WebSocket has read of a message not yet complete. Each connection holds a share while it
//! buffers and gives it back when the message is handed on; a connection that would take the
//! budget past its total is refused (HTTP 503, or its session ends with a reason naming it).
//!
//! It must not be per connection only: many connections each below the per-message limit can
//! still exhaust memory together.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::transport::TransportError;

/// The budget shared by every connection of a server.
#[derive(Clone)]
pub(crate) struct Budget {
    bytes: Arc<Semaphore>,
    total: usize,
}

impl Budget {
    pub(crate) fn new(total: usize) -> Budget {
        let total = total.min(Semaphore::MAX_PERMITS);
        Budget {
            bytes: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// A new, empty share for one connection or request.
    pub(crate) fn share(&self) -> Share {
        Share {
            budget: self.clone(),
            held: None,
        }
    }

    /// What a peer is told when the budget is exhausted.
    pub(crate) fn exhausted(&self) -> String {
        format!(
            "the server is buffering too much data from its peers (max_buffered_bytes {})",
            self.total
        )
    }
}

/// What one connection (or one request) holds of the budget.
pub(crate) struct Share {
    budget: Budget,
    held: Option<OwnedSemaphorePermit>,
}

impl Share {
    /// Takes `n` more bytes; fails, taking nothing, when the budget has not that many left.
    pub(crate) fn take(&mut self, n: usize) -> Result<(), String> {
        if n == 0 {
            return Ok(());
        }
        let permit = u32::try_from(n)
            .ok()
            .and_then(|n| self.budget.bytes.clone().try_acquire_many_owned(n).ok())
            .ok_or_else(|| self.budget.exhausted())?;
        match &mut self.held {
            Some(held) => held.merge(permit),
            None => self.held = Some(permit),
        }
        Ok(())
    }

    /// Gives back everything held.
    pub(crate) fn release(&mut self) {
        self.held = None;
    }
}

/// A connection's socket, counting every byte read against the connection's share until the
/// message they belong to is complete (see [`MeteredTransport`]).
pub(crate) struct MeteredIo<T> {
    pub(crate) io: T,
    pub(crate) share: Arc<Mutex<Share>>,
}

fn lock(share: &Mutex<Share>) -> std::sync::MutexGuard<'_, Share> {
    share.lock().unwrap_or_else(|e| e.into_inner())
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
            if let Err(why) = lock(&self.share).take(read) {
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
    pub(crate) share: Arc<Mutex<Share>>,
}

impl<T: Stream<Item = Result<String, TransportError>> + Unpin> Stream for MeteredTransport<T> {
    type Item = Result<String, TransportError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(_))) = &polled {
            lock(&self.share).release();
        }
        polled
    }
}

impl<T: Sink<String, Error = TransportError> + Unpin> Sink<String> for MeteredTransport<T> {
    type Error = TransportError;
    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner).poll_ready(cx)
    }
    fn start_send(mut self: Pin<&mut Self>, item: String) -> Result<(), Self::Error> {
        Pin::new(&mut self.inner).start_send(item)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_together_never_exceed_the_budget_and_release_gives_back() {
        let budget = Budget::new(100);
        let (mut a, mut b) = (budget.share(), budget.share());
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
