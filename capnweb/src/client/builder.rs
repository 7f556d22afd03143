//! [`ClientBuilder`]: the settings of a [`Client`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::resilient::{Client, Config, HeadersFn, OnConnect};
use super::{Backoff, CircuitBreaker, RetryPolicy};
use crate::error::RpcError;
use crate::session::SessionOptions;
use crate::stub::Stub;

/// The default [`call_timeout`](ClientBuilder::call_timeout): 60 s, as an HTTP batch's
/// [`BATCH_TIMEOUT`](crate::transport::http_batch::BATCH_TIMEOUT).
const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Settings of a [`Client`], from [`Client::builder`].
///
/// ```no_run
/// # async fn demo() -> Result<(), capnweb::RpcError> {
/// use std::time::Duration;
/// use capnweb::client::{Backoff, CircuitBreaker};
/// let client = capnweb::Client::<capnweb::Stub>::builder()
///     .endpoints(["ws://a:8080/", "ws://b:8080/"])
///     .pool_size(2)
///     .backoff(Backoff::exponential(Duration::from_millis(250), Duration::from_secs(30)).jitter())
///     .circuit_breaker(CircuitBreaker::new().failure_threshold(5).open_for(Duration::from_secs(30)))
///     .connect_timeout(Duration::from_secs(5))
///     .call_timeout(Duration::from_secs(30))
///     .keepalive(Duration::from_secs(15))
///     .headers(|| async { [("authorization", "Bearer token".to_owned())] })
///     .connect()
///     .await?;
/// # drop(client); Ok(()) }
/// ```
#[must_use = "a ClientBuilder does nothing until `build()` or `connect()`"]
pub struct ClientBuilder<C> {
    config: Config<C>,
}

impl<C> std::fmt::Debug for ClientBuilder<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder").finish_non_exhaustive()
    }
}

impl<C: From<Stub> + Clone + Send + Sync + 'static> ClientBuilder<C> {
    pub(crate) fn new() -> Self {
        ClientBuilder {
            config: Config {
                endpoints: Vec::new(),
                pool_size: 1,
                backoff: Backoff::default(),
                breaker: CircuitBreaker::default(),
                retry: RetryPolicy::default(),
                connect_timeout: Duration::from_secs(10),
                call_timeout: Some(DEFAULT_CALL_TIMEOUT),
                keepalive: None,
                websocket_codec: Default::default(),
                max_waiting: 1024,
                headers: None,
                tls: None,
                on_connect: None,
                options: SessionOptions::default(),
            },
        }
    }

    /// The servers, tried in this order (failover); new sessions go to the first whose
    /// circuit is closed.
    pub fn endpoints<S: Into<String>>(mut self, urls: impl IntoIterator<Item = S>) -> Self {
        self.config.endpoints = urls.into_iter().map(Into::into).collect();
        self
    }

    /// One server.
    pub fn endpoint(self, url: impl Into<String>) -> Self {
        self.endpoints([url.into()])
    }

    /// How many independent sessions to keep (new work goes to the least loaded). Default 1.
    pub fn pool_size(mut self, n: usize) -> Self {
        self.config.pool_size = n.max(1);
        self
    }

    /// The wait between connection attempts. Default 250 ms doubling to 30 s, with jitter.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.config.backoff = backoff;
        self
    }

    /// The circuit breaker of each endpoint. Default 5 failures, open for 30 s.
    pub fn circuit_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.config.breaker = breaker;
        self
    }

    /// When [`Client::run`] may run its work again. Default 3 attempts.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.config.retry = retry;
        self
    }

    /// How long a connection may take (handshake and `on_connect`), and how long work waits for
    /// a session. Default 10 s.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.config.connect_timeout = d;
        self
    }

    /// How long one unit of work ([`Client::run`]) may take; its calls are then released and
    /// it fails with [`RpcError::Timeout`]. Default 60 s: a server that takes the calls and
    /// never answers them cannot hang the work forever (a unit that may legitimately take
    /// longer sets its own with [`Client::run_with_timeout`], or the client has none with
    /// [`no_call_timeout`](Self::no_call_timeout)).
    pub fn call_timeout(mut self, d: Duration) -> Self {
        self.config.call_timeout = Some(d);
        self
    }

    /// No time limit on a unit of work: [`Client::run`] waits for as long as the server takes
    /// (a server that never answers holds the work forever).
    pub fn no_call_timeout(mut self) -> Self {
        self.config.call_timeout = None;
        self
    }

    /// Pings the server every `d` (WebSocket pings, never protocol messages); a server that
    /// stops answering ends the session, and the client reconnects.
    pub fn keepalive(mut self, d: Duration) -> Self {
        self.config.keepalive = Some(d);
        self
    }

    /// Which WebSocket implementation frames the connections: capnweb's own codec (the
    /// default, `Codec::Builtin`, see [`codec`](crate::transport::websocket::codec)), which
    /// handles a call in less CPU, or tungstenite (`Codec::Tungstenite`).
    pub fn websocket_codec(mut self, codec: crate::transport::websocket::codec::Codec) -> Self {
        self.config.websocket_codec = codec;
        self
    }

    /// At most `n` units of work wait for a session while reconnecting; more fail at once.
    /// Default 1024.
    pub fn max_waiting(mut self, n: usize) -> Self {
        self.config.max_waiting = n;
        self
    }

    /// Request headers for each new connection, from an async provider (a fresh token, say).
    pub fn headers<F, Fut, I, K, V>(mut self, provider: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = I> + Send + 'static,
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let provider: HeadersFn = Arc::new(move || {
            let fut = provider();
            Box::pin(async move {
                let headers = fut.await.into_iter();
                headers.map(|(k, v)| (k.into(), v.into())).collect()
            })
        });
        self.config.headers = Some(provider);
        self
    }

    /// Runs on each new session before work is given to it (in-band authentication,
    /// re-subscription). An error fails that connection attempt.
    pub fn on_connect<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(C) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), RpcError>> + Send + 'static,
    {
        let hook: OnConnect<C> = Arc::new(move |main| Box::pin(hook(main)));
        self.config.on_connect = Some(hook);
        self
    }

    /// Speaks TLS for `wss://` endpoints as `tls` says (a private certificate authority, a
    /// client certificate: see [`ClientTls`](crate::tls::ClientTls)) rather than with the
    /// default roots.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, tls: Arc<rustls::ClientConfig>) -> Self {
        self.config.tls = Some(tls);
        self
    }

    /// Options of each session (limits, timeouts).
    pub fn session_options(mut self, options: SessionOptions) -> Self {
        self.config.options = options;
        self
    }

    /// Starts the client without waiting: work waits (up to the connect timeout) for the first
    /// session.
    pub fn build(self) -> Client<C> {
        Client::start(self.config)
    }

    /// Starts the client and waits for its first session (up to the connect timeout).
    pub async fn connect(self) -> Result<Client<C>, RpcError> {
        let client = self.build();
        client.main().await?;
        Ok(client)
    }
}
