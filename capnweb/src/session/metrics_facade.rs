//! The `metrics` crate's facade (feature `metrics`): what sessions and clients count, under the
//! names below, for whichever recorder the application installed (Prometheus, StatsD, ...).
//! Without the feature every function here is empty.
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `capnweb_sessions_opened_total` | counter | `side` (`server`, `client`) | sessions started |
//! | `capnweb_sessions_active` | gauge | `side` | sessions running |
//! | `capnweb_messages_received_total`, `capnweb_messages_sent_total` | counter | | protocol messages |
//! | `capnweb_bytes_received_total`, `capnweb_bytes_sent_total` | counter | | their bytes |
//! | `capnweb_calls_total` | counter | `rpc_method`, `outcome` (`ok`, `error`) | calls the peer made, answered |
//! | `capnweb_call_duration_seconds` | histogram | `rpc_method` | from a call's arrival to its answer |
//! | `capnweb_limit_hits_total` | counter | `limit` | sessions aborted for going over a limit |
//! | `capnweb_client_calls_total` | counter | `outcome` | units of work a `Client` ran |
//! | `capnweb_client_call_duration_seconds` | histogram | | their latency, retries included |
//! | `capnweb_client_reconnects_total` | counter | | sessions a `Client` opened after its first |
//! | `capnweb_client_retries_total` | counter | | units of work run again |
//! | `capnweb_client_breaker_trips_total` | counter | | circuit breakers opened |
//!
//! `rpc_method` comes from the peer: past 256 distinct names, or for a name over 64 bytes, it is
//! `other`, so that a peer calling made-up names cannot grow the recorder without bound. Each method's handles are
//! registered with the recorder when it is first called: install the recorder at startup.

// The `client_*` counters are counted only by the `client` feature's `Client`.
#![cfg_attr(not(feature = "client"), allow(dead_code))]

use std::time::Duration;

/// The `side` label of a session.
fn side(accepted: bool) -> &'static str {
    if accepted {
        "server"
    } else {
        "client"
    }
}

#[cfg(feature = "metrics")]
mod on {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    use std::time::Duration;

    /// Method names seen as labels, bounded (see the module's documentation).
    const MAX_METHODS: usize = 256;
    /// Longer names (a peer's invention: no interface has them) are counted as `other`.
    const MAX_METHOD_LEN: usize = 64;

    /// The handles of one method's call metrics, registered once (so a call costs no
    /// allocation). Registered with the recorder installed when the method is first called:
    /// install it at startup.
    struct Handles {
        ok: metrics::Counter,
        failed: metrics::Counter,
        duration: metrics::Histogram,
    }

    impl Handles {
        fn new(method: &metrics::SharedString) -> Handles {
            let calls = |outcome: &'static str| metrics::counter!("capnweb_calls_total", "rpc_method" => method.clone(), "outcome" => outcome);
            Handles {
                ok: calls("ok"),
                failed: calls("error"),
                duration: metrics::histogram!("capnweb_call_duration_seconds", "rpc_method" => method.clone()),
            }
        }
    }

    /// Runs `f` with the handles of `method` (or of `other`, past the bound).
    fn with_method<T>(method: &str, f: impl FnOnce(&Handles) -> T) -> T {
        static SEEN: OnceLock<Mutex<HashMap<Arc<str>, Handles>>> = OnceLock::new();
        static OTHER: OnceLock<Handles> = OnceLock::new();
        let mut seen = SEEN
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(handles) = seen.get(method) {
            return f(handles);
        }
        if seen.len() >= MAX_METHODS || method.len() > MAX_METHOD_LEN {
            drop(seen);
            return f(
                OTHER.get_or_init(|| Handles::new(&metrics::SharedString::const_str("other")))
            );
        }
        let name: Arc<str> = Arc::from(method);
        let handles = Handles::new(&metrics::SharedString::from(name.clone()));
        f(seen.entry(name).or_insert(handles))
    }

    pub(crate) fn call_done(method: &str, ok: bool, took: Duration) {
        with_method(method, |h| {
            match ok {
                true => h.ok.increment(1),
                false => h.failed.increment(1),
            }
            h.duration.record(took.as_secs_f64());
        });
    }

    pub(crate) fn session_opened(side: &'static str) {
        metrics::counter!("capnweb_sessions_opened_total", "side" => side).increment(1);
        metrics::gauge!("capnweb_sessions_active", "side" => side).increment(1.0);
    }

    pub(crate) fn session_closed(side: &'static str) {
        metrics::gauge!("capnweb_sessions_active", "side" => side).decrement(1.0);
    }

    pub(crate) fn received(bytes: usize) {
        metrics::counter!("capnweb_messages_received_total").increment(1);
        metrics::counter!("capnweb_bytes_received_total").increment(bytes as u64);
    }

    pub(crate) fn sent(bytes: usize) {
        metrics::counter!("capnweb_messages_sent_total").increment(1);
        metrics::counter!("capnweb_bytes_sent_total").increment(bytes as u64);
    }

    pub(crate) fn limit_hit(limit: &'static str) {
        metrics::counter!("capnweb_limit_hits_total", "limit" => limit).increment(1);
    }

    pub(crate) fn client_call(ok: bool, took: Duration) {
        let outcome = if ok { "ok" } else { "error" };
        metrics::counter!("capnweb_client_calls_total", "outcome" => outcome).increment(1);
        metrics::histogram!("capnweb_client_call_duration_seconds").record(took.as_secs_f64());
    }

    pub(crate) fn client_reconnect() {
        metrics::counter!("capnweb_client_reconnects_total").increment(1);
    }

    pub(crate) fn client_retry() {
        metrics::counter!("capnweb_client_retries_total").increment(1);
    }

    pub(crate) fn client_breaker_trip() {
        metrics::counter!("capnweb_client_breaker_trips_total").increment(1);
    }
}

/// Whether calls are measured (the feature is on): only then is a call's method looked up.
pub(crate) const MEASURING: bool = cfg!(feature = "metrics");

macro_rules! forward {
    ($( $(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*); )*) => {$(
        $(#[$doc])*
        #[allow(unused_variables)]
        #[inline]
        pub(crate) fn $name($($arg: $ty),*) {
            #[cfg(feature = "metrics")]
            on::$name($($arg),*);
        }
    )*};
}

forward! {
    /// Counts a call the peer made, answered.
    fn call_done(method: &str, ok: bool, took: Duration);
    /// Counts a session aborted for going over `limit`.
    fn limit_hit(limit: &'static str);
    /// Counts a message received.
    fn received(bytes: usize);
    /// Counts a message sent.
    fn sent(bytes: usize);
    /// Counts a unit of work a `Client` ran.
    fn client_call(ok: bool, took: Duration);
    /// Counts a `Client`'s new session after its first.
    fn client_reconnect();
    /// Counts a unit of work run again.
    fn client_retry();
    /// Counts a circuit breaker opening.
    fn client_breaker_trip();
}

/// Counts a session started.
pub(crate) fn session_opened(accepted: bool) {
    #[cfg(feature = "metrics")]
    on::session_opened(side(accepted));
    let _ = side(accepted);
}

/// Counts a session ended.
pub(crate) fn session_closed(accepted: bool) {
    #[cfg(feature = "metrics")]
    on::session_closed(side(accepted));
    let _ = side(accepted);
}
