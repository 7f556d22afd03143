//! [`CircuitBreaker`]: stop trying an endpoint that keeps failing, for a while.

use std::time::{Duration, Instant};

/// A circuit breaker's settings, applied to each endpoint on its own.
///
/// After `failure_threshold` connection-level failures in a row (refused, handshake errors,
/// 5xx or 429 on the upgrade, timeouts, sessions that die right after opening) the endpoint's
/// circuit opens: it is not tried for `open_for`, and callers fail fast if no endpoint is left.
/// Then one trial connection is allowed (half-open): success closes the circuit, failure opens
/// it again. Application errors and slow methods never count.
///
/// ```
/// use std::time::Duration;
/// use capnweb::client::CircuitBreaker;
/// let breaker = CircuitBreaker::new().failure_threshold(5).open_for(Duration::from_secs(30));
/// # drop(breaker);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CircuitBreaker {
    failure_threshold: u32,
    open_for: Duration,
}

impl CircuitBreaker {
    /// 5 failures, open for 30 s.
    pub fn new() -> CircuitBreaker {
        CircuitBreaker {
            failure_threshold: 5,
            open_for: Duration::from_secs(30),
        }
    }

    /// Failures in a row that open the circuit.
    pub fn failure_threshold(mut self, n: u32) -> CircuitBreaker {
        self.failure_threshold = n.max(1);
        self
    }

    /// How long an open circuit stays open before a trial.
    pub fn open_for(mut self, d: Duration) -> CircuitBreaker {
        self.open_for = d;
        self
    }
}

impl Default for CircuitBreaker {
    fn default() -> CircuitBreaker {
        CircuitBreaker::new()
    }
}

/// One endpoint's circuit.
#[derive(Debug, Default)]
pub(crate) struct Circuit {
    failures: u32,
    open_until: Option<Instant>,
}

impl Circuit {
    /// Whether the endpoint may be tried now (closed, or open long enough for a trial).
    pub(crate) fn allows(&self, now: Instant) -> bool {
        self.open_until.is_none_or(|until| now >= until)
    }

    /// When it may be tried next, if it is open.
    pub(crate) fn reopens_at(&self) -> Option<Instant> {
        self.open_until
    }

    /// Until when it stays open, if it is open at `now`.
    pub(crate) fn open_until(&self, now: Instant) -> Option<Instant> {
        self.open_until.filter(|&until| now < until)
    }

    /// Whether its last connection attempts failed (since the last success).
    pub(crate) fn failing(&self) -> bool {
        self.failures > 0
    }

    pub(crate) fn is_open(&self, now: Instant) -> bool {
        !self.allows(now)
    }

    pub(crate) fn success(&mut self) {
        self.failures = 0;
        self.open_until = None;
    }

    /// Counts a failure; returns whether it opened the circuit.
    pub(crate) fn failure(&mut self, settings: &CircuitBreaker, now: Instant) -> bool {
        self.failures += 1;
        let half_open = self.open_until.is_some();
        if half_open || self.failures >= settings.failure_threshold {
            self.open_until = Some(now + settings.open_for);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_at_the_threshold_lets_one_trial_through_and_closes_on_success() {
        let settings = CircuitBreaker::new()
            .failure_threshold(3)
            .open_for(Duration::from_secs(10));
        let start = Instant::now();
        let mut c = Circuit::default();
        assert!(c.allows(start));
        assert!(!c.failure(&settings, start));
        assert!(!c.failure(&settings, start));
        assert!(c.failure(&settings, start), "the third failure opens it");
        assert!(c.is_open(start + Duration::from_secs(9)));
        assert_eq!(c.reopens_at(), Some(start + Duration::from_secs(10)));
        // Half open: one trial; its failure opens it again at once, for another period.
        let later = start + Duration::from_secs(10);
        assert!(c.allows(later));
        assert!(c.failure(&settings, later));
        assert!(c.is_open(later + Duration::from_secs(5)));
        // A success closes it and forgets the failures.
        c.success();
        assert!(c.allows(later));
        assert!(!c.failure(&settings, later));
        assert!(c.allows(later));
    }

    #[test]
    fn a_success_between_failures_resets_the_count() {
        let settings = CircuitBreaker::new().failure_threshold(2);
        let now = Instant::now();
        let mut c = Circuit::default();
        assert!(!c.failure(&settings, now));
        c.success();
        assert!(!c.failure(&settings, now), "counting starts again");
        assert!(c.failure(&settings, now));
    }
}
