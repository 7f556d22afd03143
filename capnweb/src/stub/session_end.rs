//! A session's end, as those who wait for it see it (here, below the session, because a stub
//! of a session's import offers it to `on_broken`): the reason once it has ended, and a way to
//! wait for that. Shared by the core and its waiters (a stub's `on_broken`, `RpcSession::closed`,
//! the session's own writes), who hold it without holding the core.

use std::sync::OnceLock;

use tokio::sync::Notify;

use crate::error::RpcError;

#[derive(Default)]
pub(crate) struct SessionEnd {
    reason: OnceLock<RpcError>,
    ended: Notify,
}

impl SessionEnd {
    /// Ends it with `reason`, waking every waiter (once: a later reason is not kept).
    pub(crate) fn end(&self, reason: RpcError) {
        if self.reason.set(reason).is_ok() {
            self.ended.notify_waiters();
        }
    }

    /// Why it ended, once it has.
    pub(crate) fn reason(&self) -> Option<&RpcError> {
        self.reason.get()
    }

    /// Waits until it ends, and says why.
    pub(crate) async fn ended(&self) -> RpcError {
        loop {
            let notified = self.ended.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before looking, so that an end between the two is not missed.
            notified.as_mut().enable();
            if let Some(reason) = self.reason() {
                return reason.clone();
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn waiters_before_and_after_the_end_learn_the_first_reason() {
        let end = Arc::new(SessionEnd::default());
        let early = tokio::spawn({
            let end = end.clone();
            async move { end.ended().await }
        });
        tokio::task::yield_now().await;
        end.end(RpcError::disconnected("first"));
        end.end(RpcError::disconnected("second"));
        assert_eq!(early.await.unwrap(), RpcError::disconnected("first"));
        assert_eq!(end.ended().await, RpcError::disconnected("first"));
        assert_eq!(end.reason(), Some(&RpcError::disconnected("first")));
    }
}
