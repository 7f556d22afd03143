//! The server-wide budget of bytes buffered from peers: request bodies being read, what a
//! WebSocket has read of a message not yet complete, and the results sessions hold for their
//! peers until released (`Budget::answer_share`, with the session's own cap). Each connection holds a share while it
//! buffers and gives it back when the message is handed on (and what it read of control frames,
//! once they are handled); a connection that would take the budget past its total, or its own
//! share past the per-connection cap, is refused (HTTP 503, or its session ends with a reason
//! naming the limit). A WebSocket message begun must be whole within a deadline.
//!
//! It must not be per connection only: many connections each below the per-message limit can
//! still exhaust memory together. Nor server-wide only: a few connections could then hold all
//! of it, and every other session would be refused.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::session::AnswerBudget;
use crate::transport::websocket::codec::CodecSocket;
use crate::transport::websocket::{Socket, WebSocketTransport};
use crate::transport::{Transport, TransportError};
use crate::wire::WireError;

/// The budget shared by every connection of a server: bytes taken, against a total, and at
/// most `per_share` of them by any one connection. Nothing ever waits for room (a peer beyond
/// it is refused), so two atomics are all it takes.
///
/// The first `reserve` bytes of each share are its own, drawn from no common pool: a
/// connection's ordinary messages always fit, whoever holds the rest (peers holding large
/// messages unfinished refuse large messages to others while they do, never small ones).
#[derive(Clone)]
pub(crate) struct Budget {
    taken: Arc<AtomicUsize>,
    total: usize,
    per_share: usize,
    reserve: usize,
}

/// The bytes of each connection's share that draw on no common pool (see [`Budget`]).
pub(crate) const RESERVE: usize = 64 * 1024;

impl Budget {
    pub(crate) fn new(total: usize, per_share: usize, reserve: usize) -> Budget {
        Budget {
            taken: Arc::new(AtomicUsize::new(0)),
            total,
            per_share,
            reserve,
        }
    }

    /// What a share holding `held` bytes draws from the common pool.
    fn drawn(&self, held: usize) -> usize {
        held.saturating_sub(self.reserve)
    }

    /// A new, empty share for one connection or request.
    pub(crate) fn share(&self) -> Share {
        Share {
            budget: self.clone(),
            held: AtomicUsize::new(0),
            cap: self.per_share,
        }
    }

    /// A share for the results a session holds for its peer: its own cap is the session's
    /// (`Limits::max_answer_bytes`), the common pool is everyone's.
    pub(crate) fn answer_share(&self) -> Arc<dyn AnswerBudget> {
        Arc::new(Share {
            budget: self.clone(),
            held: AtomicUsize::new(0),
            cap: usize::MAX,
        })
    }

    /// What a peer is told when the budget is exhausted.
    fn exhausted(&self) -> String {
        format!(
            "the server is buffering too much data from its peers (max_buffered_bytes {})",
            self.total
        )
    }

    /// What a peer is told when its own share is full.
    fn share_exhausted(&self) -> String {
        format!(
            "this connection is buffering too much data (max_session_buffered_bytes {})",
            self.per_share
        )
    }
}

/// What one connection (or one request) holds of the budget; given back when dropped. Shared
/// by a connection's socket (which takes) and its transport (which gives back), without a lock.
pub(crate) struct Share {
    budget: Budget,
    held: AtomicUsize,
    /// The most this share may hold.
    cap: usize,
}

impl Share {
    /// Takes `n` more bytes; fails, taking nothing, when the budget has not that many left, or
    /// this share would go past its cap.
    pub(crate) fn take(&self, n: usize) -> Result<(), String> {
        if n == 0 {
            return Ok(());
        }
        // One taker at a time (the connection's own task, or a session under its lock): the
        // check and the add cannot interleave.
        let held = self.held.load(Ordering::Acquire);
        if held.saturating_add(n) > self.cap {
            return Err(self.budget.share_exhausted());
        }
        let total = self.budget.total;
        let draw = self.budget.drawn(held + n) - self.budget.drawn(held);
        if draw > 0 {
            self.budget
                .taken
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |taken| {
                    taken.checked_add(draw).filter(|&after| after <= total)
                })
                .map_err(|_| self.budget.exhausted())?;
        }
        self.held.fetch_add(n, Ordering::AcqRel);
        Ok(())
    }

    /// Counts `n` more bytes held, past the budget if need be: memory already in use (a
    /// batch's answer, its work done), so that others wait for room while it is.
    pub(crate) fn charge(&self, n: usize) {
        let held = self.held.fetch_add(n, Ordering::AcqRel);
        let draw = self.budget.drawn(held + n) - self.budget.drawn(held);
        self.budget.taken.fetch_add(draw, Ordering::AcqRel);
    }

    /// Gives back up to `n` of the bytes held (what was read of frames handled since).
    pub(crate) fn give(&self, n: usize) {
        if n == 0 {
            return;
        }
        let held = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                Some(held.saturating_sub(n))
            })
            .unwrap_or_else(|held| held);
        self.give_back(held, held.saturating_sub(n));
    }

    /// Returns to the common pool what holding `after` bytes instead of `before` frees.
    fn give_back(&self, before: usize, after: usize) {
        let given = self.budget.drawn(before) - self.budget.drawn(after);
        if given > 0 {
            self.budget.taken.fetch_sub(given, Ordering::AcqRel);
        }
    }

    /// The bytes held now.
    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    /// Gives back everything held.
    pub(crate) fn release(&self) {
        let held = self.held.swap(0, Ordering::AcqRel);
        self.give_back(held, 0);
    }
}

