//! [`Backoff`]: how long to wait before the next attempt.

use std::time::Duration;

/// Exponential backoff with a cap and optional jitter: attempt `n` (from 1) waits
/// `min * 2^(n-1)`, at most `max`; with jitter, a random time between half of that and all of
/// it, so that clients cut off together do not come back together.
///
/// ```
/// use std::time::Duration;
/// use capnweb::client::Backoff;
/// let b = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(2));
/// assert_eq!(b.delay(1), Duration::from_millis(100));
/// assert_eq!(b.delay(3), Duration::from_millis(400));
/// assert_eq!(b.delay(30), Duration::from_secs(2));
/// let j = b.jitter().delay(3);
/// assert!(j >= Duration::from_millis(200) && j <= Duration::from_millis(400));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    jitter: bool,
}

impl Backoff {
    /// Doubling from `min` up to `max`.
    pub fn exponential(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            jitter: false,
        }
    }

    /// The same, with jitter.
    pub fn jitter(mut self) -> Backoff {
        self.jitter = true;
        self
    }

    /// The wait before attempt `attempt` (1 for the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(32);
        let full = self
            .min
            .saturating_mul(1u32 << doublings.min(31))
            .min(self.max);
        if !self.jitter {
            return full;
        }
        let half = full / 2;
        half + half.mul_f64(random_unit())
    }
}

impl Default for Backoff {
    /// 250 ms doubling to 30 s, with jitter.
    fn default() -> Backoff {
        Backoff::exponential(Duration::from_millis(250), Duration::from_secs(30)).jitter()
    }
}

/// A number in [0, 1), from the standard library's randomly seeded hasher (no extra crate for a
/// jitter that needs no quality).
fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_min_to_max_without_overflow() {
        let b = Backoff::exponential(Duration::from_millis(10), Duration::from_secs(1));
        let delays: Vec<u128> = (1..=9).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        assert_eq!(
            b.delay(0),
            Duration::from_millis(10),
            "attempt 0 waits as attempt 1"
        );
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(1));
        // A max below min is raised to it.
        let flat = Backoff::exponential(Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!(flat.delay(5), Duration::from_secs(2));
    }

    #[test]
    fn jitter_stays_between_half_and_all_and_varies() {
        let b = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(10)).jitter();
        let delays: Vec<Duration> = (0..200).map(|_| b.delay(4)).collect();
        assert!(delays
            .iter()
            .all(|d| *d >= Duration::from_millis(400) && *d <= Duration::from_millis(800)));
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(
            distinct.len() > 20,
            "jitter spreads: {} distinct",
            distinct.len()
        );
        assert!(random_unit() < 1.0);
    }
}
