//! The [`Transport`] trait: how whole messages travel, as the session sees them. Defined here,
//! below the transports that implement it (`crate::transport`, which re-exports it), so that
//! the session names nothing above it.

use std::sync::Arc;

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::{Sink, Stream};

/// Why a transport failed: a description, and the error that caused it when there is one
/// (`std::error::Error::source`, so that a connect failure keeps its cause chain).
///
/// ```
/// use capnweb::transport::TransportError;
/// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
/// let e = TransportError::with_source("connecting to x.test failed", io);
/// assert_eq!(e.message(), "connecting to x.test failed");
/// assert!(std::error::Error::source(&e).unwrap().to_string().contains("refused"));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("transport error: {message}")]
pub struct TransportError {
    message: String,
    undelivered: bool,
    limit: Option<&'static str>,
    #[source]
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl PartialEq for TransportError {
    /// By description and deliverability (the causes are not compared).
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message && self.undelivered == other.undelivered
    }
}

impl Eq for TransportError {}

impl TransportError {
    /// A transport error with this description.
    pub fn new(message: impl Into<String>) -> TransportError {
        TransportError {
            message: message.into(),
            undelivered: false,
            limit: None,
            source: None,
        }
    }

    /// A transport error with this description, caused by `source`.
    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> TransportError {
        TransportError {
            source: Some(Arc::new(source)),
            ..TransportError::new(message)
        }
    }

    /// A failure known to have delivered nothing the session sent (a refused HTTP batch, a
    /// connection that never opened): its pending calls fail with
    /// `Disconnected { maybe_delivered: false }`.
    pub fn undelivered(message: impl Into<String>) -> TransportError {
        TransportError {
            undelivered: true,
            ..TransportError::new(message)
        }
    }

    /// The same error, known to have delivered nothing (see [`undelivered`](Self::undelivered)).
    pub fn into_undelivered(mut self) -> TransportError {
        self.undelivered = true;
        self
    }

    /// The description.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether nothing the session sent can have reached the peer.
    pub fn is_undelivered(&self) -> bool {
        self.undelivered
    }

    /// The same error, saying that the peer went over `limit` (`max_message_size`, say): it
    /// is counted among the limit hits.
    pub fn over_limit(mut self, limit: &'static str) -> TransportError {
        self.limit = Some(limit);
        self
    }

    /// The limit the peer went over, if that is what this error is.
    pub fn limit(&self) -> Option<&'static str> {
        self.limit
    }
}

/// A bidirectional channel of whole messages (JSON text). The session sends many messages and
/// flushes once per burst, so buffering in [`start_send_text`](Self::start_send_text) and writing
/// in [`poll_flush_sent`](Self::poll_flush_sent) pays off.
///
/// Every `Stream<Item = Result<M, TransportError>> + Sink<String, Error = TransportError>`
/// (with `M` a `String`, or anything else that is text) is a transport as it is: see
/// `examples/custom_transport.rs`. A transport can also implement this trait itself, to receive
/// messages without copying them out of its buffers (`Received` borrowing the transport's buffer) and to send
/// them from the session's buffer (`start_send_text` takes `&str`), as the WebSocket transport
/// does.
///
/// ```
/// use capnweb::transport::{in_process, Transport};
/// fn takes(_: impl Transport) {}
/// let (a, _b) = in_process::pair();
/// takes(a); // a Stream of Strings and a Sink of Strings
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a capnweb transport",
    note = "a transport is a `Stream<Item = Result<String, TransportError>> + Sink<String, Error = TransportError> + Send + Unpin + 'static`, or implements `Transport` itself"
)]
pub trait Transport: Send + Unpin + 'static {
    /// A received message: text the session reads at once, then drops. It may borrow the
    /// transport (a frame read in place in its buffer, as `&'a str`).
    type Received<'a>: AsRef<str>
    where
        Self: 'a;

    /// The next message from the peer; `None` once the peer has closed.
    fn poll_recv<'a>(
        self: Pin<&'a mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Self::Received<'a>, TransportError>>>;

    /// Ready to take a message with [`start_send_text`](Self::start_send_text).
    fn poll_send_ready(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>>;

    /// Queues one message (buffered until [`poll_flush_sent`](Self::poll_flush_sent), if the
    /// transport buffers). The text is the session's: copy what must outlive the call.
    fn start_send_text(self: Pin<&mut Self>, message: &str) -> Result<(), TransportError>;

    /// Writes everything queued.
    fn poll_flush_sent(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>>;

    /// Flushes and closes the sending side.
    fn poll_close_sent(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>>;

    /// The session aborted with `reason` (the message of the error its last `abort` carried)
    /// and is about to close: a transport that can tell its peer why as it closes (a
    /// WebSocket's close frame) keeps it for [`poll_close_sent`](Self::poll_close_sent).
    /// Called at most once, and not when the session ends without sending an abort. Does
    /// nothing by default.
    fn closing(&mut self, reason: &str) {
        let _ = reason;
    }
}

impl<T, M> Transport for T
where
    T: Stream<Item = Result<M, TransportError>>
        + Sink<String, Error = TransportError>
        + Send
        + Unpin
        + 'static,
    M: AsRef<str> + Send,
{
    type Received<'a> = M;

    fn poll_recv(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<M, TransportError>>> {
        Stream::poll_next(self, cx)
    }

    fn poll_send_ready(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        Sink::poll_ready(self, cx)
    }

    fn start_send_text(self: Pin<&mut Self>, message: &str) -> Result<(), TransportError> {
        Sink::start_send(self, message.to_owned())
    }

    fn poll_flush_sent(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        Sink::poll_flush(self, cx)
    }

    fn poll_close_sent(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        Sink::poll_close(self, cx)
    }
}

/// Sends one message on `t`: waits for room, then queues it.
pub(crate) async fn send_text<T: Transport>(
    t: &mut T,
    message: &str,
) -> Result<(), TransportError> {
    std::future::poll_fn(|cx| Pin::new(&mut *t).poll_send_ready(cx)).await?;
    Pin::new(t).start_send_text(message)
}

/// Writes everything queued on `t`.
pub(crate) async fn flush_sent<T: Transport>(t: &mut T) -> Result<(), TransportError> {
    std::future::poll_fn(|cx| Pin::new(&mut *t).poll_flush_sent(cx)).await
}

/// Flushes and closes `t`'s sending side.
pub(crate) async fn close_sent<T: Transport>(t: &mut T) -> Result<(), TransportError> {
    std::future::poll_fn(|cx| Pin::new(&mut *t).poll_close_sent(cx)).await
}
