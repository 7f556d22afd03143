//! The server: connection limit, auth, origins, CORS, batch limits, several paths, graceful
//! shutdown, metrics; and the session limits a server relies on (calls in flight, exports
//! pinned, idle timeout, maximum age).

use std::future::IntoFuture;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use capnweb::server::{per_connection, AuthRejection, ConnectInfo};
use capnweb::transport::in_process;
use capnweb::transport::websocket::WebSocketTransport;
use capnweb::wire::Limits;
use capnweb::{connect, RpcError, RpcSession, Server, SessionOptions, Stub, Value};
use capnweb_examples::interop::{test_target, TestTargetClient};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn ws(port: u16, path: &str) -> String {
    format!("ws://127.0.0.1:{port}{path}")
}

/// Opens a WebSocket session with extra request headers.
async fn connect_with_headers(url: &str, headers: &[(&str, &str)]) -> Result<Stub, String> {
    let mut req = url.into_client_request().unwrap();
    for (k, v) in headers {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes());
        let value = tokio_tungstenite::tungstenite::http::HeaderValue::from_str(v);
        req.headers_mut().insert(name.unwrap(), value.unwrap());
    }
    let (socket, _) = tokio_tungstenite::connect_async(req)
        .await
        .map_err(|e| e.to_string())?;
    let session = RpcSession::spawn(
        WebSocketTransport::new(socket),
        None,
        SessionOptions::default(),
    );
    Ok(session.into_main())
}

