//! What a unit of work (a `Client::run` of the resilient client) sent, to decide whether it is
//! safe to run again: calls that went to a peer, and how many of them were idempotent.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

tokio::task_local! {
    static LOG: Arc<RunLog>;
}

thread_local! {
    /// Set while a call marked `#[rpc(idempotent)]` is being made (sending is synchronous).
    static IDEMPOTENT_CALL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[derive(Debug, Default)]
pub(crate) struct RunLog {
    sent: AtomicUsize,
    idempotent: AtomicUsize,
}

impl RunLog {
    /// Whether running the work again cannot repeat a side effect: nothing went out, or only
    /// idempotent calls did.
    #[cfg(feature = "client")]
    pub(crate) fn safe_to_repeat(&self) -> bool {
        let sent = self.sent.load(Relaxed);
        sent == 0 || sent <= self.idempotent.load(Relaxed)
    }
}

/// Runs `f` and the future it makes inside `log`.
#[cfg(feature = "client")]
pub(crate) async fn logged<T, Fut: std::future::IntoFuture<Output = T>>(
    log: &Arc<RunLog>,
    f: impl FnOnce() -> Fut,
) -> T {
    let fut = LOG.sync_scope(log.clone(), || f().into_future());
    LOG.scope(log.clone(), fut).await
}

/// A call went to a peer. Returns whether it was one that no unit of work's log saw and that
/// was not idempotent (the session counts those, see `Client::run`).
pub(crate) fn sent() -> bool {
    let idempotent = IDEMPOTENT_CALL.with(std::cell::Cell::get);
    let logged = LOG
        .try_with(|l| {
            l.sent.fetch_add(1, Relaxed);
            if idempotent {
                l.idempotent.fetch_add(1, Relaxed);
            }
        })
        .is_ok();
    !logged && !idempotent
}

/// Makes a call marked `#[rpc(idempotent)]`.
pub(crate) fn idempotent<T>(call: impl FnOnce() -> T) -> T {
    IDEMPOTENT_CALL.with(|c| c.set(true));
    let result = call();
    IDEMPOTENT_CALL.with(|c| c.set(false));
    result
}
