//! Transports: how whole messages travel. A session needs only [`Transport`].
//!
//! - [`in_process`]: a connected pair in memory, for tests and embedding.
//! - [`websocket`]: WebSocket, one message per text frame (tokio-tungstenite).
//! - [`http_batch`]: the reference's HTTP batch: newline-delimited messages in one POST.
//!
//! A custom transport is any `Stream` of incoming messages plus `Sink` of outgoing ones.

pub mod http_batch;

/// How long connecting waits by default (TCP, TLS, and a WebSocket's upgrade): 30 s.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
pub mod in_process;
#[cfg(feature = "websocket")]
#[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
pub mod websocket;

use std::sync::Arc;

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

/// A bidirectional stream of whole messages (JSON text). The session feeds many messages and
/// flushes once per burst, so buffering in `start_send` and writing in `poll_flush` pays off.
///
/// Implemented for every `Stream<Item = Result<String, TransportError>> + Sink<String>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a capnweb transport",
    note = "a transport is a `Stream<Item = Result<String, TransportError>> + Sink<String, Error = TransportError> + Send + Unpin + 'static`"
)]
pub trait Transport:
    Stream<Item = Result<String, TransportError>>
    + Sink<String, Error = TransportError>
    + Send
    + Unpin
    + 'static
{
}

impl<T> Transport for T where
    T: Stream<Item = Result<String, TransportError>>
        + Sink<String, Error = TransportError>
        + Send
        + Unpin
        + 'static
{
}
