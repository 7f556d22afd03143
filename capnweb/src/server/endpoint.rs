//! One path of a server: answers WebSocket upgrades and HTTP batch POSTs (and CORS preflights),
//! after the origin, connection-limit and auth checks.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::connect::{AuthHook, ConnectInfo, MainFactory};
use super::registry::Registry;
use crate::session::{RpcSession, SessionOptions};
use crate::transport::http_batch::serve_batch;
use crate::transport::websocket::AxumWebSocket;

/// What every path of a server shares.
pub(crate) struct Config {
    pub(crate) options: SessionOptions,
    pub(crate) auth: Option<AuthHook>,
    /// Origins allowed to open a WebSocket (`None`: any). Requests without `Origin` (not from a
    /// browser) are allowed.
    pub(crate) allowed_origins: Option<Vec<String>>,
    /// Origins allowed to make HTTP batch requests from a browser (`"*"` for any).
    pub(crate) cors: Option<Vec<String>>,
    pub(crate) max_batch_calls: usize,
    /// WebSocket ping period, if any.
    pub(crate) keepalive: Option<std::time::Duration>,
    /// Bytes each WebSocket reads at a time.
    pub(crate) read_buffer: usize,
    pub(crate) max_connections: usize,
    pub(crate) connections: Arc<Semaphore>,
    pub(crate) registry: Arc<Registry>,
}

pub(crate) async fn handle(
    req: Request,
    factory: Arc<dyn MainFactory>,
    config: Arc<Config>,
) -> Response {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let cors = cors_origin(&config, origin.as_deref());
    let mut response = respond(req, factory, &config, origin.as_deref()).await;
    if let Some(allow) = cors {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

async fn respond(
    req: Request,
    factory: Arc<dyn MainFactory>,
    config: &Config,
    origin: Option<&str>,
) -> Response {
    if req.method() == Method::OPTIONS && config.cors.is_some() {
        return preflight();
    }
    let is_upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if is_upgrade {
        if let (Some(allowed), Some(origin)) = (&config.allowed_origins, origin) {
            if !allowed.iter().any(|a| a == origin) {
                return error(
                    StatusCode::FORBIDDEN,
                    format!("origin {origin} is not allowed"),
                );
            }
        }
    } else if req.method() != Method::POST {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "This endpoint only accepts POST or WebSocket requests.".into(),
        );
    }
    let Ok(permit) = config.connections.clone().try_acquire_owned() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("too many connections (limit {})", config.max_connections),
        );
    };
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let mut info = ConnectInfo::new(req.headers(), peer, req.uri().path().to_owned());
    if let Some(auth) = &config.auth {
        match auth(info.clone()).await {
            Ok(identity) => info = info.with_identity(identity),
            Err(rejection) => return error(rejection.status(), rejection.to_string()),
        }
    }
    if is_upgrade {
        upgrade(req, factory, config, info, permit).await
    } else {
        batch(req, factory, config, info).await
    }
}

async fn upgrade(
    req: Request,
    factory: Arc<dyn MainFactory>,
    config: &Config,
    info: ConnectInfo,
    permit: OwnedSemaphorePermit,
) -> Response {
    let (mut parts, _) = req.into_parts();
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let max = config.options.limits.max_message_size;
    let options = config.options.clone();
    let registry = config.registry.clone();
    let keepalive = config.keepalive;
    let read_buffer = config.read_buffer;
    // See `Server::read_buffer`.
    ws.max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(read_buffer)
        .on_upgrade(move |socket| async move {
            let main = factory.make(&info);
            // Not kept for the session's life: the factory took what it needs.
            drop(info);
            let mut transport = AxumWebSocket::new(socket);
            if let Some(every) = keepalive {
                transport = transport.keepalive(every);
            }
            let (session, run) = RpcSession::new(transport, Some(main), options);
            let id = registry.add(&session);
            run.await;
            registry.remove(id);
            drop(permit);
        })
}

async fn batch(
    req: Request,
    factory: Arc<dyn MainFactory>,
    config: &Config,
    info: ConnectInfo,
) -> Response {
    let limit = config.options.limits.max_message_size;
    let Ok(body) = axum::body::to_bytes(req.into_body(), limit).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("batch body exceeds the maximum message size of {limit} bytes"),
        );
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return error(StatusCode::BAD_REQUEST, "batch body is not UTF-8".into());
    };
    let calls = text
        .split('\n')
        .filter(|l| l.starts_with("[\"push\"") || l.starts_with("[\"stream\""))
        .count();
    if calls > config.max_batch_calls {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "batch of {calls} calls exceeds the limit of {}",
                config.max_batch_calls
            ),
        );
    }
    let answer = serve_batch(text, factory.make(&info), config.options.clone()).await;
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(answer))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn error(status: StatusCode, message: String) -> Response {
    (status, message).into_response()
}

/// The `Access-Control-Allow-Origin` value for a request from `origin`, if CORS allows it.
fn cors_origin(config: &Config, origin: Option<&str>) -> Option<HeaderValue> {
    let allowed = config.cors.as_ref()?;
    let origin = origin?;
    let ok = allowed.iter().any(|a| a == "*" || a == origin);
    ok.then(|| HeaderValue::from_str(origin).ok()).flatten()
}

fn preflight() -> Response {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(header::ACCESS_CONTROL_ALLOW_METHODS, "POST, OPTIONS")
        .header(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "content-type, authorization",
        )
        .header(header::ACCESS_CONTROL_MAX_AGE, "86400")
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
