//! A connection's stream whose writes fail once the peer has taken nothing for a while: hyper
//! has no write deadline, and a peer that never reads would keep its response (a batch's
//! answer, with the connection slot and the budget it holds) for as long as it stays.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// How long a server's connection, or session, may write to a peer that takes none of it,
/// unless the session options say (`SessionOptions::write_timeout`).
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// `io`, with writes (and flushes) failing with `TimedOut` once they have been blocked for
/// `limit` without a byte taken. Reads are untouched.
pub(crate) struct WriteDeadline<I> {
    io: I,
    limit: Duration,
    /// Armed when a write blocks; disarmed by any progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<I> WriteDeadline<I> {
    pub(crate) fn new(io: I, limit: Duration) -> WriteDeadline<I> {
        WriteDeadline {
            io,
            limit,
            stalled: None,
        }
    }

    /// What a blocked write comes to: still waiting, or failed once past the deadline (the
    /// timer, polled with the same waker, wakes the writer when it is).
    fn blocked<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let limit = self.limit;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the peer took nothing written for {limit:?}"),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Passes on what the stream did: progress disarms the deadline, a block arms it.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match polled {
            Poll::Ready(done) => {
                self.stalled = None;
                Poll::Ready(done)
            }
            Poll::Pending => self.blocked(cx),
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for WriteDeadline<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.watch(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_flush(cx);
        self.watch(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_write_nobody_takes_fails_at_the_deadline_and_progress_resets_it() {
        let limit = Duration::from_millis(400);
        // A pipe whose reader takes nothing: 64 bytes fit, then writes block.
        let (mut reader, writer) = tokio::io::duplex(64);
        let mut io = WriteDeadline::new(writer, limit);
        io.write_all(&[0; 64]).await.unwrap();
        let start = tokio::time::Instant::now();
        // Taken a little at a time, more often than the deadline: progress, never past it.
        let taking = async {
            let mut buf = [0; 64];
            for _ in 0..4 {
                tokio::time::sleep(limit / 2).await;
                tokio::io::AsyncReadExt::read_exact(&mut reader, &mut buf)
                    .await
                    .unwrap();
            }
            reader
        };
        let (written, reader) = tokio::join!(io.write_all(&[0; 256]), taking);
        written.unwrap();
        assert!(start.elapsed() >= limit * 2, "{:?}", start.elapsed());
        // Then nothing is taken: the write fails, once the deadline has passed.
        let blocked_at = tokio::time::Instant::now();
        let blocked = io.write_all(&[0; 128]).await.unwrap_err();
        assert_eq!(blocked.kind(), io::ErrorKind::TimedOut);
        assert!(blocked_at.elapsed() >= limit, "{:?}", blocked_at.elapsed());
        drop(reader);
    }
}
