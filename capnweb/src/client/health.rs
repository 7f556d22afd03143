//! [`Health`]: a verdict on a [`Client`](super::Client) from its [`ClientStats`], for an
//! application's own health endpoint. It reads a snapshot; it never probes the servers.

use super::stats::{ClientStats, EndpointState};

/// How a client stands, from [`Client::health`](super::Client::health) or
/// [`ClientStats::health`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use capnweb::client::{EndpointState, Health};
/// use capnweb::{Client, Stub};
/// // Nothing listens on port 9 here: the client is still trying.
/// let client = Client::<Stub>::builder().endpoint("ws://127.0.0.1:9/").build();
/// let stats = client.stats();
/// assert_eq!(stats.health(), Health::Down);
/// assert_eq!(stats.sessions, 0);
/// assert_ne!(stats.endpoints[0].state, EndpointState::Connected);
/// // What an application's health endpoint might serve, per endpoint:
/// for e in &stats.endpoints {
///     let error = e.last_error.as_ref().map(|e| e.message.as_str());
///     println!("{} {:?} sessions={} latency={:?} last_error={error:?}", e.url, e.state, e.sessions, e.latency);
/// }
/// client.close();
/// # });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Health {
    /// Every pool slot has a session, and no endpoint is failing or has its breaker open.
    Healthy,
    /// Work can run (at least one session is open), but a pool slot has none, or an endpoint
    /// is failing or has its breaker open (the client may be on a fallback).
    Degraded,
    /// No session is open: work waits for one, or fails fast if every breaker is open.
    Down,
}

impl ClientStats {
    /// The verdict on this snapshot (see [`Health`]).
    pub fn health(&self) -> Health {
        if self.sessions == 0 {
            return Health::Down;
        }
        let troubled = self
            .endpoints
            .iter()
            .any(|e| matches!(e.state, EndpointState::Failing | EndpointState::Open));
        if self.sessions < self.pool_size || troubled {
            Health::Degraded
        } else {
            Health::Healthy
        }
    }
}
