//! Transports: how whole messages travel. A session needs only [`Transport`].
//!
//! - [`in_process`]: a connected pair in memory, for tests and embedding.
//! - [`websocket`]: WebSocket, one message per text frame (tungstenite, or the built-in codec).
//! - [`http_batch`]: the reference's HTTP batch: newline-delimited messages in one POST.
//!
//! A custom transport is any `Stream` of incoming messages plus `Sink` of outgoing ones.
//!
//! The [`Transport`] trait itself is defined below the session (which runs over it), and
//! re-exported here, next to the transports that implement it.

pub mod http_batch;

/// How long connecting waits by default (TCP, TLS, and a WebSocket's upgrade): 30 s.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
pub mod in_process;
#[cfg(feature = "websocket")]
#[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
pub mod websocket;

pub use crate::session::transport::{Transport, TransportError};
