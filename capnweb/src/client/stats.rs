//! [`ClientStats`]: what a [`Client`](super::Client) did, overall and per endpoint.

use std::sync::Mutex;
use std::time::Duration;

use super::histogram::Histogram;
use crate::session::metrics_facade as facade;

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
    /// Median latency of the units of work (within 9%: they are counted in logarithmic
    /// buckets).
    pub latency_p50: Option<Duration>,
    /// 99th-percentile latency of the units of work (within 9%).
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
    latencies: Histogram,
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
                latencies: Histogram::default(),
            }),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Counts) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn call(&self, latency: Duration, ok: bool) {
        facade::client_call(ok, latency);
        self.with(|c| {
            c.stats.calls += 1;
            if !ok {
                c.stats.errors += 1;
            }
            c.latencies.record(latency);
        });
    }

    pub(crate) fn retry(&self) {
        facade::client_retry();
        self.with(|c| c.stats.retries += 1);
    }

    pub(crate) fn connected(&self, endpoint: usize, first: bool) {
        self.with(|c| {
            if !first {
                facade::client_reconnect();
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
                facade::client_breaker_trip();
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
            stats.latency_p50 = c.latencies.quantile(0.5);
            stats.latency_p99 = c.latencies.quantile(0.99);
            stats
        })
    }
}
