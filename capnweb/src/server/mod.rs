//! Serving main objects over WebSocket and HTTP batch, with axum.
//!
//! [`Server`] binds an address and runs until Ctrl-C or SIGTERM (or a signal of your own); its
//! [`router`](Server::router) is an axum `Router` to nest in an existing service. Each path
//! answers WebSocket upgrades and HTTP batch POSTs with a new main object per connection, after
//! the origin, connection-limit and auth checks.

mod connect;
mod endpoint;
mod registry;

pub use connect::{per_connection, AuthRejection, ConnectInfo, MainFactory, PerConnection};

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::Router;
use futures_util::FutureExt;
use tokio::sync::Semaphore;

use self::connect::{auth_hook, AuthHook};
use self::endpoint::{handle, Config};
use self::registry::Registry;
use crate::session::{Metrics, SessionOptions};
use crate::stub::BoxFuture;

/// An axum router answering WebSocket upgrades and HTTP batch POSTs at `/`, each with a new main
/// object from `factory`, with default server settings. [`Server::router`] gives one with
/// settings.
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
    Server::bind("")
        .options(options)
        .route("/", factory)
        .router()
}

/// A server: an address, the main object of each path, and its settings.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use std::time::Duration;
/// use capnweb::server::{AuthRejection, ConnectInfo};
/// use capnweb::{Server, Stub, Value, RpcError};
/// Server::bind("127.0.0.1:8080")
///     .max_connections(10_000)
///     .shutdown_grace(Duration::from_secs(10))
///     .auth(|info: ConnectInfo| async move {
///         match info.header("authorization") {
///             Some("Bearer let-me-in") => Ok("alice".to_owned()),
///             _ => Err(AuthRejection::Unauthorized("a bearer token is required".into())),
///         }
///     })
///     .serve(|| Stub::from_fn(|_args: Vec<Value>| async { Ok::<_, RpcError>(Value::Null) }))
///     .await
/// # }
/// ```
pub struct Server {
    addr: String,
    options: SessionOptions,
    routes: Vec<(String, Arc<dyn MainFactory>)>,
    auth: Option<AuthHook>,
    allowed_origins: Option<Vec<String>>,
    cors: Option<Vec<String>>,
    max_connections: usize,
    max_batch_calls: usize,
    keepalive: Option<Duration>,
    read_buffer: usize,
    shutdown_grace: Duration,
    shutdown: Option<BoxFuture<()>>,
    metrics: Arc<Metrics>,
}

impl Server {
    /// A server for `addr` (`host:port`; port 0 picks a free one).
    pub fn bind(addr: impl Into<String>) -> Server {
        Server {
            addr: addr.into(),
            options: SessionOptions::default(),
            routes: Vec::new(),
            auth: None,
            allowed_origins: None,
            cors: None,
            max_connections: 10_000,
            max_batch_calls: 10_000,
            keepalive: None,
            read_buffer: crate::transport::websocket::READ_BUFFER,
            shutdown_grace: Duration::from_secs(10),
            shutdown: None,
            metrics: Arc::new(Metrics::default()),
        }
    }

    /// Sets the session options of every connection (limits, calls in flight, timeouts).
    pub fn options(mut self, options: SessionOptions) -> Server {
        self.options = options;
        self
    }

    /// Serves the main objects of `factory` at `path` too (several interfaces, several paths).
    pub fn route(mut self, path: impl Into<String>, factory: impl MainFactory) -> Server {
        self.routes.push((path.into(), Arc::new(factory)));
        self
    }

    /// At most `n` WebSocket sessions and batch requests at once; beyond, `503`. Default 10,000.
    pub fn max_connections(mut self, n: usize) -> Server {
        self.max_connections = n;
        self
    }

    /// At most `n` calls in one HTTP batch; beyond, `413`. Default 10,000.
    pub fn max_batch_calls(mut self, n: usize) -> Server {
        self.max_batch_calls = n;
        self
    }

    /// Pings each WebSocket peer every `every` (ping frames, never protocol messages) and ends
    /// the session of a peer that answers nothing within a period. Default off.
    pub fn keepalive(mut self, every: Duration) -> Server {
        self.keepalive = Some(every);
        self
    }

    /// Bytes each WebSocket reads from its socket at a time, and keeps per connection even when
    /// idle. Default 4 KiB (an idle session then costs about 10 KiB in all); larger buffers take
    /// large messages in fewer reads, at that much more memory per connection.
    pub fn read_buffer(mut self, bytes: usize) -> Server {
        self.read_buffer = bytes.max(256);
        self
    }

