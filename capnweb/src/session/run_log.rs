//! What a unit of work (a `Client::run` of the resilient client) sent, to decide whether it is
//! safe to run again: calls and stream writes that went to a peer, and how many of them were
//! idempotent.
//!
//! A send is written to the log of the handle it went through (see `LoggedHook`), whichever
//! task used it; failing that, to the log of the task the work runs in. A send through a handle
//! of no unit, from a task of no unit, marks no unit.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

tokio::task_local! {
    static LOG: Arc<RunLog>;
}

thread_local! {
    /// Set while a call marked `#[rpc(idempotent)]` is being made (sending is synchronous).
    static IDEMPOTENT_CALL: Cell<bool> = const { Cell::new(false) };
    /// The log of the handle a send is going through, while it is made (synchronously).
    static HANDLE_LOG: RefCell<Option<Arc<RunLog>>> = const { RefCell::new(None) };
    /// The last send written to a handle's log on this thread: whether it was idempotent.
    static LAST_SENT: Cell<Option<bool>> = const { Cell::new(None) };
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

    fn record(&self, idempotent: bool) {
        self.sent.fetch_add(1, Relaxed);
        if idempotent {
            self.idempotent.fetch_add(1, Relaxed);
        }
    }

    /// A call written here was not run after all: the peer said so (it refused it while
    /// draining, or ended the session saying that nothing unanswered ran).
    #[cfg(feature = "client")]
    pub(crate) fn not_run(&self, idempotent: bool) {
        self.sent.fetch_sub(1, Relaxed);
        if idempotent {
            self.idempotent.fetch_sub(1, Relaxed);
        }
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

/// [`through`], for one call: also says whether it sent one, and if so whether it was
/// idempotent.
#[cfg(feature = "client")]
pub(crate) fn through_call<T>(log: &Arc<RunLog>, send: impl FnOnce() -> T) -> (T, Option<bool>) {
    LAST_SENT.with(|l| l.set(None));
    let out = through(log, send);
    (out, LAST_SENT.with(Cell::take))
}

/// Runs `send`, a use of a handle that belongs to `log`: what it sends is written there (and
/// not in the task's log too). The one before is back afterwards, even if `send` panics.
#[cfg(feature = "client")]
pub(crate) fn through<T>(log: &Arc<RunLog>, send: impl FnOnce() -> T) -> T {
    struct Restore(Option<Arc<RunLog>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let before = self.0.take();
            HANDLE_LOG.with(|h| *h.borrow_mut() = before);
        }
    }
    let _restore = Restore(HANDLE_LOG.with(|h| h.borrow_mut().replace(log.clone())));
    send()
}

/// A call went to a peer.
pub(crate) fn sent() {
    write(IDEMPOTENT_CALL.with(Cell::get));
}

/// A `stream` message went to a peer: a write into its stream, never idempotent.
pub(crate) fn streamed() {
    write(false);
}

fn write(idempotent: bool) {
    let handle = HANDLE_LOG.with(|h| h.borrow().clone());
    match handle {
        Some(log) => {
            log.record(idempotent);
            LAST_SENT.with(|l| l.set(Some(idempotent)));
        }
        None => {
            let _ = LOG.try_with(|log| log.record(idempotent));
        }
    }
}

/// Makes a call marked `#[rpc(idempotent)]`. The flag is cleared afterwards even if `call`
/// panics: left set, it would make every later call on the thread pass for idempotent.
pub(crate) fn idempotent<T>(call: impl FnOnce() -> T) -> T {
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            IDEMPOTENT_CALL.with(|c| c.set(false));
        }
    }
    IDEMPOTENT_CALL.with(|c| c.set(true));
    let _clear = Clear;
    call()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idempotent_flag_is_cleared_when_the_call_panics() {
        let panicked = std::panic::catch_unwind(|| idempotent(|| panic!("the call panicked")));
        assert!(panicked.is_err());
        assert!(!IDEMPOTENT_CALL.with(Cell::get), "the flag was left set");
    }

    #[cfg(feature = "client")]
    #[test]
    fn a_send_through_a_handle_is_written_to_its_log_alone() {
        let (handle, task) = (Arc::new(RunLog::default()), Arc::new(RunLog::default()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(logged(&task, || async {
            through(&handle, || idempotent(sent));
            sent();
        }));
        assert_eq!(handle.sent.load(Relaxed), 1);
        assert_eq!(handle.idempotent.load(Relaxed), 1);
        assert_eq!(task.sent.load(Relaxed), 1, "counted once, in one log");
        assert!(handle.safe_to_repeat() && !task.safe_to_repeat());
        // A stream write is never idempotent.
        through(&handle, || idempotent(streamed));
        assert!(!handle.safe_to_repeat());
    }
}
