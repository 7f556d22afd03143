//! Count what lives: every session, whatever its peer sent, frees everything when it ends.
//!
//! Real sockets against a real server, hostile message sequences, then the process-wide count
//! of live sessions must return to where it started. One test per binary: the count is global.

use std::time::Duration;

use capnweb::session::live_sessions;
use capnweb::transport::in_process;
use capnweb::{RpcSession, Server, SessionOptions, Stub, Value};
use capnweb_examples::interop::test_target;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Sequences a hostile (or merely odd) peer may send, each ending its session afterwards.
const HOSTILE: &[&[&str]] = &[
    // A resolve of an id the peer does not own, carrying a reference (the leaks first found).
    &[r#"["resolve",0,["promise",5]]"#],
    &[r#"["resolve",-3,["writable",-3]]"#],
    &[r#"["resolve",-3,["import",-3]]"#],
    &[r#"["resolve",7,{"a":[["promise",7],["export",-1]]}]"#],
    &[
        r#"["reject",4,["error","Error","x"]]"#,
        r#"["resolve",4,["promise",4]]"#,
    ],
    &[
        r#"["resolve",0,["export",-1]]"#,
        r#"["resolve",-1,["import",0]]"#,
    ],
    // Calls whose arguments wait on promises that never settle, then the peer goes.
    &[
        r#"["push",["pipeline",0,["echo"],[["promise",9]]]]"#,
        r#"["pull",1]"#,
    ],
    &[
        r#"["push",["pipeline",0,["echo"],[["export",-1]]]]"#,
        r#"["pull",1]"#,
        r#"["resolve",-1,["export",-1]]"#,
    ],
    // Capabilities passed back and forth.
    &[
        r#"["push",["pipeline",0,["makeCounter"],[1]]]"#,
        r#"["push",["pipeline",0,["echo"],[["pipeline",1]]]]"#,
        r#"["pull",2]"#,
        r#"["push",["pipeline",0,["callSquare"],[["import",0],3]]]"#,
        r#"["pull",3]"#,
    ],
    // Pipes and streams, half used.
    &[
        r#"["pipe"]"#,
        r#"["push",["pipeline",0,["readStream"],[["readable",1]]]]"#,
        r#"["pull",2]"#,
    ],
    &[
        r#"["push",["pipeline",0,["writeTo"],[["writable",-5],3]]]"#,
        r#"["pull",1]"#,
    ],
    &[r#"["stream",["pipeline",0,["echo"],[["promise",3]]]]"#],
    // map() over something that never settles, and over a local capability.
    &[
        r#"["push",["remap",0,["generateFibonacci"],[["import",0]],[["pipeline",-1,["square"],[["pipeline",0]]]]]]"#,
        r#"["pull",1]"#,
    ],
    // An abort, and messages after it in the same burst.
    &[
        r#"["abort",["error","Error","bye"]]"#,
        r#"["resolve",0,["promise",5]]"#,
        r#"["push",["pipeline",0,["echo"],[["promise",6]]]]"#,
    ],
    // Found by the session fuzzer: an import resolved to itself, then sent on (a stack
    // overflow); a peer naming an import id not allocated yet (a refcount underflow); an import
    // resolved to a writable on itself, then sent on (answers looping without end).
    &[
        r#"["resolve",0,["export",0]]"#,
        r#"["stream",["export",0]]"#,
        r#"["push",0]"#,
    ],
    &[
        r#"["push",["pipeline",0,["writeTo"],[["writable",4],22]]]"#,
        r#"["abort",0]"#,
    ],
    &[
        r#"["stream",{"a":["promise",-4],"result":["promise",-4]}]"#,
        r#"["stream",["promise",-4]]"#,
        r#"["resolve",-4,["writable",-4]]"#,
        r#"["push",["pipeline",0,["makeCounter"],["s"]]]"#,
    ],
    // A rejection whose error holds a stub on the session (found by the fuzzer as a deadlock:
    // the error was dropped under the session's lock when its import went).
    &[r#"["reject",1,["error","Error","m","",{"x":["export",-1]}]]"#],
    &[
        r#"["push",["pipeline",0,["echo"],[["promise",-2]]]]"#,
        r#"["reject",-2,["error","Error","m","",{"x":["export",-3]}]]"#,
        r#"["pull",1]"#,
        r#"["release",1,1]"#,
    ],
    // A call whose argument is rejected with a value holding the call itself (and one of the
    // peer's stubs): the call's error holds the call, a cycle of promises (found by the
    // fuzzer under LeakSanitizer).
    &[r#"["reject",-2,[[["pipeline",0,["echo"],[["promise",-2]]],["export",-3]]]]"#],
    // More calls than `max_in_flight` (4 here) waiting on promises the peer never settles,
    // then it goes: the session must still be reading to see it go.
    &[
        r#"["push",["pipeline",0,["echo"],[["promise",-4]]]]"#,
        r#"["push",["pipeline",0,["echo"],[["promise",-5]]]]"#,
        r#"["push",["pipeline",0,["echo"],[["promise",-6]]]]"#,
        r#"["push",["pipeline",0,["echo"],[["promise",-7]]]]"#,
        r#"["push",["pipeline",0,["echo"],[["promise",-8]]]]"#,
        r#"["push",["pipeline",0,["echo"],[["promise",-9]]]]"#,
    ],
    // The same through a local call that waits on the peer's promise: streams on it wait too.
    &[
        r#"["push",["pipeline",0,["makeCounter"],[["promise",-4]]]]"#,
        r#"["stream",["import",1]]"#,
        r#"["stream",["import",1]]"#,
        r#"["stream",["import",1]]"#,
        r#"["stream",["import",1]]"#,
        r#"["stream",["import",1]]"#,
        r#"["stream",["import",1]]"#,
    ],
    // Promises forwarding to one another without end (found by the fuzzer as a stack overflow,
    // which took the whole process down).
    &[
        r#"["push",["promise",-3]]"#,
        r#"["push",[[null,{"a":[[["writable",0]]],"result":{"a":{"a":{"a":25,"result":30},"result":["import",0]},"result":["import",1]}}]]]"#,
        r#"["stream",["import",1]]"#,
        r#"["stream",{"a":233,"result":"s"}]"#,
        r#"["stream",["import",0]]"#,
        r#"["push",[[]]]"#,
        r#"["pull",1]"#,
        r#"["reject",1,["import",1]]"#,
        r#"["stream",["import",1]]"#,
    ],
    // A client's import resolved to a promise whose value holds the import: sending it on
    // exported a new promise each time, without end (found by the fuzzer as a spin).
    &[
        r#"["stream",["promise",2]]"#,
        r#"["push",{"a":null,"result":["export",2]}]"#,
        r#"["pipe"]"#,
        r#"["stream",["date",1]]"#,
        r#"["stream",["bigint","12"]]"#,
        r#"["stream",["pipeline",2,[]]]"#,
        r#"["resolve",2,["pipeline",2,[]]]"#,
        r#"["stream",["pipeline",2,["readStream"]]]"#,
        r#"["stream",["pipeline",2,[]]]"#,
        r#"["stream",["pipeline",2,[]]]"#,
        r#"["reject",1,{"a":{"a":["bigint","12"],"result":["promise",-4]},"result":0}]"#,
    ],
    // Garbage: the session aborts.
    &[r#"["resolve",0,["promise",5]]"#, "not json"],
];

async fn wait_for_count(expected: usize) -> usize {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n = live_sessions();
        if n == expected || tokio::time::Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_free_everything_they_hold_whatever_the_peer_sent() {
    // A deadlock would hang the test (and CI) instead of failing it.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watched = done.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(120));
        if !watched.load(std::sync::atomic::Ordering::SeqCst) {
            eprintln!("the leak test hung for 120 s (a deadlock?)");
            std::process::abort();
        }
    });
    let before = live_sessions();

    // A real server, real WebSocket peers sending each sequence, many times over.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = Server::bind("127.0.0.1:0")
        .options(SessionOptions::default().max_in_flight(4))
        .shutdown_on(async {
            let _ = stopped.await;
        });
    let (addr, serve) = server.listen(test_target).await.unwrap();
    let task = tokio::spawn(serve);
    let url = format!("ws://{addr}/");
    let rounds = 20;
    for _ in 0..rounds {
        for seq in HOSTILE {
            let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
                .await
                .unwrap();
            for msg in *seq {
                // The server may already have aborted (and closed) on an earlier message.
                if ws.send(WsMessage::text(*msg)).await.is_err() {
                    break;
                }
            }
            // Let the server handle them (and answer what it can) before the peer goes.
            let _ = tokio::time::timeout(Duration::from_millis(5), ws.next()).await;
            drop(ws);
        }
    }
    // The same sequences as HTTP batches.
    let http = reqwest::Client::new();
    for _ in 0..rounds {
        for seq in HOSTILE {
            let body = seq.join("\n");
            let sent = http
                .post(format!("http://{addr}/"))
                .body(body)
                .timeout(Duration::from_secs(10));
            // Every batch is answered: nothing the peer can no longer send is waited for.
            let answer = sent
                .send()
                .await
                .unwrap_or_else(|e| panic!("batch {seq:?}: {e}"));
            assert!(
                answer.status().is_success(),
                "batch {seq:?}: {}",
                answer.status()
            );
        }
    }
    let after = wait_for_count(before).await;
    assert_eq!(
        after,
        before,
        "server sessions still alive after {} hostile peers ended",
        rounds * HOSTILE.len() * 2
    );

    // A client session (no main object of its own, or a callback) given the same sequences by
    // a scripted server.
    for seq in HOSTILE {
        for local_main in [None, Some(test_target())] {
            let (ours, mut theirs) = in_process::pair();
            let session = RpcSession::spawn(ours, local_main, SessionOptions::default());
            let pending = session.main().call("echo", vec![Value::from(1)]);
            let promise = session.main().call("makeCounter", vec![Value::from(1)]);
            for msg in *seq {
                if theirs.send(msg.to_string()).await.is_err() {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
            drop(theirs);
            let _ = tokio::time::timeout(Duration::from_secs(1), pending.resolve()).await;
            // Every handle goes (a handle keeps its session's state, even once it has ended).
            drop((pending, promise, session));
            let after = wait_for_count(before).await;
            assert_eq!(
                after, before,
                "a client session outlived its peer after {seq:?}"
            );
        }
    }

    // Still serving a well-behaved client.
    let main: Stub = capnweb::connect(&url).await.unwrap();
    let nine = main.call("square", vec![Value::from(3)]).resolve().await;
    assert_eq!(nine.unwrap().as_f64(), Some(9.0));
    drop(main);
    let _ = stop.send(());
    task.await.unwrap().unwrap();
    assert_eq!(wait_for_count(before).await, before);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
}
