//! A server's settings, in one place: set by [`Server`](super::Server)'s builder methods (where
//! each is documented), read by the accept loop and by every path's endpoint.

use std::sync::Arc;
use std::time::Duration;

use super::connect::AuthHook;
use super::health::{HealthPaths, Readiness};
use crate::session::{Metrics, SessionOptions};
use crate::transport::websocket::codec::Codec;

#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) options: SessionOptions,
    pub(crate) auth: Option<AuthHook>,
    /// Origins allowed to open a WebSocket (`None`: any). Requests without `Origin` (not from a
    /// browser) are allowed.
    pub(crate) allowed_origins: Option<Vec<String>>,
    /// Origins allowed to make HTTP batch requests from a browser (`"*"` for any).
    pub(crate) cors: Option<Vec<String>>,
    pub(crate) trusted_proxies: Vec<std::net::IpAddr>,
    pub(crate) max_connections: usize,
    pub(crate) max_connections_per_address: usize,
    pub(crate) reclaim_idle_after: Option<Duration>,
    pub(crate) max_batch_calls: usize,
    /// WebSocket ping period, if any.
    pub(crate) keepalive: Option<Duration>,
    /// Bytes each WebSocket reads at a time.
    pub(crate) read_buffer: usize,
    /// Which implementation frames WebSockets.
    pub(crate) websocket_codec: Codec,
    /// How long a peer may take to finish its TLS handshake, then to send request headers.
    pub(crate) header_timeout: Duration,
    /// How long a batch body may take to arrive, and an upgrade to complete.
    pub(crate) body_timeout: Duration,
    /// Bytes buffered from peers and held for them, server-wide, and by any one session.
    pub(crate) max_buffered_bytes: usize,
    pub(crate) max_session_buffered_bytes: usize,
    /// How long a WebSocket message may take to arrive whole once begun.
    pub(crate) message_timeout: Duration,
    /// How long a batch may run.
    pub(crate) batch_timeout: Duration,
    pub(crate) shutdown_grace: Duration,
    /// The liveness and readiness paths, if served.
    pub(crate) health: Option<HealthPaths>,
    /// How long readiness is `503` before the server stops accepting, at shutdown.
    pub(crate) unready_delay: Duration,
    pub(crate) readiness: Readiness,
    pub(crate) metrics: Arc<Metrics>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::ServerTls>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            options: SessionOptions::default(),
            auth: None,
            allowed_origins: None,
            cors: None,
            trusted_proxies: Vec::new(),
            max_connections: 10_000,
            max_connections_per_address: usize::MAX,
            reclaim_idle_after: Some(Duration::from_secs(5)),
            max_batch_calls: 10_000,
            keepalive: None,
            read_buffer: crate::transport::websocket::READ_BUFFER,
            websocket_codec: Codec::default(),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_buffered_bytes: 256 * 1024 * 1024,
            max_session_buffered_bytes: 16 * 1024 * 1024,
            message_timeout: Duration::from_secs(30),
            batch_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            health: None,
            unready_delay: Duration::ZERO,
            readiness: Readiness::default(),
            metrics: Arc::new(Metrics::default()),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}
