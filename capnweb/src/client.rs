//! Connecting: one WebSocket session to a server.

use crate::error::RpcError;
use crate::session::{RpcSession, SessionOptions};
use crate::stub::Stub;
use crate::transport::websocket;

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
    let transport = websocket::connect(url, options.limits.max_message_size)
        .await
        .map_err(|e| RpcError::Disconnected {
            reason: e.0,
            maybe_delivered: false,
        })?;
    Ok(RpcSession::spawn(transport, local_main, options))
}
