//! Many attackers at once against a real server, while a well-behaved client keeps being served:
//! slow bodies, half-sent upgrades, bodies that together would exhaust memory, cross-site
//! batches. Side effects are counted on the server, not taken from what a client reports.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use capnweb::{RpcError, Server, Stub, Value};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A server whose main object counts the calls it runs; returns its address and the count.
async fn start(server: Server) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = ran.clone();
    let factory = move || {
        let counter = counter.clone();
        Stub::from_fn(move |args: Vec<Value>| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, RpcError>(args.into_iter().next().unwrap_or(Value::Null)) }
        })
    };
    let (addr, serve) = server.listen(factory).await.unwrap();
    tokio::spawn(serve);
    (addr, ran)
}

const ONE_CALL: &str = "[\"push\",[\"pipeline\",0,[],[7]]]\n[\"pull\",1]";

/// A well-behaved batch: its status, within 5 s.
async fn good_batch(addr: std::net::SocketAddr) -> u16 {
    let client = reqwest::Client::new();
    let sent = client
        .post(format!("http://{addr}/"))
        .body(ONE_CALL)
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    sent.map(|r| r.status().as_u16()).unwrap_or(0)
}

/// Whether the server closed `stream` (a read sees the end, or an error), within `within`.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {} // an answer (408, say); the close follows
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_cannot_lock_out_finished_requests() {
    let server = Server::bind("127.0.0.1:0")
        .max_connections(4)
        .body_timeout(Duration::from_secs(2));
    let (addr, ran) = start(server).await;
    // Forty peers start a POST and trickle its body, a byte every 200 ms.
    let mut slow = Vec::new();
    for _ in 0..40 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
            ONE_CALL.len()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        slow.push(s);
    }
    let trickle = tokio::spawn(async move {
        for i in 0..15 {
            for s in &mut slow {
                let _ = s.write_all(&ONE_CALL.as_bytes()[i..=i]).await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        slow
    });
    // Meanwhile finished requests are served, every time.
    for _ in 0..10 {
        assert_eq!(good_batch(addr).await, 200, "a finished batch was refused");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut slow = trickle.await.unwrap();
    // The slow ones were cut off at the body timeout, having run nothing.
    for s in &mut slow {
        assert!(
            closed_by_server(s, Duration::from_secs(3)).await,
            "a body still trickling after the body timeout was kept"
        );
    }
    assert_eq!(
        ran.load(Ordering::SeqCst),
        10,
        "only the finished batches ran"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_upgrades_are_closed_at_the_header_timeout() {
    let server = Server::bind("127.0.0.1:0").header_timeout(Duration::from_millis(500));
    let (addr, _ran) = start(server).await;
    let mut half = Vec::new();
    for _ in 0..300 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upg")
            .await
            .unwrap();
        half.push(s);
    }
    // A real WebSocket client is served meanwhile.
    let main: Stub = capnweb::connect(&format!("ws://{addr}/")).await.unwrap();
    let v = main.call("", vec![Value::from(5)]).resolve().await.unwrap();
    assert_eq!(v.as_f64(), Some(5.0));
    let start = Instant::now();
    for s in &mut half {
        assert!(
            closed_by_server(s, Duration::from_secs(5)).await,
            "a half-sent upgrade was still open"
        );
    }
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    // The session that completed its upgrade is not affected by the header timeout.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let v = main.call("", vec![Value::from(6)]).resolve().await.unwrap();
    assert_eq!(v.as_f64(), Some(6.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_together_cannot_exceed_the_buffer_budget() {
    const BUDGET: usize = 1024 * 1024;
    let server = Server::bind("127.0.0.1:0")
        .max_buffered_bytes(BUDGET)
        .body_timeout(Duration::from_secs(5));
    let (addr, ran) = start(server).await;
    // Twelve peers each send 300 KB of a 600 KB body and hold it: 3.6 MB wanted in all.
    let mut holders = Vec::new();
    for _ in 0..12 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let head = "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 600000\r\n\r\n";
        s.write_all(head.as_bytes()).await.unwrap();
        let _ = s.write_all(&vec![b' '; 300_000]).await;
        holders.push(s);
    }
    // Those beyond the budget are answered 503, naming the limit.
    let mut refused = 0;
    for s in &mut holders {
        let mut answer = vec![0u8; 512];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(2), s.read(&mut answer)).await {
            let text = String::from_utf8_lossy(&answer[..n]).to_string();
            if text.starts_with("HTTP/1.1 503") {
                assert!(text.contains("max_buffered_bytes"), "{text}");
                refused += 1;
            }
        }
    }
    assert!(
        // Each holds 300 KB, the first 64 KiB its own (see `max_buffered_bytes`).
        refused >= 12 - BUDGET / (300_000 - 64 * 1024),
        "only {refused} of 12 refused"
    );
    // Once they are gone, the budget is whole again.
    drop(holders);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(good_batch(addr).await, 200);
    assert_eq!(ran.load(Ordering::SeqCst), 1);

    // A WebSocket message larger than the whole budget ends its session with a reason naming
    // it; other sessions go on.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .unwrap();
    let other: Stub = capnweb::connect(&format!("ws://{addr}/")).await.unwrap();
    let big = format!(
        "[\"push\",[\"pipeline\",0,[],[\"{}\"]]]",
        "x".repeat(2 * BUDGET)
    );
    let _ = ws
        .send(tokio_tungstenite::tungstenite::Message::text(big))
        .await;
    let mut reason = String::new();
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            reason = t.to_string();
        }
    }
    assert!(reason.starts_with("[\"abort\""), "{reason}");
    assert!(reason.contains("max_buffered_bytes"), "{reason}");
    let v = other
        .call("", vec![Value::from(1)])
        .resolve()
        .await
        .unwrap();
    assert_eq!(v.as_f64(), Some(1.0));
    assert_eq!(
        ran.load(Ordering::SeqCst),
        2,
        "the oversized call did not run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_from_refused_origins_run_nothing() {
    for server in [
        Server::bind("127.0.0.1:0").allowed_origins(["https://good.example"]),
        Server::bind("127.0.0.1:0").cors(["https://good.example"]),
    ] {
        let (addr, ran) = start(server).await;
        let client = reqwest::Client::new();
        let post = |origin: Option<&'static str>| {
            let mut req = client
                .post(format!("http://{addr}/"))
                .header("content-type", "text/plain")
                .body(ONE_CALL);
            if let Some(origin) = origin {
                req = req.header("origin", origin);
            }
            req.send()
        };
        let evil = post(Some("https://evil.example")).await.unwrap();
        assert_eq!(evil.status().as_u16(), 403);
        assert_eq!(
            ran.load(Ordering::SeqCst),
            0,
            "a refused origin's batch ran"
        );
        assert_eq!(
            post(Some("https://good.example")).await.unwrap().status(),
            200
        );
        assert_eq!(post(None).await.unwrap().status(), 200);
        assert_eq!(ran.load(Ordering::SeqCst), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_holding_every_slot_give_way_to_new_users() {
    let server = Server::bind("127.0.0.1:0")
        .max_connections(20)
        .reclaim_idle_after(Some(Duration::from_millis(300)));
    let metrics = server.metrics();
    let (addr, ran) = start(server).await;
    // Twenty sockets take every slot and do nothing.
    let mut idle = Vec::new();
    for _ in 0..20 {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
            .await
            .unwrap();
        idle.push(ws);
    }
    assert_eq!(metrics.snapshot().sessions_open, 20);
    tokio::time::sleep(Duration::from_millis(400)).await;
    // New users, over either transport, are served: the idlest sessions make room.
    for i in 0..5 {
        assert_eq!(good_batch(addr).await, 200, "batch {i}");
        let stub: Stub = capnweb::connect(&format!("ws://{addr}/")).await.unwrap();
        let v = stub.call("", vec![Value::from(i)]).resolve().await.unwrap();
        assert_eq!(v.as_f64(), Some(f64::from(i)));
        // It stays, served; and is not idle long enough to give way to the next.
        #[allow(clippy::mem_forget)] // kept for the whole test, on purpose
        std::mem::forget(stub);
    }
    assert_eq!(ran.load(Ordering::SeqCst), 10);
    // Those that gave way were told why.
    let mut told = 0;
    for ws in &mut idle {
        if let Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))) =
            tokio::time::timeout(Duration::from_millis(100), ws.next()).await
        {
            assert!(t.contains("made room for a new one"), "{t}");
            told += 1;
        }
    }
    assert!(told >= 5, "{told} idle sessions told they gave way");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_takes_at_most_its_share_of_the_slots() {
    let server = Server::bind("127.0.0.1:0")
        .max_connections_per_address(3)
        .reclaim_idle_after(None);
    let (addr, _ran) = start(server).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(
            tokio_tungstenite::connect_async(format!("ws://{addr}/"))
                .await
                .unwrap(),
        );
    }
    let refused = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("503"), "{refused}");
    let body = reqwest::Client::new()
        .post(format!("http://{addr}/"))
        .body(ONE_CALL)
        .send()
        .await
        .unwrap();
    assert_eq!(body.status().as_u16(), 503);
    assert!(body
        .text()
        .await
        .unwrap()
        .contains("max_connections_per_address 3"));
    // A slot given back is a slot again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(good_batch(addr).await, 200);
}
