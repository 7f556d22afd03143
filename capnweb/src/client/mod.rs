//! Connecting: [`connect`] for one session to a server; [`Client`] for a client that stays up
//! (reconnection, failover, circuit breakers, a pool, safe retries, timeouts, stats).

mod backoff;
mod breaker;
mod builder;
mod resilient;
mod stats;

pub use backoff::Backoff;
pub use breaker::CircuitBreaker;
pub use builder::ClientBuilder;
pub use resilient::{Client, ConnectionState};
pub use stats::{ClientStats, EndpointStats};

use crate::error::RpcError;
use crate::session::{RpcSession, SessionOptions};
use crate::stub::Stub;
use crate::transport::websocket;

/// How long [`connect`] and [`connect_with`] wait for the WebSocket to open (TCP, TLS and the
/// upgrade), and an HTTP batch for its connection: 30 s. A [`Client`] has its own,
/// configurable, `connect_timeout`.
pub use crate::transport::CONNECT_TIMEOUT;

/// Connects to `url` (`ws://host:port/path`) and returns the server's main object. The session
/// lives until every clone of the returned main object is dropped, or the connection ends.
///
/// ```no_run
/// # async fn demo() -> Result<(), capnweb::RpcError> {
/// let main: capnweb::Stub = capnweb::connect("ws://127.0.0.1:8080/").await?;
/// # Ok(()) }
/// ```
pub async fn connect<C: From<Stub>>(url: &str) -> Result<C, RpcError> {
    connect_with(url, None, SessionOptions::default())
        .await
        .map(|s| C::from(s.into_main()))
}

/// Connects to `url`, serving `local_main` to the server, and returns the session.
pub async fn connect_with(
    url: &str,
    local_main: Option<Stub>,
    options: SessionOptions,
) -> Result<RpcSession, RpcError> {
    let connecting = websocket::connect(url, options.limits.max_message_size);
    let transport = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(transport)) => transport,
        Ok(Err(e)) => {
            return Err(RpcError::Disconnected {
                reason: e.message().to_owned(),
                maybe_delivered: false,
            })
        }
        Err(_) => {
            return Err(RpcError::Disconnected {
                reason: format!("no connection to {url} within {CONNECT_TIMEOUT:?}"),
                maybe_delivered: false,
            })
        }
    };
    Ok(RpcSession::spawn(transport, local_main, options))
}

/// When [`Client::run`] may run its work again after a disconnection: how many attempts in all,
/// and the wait before each new one.
///
/// ```
/// use std::time::Duration;
/// use capnweb::client::{Backoff, RetryPolicy};
/// let retry = RetryPolicy::new()
///     .attempts(5)
///     .backoff(Backoff::exponential(Duration::from_millis(50), Duration::from_secs(1)).jitter());
/// # drop(retry);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub(crate) attempts: u32,
    pub(crate) backoff: Backoff,
}

impl RetryPolicy {
    /// 3 attempts, 50 ms doubling to 1 s with jitter between them.
    pub fn new() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            backoff: Backoff::exponential(
                std::time::Duration::from_millis(50),
                std::time::Duration::from_secs(1),
            )
            .jitter(),
        }
    }

    /// Attempts in all (1: never run again).
    pub fn attempts(mut self, n: u32) -> RetryPolicy {
        self.attempts = n.max(1);
        self
    }

    /// The wait before each new attempt.
    pub fn backoff(mut self, backoff: Backoff) -> RetryPolicy {
        self.backoff = backoff;
        self
    }
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy::new()
    }
}
