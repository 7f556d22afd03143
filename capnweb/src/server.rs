//! Serving a main object over WebSocket and HTTP batch on one address, with axum.
//!
//! [`router`] gives an axum `Router` to nest in an existing service; [`Server`] binds an address
//! and runs it until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::session::{RpcSession, SessionOptions};
use crate::stub::Stub;
use crate::transport::http_batch::serve_batch;
use crate::transport::websocket::AxumWebSocket;
use crate::typed::IntoStub;

/// Makes the main object for each new connection (or batch request): a closure returning a
/// [`Stub`], a generated `XxxServer` or any [`RpcTarget`](crate::RpcTarget).
pub trait MainFactory: Send + Sync + 'static {
    /// A new main object.
    fn make(&self) -> Stub;
}

impl<F, M> MainFactory for F
where
    F: Fn() -> M + Send + Sync + 'static,
    M: IntoStub,
{
    fn make(&self) -> Stub {
        self().into_stub()
    }
}

/// An axum router answering WebSocket upgrades and HTTP batch POSTs at `/`, each with a new main
/// object from `factory`.
///
/// ```
/// use capnweb::{server, SessionOptions, Stub, Value, RpcError};
/// let app: axum::Router = server::router(
///     || Stub::from_fn(|_args: Vec<Value>| async { Ok::<_, RpcError>(Value::Null) }),
///     SessionOptions::default(),
/// );
/// # drop(app);
/// ```
pub fn router(factory: impl MainFactory, options: SessionOptions) -> Router {
    let factory: Arc<dyn MainFactory> = Arc::new(factory);
    Router::new().route(
        "/",
        axum::routing::any(move |req: Request| handle(req, factory.clone(), options.clone())),
    )
}

async fn handle(req: Request, factory: Arc<dyn MainFactory>, options: SessionOptions) -> Response {
    let is_upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if is_upgrade {
        let (mut parts, _) = req.into_parts();
        return match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(ws) => {
                let max = options.limits.max_message_size;
                ws.max_message_size(max)
                    .max_frame_size(max)
                    .on_upgrade(move |socket| async move {
                        let (_session, run) = RpcSession::new(
                            AxumWebSocket::new(socket),
                            Some(factory.make()),
                            options,
                        );
                        run.await;
                    })
            }
            Err(rejection) => rejection.into_response(),
        };
    }
    if req.method() != Method::POST {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            "This endpoint only accepts POST or WebSocket requests.",
        )
            .into_response();
    }
    let limit = options.limits.max_message_size;
    let body = match axum::body::to_bytes(req.into_body(), limit).await {
        Ok(b) => b,
        Err(_) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                "batch body exceeds the maximum message size",
            )
                .into_response()
        }
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return (StatusCode::BAD_REQUEST, "batch body is not UTF-8").into_response();
    };
    let answer = serve_batch(text, factory.make(), options).await;
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(answer))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A server on one address.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use capnweb::{Server, Stub, Value, RpcError};
/// Server::bind("127.0.0.1:8080")
///     .serve(|| Stub::from_fn(|_args: Vec<Value>| async { Ok::<_, RpcError>(Value::Null) }))
///     .await
/// # }
/// ```
pub struct Server {
    addr: String,
    options: SessionOptions,
}

impl Server {
    /// A server for `addr` (`host:port`; port 0 picks a free one).
    pub fn bind(addr: impl Into<String>) -> Server {
        Server {
            addr: addr.into(),
            options: SessionOptions::default(),
        }
    }

    /// Sets the session options of every connection.
    pub fn options(mut self, options: SessionOptions) -> Server {
        self.options = options;
        self
    }

    /// Binds, and returns the bound address with the future that serves until Ctrl-C or SIGTERM.
    pub async fn listen(
        self,
        factory: impl MainFactory,
    ) -> std::io::Result<(
        SocketAddr,
        impl std::future::Future<Output = std::io::Result<()>>,
    )> {
        let listener = tokio::net::TcpListener::bind(&self.addr).await?;
        let addr = listener.local_addr()?;
        let app = router(factory, self.options);
        Ok((addr, async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown_signal())
                .await
        }))
    }

    /// Serves until Ctrl-C or SIGTERM.
    pub async fn serve(self, factory: impl MainFactory) -> std::io::Result<()> {
        let (_, serve) = self.listen(factory).await?;
        serve.await
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
