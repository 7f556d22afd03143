//! The resilient client against real faults: servers that drop every session at once, black
//! holes, sessions killed mid-call; what ran is counted on the server.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use capnweb::client::CircuitBreaker;
use capnweb::transport::websocket::{codec, ConnectOptions};
use capnweb::{Client, Limits, RpcError, RpcSession, Server, SessionOptions, Stub, Value};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

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
    let Err(e) = capnweb::transport::websocket::connect(
        &url,
        &ConnectOptions::new().max_message_size(1 << 20),
    )
    .await
    else {
        panic!("connected to a closed port")
    };
    let cause = std::error::Error::source(&e).expect("the cause is kept");
    assert!(!cause.to_string().is_empty(), "{e}: {cause}");
}

// A hostile server against the client: what a hostile client cannot do to the server, a server
// cannot do to the client either (a head, a body or a message without end; an answer that never
// comes).

/// Reads an HTTP request: its head, and a body of the length it declares.
async fn read_request(tcp: &mut TcpStream) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = tcp.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut have = buf.len() - head_end;
    while have < length {
        match tcp.read(&mut chunk).await? {
            0 => break,
            n => have += n,
        }
    }
    Ok(())
}

/// A raw TCP server: each connection's request is read, then `answer` writes what it likes.
async fn raw_server<F, Fut>(answer: F) -> std::net::SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                if read_request(&mut tcp).await.is_ok() {
                    answer(tcp).await;
                }
            });
        }
    });
    addr
}

/// Writes `line` again and again, up to `total` bytes (far past any bound of the client's),
/// then holds the connection open: a client that bounds nothing is then still waiting.
async fn write_on(tcp: &mut TcpStream, line: &[u8], total: usize) {
    for _ in 0..total / line.len() {
        if tcp.write_all(line).await.is_err() {
            return;
        }
    }
    std::future::pending::<()>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_answer_head_without_end_is_refused_on_both_codecs() {
    // Header after header; one header line that never ends.
    const HEADERS: &[u8] = b"X-Junk: aaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    const ONE_LINE: &[u8] = &[b'a'; 1024];
    for line in [HEADERS, ONE_LINE] {
        let addr = raw_server(move |mut tcp| async move {
            if tcp
                .write_all(b"HTTP/1.1 101 Switching Protocols\r\n")
                .await
                .is_ok()
            {
                write_on(&mut tcp, line, 16 << 20).await;
            }
        })
        .await;
        let url = format!("ws://{addr}/");
        let start = Instant::now();
        let tungstenite = tokio::time::timeout(
            Duration::from_secs(5),
            capnweb::transport::websocket::connect(
                &url,
                &ConnectOptions::new().max_message_size(1 << 20),
            ),
        )
        .await
        .expect("tungstenite's handshake read an endless head");
        let Err(e) = tungstenite else {
            panic!("connected to an endless head")
        };
        eprintln!(
            "tungstenite refused an endless head in {:?}: {e}",
            start.elapsed()
        );
        let start = Instant::now();
        let builtin = tokio::time::timeout(
            Duration::from_secs(5),
            codec::connect(&url, &ConnectOptions::new().max_message_size(1 << 20)),
        )
        .await
        .expect("the codec's handshake read an endless head");
        let Err(e) = builtin else {
            panic!("connected to an endless head")
        };
        eprintln!(
            "the codec refused an endless head in {:?}: {e}",
            start.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_options_send_their_headers_and_keep_their_timeout_on_both_codecs() {
    // Reads each upgrade request's head, hands it over, and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let (heads, mut received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let heads = heads.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut chunk = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = heads.send(String::from_utf8_lossy(&head).to_ascii_lowercase());
                std::future::pending::<()>().await
            });
        }
    });
    let options = ConnectOptions::new()
        .header("Authorization", "Bearer stale")
        .headers([("authorization", "Bearer fresh"), ("x-tenant", "blue")])
        .timeout(Duration::from_millis(300));
    for codec in ["tungstenite", "built-in"] {
        let start = Instant::now();
        let failed = match codec {
            "tungstenite" => capnweb::transport::websocket::connect(&url, &options)
                .await
                .err(),
            _ => codec::connect(&url, &options).await.err(),
        };
        let e = failed.expect("connected to a server that never answered");
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(5),
            "{codec}: gave up after {took:?}, not at the 300 ms asked"
        );
        assert!(e.message.contains("300ms"), "{codec}: {e}");
        let head = received.recv().await.unwrap();
        assert!(
            head.contains("authorization: bearer fresh\r\n"),
            "{codec}: {head}"
        );
        assert!(
            !head.contains("stale"),
            "{codec}: a replaced header was sent: {head}"
        );
        assert!(head.contains("x-tenant: blue\r\n"), "{codec}: {head}");
    }
}

