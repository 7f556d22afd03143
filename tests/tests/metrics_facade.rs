//! The `metrics` facade (feature `metrics`): what sessions, calls, limits and clients count,
//! read back from a recorder. In its own test binary: the recorder is the process's.

use std::time::Duration;

use capnweb::client::{Backoff, CircuitBreaker};
use capnweb::{Client, Limits, RpcError, Server, SessionOptions};
use capnweb_examples::interop::{test_target, TestTargetClient};
use metrics::Unit;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::CompositeKey;

/// One reading of every metric (reading clears the counters, so it is taken once).
type Snapshot = Vec<(
    CompositeKey,
    Option<Unit>,
    Option<metrics::SharedString>,
    DebugValue,
)>;
use metrics_util::MetricKind;

/// The value of metric `name` with these labels (all of its labels, in any order).
fn value<'a>(
    snapshot: &'a Snapshot,
    name: &str,
    labels: &[(&str, &str)],
) -> Option<&'a DebugValue> {
    snapshot.iter().find_map(|(key, _, _, value)| {
        let k = key.key();
        let mut have: Vec<(String, String)> = k
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        let mut want: Vec<(String, String)> = labels
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        have.sort();
        want.sort();
        (k.name() == name && have == want).then_some(value)
    })
}

fn counter(s: &Snapshot, name: &str, labels: &[(&str, &str)]) -> u64 {
    match value(s, name, labels) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!("{name} {labels:?}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_calls_bytes_limits_and_clients_are_counted_through_the_facade() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this process");

    let options = SessionOptions::default().limits(Limits {
        max_message_size: 4096,
        ..Limits::default()
    });
    let (addr, run) = Server::bind("127.0.0.1:0")
        .options(options)
        .listen(test_target)
        .await
        .unwrap();
    tokio::spawn(run);
    let url = format!("ws://{addr}/");
    let main: TestTargetClient = capnweb::connect(&url).await.unwrap();
    for i in 0..3 {
        assert_eq!(main.square(i).await.unwrap(), f64::from(i * i));
    }
    assert!(main.throw_error().await.is_err());
    // Over the server's message size: that session aborts, counted as a limit hit.
    let big = "x".repeat(8192);
    assert!(main.echo(capnweb::Value::from(big)).await.is_err());
    // A resilient client that loses its session reconnects.
    let client = Client::<TestTargetClient>::builder()
        .endpoint(url.clone())
        .backoff(Backoff::exponential(
            Duration::from_millis(10),
            Duration::from_millis(50),
        ))
        .circuit_breaker(CircuitBreaker::new().failure_threshold(100))
        .connect()
        .await
        .unwrap();
    assert_eq!(client.run(|t| t.square(4)).await.unwrap(), 16.0);
    for session in client.sessions() {
        session.abort(RpcError::error("test: drop it"));
    }
    assert_eq!(client.run(|t| t.square(5)).await.unwrap(), 25.0);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let s = &snapshotter.snapshot().into_vec();
    let square = [("rpc_method", "square"), ("outcome", "ok")];
    assert_eq!(counter(s, "capnweb_calls_total", &square), 5);
    let failed = [("rpc_method", "throwError"), ("outcome", "error")];
    assert_eq!(counter(s, "capnweb_calls_total", &failed), 1);
    match value(
        s,
        "capnweb_call_duration_seconds",
        &[("rpc_method", "square")],
    ) {
        Some(DebugValue::Histogram(samples)) => assert_eq!(samples.len(), 5),
        other => panic!("no call durations: {other:?}"),
    }
    assert!(counter(s, "capnweb_sessions_opened_total", &[("side", "server")]) >= 3);
    assert!(counter(s, "capnweb_sessions_opened_total", &[("side", "client")]) >= 3);
    assert!(counter(s, "capnweb_bytes_received_total", &[]) > 0);
    assert!(counter(s, "capnweb_messages_sent_total", &[]) > 0);
    assert_eq!(
        counter(
            s,
            "capnweb_limit_hits_total",
            &[("limit", "max_message_size")]
        ),
        1
    );
    assert_eq!(counter(s, "capnweb_client_reconnects_total", &[]), 1);
    assert_eq!(
        counter(s, "capnweb_client_calls_total", &[("outcome", "ok")]),
        2
    );
    let kinds: Vec<MetricKind> = s.iter().map(|(k, ..)| k.kind()).collect();
    assert!(
        kinds.contains(&MetricKind::Gauge),
        "sessions_active is a gauge"
    );
}
