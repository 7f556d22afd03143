//! [`Restorable`]: a capability the client derives again from the main object on each new
//! session, so that work on it survives the loss of a session as work on the main object does.
//!
//! A task keeps it: it takes a live session, runs the derivation on its main object, publishes
//! the capability, waits for that session to end, and starts over. What the derivation sent is
//! counted as a unit of work's is: it is repeated on a new session only if that cannot repeat a
//! side effect (it sent only `#[rpc(idempotent)]` calls, or nothing).

use std::future::IntoFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::watch;

use super::{not_sent, Client};
use crate::client::{Backoff, RetryPolicy};
use crate::error::RpcError;
use crate::session::logged::LoggedHook;
use crate::session::run_log::{self, RunLog};
use crate::session::RpcSession;
use crate::stub::{BoxFuture, Stub};

type RestoredHook<R> = Arc<dyn Fn(R) -> BoxFuture<()> + Send + Sync>;

/// A capability derived from a [`Client`]'s main object, and derived again on each new session
/// (see [`Client::restorable`]). Work run on it with [`run`](Self::run) waits for a session and
/// the derivation, and is run again on the next one under the same rules as
/// [`Client::run`]. Cloning it gives another handle on the same capability; the last one
/// dropped stops restoring it.
pub struct Restorable<R> {
    shared: Arc<Shared<R>>,
}

impl<R> Clone for Restorable<R> {
    fn clone(&self) -> Self {
        Restorable {
            shared: self.shared.clone(),
        }
    }
}

impl<R> std::fmt::Debug for Restorable<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restorable")
            .field("restored", &self.shared.restored.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

struct Shared<R> {
    current: watch::Sender<Current>,
    on_restored: Mutex<Option<RestoredHook<R>>>,
    /// Derivations after the first that succeeded.
    restored: AtomicU64,
    retry: RetryPolicy,
    call_timeout: Option<Duration>,
    connect_timeout: Duration,
    keeper: tokio::task::AbortHandle,
}

impl<R> Drop for Shared<R> {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}

/// Where the capability stands.
#[derive(Clone)]
enum Current {
    /// Waiting for a session, or for the derivation on it.
    Deriving,
    /// Derived on `session`.
    Ready { stub: Stub, session: RpcSession },
    /// The derivation failed, or may not be repeated.
    Failed(RpcError),
}

impl<C: From<Stub> + Clone + Send + Sync + 'static> Client<C> {
    /// A capability derived from the main object by `derive`, and derived again on every new
    /// session: a room joined, a subscription with a callback, anything the server can find
    /// again from what the derivation says (the derivation names it).
    ///
    /// The derivation runs on one session at a time, as soon as one is live, and again as
    /// soon as that one ends. It is a unit of work as [`run`](Self::run)'s are: repeated only
    /// if nothing it sent had a side effect (it sent `#[rpc(idempotent)]` calls only). One that
    /// is not is run once, and the capability then fails once its session ends, saying so.
    /// Callbacks handed over in it are handed over again, since it runs again. See
    /// [`Restorable::on_restored`] to resynchronise after a new derivation.
    ///
    /// ```no_run
    /// # use capnweb::{Client, RpcError, Stub, Value};
    /// # async fn demo(client: Client<Stub>) -> Result<(), RpcError> {
    /// let room = client.restorable(|main: Stub| async move {
    ///     Ok::<Stub, RpcError>(main.call("joinRoom", vec![Value::from("lobby")]))
    /// });
    /// room.run(|room: Stub| async move { room.call("say", vec![Value::from("hello")]).resolve().await })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn restorable<R, F, Fut>(&self, derive: F) -> Restorable<R>
    where
        R: From<Stub> + Into<Stub> + Send + 'static,
        F: Fn(C) -> Fut + Send + Sync + 'static,
        Fut: IntoFuture<Output = Result<R, RpcError>> + 'static,
        Fut::IntoFuture: Send,
    {
        let config = &self.inner.config;
        let (current, _) = watch::channel(Current::Deriving);
        let backoff = config.backoff;
        let shared = Arc::new_cyclic(|weak: &Weak<Shared<R>>| {
            let keeper = tokio::spawn(keep(self.clone(), weak.clone(), derive, backoff));
            Shared {
                current,
                on_restored: Mutex::new(None),
                restored: AtomicU64::new(0),
                retry: config.retry,
                call_timeout: config.call_timeout,
                connect_timeout: config.connect_timeout,
                keeper: keeper.abort_handle(),
            }
        });
        Restorable { shared }
    }
}