async fn start(server: Server) -> (u16, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let server = server.shutdown_on(async {
        let _ = stopped.await;
    });
    let (addr, serve) = server.listen(test_target).await.unwrap();
    let task = tokio::spawn(async move { serve.await.unwrap() });
    (addr.port(), stop, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_get_503_and_others_are_unaffected() {
    let (port, _stop, _task) = start(Server::bind("127.0.0.1:0").max_connections(1)).await;
    let first: TestTargetClient = connect(&ws(port, "/")).await.unwrap();
    let second = connect::<Stub>(&ws(port, "/")).await;
    let err = second.unwrap_err().to_string();
    assert!(err.contains("503"), "{err}");
    assert_eq!(first.square(3.0).await.unwrap(), 9.0);
    drop(first);
    // Its slot comes back once the session is gone.
    let mut again = None;
    for _ in 0..50 {
        if let Ok(c) = connect::<TestTargetClient>(&ws(port, "/")).await {
            again = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(again.expect("a slot").square(4.0).await.unwrap(), 16.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_rejects_before_a_session_exists_and_passes_an_identity() {
    let server = Server::bind("127.0.0.1:0").auth(|info: ConnectInfo| async move {
        match info.header("authorization") {
            Some("Bearer good") => Ok("alice".to_owned()),
            Some(_) => Err(AuthRejection::Forbidden("bad token".into())),
            None => Err(AuthRejection::Unauthorized(
                "a bearer token is required".into(),
            )),
        }
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let server = server
        .shutdown_on(async {
            let _ = stopped.await;
        })
        .route(
            "/whoami",
            per_connection(|info: &ConnectInfo| {
                let user = info.identity::<String>().cloned().unwrap_or_default();
                Stub::from_fn(move |_: Vec<Value>| {
                    let user = user.clone();
                    async move { Ok::<_, RpcError>(Value::from(user)) }
                })
            }),
        );
    let (addr, serve) = server.listen(test_target).await.unwrap();
    tokio::spawn(serve);
    let port = addr.port();

    let none = connect_with_headers(&ws(port, "/whoami"), &[])
        .await
        .unwrap_err();
    assert!(none.contains("401"), "{none}");
    let bad = connect_with_headers(&ws(port, "/whoami"), &[("authorization", "Bearer nope")])
        .await
        .unwrap_err();
    assert!(bad.contains("403"), "{bad}");
    let me = connect_with_headers(&ws(port, "/whoami"), &[("authorization", "Bearer good")])
        .await
        .unwrap();
    let who = me.call("", vec![]).resolve().await.unwrap();
    assert_eq!(who, Value::from("alice"));

    // HTTP batch requests go through the same hook.
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("http://127.0.0.1:{port}/"))
        .body(r#"["push",["pipeline",0,["square"],[2]]]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("a bearer token is required"));
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origins_and_cors_are_enforced() {
    let (port, _stop, _task) = start(
        Server::bind("127.0.0.1:0")
            .allowed_origins(["https://app.example"])
            .cors(["https://app.example"]),
    )
    .await;
    let evil = connect_with_headers(&ws(port, "/"), &[("origin", "https://evil.example")])
        .await
        .unwrap_err();
    assert!(evil.contains("403"), "{evil}");
    let good = connect_with_headers(&ws(port, "/"), &[("origin", "https://app.example")])
        .await
        .unwrap();
    let v = good
        .call("square", vec![Value::from(5)])
        .resolve()
        .await
        .unwrap();
    assert_eq!(v.as_f64(), Some(25.0));

    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/");
    let preflight = http
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert!(preflight.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    let batch = http
        .post(&url)
        .header("origin", "https://app.example")
        .body("[\"push\",[\"pipeline\",0,[\"square\"],[3]]]\n[\"pull\",1]")
        .send()
        .await
        .unwrap();
    assert_eq!(
        batch.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(batch.text().await.unwrap(), "[\"resolve\",1,9]");
    let other = http
        .post(&url)
        .header("origin", "https://evil.example")
        .body("")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // A path no route serves is a 404 the allowed page can read (not an opaque failure).
    let missing = http
        .post(format!("{url}nope"))
        .header("origin", "https://app.example")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    assert_eq!(
        missing.headers()["access-control-allow-origin"],
        "https://app.example"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_the_call_limit_gets_413_saying_so() {
    let (port, _stop, _task) = start(Server::bind("127.0.0.1:0").max_batch_calls(2)).await;
    let body = (0..3)
        .map(|_| r#"["push",["pipeline",0,["square"],[2]]]"#)
        .collect::<Vec<_>>()
        .join("\n");
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    assert_eq!(
        resp.text().await.unwrap(),
        "batch of 3 calls exceeds the limit of 2"
    );
    // The limit counts messages as they are parsed, whatever their spelling: spaces and
    // escapes in the tag are JSON all the same.
    for call in [
        r#"[ "push",["pipeline",0,["square"],[2]]]"#,
        r#"["\u0070ush",["pipeline",0,["square"],[2]]]"#,
        "\t[\"stream\",[\"pipeline\",0,[\"square\"],[2]]]",
    ] {
        let body = [call; 3].join("\n");
        let resp = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 413, "{call}");
    }
    // Spelled so, the calls are calls: under the limit, they run.
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/"))
        .body("[ \"\\u0070ush\" , [\"pipeline\",0,[\"square\"],[3]]]\n[\"pull\",1]")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "[\"resolve\",1,9]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_cors_alone_an_origin_refused_a_batch_is_refused_an_upgrade() {
    let (port, _stop, _task) =
        start(Server::bind("127.0.0.1:0").cors(["https://app.example"])).await;
    let evil = connect_with_headers(&ws(port, "/"), &[("origin", "https://evil.example")])
        .await
        .unwrap_err();
    assert!(evil.contains("403"), "{evil}");
    let batch = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/"))
        .header("origin", "https://evil.example")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(batch.status().as_u16(), 403);
    // The listed origin, and clients that send none (not browsers), are served over both.
    for headers in [&[("origin", "https://app.example")][..], &[]] {
        let good = connect_with_headers(&ws(port, "/"), headers).await.unwrap();
        let v = good.call("square", vec![Value::from(4)]).resolve().await;
        assert_eq!(v.unwrap().as_f64(), Some(16.0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_calls_in_flight_finish_then_aborts_each_peer() {
    let slow = || {
        Stub::from_fn(|args: Vec<Value>| async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok::<_, RpcError>(args.into_iter().next().unwrap_or_default())
        })
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let (addr, serve) = Server::bind("127.0.0.1:0")
        .shutdown_grace(Duration::from_secs(5))
        .shutdown_on(async {
            let _ = stopped.await;
        })
        .listen(slow)
        .await
        .unwrap();
    let served = tokio::spawn(serve);
    let (_, client) = {
        let session = capnweb::connect_with(&ws(addr.port(), "/"), None, SessionOptions::default())
            .await
            .unwrap();
        (0, session)
    };
    let call = client.main().call("", vec![Value::from("done")]);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _ = stop.send(());
    assert_eq!(call.resolve().await.unwrap(), Value::from("done"));
    let reason = tokio::time::timeout(Duration::from_secs(5), client.closed())
        .await
        .expect("the server ended the session");
    assert!(
        reason.to_string().contains("server is shutting down"),
        "{reason}"
    );
    tokio::time::timeout(Duration::from_secs(5), served)
        .await
        .expect("serve returned")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_sessions_calls_errors_and_bytes() {
    let server = Server::bind("127.0.0.1:0");
    let metrics = server.metrics();
    let (port, _stop, _task) = start(server).await;
    let client: TestTargetClient = connect(&ws(port, "/")).await.unwrap();
    for i in 0..5 {
        client.square(i as f64).await.unwrap();
    }
    client.throw_error().await.unwrap_err();
    let m = metrics.snapshot();
    assert_eq!((m.sessions_open, m.sessions_total), (1, 1));
    assert!(m.calls >= 6, "{m:?}");
    assert_eq!(m.errors, 1, "{m:?}");
    assert!(
        m.bytes_in > 0 && m.bytes_out > 0 && m.messages_out >= 6,
        "{m:?}"
    );
    drop(client);
    for _ in 0..100 {
        if metrics.snapshot().sessions_open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(metrics.snapshot().sessions_open, 0);
}

// ---------------------------------------------------------------------------------------------
// Session limits, in process.

#[tokio::test]
async fn calls_in_flight_are_bounded_by_backpressure() {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (r, p) = (running.clone(), peak.clone());
    let main = Stub::from_fn(move |_: Vec<Value>| {
        let (r, p) = (r.clone(), p.clone());
        async move {
            let now = r.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            r.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, RpcError>(Value::Null)
        }
    });
    let (a, b) = in_process::pair();
    let _server = RpcSession::spawn(a, Some(main), SessionOptions::default().max_in_flight(4));
    let client = RpcSession::spawn(b, None, SessionOptions::default());
    let calls: Vec<Stub> = (0..50).map(|_| client.main().call("", vec![])).collect();
    for c in &calls {
        c.resolve().await.unwrap();
    }
    let peak = peak.load(Ordering::SeqCst);
    assert!((1..=4).contains(&peak), "peak {peak}");
}

#[tokio::test]
async fn a_peer_pinning_too_many_exports_is_aborted_saying_so() {
    let (a, mut b) = in_process::pair();
    let limits = Limits {
        max_exports: 4,
        ..Limits::default()
    };
    let session = RpcSession::spawn(
        a,
        Some(test_target()),
        SessionOptions::default().limits(limits),
    );
    // The main object is one export; three unreleased pushes fill the table.
    for _ in 0..4 {
        b.send(r#"["push",["pipeline",0,["square"],[2]]]"#.to_owned())
            .await
            .unwrap();
    }
    let abort = tokio::time::timeout(Duration::from_secs(5), b.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(abort.starts_with(r#"["abort",["error","#), "{abort}");
    assert!(abort.contains("exceeds the limit of 4"), "{abort}");
    assert!(session.is_closed());
}

#[tokio::test]
async fn an_idle_session_ends_and_a_busy_one_does_not() {
    let (a, b) = in_process::pair();
    let options = SessionOptions::default().idle_timeout(Duration::from_millis(150));
    let server = RpcSession::spawn(a, Some(test_target()), options);
    let client = RpcSession::spawn(b, None, SessionOptions::default());
    // Traffic every 50 ms keeps it alive past the timeout.
    for i in 0..6 {
        let v = client
            .main()
            .call("square", vec![Value::from(i)])
            .resolve()
            .await
            .unwrap();
        assert_eq!(v.as_f64(), Some((i * i) as f64));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!server.is_closed());
    let reason = tokio::time::timeout(Duration::from_secs(5), client.closed())
        .await
        .expect("ended when idle");
    assert!(reason.to_string().contains("idle"), "{reason}");
}

#[tokio::test]
async fn a_session_at_its_maximum_age_ends_normally() {
    let (a, b) = in_process::pair();
    let options = SessionOptions::default().max_age(Duration::from_millis(100));
    let _server = RpcSession::spawn(a, Some(test_target()), options);
    let client = RpcSession::spawn(b, None, SessionOptions::default());
    let v = client
        .main()
        .call("square", vec![Value::from(3)])
        .resolve()
        .await;
    assert_eq!(v.unwrap().as_f64(), Some(9.0));
    let reason = tokio::time::timeout(Duration::from_secs(5), client.closed())
        .await
        .expect("ended at its age");
    assert!(reason.to_string().contains("maximum age"), "{reason}");
}

#[tokio::test]
async fn each_call_is_traced_with_its_method_duration_and_outcome() {
    #[derive(Clone, Default)]
    struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (a, b) = in_process::pair();
    let _server = RpcSession::spawn(a, Some(test_target()), SessionOptions::default());
    let client = RpcSession::spawn(b, None, SessionOptions::default());
    let main = client.main();
    main.call("square", vec![Value::from(3)])
        .resolve()
        .await
        .unwrap();
    main.call("throwError", vec![]).resolve().await.unwrap_err();

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let square = log
        .lines()
        .find(|l| l.contains("method=square") && l.contains("call done"))
        .unwrap_or_else(|| panic!("no trace of square in:\n{log}"));
    assert!(square.contains("micros="), "{square}");
    assert!(
        log.lines().any(|l| l.contains("method=throwError")
            && l.contains("call failed")
            && l.contains("RangeError")),
        "no failed throwError in:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_pings_live_peers_and_drops_silent_ones() {
    use tokio_tungstenite::tungstenite::Message;
    let server = Server::bind("127.0.0.1:0").keepalive(Duration::from_millis(100));
    let metrics = server.metrics();
    let (port, _stop, _task) = start(server).await;

    // A peer that reads (tungstenite answers pings while reading) stays, and sees the pings.
    let (mut live, _) = tokio_tungstenite::connect_async(ws(port, "/"))
        .await
        .unwrap();
    let mut pings = 0;
    let until = tokio::time::Instant::now() + Duration::from_millis(450);
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(until, live.next()).await {
        if matches!(msg, Message::Ping(_)) {
            pings += 1;
        }
    }
    assert!(pings >= 2, "{pings} pings");
    live.send(Message::text(r#"["push",["pipeline",0,["square"],[4]]]"#))
        .await
        .unwrap();
    live.send(Message::text(r#"["pull",1]"#)).await.unwrap();
    let answer = loop {
        if let Message::Text(t) = live.next().await.unwrap().unwrap() {
            break t.to_string();
        }
    };
    assert_eq!(answer, r#"["resolve",1,16]"#);

    // The live peer keeps reading (so answering pings) in the background.
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = live.next().await {} });

    // A peer that never reads never answers: its session ends.
    let (_silent, _) = tokio_tungstenite::connect_async(ws(port, "/"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(metrics.snapshot().sessions_open, 2);
    let mut open = 2;
    for _ in 0..100 {
        open = metrics.snapshot().sessions_open;
        if open == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(open, 1, "the silent peer's session ended");
    // The live one stays, several periods later.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(metrics.snapshot().sessions_open, 1);
    assert!(!reader.is_finished());
    reader.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_frames_end_only_their_own_session() {
    use tokio_tungstenite::tungstenite::Message;
    let (port, _stop, _task) = start(Server::bind("127.0.0.1:0")).await;
    let deep = "[".repeat(100_000);
    let hostile = [
        "not json",
        r#"["unknown",1]"#,
        r#"["pull",999]"#,
        r#"["release",0,5]"#,
        r#"["push",["pipeline",77,["square"],[1]]]"#,
        deep.as_str(),
    ];
    let good: TestTargetClient = connect(&ws(port, "/")).await.unwrap();
    for frame in hostile {
        let (mut bad, _) = tokio_tungstenite::connect_async(ws(port, "/"))
            .await
            .unwrap();
        bad.send(Message::text(frame)).await.unwrap();
        let reply = tokio::time::timeout(Duration::from_secs(5), bad.next())
            .await
            .unwrap_or_else(|_| panic!("no answer to {frame:.40}"));
        let reply = reply.unwrap().unwrap();
        assert!(
            reply
                .to_text()
                .unwrap()
                .starts_with(r#"["abort",["error","#),
            "{frame:.40} got {reply:?}"
        );
        assert_eq!(good.square(3.0).await.unwrap(), 9.0);
    }
    // Undeclared names are answered, not aborted.
    let (mut probe, _) = tokio_tungstenite::connect_async(ws(port, "/"))
        .await
        .unwrap();
    for name in ["constructor", "__proto__", "toString", "then"] {
        let push = format!(r#"["push",["pipeline",0,["{name}"],[]]]"#);
        probe.send(Message::text(push)).await.unwrap();
    }
    for id in 1..=4 {
        probe
            .send(Message::text(format!(r#"["pull",{id}]"#)))
            .await
            .unwrap();
    }
    for _ in 0..4 {
        let reply = probe.next().await.unwrap().unwrap();
        assert!(
            reply.to_text().unwrap().starts_with(r#"["reject","#),
            "{reply:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_mid_call_leaves_the_server_serving() {
    let slow = || {
        Stub::from_fn(|_: Vec<Value>| async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Ok::<_, RpcError>(Value::from("late"))
        })
    };
    let server = Server::bind("127.0.0.1:0");
    let metrics = server.metrics();
    let (stop, stopped) = oneshot::channel::<()>();
    let (addr, serve) = server
        .shutdown_on(async {
            let _ = stopped.await;
        })
        .listen(slow)
        .await
        .unwrap();
    tokio::spawn(serve);
    let url = ws(addr.port(), "/");
    let gone = capnweb::connect_with(&url, None, SessionOptions::default())
        .await
        .unwrap();
    let call = gone.main().call("", vec![]);
    tokio::time::sleep(Duration::from_millis(20)).await;
    gone.abort(RpcError::error("client leaves"));
    drop(call);
    drop(gone);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(metrics.snapshot().sessions_open, 0);
    let next = capnweb::connect_with(&url, None, SessionOptions::default())
        .await
        .unwrap();
    let v = next.main().call("", vec![]).resolve().await.unwrap();
    assert_eq!(v, Value::from("late"));
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_stops_being_read_from() {
    use tokio_tungstenite::tungstenite::Message;
    let server = Server::bind("127.0.0.1:0");
    let metrics = server.metrics();
    let (port, _stop, _task) = start(server).await;
    let (mut greedy, _) = tokio_tungstenite::connect_async(ws(port, "/"))
        .await
        .unwrap();
    // Each call asks for a large answer; the client never reads them.
    let sending = async {
        for id in 1..=1_000_000u32 {
            let push = r#"["push",["pipeline",0,["generateFibonacci"],[2000]]]"#;
            greedy.feed(Message::text(push)).await.unwrap();
            greedy
                .feed(Message::text(format!(r#"["pull",{id}]"#)))
                .await
                .unwrap();
            if id % 64 == 0 {
                greedy.flush().await.unwrap();
            }
        }
    };
    let finished = tokio::time::timeout(Duration::from_secs(3), sending).await;
    assert!(
        finished.is_err(),
        "the server read everything without sending it"
    );
    // The server stopped reading: what it took in no longer grows.
    let taken = metrics.snapshot().messages_in;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(metrics.snapshot().messages_in, taken);
    assert!(taken < 2_000_000, "{taken}");
}

#[tokio::test]
async fn map_applications_per_call_are_bounded_nested_maps_included() {
    let (a, b) = in_process::pair();
    let limits = Limits {
        max_map_applications: 100,
        ..Limits::default()
    };
    let _server = RpcSession::spawn(
        a,
        Some(test_target()),
        SessionOptions::default().limits(limits),
    );
    let client = RpcSession::spawn(b, None, SessionOptions::default());
    let main = TestTargetClient::from(client.main());
    // 40 applications of two instructions (the call, and the result): fine.
    let squares = main
        .generate_fibonacci(40.0)
        .map(|x| main.square(x))
        .await
        .unwrap();
    assert_eq!(squares.len(), 40);
    // 60 x 2: over.
    let err = main
        .generate_fibonacci(60.0)
        .map(|x| main.square(x))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "RangeError", "{err}");
    assert!(err.message().contains("max_map_applications"), "{err}");
    // Nested, the outer mapper three instructions: 5 x 3 + 5 x 5 x 2 = 65 is fine,
    // 7 x 3 + 7 x 7 x 2 = 119 is not.
    let nested = |n: f64| {
        main.generate_fibonacci(n)
            .map(|_| main.generate_fibonacci(n).map(|y| main.square(y)))
    };
    assert_eq!(nested(5.0).await.unwrap().len(), 5);
    assert_eq!(nested(7.0).await.unwrap_err().name(), "RangeError");
    // The session goes on.
    assert_eq!(main.square(3.0).await.unwrap(), 9.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_nests_in_an_existing_axum_service() {
    let rpc = Server::new().route("/rpc", test_target).router();
    let app = axum::Router::new()
        .route("/health", axum::routing::get(|| async { "ok" }))
        .nest("/api", rpc);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client: TestTargetClient = connect(&ws(port, "/api/rpc")).await.unwrap();
    assert_eq!(client.square(6.0).await.unwrap(), 36.0);
    let batch =
        capnweb::HttpBatch::<TestTargetClient>::new(&format!("http://127.0.0.1:{port}/api/rpc"));
    assert_eq!(batch.main().square(7.0).await.unwrap(), 49.0);
    let health = reqwest::get(format!("http://127.0.0.1:{port}/health"))
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frames_and_bodies_are_refused_before_buffering() {
    use tokio_tungstenite::tungstenite::Message;
    let limits = Limits {
        max_message_size: 1000,
        ..Limits::default()
    };
    let (port, _stop, _task) =
        start(Server::bind("127.0.0.1:0").options(SessionOptions::default().limits(limits))).await;
    let (mut big, _) = tokio_tungstenite::connect_async(ws(port, "/"))
        .await
        .unwrap();
    let frame = format!(
        r#"["push",["pipeline",0,["echo"],["{}"]]]"#,
        "x".repeat(5000)
    );
    big.send(Message::text(frame)).await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match big.next().await {
                None | Some(Err(_) | Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        end.is_ok(),
        "the connection with the oversized frame was not closed"
    );
    let resp = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/"))
        .body("x".repeat(5000))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    assert!(resp.text().await.unwrap().contains("1000 bytes"));
    // Others are unaffected.
    let ok: TestTargetClient = connect(&ws(port, "/")).await.unwrap();
    assert_eq!(ok.square(2.0).await.unwrap(), 4.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_clients_each_get_their_own_answers() {
    let (port, _stop, _task) = start(Server::bind("127.0.0.1:0")).await;
    let clients = (0..50).map(|c| async move {
        let client: TestTargetClient = connect(&ws(port, "/")).await.unwrap();
        let counter = client.make_counter(c as f64);
        let calls = (0..20).map(|_| counter.increment(1.0).into_future());
        futures_util::future::join_all(calls).await;
        counter.value().await.unwrap()
    });
    let values = futures_util::future::join_all(clients).await;
    for (c, v) in values.into_iter().enumerate() {
        assert_eq!(v, c as f64 + 20.0);
    }
}

#[tokio::test]
async fn an_aborted_websocket_session_closes_with_code_3000_and_the_reason_cut_to_123_bytes() {
    use tokio_tungstenite::tungstenite::Message;
    let (port, _stop, _task) = start(Server::bind("127.0.0.1:0")).await;
    for (frame, expected) in [
        // A short reason, whole.
        ("[\"pull\",\"x\"]".to_owned(), None),
        // A long one of two-byte characters: cut on a character boundary.
        (format!("[\"{}\",1]", "é".repeat(200)), Some(122)),
    ] {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/"))
            .await
            .unwrap();
        ws.send(Message::text(frame)).await.unwrap();
        let mut abort = None;
        let mut close = None;
        while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await
        {
            match msg {
                Message::Text(t) => abort = Some(t.to_string()),
                Message::Close(c) => close = c,
                _ => {}
            }
        }
        let abort = abort.expect("the abort message first");
        assert!(abort.starts_with("[\"abort\","), "{abort}");
        let close = close.expect("a close frame with a code");
        assert_eq!(u16::from(close.code), 3000);
        let reason = close.reason.to_string();
        assert!(!reason.is_empty());
        assert!(abort.contains(&reason), "{reason} is the abort's message");
        match expected {
            Some(len) => assert_eq!(reason.len(), len, "{reason}"),
            None => assert!(reason.len() < 123),
        }
    }
}

#[tokio::test]
async fn http_batches_can_be_served_by_hyper_alone() {
    // `capnweb_examples::hyper_batch`: no axum and no `Server`, only `serve_batch`.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(capnweb_examples::hyper_batch::serve(listener, test_target));
    let batch = capnweb::HttpBatch::<TestTargetClient>::new(&format!("http://127.0.0.1:{port}/"));
    let main = batch.main();
    let (a, b) = (main.square(3.0), main.square(main.square(2.0)));
    assert_eq!((a.await.unwrap(), b.await.unwrap()), (9.0, 16.0));
}

/// Who a layer in front of the server says the caller is.
#[derive(Clone, Debug)]
struct LayerUser(String);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tower_layer_wraps_the_http_side_and_its_extensions_reach_the_factory() {
    use axum::extract::Request;
    use axum::middleware::Next;
    let layer = axum::middleware::from_fn(|mut req: Request, next: Next| async move {
        let user = req
            .headers()
            .get("x-user")
            .and_then(|v| v.to_str().ok())
            .map(|u| LayerUser(u.to_owned()));
        if let Some(user) = user {
            req.extensions_mut().insert(user);
        }
        let mut response = next.run(req).await;
        response
            .headers_mut()
            .insert("x-layer", "seen".parse().unwrap());
        response
    });
    let factory = per_connection(|info: &ConnectInfo| {
        let user = info
            .extension::<LayerUser>()
            .map_or_else(|| "nobody".to_owned(), |u| u.0.clone());
        Stub::from_fn(move |_: Vec<Value>| {
            let user = user.clone();
            async move { Ok::<_, RpcError>(Value::from(user)) }
        })
    });
    let (addr, run) = Server::bind("127.0.0.1:0")
        .layer(layer)
        .listen(factory)
        .await
        .unwrap();
    tokio::spawn(run);

    // A batch: the layer's header on the response, its extension in the factory.
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/"))
        .header("x-user", "alice")
        .body("[\"push\",[\"pipeline\",0,[],[]]]\n[\"pull\",1]")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-layer"], "seen");
    assert_eq!(response.text().await.unwrap(), "[\"resolve\",1,\"alice\"]");

    // A WebSocket upgrade goes through the layer too.
    let mut request = format!("ws://{addr}/").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("x-user", "bob".parse().unwrap());
    let (socket, answer) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(answer.headers()["x-layer"], "seen");
    let session = RpcSession::spawn(
        WebSocketTransport::new(socket),
        None,
        SessionOptions::default(),
    );
    let who = session.main().call("", vec![]).resolve().await.unwrap();
    assert_eq!(who, Value::from("bob"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_served_elsewhere_drains_its_sessions_on_shutdown() {
    let slow = || {
        Stub::from_fn(|_: Vec<Value>| async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok::<_, RpcError>(Value::from("finished"))
        })
    };
    let (router, drain) = Server::new().route("/", slow).router_with_drain();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
                drain.drain(Duration::from_secs(5)).await;
            })
            .await
    });
    let session = capnweb::connect_with(&ws(port, "/"), None, SessionOptions::default())
        .await
        .unwrap();
    let call = session.main().call("", vec![]);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _ = stop.send(());
    // The call in flight finishes; then the session ends, saying why.
    assert_eq!(call.resolve().await.unwrap(), Value::from("finished"));
    let reason = tokio::time::timeout(Duration::from_secs(5), session.closed())
        .await
        .expect("the session ends after the drain");
    assert!(reason.to_string().contains("shutting down"), "{reason}");
    tokio::time::timeout(Duration::from_secs(5), served)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
}
