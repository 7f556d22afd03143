//! The session over the in-process transport: hostile input as raw frames, refcounts and
//! disposal, disconnection.

use std::time::Duration;

use capnweb::transport::in_process::{self, InProcess};
use capnweb::{RpcError, RpcSession, SessionOptions, Stub, Value};
use capnweb_examples::interop::test_target;
use futures_util::{SinkExt, StreamExt};

fn n(x: f64) -> Value {
    Value::from(x)
}

/// A server session for `TestTarget`, and the raw other end of its transport.
fn raw_peer() -> (RpcSession, InProcess) {
    let (a, b) = in_process::pair();
    let session = RpcSession::spawn(a, Some(test_target()), SessionOptions::default());
    (session, b)
}

async fn exchange(peer: &mut InProcess, frames: &[&str], replies: usize) -> Vec<String> {
    for f in frames {
        peer.send((*f).to_owned()).await.unwrap();
    }
    let mut out = Vec::new();
    for _ in 0..replies {
        let msg = tokio::time::timeout(Duration::from_secs(5), peer.next())
            .await
            .expect("a reply");
        out.push(msg.expect("open").expect("ok"));
    }
    out
}

#[tokio::test]
async fn undeclared_names_are_errors_answered_to_the_caller() {
    let (_session, mut peer) = raw_peer();
    let mut id = 0;
    for name in [
        "constructor",
        "toString",
        "__proto__",
        "then",
        "valueOf",
        "hasOwnProperty",
        "nope",
        "",
    ] {
        id += 1;
        let push = format!("[\"push\",[\"pipeline\",0,[\"{name}\"],[]]]");
        let pull = format!("[\"pull\",{id}]");
        let reply = exchange(&mut peer, &[&push, &pull], 1).await;
        assert_eq!(
            reply[0],
            format!("[\"reject\",{id},[\"error\",\"TypeError\",\"'{name}' is not a function.\"]]")
        );
    }
    // Still serving.
    id += 1;
    let reply = exchange(
        &mut peer,
        &[
            "[\"push\",[\"pipeline\",0,[\"square\"],[9]]]",
            &format!("[\"pull\",{id}]"),
        ],
        1,
    )
    .await;
    assert_eq!(reply[0], format!("[\"resolve\",{id},81]"));
}

#[tokio::test]
async fn a_bad_id_aborts_the_session_with_a_reason() {
    for bad in [
        r#"["pull",99]"#,
        r#"["release",0,5]"#,
        r#"["push",["pipeline",42,["square"],[1]]]"#,
        r#"["frob"]"#,
        "{",
    ] {
        let (session, mut peer) = raw_peer();
        let reply = exchange(&mut peer, &[bad], 1).await;
        assert!(
            reply[0].starts_with("[\"abort\",[\"error\","),
            "{bad}: {}",
            reply[0]
        );
        let reason = tokio::time::timeout(Duration::from_secs(5), session.closed())
            .await
            .unwrap();
        assert!(matches!(reason, RpcError::Protocol(_)), "{bad}: {reason:?}");
    }
}

