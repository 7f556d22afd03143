//! [`Histogram`]: latencies in logarithmic buckets, for percentiles over every call in constant
//! memory (each bucket is 9% wider than the one before, so a percentile is off by at most that).

use std::time::Duration;

/// Buckets per doubling of the latency.
const PER_DOUBLING: f64 = 8.0;
/// From 1 µs to 2^40 µs (about 12 days): beyond, the last bucket.
const BUCKETS: usize = 40 * PER_DOUBLING as usize + 1;

/// Counts of latencies by bucket.
#[derive(Clone, Debug)]
pub(crate) struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
        }
    }
}

impl Histogram {
    pub(crate) fn record(&mut self, latency: Duration) {
        let micros = latency.as_micros().max(1) as f64;
        let bucket = (micros.log2() * PER_DOUBLING).ceil() as usize;
        self.counts[bucket.min(BUCKETS - 1)] += 1;
        self.total += 1;
    }

    /// The latency below which a fraction `q` of the recorded ones lie (the upper bound of its
    /// bucket); `None` before any.
    pub(crate) fn quantile(&self, q: f64) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        let rank = ((self.total as f64 * q).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (bucket, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let micros = (bucket as f64 / PER_DOUBLING).exp2();
                return Some(Duration::from_micros(micros.round() as u64));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_a_bucket_of_the_truth() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile(0.5), None);
        // 1 ms .. 1000 ms, evenly.
        for ms in 1..=1000 {
            h.record(Duration::from_millis(ms));
        }
        for (q, truth) in [(0.5, 500.0), (0.99, 990.0), (0.01, 10.0)] {
            let got = h.quantile(q).unwrap().as_secs_f64() * 1000.0;
            assert!(
                got >= truth && got <= truth * 1.1,
                "q{q}: {got} ms for {truth} ms"
            );
        }
        // Extremes land in the end buckets.
        h.record(Duration::ZERO);
        h.record(Duration::from_secs(100 * 24 * 3600));
        assert!(h.quantile(1.0).is_some());
    }
}