impl<R: From<Stub> + Send + 'static> Restorable<R> {
    /// Runs `f` with each capability derived after the first (a new session's), before work
    /// waiting for it runs: to fetch what was missed meanwhile, say.
    pub fn on_restored<Fut>(self, f: impl Fn(R) -> Fut + Send + Sync + 'static) -> Self
    where
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let hook: RestoredHook<R> = Arc::new(move |r| Box::pin(f(r)));
        *lock(&self.shared.on_restored) = Some(hook);
        self
    }

    /// How many times it was derived again, on a new session.
    pub fn restored(&self) -> u64 {
        self.shared.restored.load(Ordering::Relaxed)
    }

    /// The capability as it stands, waiting (up to the client's connect timeout) for a
    /// session and the derivation. It fails once its session ends: for work that should
    /// survive that, use [`run`](Self::run).
    pub async fn get(&self) -> Result<R, RpcError> {
        self.ready().await.map(R::from)
    }

    /// Runs `work` on the capability, as [`Client::run`] runs work on the main object: it
    /// waits for a session and the derivation, and if it fails with
    /// [`RpcError::Disconnected`] it is run again on the capability derived on a new session
    /// (within the retry policy) only if nothing it sent can have been delivered, or all it
    /// sent was idempotent. The client's call timeout bounds it.
    pub async fn run<T, F, Fut>(&self, work: F) -> Result<T, RpcError>
    where
        F: FnMut(R) -> Fut,
        Fut: IntoFuture<Output = Result<T, RpcError>>,
    {
        match self.shared.call_timeout {
            Some(after) => tokio::time::timeout(after, self.attempts(work))
                .await
                .unwrap_or(Err(RpcError::Timeout { after })),
            None => self.attempts(work).await,
        }
    }

    async fn attempts<T, F, Fut>(&self, mut work: F) -> Result<T, RpcError>
    where
        F: FnMut(R) -> Fut,
        Fut: IntoFuture<Output = Result<T, RpcError>>,
    {
        let retry = self.shared.retry;
        let mut attempt = 0;
        loop {
            let stub = self.ready().await?;
            let log = Arc::new(RunLog::default());
            let capability = R::from(LoggedHook::wrap(&log, stub));
            let result = run_log::logged(&log, || work(capability)).await;
            match result {
                Err(RpcError::Disconnected { .. })
                    if attempt + 1 < retry.attempts && log.safe_to_repeat() =>
                {
                    attempt += 1;
                    tokio::time::sleep(retry.backoff.delay(attempt)).await;
                }
                other => return other,
            }
        }
    }

    /// The capability derived on a live session, waiting for one up to the connect timeout.
    async fn ready(&self) -> Result<Stub, RpcError> {
        let mut current = self.shared.current.subscribe();
        let deadline = tokio::time::Instant::now() + self.shared.connect_timeout;
        loop {
            match &*current.borrow_and_update() {
                Current::Ready { stub, session } if !session.is_closed() => return Ok(stub.clone()),
                Current::Failed(e) => return Err(e.clone()),
                _ => {}
            }
            match tokio::time::timeout_at(deadline, current.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(not_sent("the capability is no longer restored")),
                Err(_) => {
                    return Err(not_sent(&format!(
                        "no session and derivation within {:?}",
                        self.shared.connect_timeout
                    )))
                }
            }
        }
    }
}

/// The task that keeps a restorable capability derived (see the module's doc). It ends when
/// the last handle goes, or the client is closed.
async fn keep<C, R, F, Fut>(client: Client<C>, shared: Weak<Shared<R>>, derive: F, wait: Backoff)
where
    C: From<Stub> + Clone + Send + Sync + 'static,
    R: From<Stub> + Into<Stub> + Send + 'static,
    F: Fn(C) -> Fut + Send + Sync + 'static,
    Fut: IntoFuture<Output = Result<R, RpcError>> + 'static,
    Fut::IntoFuture: Send,
{
    let publish = |now: Current| match shared.upgrade() {
        Some(shared) => {
            shared.current.send_replace(now);
            true
        }
        None => false,
    };
    let mut derived = 0u64;
    let mut repeatable = true;
    let mut failures = 0;
    loop {
        let live = match client.live().await {
            Ok(live) => live,
            Err(e) if client.inner.closed.load(Ordering::Acquire) => {
                publish(Current::Failed(e));
                return;
            }
            Err(_) => {
                failures += 1;
                tokio::time::sleep(wait.delay(failures)).await;
                continue;
            }
        };
        if !repeatable {
            publish(Current::Failed(RpcError::error(
                "the capability's derivation sent calls not marked #[rpc(idempotent)], so it \
                 is not repeated on a new session",
            )));
            return;
        }
        let log = Arc::new(RunLog::default());
        let main = C::from(LoggedHook::wrap(&log, live.stub.clone()));
        match run_log::logged(&log, || derive(main)).await {
            Ok(capability) => {
                failures = 0;
                repeatable = log.safe_to_repeat();
                // Each unit of work run on it gets a handle of its own (see `LoggedHook`).
                let stub = LoggedHook::unwrap(capability.into());
                let ready = Current::Ready {
                    stub: stub.clone(),
                    session: live.session.clone(),
                };
                if !publish(ready) {
                    return;
                }
                if derived > 0 {
                    let Some(shared) = shared.upgrade() else {
                        return;
                    };
                    shared.restored.fetch_add(1, Ordering::Relaxed);
                    let hook = lock(&shared.on_restored).clone();
                    drop(shared);
                    if let Some(hook) = hook {
                        hook(R::from(stub)).await;
                    }
                }
                derived += 1;
                live.session.closed().await;
                if !publish(Current::Deriving) {
                    return;
                }
            }
            // Its session ended under it: the next one.
            Err(RpcError::Disconnected { .. }) => {}
            Err(e) => {
                failures += 1;
                if !publish(Current::Failed(e)) {
                    return;
                }
                tokio::time::sleep(wait.delay(failures)).await;
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poison| poison.into_inner())
}
