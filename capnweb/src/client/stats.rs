//! [`ClientStats`]: what a [`Client`](super::Client) did, overall and per endpoint.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// How many recent latencies the percentiles are computed over.
const LATENCY_WINDOW: usize = 1024;

/// Counters of a client, read with [`Client::stats`](super::Client::stats).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ClientStats {
    /// Units of work run ([`Client::run`](super::Client::run)).
    pub calls: u64,
    /// Of those, how many ended in an error.
    pub errors: u64,
    /// Times a unit of work was run again on a new session.
    pub retries: u64,
    /// Sessions opened after the first.
    pub reconnects: u64,
    /// Times a circuit breaker opened.
    pub breaker_trips: u64,
    /// Median latency of recent units of work.
    pub latency_p50: Option<Duration>,
    /// 99th-percentile latency of recent units of work.
    pub latency_p99: Option<Duration>,
    /// Per endpoint, in the order they were given.
    pub endpoints: Vec<EndpointStats>,
}

/// Counters of one endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointStats {
    /// Its URL.
    pub url: String,
    /// Sessions opened to it.
    pub connects: u64,
    /// Connection-level failures.
    pub failures: u64,
    /// Times its breaker opened.
    pub breaker_trips: u64,
    /// Whether its breaker is open now.
    pub breaker_open: bool,
}

#[derive(Default)]
pub(crate) struct Recorder {
    inner: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    stats: ClientStats,
    latencies: VecDeque<Duration>,
}

impl Recorder {
    pub(crate) fn new(urls: &[String]) -> Recorder {
        let endpoints = urls
            .iter()
            .map(|url| EndpointStats {
                url: url.clone(),
                ..EndpointStats::default()
            })
            .collect();
        Recorder {
            inner: Mutex::new(Counts {
                stats: ClientStats {
                    endpoints,
                    ..ClientStats::default()
                },
                latencies: VecDeque::new(),
            }),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Counts) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn call(&self, latency: Duration, ok: bool) {
        self.with(|c| {
            c.stats.calls += 1;
            if !ok {
                c.stats.errors += 1;
            }
            if c.latencies.len() == LATENCY_WINDOW {
                c.latencies.pop_front();
            }
            c.latencies.push_back(latency);
        });
    }

    pub(crate) fn retry(&self) {
        self.with(|c| c.stats.retries += 1);
    }

    pub(crate) fn connected(&self, endpoint: usize, first: bool) {
        self.with(|c| {
            if !first {
                c.stats.reconnects += 1;
            }
            c.stats.endpoints[endpoint].connects += 1;
        });
    }

    pub(crate) fn failed(&self, endpoint: usize, tripped: bool) {
        self.with(|c| {
            let e = &mut c.stats.endpoints[endpoint];
            e.failures += 1;
            if tripped {
                e.breaker_trips += 1;
                c.stats.breaker_trips += 1;
            }
        });
    }

    pub(crate) fn snapshot(&self, open: impl Fn(usize) -> bool) -> ClientStats {
        self.with(|c| {
            let mut stats = c.stats.clone();
            for (i, e) in stats.endpoints.iter_mut().enumerate() {
                e.breaker_open = open(i);
            }
            let mut sorted: Vec<Duration> = c.latencies.iter().copied().collect();
            sorted.sort();
            let at = |q: f64| {
                let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
                sorted.get(i).copied()
            };
            stats.latency_p50 = at(0.5);
            stats.latency_p99 = at(0.99);
            stats
        })
    }
}
