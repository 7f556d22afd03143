//! Waking, in one place: the session task when work is queued for it, and whoever waits for
//! the peer's calls to be answered (`drain`, `settle`).
//!
//! Both wake-ups are decided under the lock and sent once it is let go (see `Guard`'s drop),
//! so that the woken never find the state still locked.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::futures::Notified;
use tokio::sync::Notify;

use super::{Core, State};
use crate::error::RpcError;

/// The handshake that wakes the session task: once for any amount of work queued until it
/// looks for work again. `driving` is set while it handles messages or looks for work, and
/// from the moment it is woken (it then needs no second wake).
#[derive(Default)]
pub(super) struct TaskWake {
    notify: Notify,
    driving: AtomicBool,
}

impl TaskWake {
    /// Work was queued: wakes the task unless it is driving or woken already.
    pub(super) fn queued(&self) {
        let driving = &self.driving;
        if !driving.load(Ordering::SeqCst) && !driving.swap(true, Ordering::SeqCst) {
            self.notify.notify_one();
        }
    }

    /// Wakes the task whatever it is doing (the session ended).
    pub(super) fn now(&self) {
        self.notify.notify_one();
    }
}

impl Core {
    /// The session task looks for work itself from now: anything queued after this wakes it.
    pub(crate) fn looking_for_work(&self) {
        self.task.driving.store(false, Ordering::SeqCst);
    }

    /// The session task is handling messages: what they queue, it finds itself.
    pub(crate) fn handling_messages(&self) {
        self.task.driving.store(true, Ordering::SeqCst);
    }

    /// Completes when work is queued for the session task (or the session ends).
    pub(crate) fn woken(&self) -> Notified<'_> {
        self.task.notify.notified()
    }
}

impl State {
    /// A pull was answered, or the export it waited on went: the last one wakes whoever waits
    /// for the session to go idle.
    pub(super) fn pull_done(&mut self) {
        self.pending_pulls = self.pending_pulls.saturating_sub(1);
        if self.pending_pulls == 0 {
            self.idle_changed();
        }
    }

    /// An answer stopped running (settled, or released): the last one wakes whoever waits
    /// for the session to go idle.
    pub(super) fn call_done(&mut self) {
        self.running = self.running.saturating_sub(1);
        if self.running == 0 {
            self.idle_changed();
        }
    }

    /// Wakes the idle waiters once unlocked, if there are any (most sessions have none, and
    /// pay nothing).
    pub(super) fn idle_changed(&mut self) {
        if self.idle_waiters > 0 {
            self.wake_idle = true;
        }
    }
}

impl Core {
    /// Waits until `done` holds (looked at under the lock, after each wake-up that may change
    /// it), or the session has ended (then its reason).
    async fn until_idle(self: &Arc<Self>, done: impl Fn(&State) -> bool) -> Result<(), RpcError> {
        // Counted before looking, so that a change after the look wakes this.
        struct Waiting<'a>(&'a Arc<Core>);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.lock().idle_waiters -= 1;
            }
        }
        self.lock().idle_waiters += 1;
        let _waiting = Waiting(self);
        loop {
            let idle = self.idle.notified();
            if let Some(reason) = self.end.reason().cloned() {
                return Err(reason);
            }
            if self.peek(&done) {
                return Ok(());
            }
            idle.await;
        }
    }

    /// Waits until every result the peer pulled has been sent (see `RpcSession::drain`).
    pub(crate) async fn drain(self: &Arc<Self>) -> Result<(), RpcError> {
        self.until_idle(|st| st.pending_pulls == 0).await
    }

    /// Waits until no call from the peer is running or unanswered, or the session has ended.
    #[cfg(feature = "server")]
    pub(crate) async fn settle(self: &Arc<Self>) {
        let _ = self.until_idle(|st| !st.busy()).await;
    }
}
