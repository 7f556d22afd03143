//! Serving main objects over WebSocket and HTTP batch, with axum.
//!
//! [`Server`] binds an address and runs until Ctrl-C or SIGTERM (or a signal of your own); its
//! [`router`](Server::router) is an axum `Router` to nest in an existing service. Each path
//! answers WebSocket upgrades and HTTP batch POSTs with a new main object per connection, after
//! the origin, connection-limit and auth checks. With [`health_paths`](Server::health_paths) it
//! answers an orchestrator's liveness and readiness probes too, and drains as a rolling update
//! needs (see [`unready_delay`](Server::unready_delay)).

mod accept;
mod budget;
mod connect;
mod deadline;
mod endpoint;
mod health;
mod registry;
mod settings;
mod slots;
mod upgrade;

pub use connect::{per_connection, AuthRejection, ConnectInfo, MainFactory, PerConnection};
pub use health::Readiness;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::Router;
use futures_util::FutureExt;

use self::budget::Budget;
use self::connect::auth_hook;
use self::endpoint::{handle, Config};
use self::registry::Registry;
use self::settings::Settings;
use crate::session::{Metrics, SessionOptions};
use crate::stub::BoxFuture;

/// An axum router answering WebSocket upgrades and HTTP batch POSTs at `/`, each with a new main
/// object from `factory`, with default server settings.
#[deprecated(note = "use `Server::new().options(options).route(\"/\", factory).router()`")]
pub fn router(factory: impl MainFactory, options: SessionOptions) -> Router {
    Server::new().options(options).route("/", factory).router()
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
#[must_use = "a Server does nothing until `serve()` or `listen()`"]
pub struct Server {
    addr: String,
    settings: Settings,
    routes: Vec<(String, Arc<dyn MainFactory>)>,
    layers: Vec<Box<dyn FnOnce(Router) -> Router + Send>>,
    shutdown: Option<BoxFuture<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let paths: Vec<&str> = self.routes.iter().map(|(p, _)| p.as_str()).collect();
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("paths", &paths)
            .field("max_connections", &self.settings.max_connections)
            .field("options", &self.settings.options)
            .finish_non_exhaustive()
    }
}

impl Default for Server {
    /// [`Server::new`].
    fn default() -> Server {
        Server::new()
    }
}

impl Server {
    /// A server for `addr` (`host:port`; port 0 picks a free one), to [`serve`](Self::serve)
    /// or [`listen`](Self::listen).
    pub fn bind(addr: impl Into<String>) -> Server {
        Server {
            addr: addr.into(),
            settings: Settings::default(),
            routes: Vec::new(),
            layers: Vec::new(),
            shutdown: None,
        }
    }

    /// A server without an address: its settings and [`route`](Self::route)s, for the
    /// [`router`](Self::router) you serve yourself.
    ///
    /// ```
    /// use capnweb::{Server, Stub};
    /// let app: axum::Router = Server::new().route("/rpc", || Stub::resolved(0.into())).router();
    /// # drop(app);
    /// ```
    pub fn new() -> Server {
        Server::bind("")
    }

