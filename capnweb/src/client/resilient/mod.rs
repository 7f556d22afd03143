//! [`Client`]: sessions that are replaced when they die, work that is re-run when that is safe.
//!
//! A session never outlives its connection. Each pool slot has a supervisor task that opens a
//! session (first endpoint whose circuit is closed), publishes it, waits for it to end, and
//! starts over after a backoff. Work asks for the least loaded live session's main object.

use std::future::IntoFuture;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify, Semaphore};

use super::breaker::Circuit;
use super::stats::{ClientStats, EndpointNow, Recorder};
use super::Health;
use super::{Backoff, CircuitBreaker, ClientBuilder, RetryPolicy};
use crate::error::RpcError;
use crate::session::logged::LoggedHook;
use crate::session::run_log::{self, RunLog};
use crate::session::{RpcSession, SessionOptions};
use crate::stub::{BoxFuture, Stub};

pub(crate) type HeadersFn = Arc<dyn Fn() -> BoxFuture<Vec<(String, String)>> + Send + Sync>;
pub(crate) type OnConnect<C> = Arc<dyn Fn(C) -> BoxFuture<Result<(), RpcError>> + Send + Sync>;

pub(crate) struct Config<C> {
    pub(crate) endpoints: Vec<String>,
    pub(crate) pool_size: usize,
    pub(crate) backoff: Backoff,
    pub(crate) breaker: CircuitBreaker,
    pub(crate) retry: RetryPolicy,
    pub(crate) connect_timeout: Duration,
    pub(crate) call_timeout: Option<Duration>,
    pub(crate) keepalive: Option<Duration>,
    /// Which implementation frames the WebSockets.
    pub(crate) websocket_codec: crate::transport::websocket::codec::Codec,
    pub(crate) max_waiting: usize,
    pub(crate) headers: Option<HeadersFn>,
    pub(crate) tls: crate::transport::websocket::ClientTlsConfig,
    pub(crate) on_connect: Option<OnConnect<C>>,
    pub(crate) options: SessionOptions,
}

/// Where a client stands, watched with [`Client::connection_state`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConnectionState {
    /// Opening the first session.
    #[default]
    Connecting,
    /// At least one session is live.
    Connected,
    /// Every session was lost; opening new ones.
    Reconnecting,
    /// [`Client::close`] was called (or the client dropped).
    Closed,
}

/// A client that stays up: it opens sessions to its endpoints, replaces them when they die, and
/// re-runs work on a new session when that cannot repeat a side effect.
///
/// A session never outlives its connection, so nothing is moved from a dead session to a new
/// one: capabilities obtained on a session fail once it ends, and work that needs them is
/// re-derived from the new main object by [`run`](Self::run).
///
/// ```no_run
/// # async fn demo() -> Result<(), capnweb::RpcError> {
/// use capnweb::{Client, Stub, Value};
/// let client = Client::<Stub>::builder().endpoint("ws://127.0.0.1:8080/").connect().await?;
/// let nine = client
///     .run(|main| async move { main.call("square", vec![Value::from(3)]).resolve().await })
///     .await?;
/// # drop(nine); Ok(()) }
/// ```
pub struct Client<C> {
    inner: Arc<Inner<C>>,
}

