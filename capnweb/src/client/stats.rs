//! [`ClientStats`]: what a [`Client`](super::Client) did, overall and per endpoint, and where
//! it stands now. A snapshot takes a few short locks and never waits on the network.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use super::histogram::Histogram;
use super::resilient::ConnectionState;
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
    /// Where the client stands now (as [`Client::connection_state`](super::Client::connection_state)).
    pub state: ConnectionState,
    /// Sessions open now, over every endpoint.
    pub sessions: usize,
    /// Sessions the client keeps when all is well (its pool size).
    pub pool_size: usize,
}

/// Counters of one endpoint, and where it stands now.
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
    /// Until when its breaker stays open (then one trial connection is made), if it is open.
    pub breaker_open_until: Option<Instant>,
    /// Where it stands now.
    pub state: EndpointState,
    /// Sessions open to it now.
    pub sessions: usize,
    /// The last error seen on it: a failed connection attempt, or a session of it that ended
    /// (a lost connection, a keepalive that went unanswered). Kept after it recovers; compare
    /// its time with the last connect's.
    pub last_error: Option<LastError>,
    /// The smoothed latency of the units of work that succeeded on its sessions: an
    /// exponentially weighted mean, each new unit weighing 1/8 (as TCP's smoothed round-trip
    /// time), of the time from the unit getting the session to its result. Waiting for a
    /// session and failed attempts are not in it. `None` before the first.
    pub latency: Option<Duration>,
}

/// Where one endpoint stands, in [`EndpointStats::state`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointState {
    /// At least one session to it is open.
    Connected,
    /// No session to it, and nothing against it: a fallback not in use, or not tried yet.
    #[default]
    Idle,
    /// No session to it, and its last connection attempts failed (not yet enough to open its
    /// breaker).
    Failing,
    /// Its breaker is open: it is not tried until
    /// [`breaker_open_until`](EndpointStats::breaker_open_until).
    Open,
}

/// An error seen on an endpoint, in [`EndpointStats::last_error`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LastError {
    /// What happened, as the error displays.
    pub message: String,
    /// When (wall clock, for a health page).
    pub at: SystemTime,
    /// When (monotonic, to compare with [`Instant::now`]).
    pub instant: Instant,
}

/// What the client knows of an endpoint only at the moment of a snapshot.
pub(crate) struct EndpointNow {
    pub(crate) open_until: Option<Instant>,
    pub(crate) failing: bool,
    pub(crate) sessions: usize,
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
    pub(crate) fn new(urls: &[String], pool_size: usize) -> Recorder {
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
                    pool_size,
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

    /// Something went wrong on `endpoint`.
    pub(crate) fn error(&self, endpoint: usize, error: &dyn std::fmt::Display) {
        let last = LastError {
            message: error.to_string(),
            at: SystemTime::now(),
            instant: Instant::now(),
        };
        self.with(|c| c.stats.endpoints[endpoint].last_error = Some(last));
    }

    /// A unit of work succeeded on a session of `endpoint` in `latency`.
    pub(crate) fn succeeded_on(&self, endpoint: usize, latency: Duration) {
        self.with(|c| {
            let mean = &mut c.stats.endpoints[endpoint].latency;
            *mean = Some(match *mean {
                Some(old) => old.mul_f64(7.0 / 8.0) + latency.mul_f64(1.0 / 8.0),
                None => latency,
            });
        });
    }

    pub(crate) fn snapshot(&self, state: ConnectionState, now: &[EndpointNow]) -> ClientStats {
        self.with(|c| {
            let mut stats = c.stats.clone();
            for (e, now) in stats.endpoints.iter_mut().zip(now) {
                e.breaker_open = now.open_until.is_some();
                e.breaker_open_until = now.open_until;
                e.sessions = now.sessions;
                e.state = if now.sessions > 0 {
                    EndpointState::Connected
                } else if now.open_until.is_some() {
                    EndpointState::Open
                } else if now.failing {
                    EndpointState::Failing
                } else {
                    EndpointState::Idle
                };
            }
            stats.state = state;
            stats.sessions = now.iter().map(|e| e.sessions).sum();
            stats.latency_p50 = c.latencies.quantile(0.5);
            stats.latency_p99 = c.latencies.quantile(0.99);
            stats
        })
    }
}