    /// Terminates TLS itself: serves `wss://` and `https://` with this certificate (which
    /// [`ServerTls::reload`](crate::tls::ServerTls::reload) replaces while the server runs).
    /// A peer gets the [header timeout](Self::header_timeout) to finish its handshake too.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, tls: crate::tls::ServerTls) -> Server {
        self.settings.tls = Some(tls);
        self
    }

    /// Sets the session options of every connection (limits, calls in flight, timeouts).
    pub fn options(mut self, options: SessionOptions) -> Server {
        self.settings.options = options;
        self
    }

    /// Serves the main objects of `factory` at `path` too (several interfaces, several paths).
    pub fn route(mut self, path: impl Into<String>, factory: impl MainFactory) -> Server {
        self.routes.push((path.into(), Arc::new(factory)));
        self
    }

    /// At most `n` WebSocket sessions and batch requests at once; beyond, `503`. Default 10,000.
    ///
    /// A request takes its slot only once it is complete (an upgrade's headers, a batch's
    /// whole body), so peers still sending cannot lock out those that have finished.
    pub fn max_connections(mut self, n: usize) -> Server {
        self.settings.max_connections = n;
        self
    }

    /// At most `n` WebSocket sessions and batch requests at once from one address (the peer's,
    /// or the client a [trusted proxy](Self::trusted_proxies) forwards for); beyond, `503`,
    /// unless one of that address's sessions gives way (see
    /// [`reclaim_idle_after`](Self::reclaim_idle_after)). Default: no bound of its own (only
    /// `max_connections`). Behind a proxy that is not trusted, every peer has the proxy's
    /// address: set `trusted_proxies` before this.
    pub fn max_connections_per_address(mut self, n: usize) -> Server {
        self.settings.max_connections_per_address = n;
        self
    }

    /// When there is no slot for a new request (`max_connections`, or its address's
    /// `max_connections_per_address`), the WebSocket session idle longest (of that address, in
    /// the second case) gives way, if it has read nothing and run none of its peer's calls for
    /// at least `idle`: its peer gets an abort saying why, and the new request its slot. So
    /// peers that hold sockets open doing nothing cannot lock new users out. `None`: sessions
    /// never give way, and a full server refuses. Default 5 s.
    pub fn reclaim_idle_after(mut self, idle: Option<Duration>) -> Server {
        self.settings.reclaim_idle_after = idle;
        self
    }

    /// How long an HTTP batch may run once its body is in: then its session ends (as at its
    /// [`max_age`](crate::SessionOptions::max_age)), and the answer holds what was answered,
    /// and an abort saying why for the calls still waiting (a call waiting on a pipe nobody
    /// reads, or on a method that never returns). Default 30 s.
    pub fn batch_timeout(mut self, d: Duration) -> Server {
        self.settings.batch_timeout = d;
        self
    }

    /// At most `n` calls in one HTTP batch; beyond, `413`. Default 10,000.
    pub fn max_batch_calls(mut self, n: usize) -> Server {
        self.settings.max_batch_calls = n;
        self
    }

    /// Pings each WebSocket peer every `every` (ping frames, never protocol messages) and ends
    /// the session of a peer that answers nothing within a period. Default off.
    pub fn keepalive(mut self, every: Duration) -> Server {
        self.settings.keepalive = Some(every);
        self
    }

    /// Bytes each WebSocket reads from its socket at a time, and keeps per connection even when
    /// idle. Default 4 KiB, at least 256. A smaller buffer costs less memory per idle
    /// connection and more reads per message; larger buffers take large messages in fewer
    /// reads, at that much more memory per connection. `bench/README.md` has what the default
    /// costs and saves.
    pub fn read_buffer(mut self, bytes: usize) -> Server {
        self.settings.read_buffer = bytes.max(256);
        self
    }

    /// Which WebSocket implementation frames the server's connections: capnweb's own codec
    /// (the default, `Codec::Builtin`, see [`codec`](crate::transport::websocket::codec)),
    /// which handles a call in less CPU and holds no buffer for an idle connection, or
    /// tungstenite (`Codec::Tungstenite`). Both keep RFC 6455's rules, the limits and the
    /// buffer budget.
    ///
    /// ```
    /// use capnweb::transport::websocket::codec::Codec;
    /// let server = capnweb::Server::bind("127.0.0.1:8080").websocket_codec(Codec::Tungstenite);
    /// # drop(server);
    /// ```
    pub fn websocket_codec(mut self, codec: crate::transport::websocket::codec::Codec) -> Server {
        self.settings.websocket_codec = codec;
        self
    }

    /// How long a peer may take to send a request's headers (from the connection's start, or the
    /// end of its previous request); the connection is then closed. Default 10 s. Applies to
    /// servers started here ([`serve`](Self::serve), [`listen`](Self::listen),
    /// [`start`](Self::start)); a [`router`](Self::router) mounted elsewhere has its host's.
    pub fn header_timeout(mut self, d: Duration) -> Server {
        self.settings.header_timeout = d;
        self
    }

    /// How long a batch body may take to arrive in full (`408` after), and a WebSocket upgrade
    /// to be handed over once accepted. Default 30 s.
    pub fn body_timeout(mut self, d: Duration) -> Server {
        self.settings.body_timeout = d;
        self
    }

    /// At most `bytes` buffered from peers at once, server-wide: batch bodies being received,
    /// WebSocket messages not yet complete, batch answers not yet taken by their peers, and
    /// the results of calls sessions hold for their peers until released (each session up to
    /// its `Limits::max_answer_bytes`; past the pool, the session aborts naming this limit). A
    /// batch that would go beyond is answered `503`; a WebSocket whose message would, has its
    /// session ended with a reason naming this limit. Default 256 MiB. The first 64 KiB each
    /// connection holds are its own, outside this pool: a few peers holding large messages
    /// unfinished can refuse large messages to others while they do, never ordinary ones.
    /// (Each message is also bounded by the session's `max_message_size`, each connection's
    /// part by [`max_session_buffered_bytes`](Self::max_session_buffered_bytes), and how long
    /// a message may stay unfinished by [`message_timeout`](Self::message_timeout).)
    pub fn max_buffered_bytes(mut self, bytes: usize) -> Server {
        self.settings.max_buffered_bytes = bytes;
        self
    }

    /// At most `bytes` of [`max_buffered_bytes`](Self::max_buffered_bytes) held by any one
    /// WebSocket session or batch request, so that a few peers holding messages unfinished
    /// cannot take the whole budget from all others (it takes `max_buffered_bytes / bytes` of
    /// them). Beyond, as for the server-wide limit: `503`, or the session ends with a reason
    /// naming this one. Default 16 MiB.
    ///
    /// A message is received only if it fits, with a read buffer besides: raise this with
    /// `max_message_size` (32 MiB by default) to receive messages above 16 MiB.
    pub fn max_session_buffered_bytes(mut self, bytes: usize) -> Server {
        self.settings.max_session_buffered_bytes = bytes;
        self
    }

    /// How long a WebSocket message may take to arrive whole once its first bytes have: the
    /// session then ends with a reason naming `message_timeout`, and what it held of the budget
    /// is given back. Default 30 s. (Control frames are not messages: a peer may ping at will.)
    pub fn message_timeout(mut self, d: Duration) -> Server {
        self.settings.message_timeout = d;
        self
    }

    /// How long shutdown lets sessions finish the calls they were asked before it ends them.
    /// Default 10 s. (It starts once the server stops accepting: after the
    /// [`unready_delay`](Self::unready_delay), if any.)
    pub fn shutdown_grace(mut self, grace: Duration) -> Server {
        self.settings.shutdown_grace = grace;
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
        self.settings.auth = Some(auth_hook(hook));
        self
    }

    /// Only browser pages on these origins (`"*"` for any) may open a WebSocket or make an HTTP
    /// batch request; others get `403` before anything runs. Clients that send no `Origin` (not
    /// browsers) are not affected.
    ///
    /// With neither this nor [`cors`](Self::cors) set, pages on any origin may: a page's
    /// `text/plain` POST needs no CORS preflight, so with cookie-based auth that is cross-site
    /// request forgery. Set an origin policy whenever browsers carry credentials for you.
    pub fn allowed_origins<S: Into<String>>(
        mut self,
        origins: impl IntoIterator<Item = S>,
    ) -> Server {
        self.settings.allowed_origins = Some(origins.into_iter().map(Into::into).collect());
        self
    }

    /// Behind these reverse proxies (their addresses), the peer is the client they forward
    /// for: [`ConnectInfo::peer`](connect::ConnectInfo::peer) is the rightmost address in
    /// `X-Forwarded-For` that is not one of them (with port 0: the header has none). A request
    /// from any other address keeps its own, whatever its headers say. Default none: the header
    /// is never believed.
    pub fn trusted_proxies(
        mut self,
        proxies: impl IntoIterator<Item = std::net::IpAddr>,
    ) -> Server {
        self.settings.trusted_proxies = proxies.into_iter().collect();
        self
    }

    /// Lets browsers on these origins (`"*"` for any) make HTTP batch requests (CORS). Once set,
    /// a batch from a page on any other origin is refused with `403` before any call runs.
    /// Without [`allowed_origins`](Self::allowed_origins), the same list also decides which
    /// pages may open a WebSocket: an origin refused a batch is refused an upgrade.
    pub fn cors<S: Into<String>>(mut self, origins: impl IntoIterator<Item = S>) -> Server {
        self.settings.cors = Some(origins.into_iter().map(Into::into).collect());
        self
    }

    /// The counters of every session of this server.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.settings.metrics.clone()
    }

    /// Wraps the HTTP side (WebSocket upgrades and batches, before the auth hook) in a tower
    /// layer, as axum's `Router::layer` does: tower-http's tracing, compression, timeouts or
    /// request limits, or an auth layer whose verdict, put in the request's extensions, the
    /// factory reads from [`ConnectInfo::extension`](connect::ConnectInfo::extension).
    /// Layers added later wrap those added earlier.
    ///
    /// ```
    /// use capnweb::Server;
    /// // A layer that answers every response with a header of its own.
    /// let server = Server::bind("127.0.0.1:0").layer(axum::middleware::map_response(
    ///     |mut response: axum::response::Response| async move {
    ///         response.headers_mut().insert("x-served-by", "capnweb".parse().unwrap());
    ///         response
    ///     },
    /// ));
    /// # drop(server);
    /// ```
    pub fn layer<L>(mut self, layer: L) -> Server
    where
        L: tower_layer::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower_service::Service<Request> + Clone + Send + Sync + 'static,
        <L::Service as tower_service::Service<Request>>::Response:
            axum::response::IntoResponse + 'static,
        <L::Service as tower_service::Service<Request>>::Error:
            Into<std::convert::Infallible> + 'static,
        <L::Service as tower_service::Service<Request>>::Future: Send + 'static,
    {
        self.layers
            .push(Box::new(move |router: Router| router.layer(layer)));
        self
    }

    /// The axum router of this server's paths, to nest in a service of your own. (The peer
    /// address is then that service's business; see [`router_with_drain`](Self::router_with_drain)
    /// for draining its sessions at shutdown.)
    pub fn router(self) -> Router {
        self.split(false).0
    }

    /// The axum router of this server's paths, and what drains its sessions at shutdown, as
    /// [`serve`](Self::serve) does on its signal.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// use capnweb::{Server, Stub};
    /// let (router, drain) = Server::new().route("/", || Stub::resolved(0.into())).router_with_drain();
    /// let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
    /// axum::serve(listener, router)
    ///     .with_graceful_shutdown(async move {
    ///         let _ = tokio::signal::ctrl_c().await;
    ///         // Calls in progress finish (up to 10 s), then each peer is told why it ends.
    ///         drain.drain(Duration::from_secs(10)).await;
    ///     })
    ///     .await
    /// # }
    /// ```
    pub fn router_with_drain(self) -> (Router, Drain) {
        let (router, registry, server) = self.split(false);
        let readiness = server.settings.readiness;
        (
            router,
            Drain {
                registry,
                readiness,
            },
        )
    }

    /// [`router_with_drain`](Self::router_with_drain) of `factory` at `/` (and any other
    /// [`route`](Self::route)).
    #[deprecated(note = "use `.route(\"/\", factory).router_with_drain()`")]
    pub fn listen_router(self, factory: impl MainFactory) -> (Router, Drain) {
        self.route("/", factory).router_with_drain()
    }

    /// The router of the routes (with a CORS-readable `404` for other paths if `not_found`), the
    /// registry of its sessions, and what is left of the builder.
    fn split(mut self, not_found: bool) -> (Router, Arc<Registry>, Self) {
        let registry = Arc::new(Registry::default());
        let mut settings = self.settings.clone();
        settings.options = settings.options.metrics(settings.metrics.clone());
        let config = Arc::new(Config {
            slots: Arc::new(slots::Slots::new(
                settings.max_connections,
                settings.max_connections_per_address,
                settings.reclaim_idle_after,
            )),
            registry: registry.clone(),
            budget: Budget::new(
                settings.max_buffered_bytes,
                settings.max_session_buffered_bytes,
                budget::RESERVE,
            ),
            settings,
        });
        let mut router = Router::new();
        let paths: Vec<String> = self.routes.iter().map(|(p, _)| p.clone()).collect();
        for (path, factory) in std::mem::take(&mut self.routes) {
            let config = config.clone();
            router = router.route(
                &path,
                axum::routing::any(move |req: Request| {
                    handle(req, factory.clone(), config.clone())
                }),
            );
        }
        if not_found {
            // Not on the router handed out by `router()`: axum refuses to merge two routers
            // that both have a fallback.
            router = router.fallback(move |req: Request| endpoint::not_found(req, config.clone()));
        }
        for layer in std::mem::take(&mut self.layers) {
            router = layer(router);
        }
        // After the layers: probes are answered outside them.
        if let Some(health) = &self.settings.health {
            let readiness = self.settings.readiness.clone();
            router = health::add_routes(router, health, &paths, readiness);
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
    /// On the signal the server drains: its [readiness](Self::health_paths) turns `503`; it
    /// goes on accepting for the [`unready_delay`](Self::unready_delay), if any; then it stops
    /// accepting, lets sessions finish what they were asked for up to the
    /// [grace period](Self::shutdown_grace), sends each peer an abort saying the server is
    /// shutting down, and returns.
    pub async fn start(
        self,
    ) -> std::io::Result<(SocketAddr, impl Future<Output = std::io::Result<()>>)> {
        let listener = tokio::net::TcpListener::bind(&self.addr).await?;
        let addr = listener.local_addr()?;
        let (router, registry, mut server) = self.split(true);
        let signal = server
            .shutdown
            .take()
            .unwrap_or_else(|| Box::pin(shutdown_signal()));
        let settings = &server.settings;
        let grace = settings.shutdown_grace;
        let (readiness, unready_delay) = (settings.readiness.clone(), settings.unready_delay);
        // The drain's first steps: unready at once, accepting for the delay still.
        let stop_accepting = async move {
            signal.await;
            readiness.drain_begins();
            tracing::debug!(
                ?unready_delay,
                "capnweb server: draining, readiness now 503"
            );
            tokio::time::sleep(unready_delay).await;
        }
        .boxed()
        .shared();
        let accepting = accept::Accepting {
            header_timeout: settings.header_timeout,
            write_timeout: settings
                .options
                .write_timeout
                .unwrap_or(deadline::WRITE_TIMEOUT),
            #[cfg(feature = "tls")]
            tls: settings
                .tls
                .as_ref()
                .map(|t| tokio_rustls::TlsAcceptor::from(t.config())),
        };
        Ok((addr, async move {
            let serve = accept::serve(listener, router, accepting, stop_accepting.clone(), grace);
            let drain = async {
                stop_accepting.await;
                registry.shut_down(grace).await;
            };
            let (served, ()) = tokio::join!(serve, drain);
            served
        }))
    }
}

/// Drains the sessions of a server's [`router`](Server::router_with_drain) at shutdown.
#[derive(Clone)]
pub struct Drain {
    registry: Arc<Registry>,
    readiness: Readiness,
}

impl std::fmt::Debug for Drain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drain").finish_non_exhaustive()
    }
}

impl Drain {
    /// Turns the [readiness](Server::health_paths) `503`, refuses new sessions, lets those
    /// open finish the calls they were asked for (up to `grace`), then sends each peer an abort
    /// saying the server is shutting down. (An [`unready_delay`](Server::unready_delay) is
    /// yours to wait, with the [`Readiness`] set unready, before calling this.)
    pub async fn drain(&self, grace: Duration) {
        self.readiness.drain_begins();
        self.registry.shut_down(grace).await;
    }
}

/// Ctrl-C or SIGTERM. On Unix both are registered here, before the server is started, so that a
/// SIGTERM sent as soon as [`Server::start`] has returned drains the server instead of killing
/// the process.
fn shutdown_signal() -> impl Future<Output = ()> + Send {
    #[cfg(unix)]
    let (interrupt, term) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        let (ctrl_c, term) = {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => drop(s.recv().await),
                    None => std::future::pending::<()>().await,
                }
            };
            (wait(interrupt), wait(term))
        };
        #[cfg(not(unix))]
        let (ctrl_c, term) = (
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
            std::future::pending::<()>(),
        );
        tokio::select! {
            () = ctrl_c => {}
            () = term => {}
        }
    }
}
