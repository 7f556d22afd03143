//! Connecting: [`connect`] for one session to a server; [`Client`] for a client that stays up
//! (reconnection, failover, circuit breakers, a pool, safe retries, timeouts, stats, health).

#[cfg(feature = "client")]
mod backoff;
#[cfg(feature = "client")]
mod breaker;
#[cfg(feature = "client")]
mod builder;
#[cfg(feature = "client")]
mod health;
#[cfg(feature = "client")]
mod histogram;
#[cfg(feature = "client")]
mod resilient;
#[cfg(feature = "client")]
mod retry;
#[cfg(feature = "client")]
mod stats;

#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub use backoff::Backoff;
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub use breaker::CircuitBreaker;
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub use builder::ClientBuilder;
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub use health::Health;
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub use resilient::{Client, ConnectionState, Restorable};
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub use retry::RetryPolicy;
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub use stats::{ClientStats, EndpointState, EndpointStats, LastError};

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
/// Connecting gives up after [`CONNECT_TIMEOUT`], and what the server sends is bounded by
/// [`SessionOptions::default`]'s limits; but a call has no time limit of its own: a server that
/// takes it and never answers holds it until the session ends. Bound calls with
/// `tokio::time::timeout`, with `SessionOptions::idle_timeout` (which a server can keep
/// from firing by sending anything), or use a [`Client`], whose units of work have a
/// `call_timeout` (60 s by default).
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
    open(url, local_main, options, None).await
}

/// [`connect_with`], speaking TLS for `wss://` as `tls` says (trusting a private certificate
/// authority, presenting a client certificate: see [`ClientTls`](crate::tls::ClientTls)).
///
/// ```no_run
/// # async fn demo(ca_pem: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
/// use capnweb::{tls::ClientTls, SessionOptions};
/// let tls = ClientTls::empty().with_root_pem(ca_pem)?.build()?;
/// let session = capnweb::client::connect_with_tls("wss://internal:8443/", None, SessionOptions::default(), tls).await?;
/// # drop(session); Ok(()) }
/// ```
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub async fn connect_with_tls(
    url: &str,
    local_main: Option<Stub>,
    options: SessionOptions,
    tls: std::sync::Arc<rustls::ClientConfig>,
) -> Result<RpcSession, RpcError> {
    open(url, local_main, options, Some(tls)).await
}

/// The `host:port` of a URL, for the session's span: not its path or query, nor credentials in
/// it, which would end up in exported traces.
pub(crate) fn peer_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    host.to_owned()
}

async fn open(
    url: &str,
    local_main: Option<Stub>,
    mut options: SessionOptions,
    tls: websocket::ClientTlsConfig,
) -> Result<RpcSession, RpcError> {
    options.peer.get_or_insert_with(|| peer_of(url));
    let connecting = websocket::ConnectOptions::new()
        .max_message_size(options.limits.max_message_size)
        .with_tls(tls);
    let transport = websocket::codec::connect(url, &connecting)
        .await
        .map_err(|e| RpcError::Disconnected {
            reason: e.to_string(),
            maybe_delivered: false,
        })?;
    Ok(RpcSession::spawn(transport, local_main, options))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_sessions_peer_is_the_urls_host_and_port_only() {
        use super::peer_of;
        assert_eq!(
            peer_of("wss://user:secret@api.example:8443/rpc?token=x"),
            "api.example:8443"
        );
        assert_eq!(peer_of("ws://127.0.0.1:8080/"), "127.0.0.1:8080");
        assert_eq!(peer_of("ws://[::1]:9/x#y"), "[::1]:9");
        assert_eq!(peer_of("host"), "host");
    }
}