impl<C> std::fmt::Debug for Client<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl<C> Clone for Client<C> {
    fn clone(&self) -> Self {
        Client {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<C> {
    config: Config<C>,
    slots: Vec<Mutex<Option<Live<C>>>>,
    circuits: Mutex<Vec<Circuit>>,
    state: watch::Sender<ConnectionState>,
    stats: Recorder,
    /// Work waiting for a session.
    waiting: Semaphore,
    /// Signalled whenever a slot gets or loses a session.
    changed: Notify,
    ever_connected: AtomicBool,
    closed: AtomicBool,
}

#[derive(Clone)]
struct Live<C> {
    session: RpcSession,
    /// The index of the endpoint it is connected to.
    endpoint: usize,
    main: C,
    /// `main`'s stub, which each unit of work gets wrapped in a handle of its own.
    stub: Stub,
}

impl<C: From<Stub> + Clone + Send + Sync + 'static> Client<C> {
    /// The settings of a new client.
    pub fn builder() -> ClientBuilder<C> {
        ClientBuilder::new()
    }

    pub(crate) fn start(config: Config<C>) -> Client<C> {
        let slots = (0..config.pool_size).map(|_| Mutex::new(None)).collect();
        let circuits = config
            .endpoints
            .iter()
            .map(|_| Circuit::default())
            .collect();
        let inner = Arc::new(Inner {
            stats: Recorder::new(&config.endpoints, config.pool_size),
            waiting: Semaphore::new(config.max_waiting),
            config,
            slots,
            circuits: Mutex::new(circuits),
            state: watch::channel(ConnectionState::Connecting).0,
            changed: Notify::new(),
            ever_connected: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        });
        for slot in 0..inner.slots.len() {
            tokio::spawn(supervise(Arc::downgrade(&inner), slot));
        }
        Client { inner }
    }

    /// The main object of the least loaded live session, waiting (up to the connect timeout)
    /// while reconnecting. Fails at once when every endpoint's circuit is open, or when too
    /// many are already waiting.
    pub async fn main(&self) -> Result<C, RpcError> {
        self.live().await.map(|live| live.main)
    }

    /// The least loaded live session (see [`main`](Self::main)).
    async fn live(&self) -> Result<Live<C>, RpcError> {
        if let Some(live) = self.inner.pick() {
            return Ok(live);
        }
        let Ok(_permit) = self.inner.waiting.try_acquire() else {
            return Err(not_sent("too many calls are waiting for a connection"));
        };
        let deadline = tokio::time::Instant::now() + self.inner.config.connect_timeout;
        loop {
            let changed = self.inner.changed.notified();
            if let Some(live) = self.inner.pick() {
                return Ok(live);
            }
            if self.inner.closed.load(Ordering::Acquire) {
                return Err(not_sent("the client was closed"));
            }
            if self.inner.all_circuits_open() {
                return Err(not_sent("circuit open: no endpoint can be tried now"));
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Err(not_sent(&format!(
                    "no connection within {:?}",
                    self.inner.config.connect_timeout
                )));
            }
        }
    }

    /// Runs `work` on the main object of a live session (`work` may return a call's promise
    /// directly, or an `async` block). If it fails with
    /// [`RpcError::Disconnected`], it is run again on a new session (within the retry policy)
    /// only if nothing it sent can have been delivered, or everything it sent was marked
    /// `#[rpc(idempotent)]`. Other errors are returned as they are.
    ///
    /// What the work sent is counted through the main object it is given and every stub,
    /// promise and stream derived from it, whichever task uses them, and through any other
    /// handle used in the work's own task. A write to a peer's stream is never idempotent.
    pub async fn run<T, F, Fut>(&self, work: F) -> Result<T, RpcError>
    where
        F: FnMut(C) -> Fut,
        Fut: IntoFuture<Output = Result<T, RpcError>>,
    {
        self.run_with_timeout(self.inner.config.call_timeout, work)
            .await
    }

    /// [`run`](Self::run) with its own time limit (`None` for none) instead of the client's
    /// call timeout.
    pub async fn run_with_timeout<T, F, Fut>(
        &self,
        limit: Option<Duration>,
        work: F,
    ) -> Result<T, RpcError>
    where
        F: FnMut(C) -> Fut,
        Fut: IntoFuture<Output = Result<T, RpcError>>,
    {
        let start = Instant::now();
        // The limit bounds the whole unit: waiting for a session, every attempt and the
        // backoff between them ("the deadline wins").
        let result = match limit {
            Some(after) => tokio::time::timeout(after, self.attempts(work))
                .await
                .unwrap_or(Err(RpcError::Timeout { after })),
            None => self.attempts(work).await,
        };
        self.inner.stats.call(start.elapsed(), result.is_ok());
        result
    }

    /// Runs `work` until it succeeds, fails other than by a disconnection, or may not be
    /// repeated (see [`run`](Self::run)).
    async fn attempts<T, F, Fut>(&self, mut work: F) -> Result<T, RpcError>
    where
        F: FnMut(C) -> Fut,
        Fut: IntoFuture<Output = Result<T, RpcError>>,
    {
        let retry = self.inner.config.retry;
        let mut attempt = 0;
        loop {
            let live = self.live().await?;
            let log = Arc::new(RunLog::default());
            // The work's main object, and all it derives, write what they send to its log
            // whichever task uses them; the work's own task writes its other calls there too.
            let main = C::from(LoggedHook::wrap(&log, live.stub));
            let start = Instant::now();
            let result = run_log::logged(&log, || work(main)).await;
            if result.is_ok() {
                self.inner
                    .stats
                    .succeeded_on(live.endpoint, start.elapsed());
            }
            match result {
                Err(RpcError::Disconnected { .. })
                    if attempt + 1 < retry.attempts && log.safe_to_repeat() =>
                {
                    attempt += 1;
                    self.inner.stats.retry();
                    tracing::debug!(attempt, "capnweb client: running the work again");
                    tokio::time::sleep(retry.backoff.delay(attempt)).await;
                }
                other => return other,
            }
        }
    }

    /// Watches where the client stands.
    pub fn connection_state(&self) -> watch::Receiver<ConnectionState> {
        self.inner.state.subscribe()
    }

    /// Counters (calls, errors, retries, reconnects, breaker trips, latency) and where the
    /// client stands now, overall and per endpoint (state, breaker, sessions, last error,
    /// latency). Cheap enough for every request to an application's health endpoint: it takes
    /// a few short locks and never waits on the network.
    pub fn stats(&self) -> ClientStats {
        let now = Instant::now();
        let mut endpoints: Vec<EndpointNow> = self
            .inner
            .circuits()
            .iter()
            .map(|c| EndpointNow {
                open_until: c.open_until(now),
                failing: c.failing(),
                sessions: 0,
            })
            .collect();
        for slot in &self.inner.slots {
            if let Some(live) = lock(slot).as_ref().filter(|l| !l.session.is_closed()) {
                endpoints[live.endpoint].sessions += 1;
            }
        }
        let state = *self.inner.state.borrow();
        self.inner.stats.snapshot(state, &endpoints)
    }

    /// A verdict on [`stats`](Self::stats): healthy, degraded or down (see [`Health`]).
    pub fn health(&self) -> Health {
        self.stats().health()
    }

    /// The live sessions (one per pool slot that has one).
    pub fn sessions(&self) -> Vec<RpcSession> {
        self.inner
            .slots
            .iter()
            .filter_map(|s| lock(s).as_ref().map(|l| l.session.clone()))
            .filter(|s| !s.is_closed())
            .collect()
    }

    /// Ends every session and stops reconnecting.
    pub fn close(&self) {
        self.inner.close();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn not_sent(reason: &str) -> RpcError {
    RpcError::Disconnected {
        reason: reason.to_owned(),
        maybe_delivered: false,
    }
}

impl<C: Clone> Inner<C> {
    fn circuits(&self) -> std::sync::MutexGuard<'_, Vec<Circuit>> {
        lock(&self.circuits)
    }

    /// The live session with the fewest calls pending.
    fn pick(&self) -> Option<Live<C>> {
        self.slots
            .iter()
            .filter_map(|slot| {
                let slot = lock(slot);
                // A session whose server is draining takes no new work.
                let live = slot
                    .as_ref()
                    .filter(|l| !l.session.is_closed() && !l.session.peer_refuses_calls())?;
                let load = live.session.stats().imports;
                Some((load, live.clone()))
            })
            .min_by_key(|(load, _)| *load)
            .map(|(_, live)| live)
    }

    fn all_circuits_open(&self) -> bool {
        let now = Instant::now();
        self.circuits().iter().all(|c| c.is_open(now))
    }

    fn publish_state(&self) {
        let live = self
            .slots
            .iter()
            .any(|s| lock(s).as_ref().is_some_and(|l| !l.session.is_closed()));
        let state = if self.closed.load(Ordering::Acquire) {
            ConnectionState::Closed
        } else if live {
            ConnectionState::Connected
        } else if self.ever_connected.load(Ordering::Acquire) {
            ConnectionState::Reconnecting
        } else {
            ConnectionState::Connecting
        };
        self.state
            .send_if_modified(|s| std::mem::replace(s, state) != state);
        self.changed.notify_waiters();
    }

    fn close(&self) {
        self.end("the client was closed");
        self.publish_state();
    }
}

impl<C> Inner<C> {
    /// Stops reconnecting and ends every session with `reason`.
    fn end(&self, reason: &str) {
        self.closed.store(true, Ordering::Release);
        for slot in &self.slots {
            if let Some(live) = lock(slot).take() {
                live.session.abort(RpcError::disconnected(reason));
            }
        }
    }
}

impl<C> Drop for Inner<C> {
    fn drop(&mut self) {
        self.end("the client was dropped");
        self.state.send_replace(ConnectionState::Closed);
    }
}

mod restorable;
mod supervisor;
pub use restorable::Restorable;
use supervisor::supervise;