#[tokio::test]
async fn an_upgrade_never_answered_gives_up_after_the_connect_timeout() {
    // Takes the connection and the upgrade request, and never answers.
    let addr = raw_server(|tcp| async move {
        let _held = tcp;
        std::future::pending::<()>().await
    })
    .await;
    let url = format!("ws://{addr}/");
    // Nothing else runs: the clock jumps to the next deadline (a connect that has none hangs
    // until the test's own, and fails it).
    tokio::time::pause();
    let limit = capnweb::transport::CONNECT_TIMEOUT + Duration::from_secs(10);
    let start = tokio::time::Instant::now();
    let tungstenite = tokio::time::timeout(
        limit,
        capnweb::transport::websocket::connect(
            &url,
            &ConnectOptions::new().max_message_size(1 << 20),
        ),
    )
    .await
    .expect("transport::websocket::connect hung past CONNECT_TIMEOUT");
    assert!(
        tungstenite.is_err(),
        "connected to a server that never answered"
    );
    let builtin = tokio::time::timeout(
        limit,
        codec::connect(&url, &ConnectOptions::new().max_message_size(1 << 20)),
    )
    .await
    .expect("codec::connect hung past CONNECT_TIMEOUT");
    let Err(e) = builtin else {
        panic!("connected to a server that never answered")
    };
    assert!(e.status.is_none() && e.message.contains("within"), "{e}");
    let session = tokio::time::timeout(
        limit,
        capnweb::connect_with(&url, None, SessionOptions::default()),
    )
    .await
    .expect("capnweb::connect hung past CONNECT_TIMEOUT");
    let Err(e) = session else {
        panic!("connected to a server that never answered")
    };
    assert!(
        matches!(
            e,
            RpcError::Disconnected {
                maybe_delivered: false,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(start.elapsed() <= 3 * limit, "{:?}", start.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_answer_over_the_limit_is_refused_not_read_whole() {
    // A length declared far past the limit; no length, and a body without end.
    for declared in [true, false] {
        let addr = raw_server(move |mut tcp| async move {
            let head = match declared {
                true => "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 10737418240\r\n\r\n",
                false => "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n",
            };
            if tcp.write_all(head.as_bytes()).await.is_ok() {
                // 256 MiB at most, eight times the client's limit, then held open.
                write_on(&mut tcp, &vec![b'x'; 64 * 1024], 256 << 20).await;
            }
        })
        .await;
        let batch = capnweb::HttpBatch::<Stub>::new(&format!("http://{addr}/"));
        let start = Instant::now();
        let result = tokio::time::timeout(
            Duration::from_secs(10),
            batch.main().call("", vec![]).resolve(),
        )
        .await
        .expect("the batch read its answer on past max_message_size");
        eprintln!(
            "a batch answer without end (declared: {declared}) refused in {:?}",
            start.elapsed()
        );
        let Err(RpcError::Disconnected { reason, .. }) = &result else {
            panic!("{result:?}")
        };
        assert!(reason.contains("max_message_size"), "{reason}");
    }
}

/// A WebSocket server that sends each client one text message of `size` bytes at once, then
/// reads what comes until the client leaves.
async fn oversending_server(size: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let _ = ws.send(Message::text("x".repeat(size))).await;
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    url
}

/// The session ended, soon, on a message over its limit.
async fn ended_over_limit(closed: impl Future<Output = RpcError>) {
    let error = tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .expect("the session outlived a message over its limit");
    let RpcError::Disconnected { reason, .. } = &error else {
        panic!("{error:?}")
    };
    // tungstenite's words, or the codec's.
    assert!(
        reason.contains("too long") || reason.contains("max_message_size"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_clients_limit_ends_the_session_on_both_codecs() {
    // The default limit, as `capnweb::connect` has it, and one the application set lower.
    let small = Limits {
        max_message_size: 64 * 1024,
        ..Limits::default()
    };
    for limits in [Limits::default(), small] {
        let url = oversending_server(limits.max_message_size + 1).await;
        let options = SessionOptions::default().limits(limits);
        let session = capnweb::connect_with(&url, None, options.clone())
            .await
            .unwrap();
        ended_over_limit(session.closed()).await;
        let socket = codec::connect(
            &url,
            &ConnectOptions::new().max_message_size(limits.max_message_size),
        )
        .await
        .unwrap();
        let session = RpcSession::spawn(socket, None, options);
        ended_over_limit(session.closed()).await;
    }
}

#[tokio::test]
async fn a_clients_work_has_a_deadline_by_default() {
    // A server that takes every call and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    let client = Client::<Stub>::builder()
        .endpoint(url)
        .connect()
        .await
        .unwrap();
    // Nothing else waits on a timer: the clock jumps to the unit's deadline.
    tokio::time::pause();
    let start = tokio::time::Instant::now();
    let result = client
        .run(|main| async move { main.call("", vec![]).resolve().await })
        .await;
    assert!(
        matches!(result, Err(RpcError::Timeout { after }) if after == Duration::from_secs(60)),
        "{result:?}"
    );
    assert!(start.elapsed() >= Duration::from_secs(60));
    client.close();
}