/// A session's results held for its peer, counted in the common pool (see
/// [`Budget::answer_share`]).
impl AnswerBudget for Share {
    fn take(&self, n: usize) -> Result<(), WireError> {
        Share::take(self, n).map_err(|_| WireError::LimitExceeded {
            what: "the bytes the server holds for all its peers (max_buffered_bytes)",
            limit: self.budget.total,
        })
    }

    fn give(&self, n: usize) {
        Share::give(self, n);
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

/// A WebSocket transport that handles control frames itself: what it read of them, to give
/// back once they are handled (they are not part of a message being received).
pub(crate) trait LetGo {
    /// Bytes of control frames read and handled since the last call.
    fn take_let_go(&mut self) -> usize;
}

impl<S> LetGo for CodecSocket<S> {
    fn take_let_go(&mut self) -> usize {
        self.take_control_bytes()
    }
}

impl<S> LetGo for WebSocketTransport<Socket<S>> {
    fn take_let_go(&mut self) -> usize {
        self.take_control_bytes()
    }
}

/// A transport over a [`MeteredIo`]: each complete message gives the bytes it was read from back
/// to the budget (the session parses it at once), and so does each control frame once handled.
/// A message begun (bytes held) must be whole within `within`: the session then ends with a
/// reason naming `message_timeout`.
pub(crate) struct MeteredTransport<T> {
    inner: T,
    share: Arc<Share>,
    within: Duration,
    /// Since when bytes are held of a message not yet whole.
    begun: Option<Instant>,
    /// Fires at the deadline of a message begun; then catches up with the message begun since,
    /// if any (one timer operation per period, none per message), or goes (an idle session
    /// keeps none).
    timer: Option<Pin<Box<Sleep>>>,
}

impl<T> MeteredTransport<T> {
    pub(crate) fn new(inner: T, share: Arc<Share>, within: Duration) -> Self {
        MeteredTransport {
            inner,
            share,
            within,
            begun: None,
            timer: None,
        }
    }

    /// Fails once the message begun is not whole in time.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Result<(), TransportError> {
        let Some(timer) = &mut self.timer else {
            return Ok(());
        };
        if timer.as_mut().poll(cx).is_pending() {
            return Ok(());
        }
        let Some(begun) = self.begun else {
            self.timer = None;
            return Ok(());
        };
        let deadline = begun + self.within;
        if timer.deadline() >= deadline {
            self.timer = None;
            let error = TransportError::new(format!(
                "a WebSocket message was not received in full within {:?} (message_timeout)",
                self.within
            ));
            return Err(error.over_limit("message_timeout"));
        }
        timer.as_mut().reset(deadline);
        if timer.as_mut().poll(cx).is_ready() {
            cx.waker().wake_by_ref();
        }
        Ok(())
    }
}

impl<T: Transport + LetGo> Transport for MeteredTransport<T> {
    type Received<'a> = T::Received<'a>;

    fn poll_recv<'a>(
        self: Pin<&'a mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<T::Received<'a>, TransportError>>> {
        let this = self.get_mut();
        // The control frames the last poll handled are given back now (not then: a message it
        // returned borrowed the transport).
        this.share.give(this.inner.take_let_go());
        if this.share.held() == 0 {
            this.begun = None;
        }
        if let Err(e) = this.poll_deadline(cx) {
            return Poll::Ready(Some(Err(e)));
        }
        let polled = Pin::new(&mut this.inner).poll_recv(cx);
        match &polled {
            Poll::Ready(Some(Ok(_))) => {
                this.share.release();
                this.begun = None;
            }
            // Bytes held and no message yet: one has begun, and must be whole in time. (Or
            // they are control frames, given back at the next poll.)
            Poll::Pending if this.begun.is_none() && this.share.held() > 0 => {
                let begun = Instant::now();
                this.begun = Some(begun);
                if this.timer.is_none() {
                    let mut timer = Box::pin(tokio::time::sleep_until(begun + this.within));
                    if timer.as_mut().poll(cx).is_ready() {
                        cx.waker().wake_by_ref();
                    }
                    this.timer = Some(timer);
                }
            }
            _ => {}
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
    fn closing(&mut self, reason: &str) {
        self.inner.closing(reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shares_reserve_draws_on_no_common_pool() {
        let budget = Budget::new(100, 1_000, 50);
        let (a, b) = (budget.share(), budget.share());
        // 50 of its own, 100 from the pool: the pool is full.
        a.take(150).unwrap();
        assert!(b.take(60).is_err(), "past b's reserve, from a full pool");
        // Within its reserve, b is served all the same.
        b.take(50).unwrap();
        a.give(30);
        b.take(30).unwrap();
        a.release();
        b.release();
        assert_eq!(budget.taken.load(Ordering::Acquire), 0);
    }

    #[test]
    fn shares_together_never_exceed_the_budget_and_release_gives_back() {
        let budget = Budget::new(100, 100, 0);
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

    #[test]
    fn a_share_is_capped_and_gives_back_what_it_let_go_of() {
        let budget = Budget::new(100, 40, 0);
        let (a, b) = (budget.share(), budget.share());
        a.take(40).unwrap();
        let refused = a.take(1).unwrap_err();
        assert!(
            refused.contains("max_session_buffered_bytes 40"),
            "{refused}"
        );
        b.take(40).unwrap();
        // Control frames handled: given back, room again for it.
        a.give(15);
        assert_eq!(a.held(), 25);
        a.take(15).unwrap();
        // Never more than is held.
        b.give(1000);
        assert_eq!(b.held(), 0);
        let c = budget.share();
        c.take(40).unwrap();
        // Two shares full, one empty: 80 taken, 20 left.
        assert!(b.take(21).is_err());
        b.take(20).unwrap();
    }
}
