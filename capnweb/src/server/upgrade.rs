//! The WebSocket upgrade, done here (not by axum) so that the socket it yields is metered
//! against the server's buffer budget, and so that a peer that never completes it is bounded
//! in time.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::budget::{MeteredIo, Share};
use crate::transport::websocket::Socket;

/// Checks an upgrade request: the `Sec-WebSocket-Accept` value of its answer, or the answer
/// refusing it.
#[allow(clippy::result_large_err)] // the refusal is the response itself, made once
pub(crate) fn accept_key(method: &Method, headers: &HeaderMap) -> Result<HeaderValue, Response> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if method != Method::GET || !has_token(header::CONNECTION, "upgrade") {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "a WebSocket upgrade is a GET with `Connection: upgrade`",
        ));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        let mut response = refuse(
            StatusCode::UPGRADE_REQUIRED,
            "only WebSocket version 13 is supported",
        );
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return Err(response);
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err(refuse(StatusCode::BAD_REQUEST, "no Sec-WebSocket-Key"));
    };
    HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
        .map_err(|_| refuse(StatusCode::BAD_REQUEST, "bad Sec-WebSocket-Key"))
}

/// The `101 Switching Protocols` answer.
pub(crate) fn switching(accept: HeaderValue) -> Response {
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    response
}

/// The connection of an upgraded WebSocket, its reads counted against the server's budget.
pub(crate) type UpgradedIo = MeteredIo<TokioIo<hyper::upgrade::Upgraded>>;

/// The server end of an upgraded connection, framed by tungstenite.
pub(crate) type ServerSocket = Socket<UpgradedIo>;

/// Waits (up to `within`) for the connection to be handed over once the 101 is sent; its reads
/// count against `share`.
pub(crate) async fn connection(
    on_upgrade: OnUpgrade,
    within: Duration,
    share: Arc<Share>,
) -> Option<UpgradedIo> {
    let upgraded = match tokio::time::timeout(within, on_upgrade).await {
        Ok(Ok(upgraded)) => upgraded,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "WebSocket upgrade failed");
            return None;
        }
        Err(_) => {
            tracing::debug!("WebSocket upgrade not completed in time");
            return None;
        }
    };
    Some(MeteredIo {
        io: TokioIo::new(upgraded),
        share,
    })
}

/// The upgraded connection framed by tungstenite.
pub(crate) fn socket(io: UpgradedIo, config: WebSocketConfig) -> ServerSocket {
    Socket::from_raw_socket(io, Role::Server, config)
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (status, why.to_owned()).into_response()
}