#[tokio::test]
async fn a_wrong_argument_type_is_a_type_error() {
    let (_session, mut peer) = raw_peer();
    let reply = exchange(
        &mut peer,
        &[
            r#"["push",["pipeline",0,["square"],["seven"]]]"#,
            r#"["pull",1]"#,
        ],
        1,
    )
    .await;
    assert!(
        reply[0].starts_with(r#"["reject",1,["error","TypeError","#),
        "{}",
        reply[0]
    );
}

#[tokio::test]
async fn calls_and_disposal_leave_the_tables_where_they_started() {
    let (a, b) = in_process::pair();
    let server = RpcSession::spawn(a, Some(test_target()), SessionOptions::default());
    let client = RpcSession::spawn(b, None, SessionOptions::default());
    let main = client.main();
    let (c0, s0) = (client.stats(), server.stats());
    for round in 0..200 {
        let counter = main.call("makeCounter", vec![n(round as f64)]);
        let v = counter
            .call("increment", vec![n(1.0)])
            .resolve()
            .await
            .unwrap();
        assert_eq!(v.as_f64(), Some(round as f64 + 1.0));
        let r = main.call(
            "callFunction",
            vec![
                Value::Stub(Stub::from_fn(
                    |a: Vec<Value>| async move { Ok(a[0].clone()) },
                )),
                n(2.0),
            ],
        );
        r.resolve().await.unwrap();
    }
    // Releases travel asynchronously: give them a moment.
    for _ in 0..100 {
        if client.stats() == c0 && server.stats() == s0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(client.stats(), c0, "client tables grew");
    assert_eq!(server.stats(), s0, "server tables grew");
}

#[tokio::test]
async fn a_call_in_flight_fails_as_disconnected_when_the_peer_goes_away() {
    let (a, b) = in_process::pair();
    let slow = Stub::from_fn(|_: Vec<Value>| async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(Value::Null)
    });
    let server = RpcSession::spawn(a, Some(slow), SessionOptions::default());
    let client = RpcSession::spawn(b, None, SessionOptions::default());
    let pending = client.main().call("", vec![]);
    let waiter = tokio::spawn(async move { pending.resolve().await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.abort(RpcError::error("going away"));
    let result = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap();
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
    // Calls after the end fail at once, known undelivered.
    let late = client.main().call("x", vec![]).resolve().await;
    assert!(
        matches!(late, Err(RpcError::Disconnected { .. })),
        "{late:?}"
    );
}

#[tokio::test]
async fn a_session_without_main_object_says_so() {
    let (a, b) = in_process::pair();
    let _one = RpcSession::spawn(a, None, SessionOptions::default());
    let two = RpcSession::spawn(b, None, SessionOptions::default());
    let err = two
        .main()
        .call("anything", vec![])
        .resolve()
        .await
        .unwrap_err();
    assert_eq!(err.message(), "This connection has no main object.");
}

#[tokio::test]
async fn capabilities_travel_both_ways_in_process() {
    let (a, b) = in_process::pair();
    let _server = RpcSession::spawn(a, Some(test_target()), SessionOptions::default());
    let client = RpcSession::spawn(b, Some(test_target()), SessionOptions::default());
    let main = client.main();
    let r = main
        .call("callSquare", vec![Value::Stub(test_target()), n(12.0)])
        .resolve()
        .await
        .unwrap();
    assert_eq!(r.get("result").and_then(Value::as_f64), Some(144.0));
    let squares = main
        .call("generateFibonacci", vec![n(5.0)])
        .map(|x| Value::Promise(main.call("square", vec![Value::Promise(x)])))
        .resolve()
        .await
        .unwrap();
    assert_eq!(
        squares,
        Value::from(vec![n(0.0), n(1.0), n(1.0), n(4.0), n(9.0)])
    );
}

#[tokio::test]
async fn a_stream_message_is_answered_without_pull_and_released_by_itself() {
    let (session, mut peer) = raw_peer();
    let before = session.stats();
    let reply = exchange(
        &mut peer,
        &[r#"["stream",["pipeline",0,["square"],[3]]]"#],
        1,
    )
    .await;
    assert_eq!(reply[0], r#"["resolve",1,9]"#);
    // A push after it gets the next id.
    let reply = exchange(
        &mut peer,
        &[r#"["push",["pipeline",0,["square"],[4]]]"#, r#"["pull",2]"#],
        1,
    )
    .await;
    assert_eq!(reply[0], r#"["resolve",2,16]"#);
    exchange(&mut peer, &[r#"["release",2,1]"#], 0).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        session.stats(),
        before,
        "the stream's export was not released"
    );
}

#[tokio::test]
async fn errors_go_without_stacks_unless_a_hook_adds_one() {
    // By default: no stack.
    let (_session, mut peer) = raw_peer();
    let reply = exchange(
        &mut peer,
        &[
            r#"["push",["pipeline",0,["throwError"],[]]]"#,
            r#"["pull",1]"#,
        ],
        1,
    )
    .await;
    assert_eq!(
        reply[0],
        r#"["reject",1,["error","RangeError","test error"]]"#
    );

    // A hook sees each error and may add to it (or log it).
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = seen.clone();
    let options = SessionOptions::default().on_send_error(move |e| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        e.stack = Some(format!("{}: {}\n    at server", e.name, e.message));
    });
    let (a, mut b) = in_process::pair();
    let _session = RpcSession::spawn(a, Some(test_target()), options);
    let reply = exchange(
        &mut b,
        &[
            r#"["push",["pipeline",0,["throwError"],[]]]"#,
            r#"["pull",1]"#,
        ],
        1,
    )
    .await;
    assert_eq!(
        reply[0],
        r#"["reject",1,["error","RangeError","test error","RangeError: test error\n    at server"]]"#
    );
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_method_that_panics_fails_its_call_and_the_batch_is_answered() {
    // `Stub::from_fn` is called as a function (an empty path); the first call panics.
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = calls.clone();
    let main = Stub::from_fn(move |_args| {
        let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            assert!(n > 0, "the first call panics");
            Ok(Value::from(n as f64))
        }
    });
    let body = "[\"push\",[\"pipeline\",0,[],[]]]\n[\"pull\",1]";
    let answer = tokio::time::timeout(
        Duration::from_secs(5),
        capnweb::transport::http_batch::serve_batch(body, main.clone(), SessionOptions::default()),
    )
    .await
    .expect("the batch is answered, not left hanging");
    // As a JavaScript method that throws: the call fails, the session goes on.
    assert_eq!(
        answer,
        r#"["reject",1,["error","Error","the call panicked"]]"#
    );

    // The next batch runs normally.
    let answer =
        capnweb::transport::http_batch::serve_batch(body, main, SessionOptions::default()).await;
    assert_eq!(answer, "[\"resolve\",1,1]");
}

#[tokio::test]
async fn a_method_that_panics_fails_its_call_and_the_session_goes_on() {
    // Below -1 it panics making its future, at -1 inside it.
    let main = Stub::from_fn(|args| {
        let n = match args.first() {
            Some(Value::Number(n)) => n.as_f64(),
            _ => 0.0,
        };
        assert!(n >= -1.0, "far too negative");
        async move {
            assert!(n >= 0.0, "negative");
            Ok(Value::from("fine"))
        }
    });
    let (a, mut b) = in_process::pair();
    let _session = RpcSession::spawn(a, Some(main), SessionOptions::default());
    let reply = exchange(
        &mut b,
        &[
            r#"["push",["pipeline",0,[],[-1]]]"#,
            r#"["pull",1]"#,
            r#"["push",["pipeline",0,[],[-2]]]"#,
            r#"["pull",2]"#,
            r#"["push",["pipeline",0,[],[1]]]"#,
            r#"["pull",3]"#,
        ],
        3,
    )
    .await;
    assert_eq!(
        reply,
        [
            r#"["reject",1,["error","Error","the call panicked"]]"#,
            r#"["reject",2,["error","Error","the call panicked"]]"#,
            r#"["resolve",3,"fine"]"#,
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_holding_a_stub_of_the_session_is_freed_without_deadlock() {
    // Our session, with no main of its own; the peer is scripted.
    let (ours, mut peer) = in_process::pair();
    let session = RpcSession::spawn(ours, None, SessionOptions::default());
    let call = session.main().call("x", vec![]);
    let err = call.resolve();
    // The peer rejects the call with an error whose properties hold a stub it exports.
    let push = peer.next().await.unwrap().unwrap();
    assert!(push.starts_with("[\"push\""), "{push}");
    let reject = r#"["reject",1,["error","Error","m","",{"x":["export",-1]}]]"#;
    peer.send(reject.to_owned()).await.unwrap();
    let err = err.await.unwrap_err();
    assert!(err.to_string().contains('m'), "{err}");
    drop(err);
    // Dropping the call releases the import, and with it the error that holds a stub on the
    // same session: that must not take the session's lock twice.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(call);
        let _ = tx.send(());
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(5)).is_ok(),
        "dropping the call deadlocked"
    );
    // The session goes on: the peer gets the releases.
    let mut released = Vec::new();
    while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_millis(200), peer.next()).await
    {
        released.push(m);
    }
    assert!(
        released.iter().any(|m| m == "[\"release\",-1,1]"),
        "{released:?}"
    );
    assert!(!session.is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_waiting_on_the_peer_do_not_stop_the_session_reading_it() {
    // At most two calls in flight; five wait on promises the peer settles only afterwards.
    let (a, mut peer) = in_process::pair();
    let options = SessionOptions::default().max_in_flight(2);
    let _session = RpcSession::spawn(a, Some(test_target()), options);
    let mut frames = Vec::new();
    for i in 1..=5 {
        frames.push(format!(
            r#"["push",["pipeline",0,["echo"],[["promise",-{i}]]]]"#
        ));
        frames.push(format!(r#"["pull",{i}]"#));
    }
    for i in 1..=5 {
        frames.push(format!(r#"["resolve",-{i},{i}]"#));
    }
    let frames: Vec<&str> = frames.iter().map(String::as_str).collect();
    let mut answers: Vec<String> = exchange(&mut peer, &frames, 10)
        .await
        .into_iter()
        .filter(|m| m.starts_with("[\"resolve\""))
        .collect();
    answers.sort();
    let expected: Vec<String> = (1..=5).map(|i| format!("[\"resolve\",{i},{i}]")).collect();
    assert_eq!(answers, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_beyond_the_queue_abort_the_session_saying_so() {
    let (a, mut peer) = in_process::pair();
    let options = SessionOptions::default().max_in_flight(1).max_queued(3);
    let session = RpcSession::spawn(a, Some(test_target()), options);
    for i in 1..=10 {
        let push = format!(r#"["push",["pipeline",0,["echo"],[["promise",-{i}]]]]"#);
        if peer.send(push).await.is_err() {
            break;
        }
    }
    let reason = tokio::time::timeout(Duration::from_secs(5), session.closed())
        .await
        .expect("the session aborts");
    assert!(
        reason.to_string().contains("calls waiting to run"),
        "{reason}"
    );
    let mut abort = None;
    while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_millis(200), peer.next()).await
    {
        if m.starts_with("[\"abort\"") {
            abort = Some(m);
        }
    }
    let abort = abort.expect("the peer is told why");
    assert!(abort.contains("calls waiting to run"), "{abort}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maps_nested_anywhere_in_a_message_are_bounded() {
    // Maps nested four deep over a 183-element array, in a rejection (not a push's own map):
    // about 10^9 applications unbounded. With a budget per map, the session goes on.
    let (a, mut peer) = in_process::pair();
    let limits = capnweb::wire::Limits {
        max_map_applications: 1_000,
        ..capnweb::wire::Limits::default()
    };
    let _session = RpcSession::spawn(
        a,
        Some(test_target()),
        SessionOptions::default().limits(limits),
    );
    // Each level maps over the captured array, capturing it again for the next.
    let frames = [
        r#"["push",["pipeline",0,["generateFibonacci"],[183]]]"#,
        r#"["reject",-1,["remap",1,[],[["import",1]],[["remap",-1,[],[["import",-1]],[["remap",-1,[],[["import",-1]],[["remap",-1,[],[["import",-1]],[48]]]]]]]]]"#,
        r#"["push",["pipeline",0,["square"],[3]]]"#,
        r#"["pull",2]"#,
    ];
    let answers = exchange(&mut peer, &frames, 1).await;
    assert_eq!(answers, vec!["[\"resolve\",2,9]".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promise_whose_value_holds_itself_is_answered_with_an_error_not_forever() {
    // `callFunction` awaits the peer's function, which the peer resolves to the call itself:
    // the call's value holds the call. Each resolution exported it anew, a new promise
    // export and message each time, without end (found by the session fuzzer as a timeout).
    let (_session, mut peer) = raw_peer();
    let frames = [
        r#"["push",["pipeline",0,["callFunction"],[["export",0]]]]"#,
        r#"["resolve",1,["import",1]]"#,
        r#"["stream",["import",1]]"#,
    ];
    for f in frames {
        peer.send(f.to_owned()).await.unwrap();
    }
    let mut sent = Vec::new();
    while let Ok(Some(Ok(msg))) =
        tokio::time::timeout(Duration::from_millis(500), peer.next()).await
    {
        sent.push(msg);
        assert!(sent.len() < 200, "messages without end: {:?}", &sent[..5]);
    }
    let refused = sent.iter().find(|m| m.starts_with("[\"reject\""));
    let refused = refused.expect("the nesting is refused");
    assert!(refused.contains("holds itself"), "{refused}");
    // And the session goes on.
    let answers = exchange(
        &mut peer,
        &[r#"["push",["pipeline",0,["square"],[3]]]"#, r#"["pull",3]"#],
        1,
    )
    .await;
    assert_eq!(answers, vec!["[\"resolve\",3,9]".to_owned()]);
}

/// Six `increment` calls pushed on one counter, each with an argument the peer resolves later,
/// in order: the running sums they answer show the order they reached the counter in. The
/// last three come with the resolutions, in one read: they must not overtake the first three.
async fn calls_with_promise_arguments_reach_their_target_in_order() {
    let (_session, mut peer) = raw_peer();
    let push = |k: i32| format!(r#"["push",["pipeline",1,["increment"],[["promise",-{k}]]]]"#);
    let mut first = vec![r#"["push",["pipeline",0,["makeCounter"],[0]]]"#.to_owned()];
    first.extend((1..=3).map(push));
    let mut rest: Vec<String> = (4..=6).map(push).collect();
    rest.extend((1..=6).map(|k| format!(r#"["resolve",-{k},{k}]"#)));
    rest.extend((2..=7).map(|id| format!(r#"["pull",{id}]"#)));
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    exchange(&mut peer, &first, 0).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let mut answers = exchange(&mut peer, &rest, 12).await;
    answers.retain(|m| m.starts_with("[\"resolve\""));
    answers.sort();
    let expected: Vec<String> = [1, 3, 6, 10, 15, 21]
        .iter()
        .zip(2..)
        .map(|(sum, id)| format!("[\"resolve\",{id},{sum}]"))
        .collect();
    assert_eq!(answers, expected);
}

#[tokio::test]
async fn calls_with_promise_arguments_keep_their_order_on_a_current_thread_runtime() {
    for _ in 0..50 {
        calls_with_promise_arguments_reach_their_target_in_order().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_with_promise_arguments_keep_their_order_on_a_multi_thread_runtime() {
    for _ in 0..50 {
        calls_with_promise_arguments_reach_their_target_in_order().await;
    }
}

#[tokio::test]
async fn a_pipelined_path_into_a_promise_held_in_a_result_gets_its_value() {
    // `callSquare(self, i)` answers `{ result: self.square(i) }`, the promise not yet settled
    // (here `self` is the server's own main object). Calls pipelined on `.result`, however
    // deep, get the number, not a stub.
    let (_session, mut peer) = raw_peer();
    let frames = [
        r#"["push",["pipeline",0,["callSquare"],[["import",0],2]]]"#,
        r#"["push",["pipeline",0,["square"],[["pipeline",1,["result"]]]]]"#,
        r#"["pull",2]"#,
        r#"["push",["pipeline",0,["echo"],[{"a":["pipeline",1,["result"]]}]]]"#,
        r#"["pull",3]"#,
        r#"["push",["pipeline",1,["result"]]]"#,
        r#"["pull",4]"#,
    ];
    let answers = exchange(&mut peer, &frames, 3).await;
    assert_eq!(
        answers,
        vec![
            "[\"resolve\",2,16]".to_owned(),
            "[\"resolve\",3,{\"a\":4}]".to_owned(),
            "[\"resolve\",4,4]".to_owned()
        ]
    );
}

#[tokio::test]
async fn a_typed_field_pipelined_into_a_call_gets_the_value_of_the_promise_it_holds() {
    use capnweb::RpcClient;
    use capnweb_examples::interop::TestTargetClient;
    let (a, b) = in_process::pair();
    let _server = RpcSession::spawn(a, Some(test_target()), SessionOptions::default());
    let session = RpcSession::spawn(b, None, SessionOptions::default());
    let main = TestTargetClient::from_stub(session.main());
    let pending = main.call_square(main.clone(), 2.0);
    assert_eq!(main.square(pending.field("result")).await.unwrap(), 16.0);
    // Two promises deep: the square of a square.
    let inner = main.call_square(main.clone(), 3.0).field::<f64>("result");
    let outer = main.call_square(main.clone(), inner).field::<f64>("result");
    assert_eq!(outer.await.unwrap(), 81.0);
}

#[tokio::test]
async fn strings_with_unpaired_surrogates_come_back_exactly_and_never_end_the_session() {
    // `JSON.stringify` writes a JavaScript string's unpaired surrogates as `\ud800` escapes.
    let (_session, mut peer) = raw_peer();
    let frames = [
        r#"["push",["pipeline",0,["echo"],["a\ud800b"]]]"#,
        r#"["pull",1]"#,
        r#"["push",["pipeline",0,["echo"],[[["\udc00\ud800 \ud83d\ude00",{"k\ud800":"\ufdd0"}]]]]]"#,
        r#"["pull",2]"#,
        // A typed `String` parameter cannot hold one: that call fails, not the session.
        r#"["push",["pipeline",0,["makeBlob"],["\udfff","text/plain"]]]"#,
        r#"["pull",3]"#,
        r#"["push",["pipeline",0,["square"],[5]]]"#,
        r#"["pull",4]"#,
    ];
    let answers = exchange(&mut peer, &frames, 4).await;
    assert_eq!(answers[0], r#"["resolve",1,"a\ud800b"]"#);
    // Keys can only be Unicode: an unpaired surrogate in one becomes U+FFFD.
    assert_eq!(
        answers[1],
        "[\"resolve\",2,[[\"\\udc00\\ud800 😀\",{\"k\u{FFFD}\":\"\u{FDD0}\"}]]]"
    );
    assert!(
        answers[2].starts_with(r#"["reject",3,["error","TypeError","#),
        "{}",
        answers[2]
    );
    assert!(answers[2].contains("unpaired surrogate"), "{}", answers[2]);
    assert_eq!(answers[3], r#"["resolve",4,25]"#);
}

#[tokio::test]
async fn a_regexp_comes_back_unchanged() {
    let (_session, mut peer) = raw_peer();
    let frames = [
        r#"["push",["pipeline",0,["echo"],[["regexp","^[a-z]+\\d$","gu"]]]]"#,
        r#"["pull",1]"#,
        r#"["push",["pipeline",0,["echo"],[{"r":["regexp","x",""]}]]]"#,
        r#"["pull",2]"#,
    ];
    let answers = exchange(&mut peer, &frames, 2).await;
    assert_eq!(answers[0], r#"["resolve",1,["regexp","^[a-z]+\\d$","gu"]]"#);
    assert_eq!(answers[1], r#"["resolve",2,{"r":["regexp","x"]}]"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_promises_are_futures() {
    use capnweb::RpcClient;
    use capnweb_examples::interop::TestTargetClient;
    use futures_util::stream::FuturesUnordered;
    let (a, b) = in_process::pair();
    let _server = RpcSession::spawn(a, Some(test_target()), SessionOptions::default());
    let session = RpcSession::spawn(b, None, SessionOptions::default());
    let main = TestTargetClient::from_stub(session.main());
    // join_all, FuturesUnordered, tokio::spawn and select! take them as they are.
    let squares = futures_util::future::join_all((1..=3).map(|i| main.square(f64::from(i)))).await;
    let squares: Vec<f64> = squares.into_iter().map(Result::unwrap).collect();
    assert_eq!(squares, vec![1.0, 4.0, 9.0]);
    let mut unordered: FuturesUnordered<_> = (1..=3).map(|i| main.square(f64::from(i))).collect();
    let mut sum = 0.0;
    while let Some(r) = unordered.next().await {
        sum += r.unwrap();
    }
    assert_eq!(sum, 14.0);
    assert_eq!(tokio::spawn(main.square(5.0)).await.unwrap().unwrap(), 25.0);
    tokio::select! {
        r = main.square(6.0) => assert_eq!(r.unwrap(), 36.0),
        () = tokio::time::sleep(Duration::from_secs(5)) => panic!("no answer"),
    }
    // Still pipelined through: a call on the promised counter before it is awaited.
    let counter = main.make_counter(10.0);
    assert_eq!(counter.increment(2.0).await.unwrap(), 12.0);
}

#[tokio::test]
async fn a_client_argument_may_be_passed_by_reference() {
    use capnweb::RpcClient;
    use capnweb_examples::interop::{Count, CounterClient, TestTargetClient};
    let (a, b) = in_process::pair();
    let _server = RpcSession::spawn(a, Some(test_target()), SessionOptions::default());
    let session = RpcSession::spawn(b, None, SessionOptions::default());
    let main = TestTargetClient::from_stub(session.main());
    let mine = CounterClient::from_impl(Count::new(1.0));
    // `&mine`, not `mine.clone()`: the caller keeps its own.
    assert_eq!(main.increment_counter(&mine, 2.0).await.unwrap(), 3.0);
    assert_eq!(main.increment_counter(&mine, 2.0).await.unwrap(), 5.0);
    assert_eq!(mine.value().await.unwrap(), 5.0);
}

/// A pulled call the peer releases before its answer no longer holds `drain` (which waits for
/// every pulled answer): it is woken when that was the last one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releasing_a_pulled_call_unanswered_ends_a_drain() {
    let (session, mut peer) = raw_peer();
    // `callFunction` with a function of ours: the server calls it and awaits our answer,
    // which never comes.
    let calls = exchange(
        &mut peer,
        &[
            r#"["push",["pipeline",0,["callFunction"],[["export",-1],2]]]"#,
            r#"["pull",1]"#,
        ],
        1,
    )
    .await;
    assert!(calls[0].starts_with(r#"["push","#), "{calls:?}");
    let draining = tokio::spawn(async move { session.drain().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!draining.is_finished(), "the pulled answer is still owed");
    peer.send(r#"["release",1,1]"#.to_owned()).await.unwrap();
    let drained = tokio::time::timeout(Duration::from_secs(5), draining)
        .await
        .expect("drain ends once the call is released")
        .unwrap();
    assert!(drained.is_ok(), "{drained:?}");
}

/// A batch's map answered as npm capnweb answers it: the map's result holds the elements'
/// calls as promises (`["promise", -n]`), resolved in later lines of the same response. The
/// batch ends the session once every line is read; the mapped values, all there by then, are
/// still read (they were lost with the session: "Batch RPC request ended.").
#[tokio::test]
async fn a_batch_map_answered_with_promises_is_read_after_the_batch_ends() {
    use capnweb::stub::BoxFuture;
    use capnweb::transport::http_batch::{BatchClientTransport, SendBatch};
    use capnweb::transport::TransportError;
    use capnweb_examples::interop::TestTargetClient;
    let (sent, body) = std::sync::mpsc::channel::<String>();
    let send: SendBatch = Box::new(move |request: String| {
        let _ = sent.send(request);
        let response = [
            r#"["resolve",2,[[["promise",-1],["promise",-2],["promise",-3]]]]"#,
            r#"["resolve",-1,0]"#,
            r#"["resolve",-2,1]"#,
            r#"["resolve",-3,1]"#,
        ]
        .join("\n");
        Box::pin(async move { Ok(response) }) as BoxFuture<Result<String, TransportError>>
    });
    let session = RpcSession::spawn(
        BatchClientTransport::new("canned", send),
        None,
        SessionOptions::default(),
    );
    let api = TestTargetClient::from(session.main());
    let mapped = api.generate_fibonacci(3.0).map(|x| api.square(x));
    assert_eq!(mapped.await.unwrap(), vec![0.0, 1.0, 1.0]);
    // The map went out in the batch, pulled (the call it maps was released, not pulled).
    let body = body.recv().unwrap();
    assert!(body.contains(r#"["push",["remap",1,"#), "{body}");
    assert!(body.ends_with(r#"["pull",2]"#), "{body}");
}
