//! The RPC session: one connection's import and export tables, over one [`Transport`].
//!
//! [`RpcSession`] is the handle; the state machine is in `core`, the task that runs it in
//! `driver`, and stubs on imports in `import`. A session never outlives its transport.

mod core;
mod driver;
mod import;
#[cfg(feature = "client")]
pub(crate) mod logged;
mod metrics;
pub mod metrics_facade;
pub(crate) mod run_log;
pub(crate) mod transport;

/// The session's clock: tokio's (std's, unless a test pauses it), or the browser's on wasm32
/// (where std has none).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use tokio::time::Instant;
#[cfg(target_arch = "wasm32")]
pub(crate) use web_time::Instant;

pub use metrics::{Metrics, MetricsSnapshot};

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use self::core::Core;
use self::transport::Transport;
use crate::error::RpcError;
use crate::stub::Stub;
use crate::value::ErrorValue;
use crate::wire::{Limits, WireError};

/// A hook that sees (and may change) each error before it is sent to the peer.
pub type SendErrorHook = Arc<dyn Fn(&mut ErrorValue) + Send + Sync>;

/// Options of a session.
///
/// ```
/// use std::time::Duration;
/// use capnweb::SessionOptions;
/// let options = SessionOptions::default()
///     .max_in_flight(256)
///     .idle_timeout(Duration::from_secs(300))
///     .max_age(Duration::from_secs(3600));
/// # drop(options);
/// ```
#[derive(Clone)]
#[non_exhaustive]
#[must_use = "options do nothing unless given to a session"]
pub struct SessionOptions {
    /// What is accepted from the peer.
    pub limits: Limits,
    /// Calls from the peer that may be pending at once (calls that finish when first run take
    /// no place); the others wait their turn, in order. Default 1024.
    pub max_in_flight: usize,
    /// Calls that may wait for a place among `max_in_flight`; beyond, the session aborts with a
    /// reason naming this limit. The session never stops reading instead: the messages that
    /// settle waiting calls come from the peer, and so does its leaving. Default 16,384.
    pub max_queued: usize,
    /// Ends the session when nothing was received and no call ran for this long. Default none.
    pub idle_timeout: Option<Duration>,
    /// Ends the session, normally, once it is this old (so a server can drain). Default none.
    pub max_age: Option<Duration>,
    /// Counters this session adds to (a server shares one among its sessions).
    pub metrics: Option<Arc<Metrics>>,
    /// Sees every error before it goes to the peer (see
    /// [`on_send_error`](Self::on_send_error)).
    pub on_send_error: Option<SendErrorHook>,
    /// Where the peer is (its address; for a client, the server's URL), for the session's
    /// tracing span (`network.peer.address`). A server sets it for each connection.
    pub peer: Option<String>,
    /// Whether this end accepted the connection (`otel.kind` of the session's span: `server`,
    /// else `client`). A server sets it.
    pub accepted: bool,
    /// How the session waits for its timeouts (see [`timer`](Self::timer)); `None`: tokio's.
    pub timer: Option<Sleeper>,
    /// Ends the session when it has been writing for this long and the peer took none of it
    /// (a peer that never reads). Default none; a server's sessions, and its connections'
    /// HTTP responses, default to 60 s.
    pub write_timeout: Option<Duration>,
    /// Where the results held for the peer are counted besides `limits.max_answer_bytes`: a
    /// server's budget, shared by all its sessions.
    pub(crate) answer_budget: Option<Arc<dyn AnswerBudget>>,
}

/// A budget shared by sessions for the results they hold for their peers (see
/// `Limits::max_answer_bytes`). Takes happen under the session's lock, one at a time.
pub(crate) trait AnswerBudget: Send + Sync {
    /// Takes `n` bytes more, or says which limit refuses them.
    fn take(&self, n: usize) -> Result<(), WireError>;
    /// Gives back `n` bytes taken.
    fn give(&self, n: usize);
}

/// Makes a future that completes after a duration: the timer of a session's timeouts.
pub type Sleeper = Arc<dyn Fn(Duration) -> crate::stub::BoxFuture<()> + Send + Sync>;

impl std::fmt::Debug for SessionOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionOptions")
            .field("limits", &self.limits)
            .field("max_in_flight", &self.max_in_flight)
            .field("max_queued", &self.max_queued)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_age", &self.max_age)
            .field("metrics", &self.metrics.is_some())
            .field("on_send_error", &self.on_send_error.is_some())
            .field("peer", &self.peer)
            .field("accepted", &self.accepted)
            .field("timer", &self.timer.as_ref().map(|_| "custom"))
            .field("write_timeout", &self.write_timeout)
            .finish_non_exhaustive()
    }
}