    /// How long shutdown lets sessions finish the calls they were asked before it ends them.
    /// Default 10 s.
    pub fn shutdown_grace(mut self, grace: Duration) -> Server {
        self.shutdown_grace = grace;
        self
    }

    /// Stops on this future instead of Ctrl-C or SIGTERM.
    pub fn shutdown_on(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Server {
        self.shutdown = Some(Box::pin(signal));
        self
    }

    /// Checks every upgrade and batch request before a session exists: `Ok(identity)` lets it
    /// through (the factory finds the identity in [`ConnectInfo::identity`]); a rejection is
    /// answered with 401 or 403.
    pub fn auth<F, Fut, T>(mut self, hook: F) -> Server
    where
        F: Fn(ConnectInfo) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, AuthRejection>> + Send + 'static,
        T: std::any::Any + Send + Sync,
    {
        self.auth = Some(auth_hook(hook));
        self
    }

    /// Only browsers on these origins may open a WebSocket (others get 403). Clients that send
    /// no `Origin` (not browsers) are not affected.
    pub fn allowed_origins<S: Into<String>>(
        mut self,
        origins: impl IntoIterator<Item = S>,
    ) -> Server {
        self.allowed_origins = Some(origins.into_iter().map(Into::into).collect());
        self
    }

    /// Lets browsers on these origins (`"*"` for any) make HTTP batch requests (CORS).
    pub fn cors<S: Into<String>>(mut self, origins: impl IntoIterator<Item = S>) -> Server {
        self.cors = Some(origins.into_iter().map(Into::into).collect());
        self
    }

    /// The counters of every session of this server.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// The axum router of this server's paths, to nest in a service of your own. (Shutdown and
    /// the peer address are then that service's business.)
    pub fn router(self) -> Router {
        self.split().0
    }

    fn split(mut self) -> (Router, Arc<Registry>, Self) {
        let registry = Arc::new(Registry::default());
        let config = Arc::new(Config {
            options: self.options.clone().metrics(self.metrics.clone()),
            auth: self.auth.clone(),
            allowed_origins: self.allowed_origins.clone(),
            cors: self.cors.clone(),
            max_batch_calls: self.max_batch_calls,
            keepalive: self.keepalive,
            read_buffer: self.read_buffer,
            max_connections: self.max_connections,
            connections: Arc::new(Semaphore::new(self.max_connections)),
            registry: registry.clone(),
        });
        let mut router = Router::new();
        for (path, factory) in std::mem::take(&mut self.routes) {
            let config = config.clone();
            router = router.route(
                &path,
                axum::routing::any(move |req: Request| {
                    handle(req, factory.clone(), config.clone())
                }),
            );
        }
        (router, registry, self)
    }

    /// Binds, and returns the bound address with the future that serves `factory` at `/` (and
    /// any other [`route`](Self::route)) until the shutdown signal.
    pub async fn listen(
        self,
        factory: impl MainFactory,
    ) -> std::io::Result<(SocketAddr, impl Future<Output = std::io::Result<()>>)> {
        self.route("/", factory).start().await
    }

    /// Serves `factory` at `/` (and any other [`route`](Self::route)) until the shutdown
    /// signal.
    pub async fn serve(self, factory: impl MainFactory) -> std::io::Result<()> {
        let (_, serve) = self.listen(factory).await?;
        serve.await
    }

    /// Binds, and returns the bound address with the future that serves the
    /// [`route`](Self::route)s until the shutdown signal.
    ///
    /// On the signal the server stops accepting, lets sessions finish what they were asked for
    /// up to the [grace period](Self::shutdown_grace), sends each peer an abort saying the
    /// server is shutting down, and returns.
    pub async fn start(
        self,
    ) -> std::io::Result<(SocketAddr, impl Future<Output = std::io::Result<()>>)> {
        let listener = tokio::net::TcpListener::bind(&self.addr).await?;
        let addr = listener.local_addr()?;
        let (router, registry, mut server) = self.split();
        let signal = server
            .shutdown
            .take()
            .unwrap_or_else(|| Box::pin(shutdown_signal()))
            .shared();
        let grace = server.shutdown_grace;
        Ok((addr, async move {
            let app = router.into_make_service_with_connect_info::<SocketAddr>();
            let serve = axum::serve(listener, app).with_graceful_shutdown(signal.clone());
            let drain = async {
                signal.await;
                registry.shut_down(grace).await;
            };
            let (served, ()) = tokio::join!(std::future::IntoFuture::into_future(serve), drain);
            served
        }))
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
