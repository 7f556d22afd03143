//! [`RetryPolicy`]: when a unit of work may run again.

use super::Backoff;

/// When [`Client::run`](super::Client::run) may run its work again after a disconnection: how many attempts in all,
/// and the wait before each new one.
///
/// ```
/// use std::time::Duration;
/// use capnweb::client::{Backoff, RetryPolicy};
/// let retry = RetryPolicy::new()
///     .attempts(5)
///     .backoff(Backoff::exponential(Duration::from_millis(50), Duration::from_secs(1)).jitter());
/// # drop(retry);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub(crate) attempts: u32,
    pub(crate) backoff: Backoff,
}

impl RetryPolicy {
    /// 3 attempts, 50 ms doubling to 1 s with jitter between them.
    pub fn new() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            backoff: Backoff::exponential(
                std::time::Duration::from_millis(50),
                std::time::Duration::from_secs(1),
            )
            .jitter(),
        }
    }

    /// Attempts in all (1: never run again).
    pub fn attempts(mut self, n: u32) -> RetryPolicy {
        self.attempts = n.max(1);
        self
    }

    /// The wait before each new attempt.
    pub fn backoff(mut self, backoff: Backoff) -> RetryPolicy {
        self.backoff = backoff;
        self
    }
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy::new()
    }
}