impl Default for SessionOptions {
    fn default() -> SessionOptions {
        SessionOptions {
            limits: Limits::default(),
            max_in_flight: 1024,
            max_queued: 16 * 1024,
            idle_timeout: None,
            max_age: None,
            metrics: None,
            on_send_error: None,
            peer: None,
            accepted: false,
            timer: None,
            write_timeout: None,
            answer_budget: None,
        }
    }
}

impl SessionOptions {
    /// Waits for the idle timeout and the maximum age with `sleep` (a future that completes
    /// after the duration given) instead of tokio's timer: for a session on another executor,
    /// with a timer of its own. (`capnweb::wasm` sets the browser's.)
    ///
    /// ```
    /// use std::time::Duration;
    /// use capnweb::SessionOptions;
    /// let options = SessionOptions::default()
    ///     .idle_timeout(Duration::from_secs(60))
    ///     .timer(|after| Box::pin(async move {
    ///         // Any executor's timer; here a thread, for the example.
    ///         let (wait, done) = futures_util::future::abortable(futures_util::future::pending::<()>());
    ///         std::thread::spawn(move || { std::thread::sleep(after); done.abort(); });
    ///         let _ = wait.await;
    ///     }));
    /// # drop(options);
    /// ```
    pub fn timer(
        mut self,
        sleep: impl Fn(Duration) -> crate::stub::BoxFuture<()> + Send + Sync + 'static,
    ) -> Self {
        self.timer = Some(Arc::new(sleep));
        self
    }

    /// Sets the receive limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets how many of the peer's calls may run at once.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// Sets how many of the peer's calls may wait to run.
    pub fn max_queued(mut self, n: usize) -> Self {
        self.max_queued = n;
        self
    }

    /// Ends the session after this long without traffic or running calls.
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = Some(d);
        self
    }

    /// Ends the session when the peer has taken nothing of what it writes for this long.
    pub fn write_timeout(mut self, d: Duration) -> Self {
        self.write_timeout = Some(d);
        self
    }

    /// Ends the session once it is this old.
    pub fn max_age(mut self, d: Duration) -> Self {
        self.max_age = Some(d);
        self
    }

    /// Calls `hook` on every error before it is sent to the peer (call failures and aborts).
    /// Errors go without a stack trace by default; the hook may log them, add a stack or
    /// properties, or redact the message.
    ///
    /// ```
    /// use capnweb::SessionOptions;
    /// let options = SessionOptions::default().on_send_error(|e| {
    ///     eprintln!("sending {}: {}", e.name, e.message);
    /// });
    /// # drop(options);
    /// ```
    pub fn on_send_error(mut self, hook: impl Fn(&mut ErrorValue) + Send + Sync + 'static) -> Self {
        self.on_send_error = Some(Arc::new(hook));
        self
    }

    /// Counts this session's traffic in `metrics`.
    pub fn metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }
}

/// Counts of a session's table entries, to watch for leaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionStats {
    /// Entries on the import table (including the peer's main object).
    pub imports: usize,
    /// Entries on the export table (including our main object).
    pub exports: usize,
}

/// A live RPC session. Cloning gives another handle on the same session.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use capnweb::{RpcSession, SessionOptions, Stub, Value, RpcError};
/// use capnweb::transport::in_process;
///
/// let (a, b) = in_process::pair();
/// let server = Stub::from_fn(|args: Vec<Value>| async move { Ok::<_, RpcError>(args[0].clone()) });
/// let _server = RpcSession::spawn(a, Some(server), SessionOptions::default());
/// let client = RpcSession::spawn(b, None, SessionOptions::default());
/// let v = client.main().call("", vec![Value::from("hi")]).resolve().await.unwrap();
/// assert_eq!(v.as_str(), Some("hi"));
/// # });
/// ```
#[derive(Clone)]
pub struct RpcSession {
    core: Arc<Core>,
}

impl std::fmt::Debug for RpcSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcSession")
            .field("core", &Arc::as_ptr(&self.core))
            .finish_non_exhaustive()
    }
}

