//! The resilient client against real faults: servers that drop every session at once, black
//! holes, sessions killed mid-call; what ran is counted on the server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use capnweb::client::CircuitBreaker;
use capnweb::{Client, RpcError, RpcSession, Server, SessionOptions, Stub, Value};
use tokio::net::TcpListener;

/// A server that accepts every WebSocket upgrade and closes it at once; counts the accepts.
async fn dropping_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                    count.fetch_add(1, Ordering::SeqCst);
                    drop(ws);
                }
            });
        }
    });
    (url, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_that_die_at_once_are_backed_off_and_trip_the_breaker() {
    let (url, accepted) = dropping_server().await;
    let client = Client::<Stub>::builder()
        .endpoint(url)
        .circuit_breaker(CircuitBreaker::new().failure_threshold(3))
        .build();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let n = accepted.load(Ordering::SeqCst);
    let stats = client.stats();
    client.close();
    eprintln!("sessions opened in 2 s against a server that drops them all: {n}");
    assert!(
        n <= 20,
        "{n} sessions opened in 2 s against a server that drops them all"
    );
    assert!(
        stats.breaker_trips >= 1,
        "the breaker never tripped: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_covers_the_whole_unit_of_work() {
    // A black hole: accepts TCP, never answers.
    let hole = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", hole.local_addr().unwrap());
    let client = Client::<Stub>::builder()
        .endpoint(url)
        .call_timeout(Duration::from_millis(400))
        .build();
    let start = Instant::now();
    let result = client
        .run(|main| async move { main.call("", vec![]).resolve().await })
        .await;
    let took = start.elapsed();
    eprintln!("a 400 ms unit against a black hole took {took:?}");
    assert!(
        matches!(result, Err(RpcError::Timeout { .. })),
        "{result:?}"
    );
    assert!(
        took < Duration::from_millis(550),
        "a 400 ms unit took {took:?}"
    );
    drop(hole);

    // Against a server whose sessions die at once, retries and backoff stay inside it too.
    let (url, _) = dropping_server().await;
    let client = Client::<Stub>::builder()
        .endpoint(url)
        .call_timeout(Duration::from_millis(400))
        .build();
    let start = Instant::now();
    let _ = client
        .run(|main| async move { main.call("", vec![]).resolve().await })
        .await;
    eprintln!(
        "a 400 ms unit against dying sessions took {:?}",
        start.elapsed()
    );
    assert!(
        start.elapsed() < Duration::from_millis(550),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_from_a_spawned_task_are_never_repeated() {
    let ran = Arc::new(AtomicUsize::new(0));
    let count = ran.clone();
    let factory = move || {
        let count = count.clone();
        Stub::from_fn(move |_args: Vec<Value>| {
            count.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                Ok::<_, RpcError>(Value::from(1))
            }
        })
    };
    let (addr, serve) = Server::bind("127.0.0.1:0").listen(factory).await.unwrap();
    tokio::spawn(serve);
    let client = Client::<Stub>::builder()
        .endpoint(format!("ws://{addr}/"))
        .connect()
        .await
        .unwrap();
    for round in 1..=5 {
        // Wait for the new session after the last one was killed.
        client.main().await.unwrap();
        let sessions = client.sessions();
        let killer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            for s in sessions {
                s.abort(RpcError::Disconnected {
                    reason: "killed by the test".into(),
                    maybe_delivered: true,
                });
            }
        });
        let result = client
            .run(|main| async move {
                // The call is made from a task of its own: no task-local sees it.
                let call = tokio::spawn(async move { main.call("", vec![]).resolve().await });
                call.await.unwrap()
            })
            .await;
        killer.await.unwrap();
        assert!(
            matches!(
                result,
                Err(RpcError::Disconnected {
                    maybe_delivered: true,
                    ..
                })
            ),
            "{result:?}"
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            ran.load(Ordering::SeqCst),
            round,
            "a delivered call was run again"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_never_left_is_reported_as_not_delivered() {
    let (addr, serve) = Server::bind("127.0.0.1:0")
        .max_batch_calls(0)
        .listen(|| Stub::from_fn(|_: Vec<Value>| async { Ok::<_, RpcError>(Value::Null) }))
        .await
        .unwrap();
    tokio::spawn(serve);
    // A batch the server refuses (413) ran nothing.
    let batch = capnweb::HttpBatch::<Stub>::new(&format!("http://{addr}/"));
    let refused = batch.main().call("", vec![]).resolve().await;
    assert!(
        matches!(
            refused,
            Err(RpcError::Disconnected {
                maybe_delivered: false,
                ..
            })
        ),
        "{refused:?}"
    );
    // A call made after its session ended never left.
    let session = capnweb::connect_with(&format!("ws://{addr}/"), None, SessionOptions::default())
        .await
        .unwrap();
    session.abort(RpcError::error("done"));
    let late = RpcSession::main(&session).call("", vec![]).resolve().await;
    assert!(
        matches!(
            late,
            Err(RpcError::Disconnected {
                maybe_delivered: false,
                ..
            })
        ),
        "{late:?}"
    );
}

#[tokio::test]
async fn a_failed_connection_keeps_its_cause() {
    // A port nothing listens on.
    let free = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", free.local_addr().unwrap());
    drop(free);
    let Err(e) = capnweb::transport::websocket::connect(&url, 1 << 20).await else {
        panic!("connected to a closed port")
    };
    let cause = std::error::Error::source(&e).expect("the cause is kept");
    assert!(!cause.to_string().is_empty(), "{e}: {cause}");
}
