//! [`Metrics`]: counters of sessions and their traffic, shared by every session of a server.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::wire::MessageKind;

/// Counters a user can read at any time (see [`snapshot`](Metrics::snapshot)). Sessions given
/// the same `Metrics` (a server gives all of its own) add to it.
///
/// ```
/// use std::sync::Arc;
/// use capnweb::{Metrics, SessionOptions};
/// let metrics = Arc::new(Metrics::default());
/// let options = SessionOptions::default().metrics(metrics.clone());
/// assert_eq!(metrics.snapshot().sessions_open, 0);
/// # drop(options);
/// ```
#[derive(Debug, Default)]
pub struct Metrics {
    sessions_open: AtomicU64,
    sessions_total: AtomicU64,
    calls: AtomicU64,
    errors: AtomicU64,
    messages_in: AtomicU64,
    messages_out: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

/// The counters of [`Metrics`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Sessions running now.
    pub sessions_open: u64,
    /// Sessions started so far.
    pub sessions_total: u64,
    /// Calls received from peers (`push` and `stream` messages).
    pub calls: u64,
    /// Calls answered with an error (`reject` messages sent).
    pub errors: u64,
    /// Messages received.
    pub messages_in: u64,
    /// Messages sent.
    pub messages_out: u64,
    /// Bytes received, as message text.
    pub bytes_in: u64,
    /// Bytes sent, as message text.
    pub bytes_out: u64,
}

impl Metrics {
    /// The counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            sessions_open: self.sessions_open.load(Relaxed),
            sessions_total: self.sessions_total.load(Relaxed),
            calls: self.calls.load(Relaxed),
            errors: self.errors.load(Relaxed),
            messages_in: self.messages_in.load(Relaxed),
            messages_out: self.messages_out.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
        }
    }

    pub(crate) fn session_opened(&self) {
        self.sessions_open.fetch_add(1, Relaxed);
        self.sessions_total.fetch_add(1, Relaxed);
    }

    pub(crate) fn session_closed(&self) {
        self.sessions_open.fetch_sub(1, Relaxed);
    }

    /// A message of `bytes` came in, of `kind` once parsed (`None`: it did not parse).
    pub(crate) fn received(&self, bytes: usize, kind: Option<MessageKind>) {
        self.messages_in.fetch_add(1, Relaxed);
        self.bytes_in.fetch_add(bytes as u64, Relaxed);
        if kind.is_some_and(MessageKind::is_call) {
            self.calls.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn sent(&self, msg: &str) {
        self.messages_out.fetch_add(1, Relaxed);
        self.bytes_out.fetch_add(msg.len() as u64, Relaxed);
        if MessageKind::of(msg) == MessageKind::Reject {
            self.errors.fetch_add(1, Relaxed);
        }
    }
}