impl RpcSession {
    /// Creates a session over `transport`, serving `local_main` to the peer (or nothing), and
    /// returns it with the future that runs it. Run that future (or use [`spawn`](Self::spawn)).
    pub fn new(
        transport: impl Transport,
        local_main: Option<Stub>,
        options: SessionOptions,
    ) -> (RpcSession, impl Future<Output = ()> + Send + 'static) {
        let main = local_main.unwrap_or_else(|| {
            Stub::broken(RpcError::error("This connection has no main object."))
        });
        let core = Core::new(
            main,
            options.limits,
            options.max_in_flight,
            options.on_send_error.clone(),
            options.answer_budget.clone(),
        );
        let run = driver::run(core.clone(), transport, options);
        (RpcSession { core }, run)
    }

    /// Creates a session and runs it on the current tokio runtime.
    pub fn spawn(
        transport: impl Transport,
        local_main: Option<Stub>,
        options: SessionOptions,
    ) -> RpcSession {
        let (session, run) = RpcSession::new(transport, local_main, options);
        tokio::spawn(run);
        session
    }

    /// The peer's main object.
    pub fn main(&self) -> Stub {
        self.core.import_handle(0, false)
    }

    /// The peer's main object, owning the session: dropping its last clone ends the session.
    pub fn into_main(self) -> Stub {
        let inner = self.main();
        Stub::from_hook(import::OwningMain {
            inner,
            session: self,
        })
    }

    /// Ends the session, telling the peer why.
    pub fn abort(&self, reason: RpcError) {
        self.core.abort(reason, true);
    }

    /// Whether the peer refused a call as not run: it is draining, and new work should go to
    /// another session.
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) fn peer_refuses_calls(&self) -> bool {
        self.core.peer_refuses_calls()
    }

    /// Runs none of the peer's new calls from now on: each is answered with an error saying it
    /// did not run, which capnweb's client takes as not delivered (a draining server).
    #[cfg(feature = "server")]
    pub(crate) fn refuse_new_calls(&self) {
        self.core.refuse_new_calls();
    }

    /// Ends the session telling the peer that none of the calls left unanswered ran, once that
    /// is true: new calls are refused (see [`refuse_new_calls`](Self::refuse_new_calls)) and
    /// every call that ran has been answered. Waits for that (bound it with a timeout).
    #[cfg(feature = "server")]
    pub(crate) async fn end_once_answered(&self, why: &str) {
        loop {
            self.core.settle().await;
            if self.core.ran_calls_answered() {
                break;
            }
            // A call that ran, not yet pulled: its pull is on its way.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        self.core
            .abort(RpcError::new(crate::error::NOT_RUN, why.to_owned()), true);
    }

    /// How long the session has read nothing and run none of the peer's calls (a server's
    /// sessions give way, idlest first, when it is full).
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) fn idle_for(&self) -> std::time::Duration {
        self.core.idle_for()
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.core.is_closed()
    }

    /// Waits until the session ends, and says why.
    pub async fn closed(&self) -> RpcError {
        self.core.end().ended().await
    }

    /// Waits until every result the peer pulled has been sent (how an HTTP batch knows it is
    /// done).
    pub async fn drain(&self) -> Result<(), RpcError> {
        self.core.drain().await
    }

    /// Counts of live table entries.
    pub fn stats(&self) -> SessionStats {
        let (imports, exports) = self.core.stats();
        SessionStats { imports, exports }
    }
}

impl RpcSession {
    /// Makes room for `n` more exports (an HTTP batch knows how many pushes it holds), within
    /// the limit on exports.
    pub(crate) fn reserve_exports(&self, n: usize) {
        self.core
            .reserve_exports(n.min(self.core.limits().max_exports));
    }

    /// The peer can send nothing more (see `Core::end_of_input`).
    pub(crate) fn end_of_input(&self, reason: &RpcError) {
        self.core.end_of_input(reason);
    }

    /// Ends the session without telling the peer (its transport is about to close anyway).
    pub(crate) fn core_abort_quietly(&self, reason: RpcError) {
        self.core.abort(reason, false);
    }
}

/// How many sessions are alive in this process: each [`RpcSession`] counts from its creation
/// until its state is freed, which is after it has ended and every handle, stub and task that
/// refers to it is gone. A count that does not return to where it was once sessions end is a
/// leak.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use capnweb::{session::live_sessions, transport::in_process, RpcSession, SessionOptions};
/// let before = live_sessions();
/// let (a, b) = in_process::pair();
/// let s = RpcSession::spawn(a, None, SessionOptions::default());
/// assert!(live_sessions() > before);
/// drop((s, b)); // the peer's end closes: the session ends and frees itself
/// # });
/// ```
pub fn live_sessions() -> usize {
    self::core::LIVE_CORES.load(std::sync::atomic::Ordering::Relaxed)
}
