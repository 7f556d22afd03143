//! What a peer makes a real server hold and compute, against what it sent: values nested deeper
//! over many messages than any one message may carry, a large value pipelined on and read again
//! and again. Each attack runs over a raw WebSocket against a server with its defaults, and a
//! well-behaved client is served after it. Found from outside; each was a crash or a copy per
//! message before.

use std::time::Duration;

use capnweb::{RpcError, Server, Stub, Value};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A server (defaults) whose main object echoes its first argument; its address.
async fn start() -> std::net::SocketAddr {
    start_with(Server::bind("127.0.0.1:0")).await
}

/// `server`, its main object echoing its first argument, started; its address.
async fn start_with(server: Server) -> std::net::SocketAddr {
    let factory = || {
        Stub::from_fn(|args: Vec<Value>| async move {
            Ok::<_, RpcError>(args.into_iter().next().unwrap_or(Value::Null))
        })
    };
    let (addr, serve) = server.listen(factory).await.unwrap();
    tokio::spawn(serve);
    addr
}

async fn raw(addr: std::net::SocketAddr) -> Socket {
    tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .unwrap()
        .0
}

async fn send(ws: &mut Socket, text: String) {
    ws.send(Message::text(text)).await.unwrap();
}

/// The next text message, within 30 s.
async fn next_text(ws: &mut Socket) -> String {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("an answer within 30 s")
            .expect("the socket is open")
            .expect("a message");
        if let Message::Text(t) = msg {
            return t.to_string();
        }
    }
}

/// `inner` wrapped in `n` arrays, as the wire writes an array (`[[..]]`).
fn nested(n: usize, inner: &str) -> String {
    format!("{}{inner}{}", "[[".repeat(n), "]]".repeat(n))
}

/// A well-behaved client is served, within 10 s.
async fn served(addr: std::net::SocketAddr) {
    let stub: Stub = tokio::time::timeout(
        Duration::from_secs(10),
        capnweb::connect(&format!("ws://{addr}/")),
    )
    .await
    .expect("connected in time")
    .expect("connected");
    let v = tokio::time::timeout(
        Duration::from_secs(10),
        stub.call("", vec![Value::from(5)]).resolve(),
    )
    .await
    .expect("answered in time")
    .expect("answered");
    assert_eq!(v.as_f64(), Some(5.0));
}

/// The server process's resident memory, in MiB (it runs in this process).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib / 1024.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remaps_nesting_their_own_results_are_refused_not_a_stack_overflow() {
    let addr = start().await;
    let mut ws = raw(addr).await;
    // A value, then remaps over the last result, each wrapping it 200 arrays deeper.
    send(&mut ws, r#"["push",[[1]]]"#.into()).await;
    let rounds = 40;
    for k in 1..=rounds {
        let wrap = nested(200, r#"["pipeline",0]"#);
        send(&mut ws, format!(r#"["push",["remap",{k},[],[],[{wrap}]]]"#)).await;
    }
    send(&mut ws, format!(r#"["pull",{}]"#, rounds + 1)).await;
    let answer = next_text(&mut ws).await;
    assert!(
        answer.starts_with(&format!(r#"["reject",{}"#, rounds + 1))
            && answer.contains("nests deeper than 512"),
        "{}",
        &answer[..answer.len().min(300)]
    );
    // One message: 63 instructions, each wrapping the one before 200 deeper.
    let instructions: Vec<String> = (0..63)
        .map(|i| nested(200, &format!(r#"["pipeline",{i}]"#)))
        .collect();
    send(
        &mut ws,
        format!(r#"["push",["remap",1,[],[],[{}]]]"#, instructions.join(",")),
    )
    .await;
    send(&mut ws, format!(r#"["pull",{}]"#, rounds + 2)).await;
    let answer = next_text(&mut ws).await;
    assert!(
        answer.starts_with("[\"reject\""),
        "{}",
        &answer[..answer.len().min(300)]
    );
    served(addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_of_pushes_holding_each_other_is_refused_and_freed_without_overflow() {
    let addr = start().await;
    let mut ws = raw(addr).await;
    // Each push holds the one before, 200 arrays deep: 2,000 links, 400,000 levels in all.
    send(&mut ws, r#"["push",[[1]]]"#.into()).await;
    let links = 2_000;
    for k in 1..=links {
        send(
            &mut ws,
            format!(
                r#"["push",{}]"#,
                nested(200, &format!(r#"["pipeline",{k}]"#))
            ),
        )
        .await;
    }
    // Handed to a call, the whole chain would be one value: refused.
    send(
        &mut ws,
        format!(r#"["push",["pipeline",0,[],[["pipeline",{}]]]]"#, links + 1),
    )
    .await;
    send(&mut ws, format!(r#"["pull",{}]"#, links + 2)).await;
    let answer = next_text(&mut ws).await;
    assert!(
        answer.starts_with(&format!(r#"["reject",{}"#, links + 2))
            && (answer.contains("nests deeper") || answer.contains("nested in one another")),
        "{}",
        &answer[..answer.len().min(300)]
    );
    // Released from the first, each link is held by the next until the last goes: then the
    // whole chain is dropped at once.
    for k in 1..=links + 1 {
        send(&mut ws, format!(r#"["release",{k},1]"#)).await;
    }
    send(&mut ws, r#"["push",["pipeline",0,[],[3]]]"#.into()).await;
    send(&mut ws, format!(r#"["pull",{}]"#, links + 3)).await;
    assert_eq!(
        next_text(&mut ws).await,
        format!(r#"["resolve",{},3]"#, links + 3)
    );
    served(addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelining_on_a_large_value_and_reading_its_paths_copies_nothing() {
    let addr = start().await;
    let mut ws = raw(addr).await;
    // A 1 MiB value: 8 arrays of 16,384 numbers.
    let part = (0..16_384)
        .map(|i| (i % 10).to_string())
        .collect::<Vec<_>>()
        .join(",");
    let value = format!("[[{}]]", vec![format!("[[{part}]]"); 8].join(","));
    let sent_literal = value.len();
    send(&mut ws, format!(r#"["push",{value}]"#)).await;
    send(&mut ws, r#"["pull",1]"#.into()).await;
    let first = next_text(&mut ws).await;
    assert!(first.starts_with(r#"["resolve",1,"#), "{}", &first[..100]);
    let before = rss_mib();
    // 3,000 messages of ~25 bytes, each a new export of the whole value or of one of its parts.
    let mut sent = 0;
    for i in 0..3_000 {
        let text = match i % 3 {
            0 => r#"["push",["pipeline",1]]"#.to_owned(),
            1 => format!(r#"["push",["pipeline",1,[{}]]]"#, i % 8),
            _ => format!(r#"["push",["pipeline",1,[{},{}]]]"#, i % 8, i % 16_384),
        };
        sent += text.len();
        send(&mut ws, text).await;
    }
    // Each is what it reads, read from the one value.
    send(&mut ws, r#"["pull",3]"#.into()).await; // ["pipeline",1,[1]]
    let part_answer = next_text(&mut ws).await;
    assert_eq!(
        part_answer.len(),
        format!(r#"["resolve",3,[[{part}]]]"#).len()
    );
    send(&mut ws, r#"["pull",4]"#.into()).await; // ["pipeline",1,[2,2]]
    assert_eq!(next_text(&mut ws).await, r#"["resolve",4,2]"#);
    let grown = rss_mib() - before;
    // Copies would be 3,000 x 1 MiB (2 GiB); shared, the exports cost a few hundred bytes each.
    assert!(
        grown < 64.0,
        "{grown:.0} MiB held after {sent} bytes of pipelining on a {sent_literal}-byte value"
    );
    served(addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remap_costs_its_elements_times_its_instructions_and_yields_while_it_runs() {
    let addr = start().await;
    let mut ws = raw(addr).await;
    let elements = (0..20_000)
        .map(|i| (i % 10).to_string())
        .collect::<Vec<_>>();
    send(&mut ws, format!(r#"["push",[[{}]]]"#, elements.join(","))).await;
    // A 20 KB mapper (1,000 instructions) over 20,000 elements: 20 million evaluations,
    // refused before any runs.
    let heavy = vec![r#"["pipeline",0]"#; 1_000].join(",");
    send(&mut ws, format!(r#"["push",["remap",1,[],[],[{heavy}]]]"#)).await;
    send(&mut ws, r#"["pull",2]"#.into()).await;
    let answer = tokio::time::timeout(Duration::from_secs(2), next_text(&mut ws))
        .await
        .expect("refused at once, not after the work");
    assert!(
        answer.starts_with(r#"["reject",2"#) && answer.contains("max_map_applications"),
        "{answer}"
    );
    // Within the budget (20,000 x 40 = 800,000), it runs, and a well-behaved client is served
    // meanwhile: the map yields between elements.
    let within = vec![r#"["pipeline",0]"#; 40].join(",");
    send(&mut ws, format!(r#"["push",["remap",1,[],[],[{within}]]]"#)).await;
    send(&mut ws, r#"["pull",3]"#.into()).await;
    let good: Stub = capnweb::connect(&format!("ws://{addr}/")).await.unwrap();
    let mut slowest = Duration::ZERO;
    for i in 0..20 {
        let start = std::time::Instant::now();
        let v = good.call("", vec![Value::from(i)]).resolve().await.unwrap();
        assert_eq!(v.as_f64(), Some(f64::from(i)));
        slowest = slowest.max(start.elapsed());
    }
    let mapped = next_text(&mut ws).await;
    assert!(
        mapped.starts_with(r#"["resolve",3,[["#),
        "{}",
        &mapped[..100]
    );
    assert!(
        slowest < Duration::from_millis(500),
        "a call took {slowest:?} while a map ran"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_reads_meets_the_idle_timeout_the_maximum_age_and_the_write_timeout() {
    for options in [
        capnweb::SessionOptions::default().idle_timeout(Duration::from_millis(500)),
        capnweb::SessionOptions::default().max_age(Duration::from_millis(500)),
        capnweb::SessionOptions::default().write_timeout(Duration::from_millis(500)),
    ] {
        let described = format!("{options:?}");
        let server = Server::bind("127.0.0.1:0").options(options);
        let metrics = server.metrics();
        let big = "x".repeat(64 * 1024);
        let factory = move || {
            let big = big.clone();
            Stub::from_fn(move |_: Vec<Value>| {
                let big = big.clone();
                async move { Ok::<_, RpcError>(Value::from(big)) }
            })
        };
        let (addr, serve) = server.listen(factory).await.unwrap();
        tokio::spawn(serve);
        let mut ws = raw(addr).await;
        // 2,000 answers of 64 KB (128 MB) asked for, none read: the server's writes block.
        let calls = (1..=2_000)
            .map(|i| format!("[\"push\",[\"pipeline\",0,[],[]]]\n[\"pull\",{i}]"))
            .collect::<Vec<_>>();
        for pair in calls {
            for line in pair.split('\n') {
                send(&mut ws, line.to_owned()).await;
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while metrics.snapshot().sessions_open > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            metrics.snapshot().sessions_open,
            0,
            "a session blocked writing to a peer that never reads outlived {described}"
        );
        drop(ws);
    }
}

/// A raw HTTP/1.1 POST of `body` to `addr`; the connection, response unread.
async fn post_raw(addr: std::net::SocketAddr, body: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    // A small receive window, as a slow reader's: the kernel takes little of the answer.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut s = socket.connect(addr).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body.as_bytes()).await.unwrap();
    s
}

/// A batch asking for a 100 KB value `n` times (pushed once, pipelined on `n` times).
fn asking_again(n: usize) -> String {
    let mut lines = vec![format!(r#"["push","{}"]"#, "v".repeat(100_000))];
    lines.extend((0..n).map(|_| r#"["push",["pipeline",1]]"#.to_owned()));
    lines.extend((2..=n + 1).map(|i| format!(r#"["pull",{i}]"#)));
    lines.join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_answer_is_bounded_and_held_against_the_budget_until_read() {
    let limits = capnweb::wire::Limits {
        max_message_size: 16 << 20,
        ..Default::default()
    };
    let server = Server::bind("127.0.0.1:0")
        .options(capnweb::SessionOptions::default().limits(limits))
        // Two answers of about 10 MB draw all but ~18 KB of it (each share's first 64 KiB is
        // its own): a third batch of 100 KB does not fit.
        .max_buffered_bytes(19_890_000);
    let factory = || Stub::from_fn(|_: Vec<Value>| async { Ok::<_, RpcError>(Value::Null) });
    let (addr, serve) = server.listen(factory).await.unwrap();
    tokio::spawn(serve);
    let http = reqwest::Client::new();
    // 200 answers of 100 KB asked for in 105 KB: the answer stops at the 16 MiB bound, and
    // says so.
    let answer = http
        .post(format!("http://{addr}/"))
        .body(asking_again(200))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(answer.len() <= (16 << 20) + 200, "{} bytes", answer.len());
    let last = answer.lines().last().unwrap();
    assert!(
        last.starts_with(r#"["abort""#) && last.contains("exceeds the maximum message size"),
        "{last}"
    );
    // Two answers of 10 MB left unread (more than the sockets' buffers take) hold the
    // budget: a third batch waits for room.
    let held = [
        post_raw(addr, &asking_again(100)).await,
        post_raw(addr, &asking_again(100)).await,
    ];
    // (Once they are built: a while, in a debug build.)
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let refused = loop {
        let third = http
            .post(format!("http://{addr}/"))
            .body(asking_again(1))
            .send()
            .await
            .unwrap();
        if third.status().as_u16() == 503 || std::time::Instant::now() > deadline {
            break third;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(refused.status().as_u16(), 503);
    // Read (here: the peers go), the room is back.
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let served = http
        .post(format!("http://{addr}/"))
        .body(asking_again(1))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_ends_by_its_deadline_freeing_its_slot() {
    let server = Server::bind("127.0.0.1:0")
        .max_connections(1)
        .reclaim_idle_after(None)
        .batch_timeout(Duration::from_millis(500));
    let metrics = server.metrics();
    let factory =
        || Stub::from_fn(|_: Vec<Value>| std::future::pending::<Result<Value, RpcError>>());
    let (addr, serve) = server.listen(factory).await.unwrap();
    tokio::spawn(serve);
    let http = reqwest::Client::new();
    let start = std::time::Instant::now();
    // A pipe nobody reads, handed to a call that never returns, and another.
    let body = [
        r#"["pipe"]"#,
        r#"["push",["pipeline",0,[],[["readable",1]]]]"#,
        r#"["push",["pipeline",0,[],[]]]"#,
        r#"["pull",2]"#,
        r#"["pull",3]"#,
    ]
    .join("\n");
    let answer = http
        .post(format!("http://{addr}/"))
        .body(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(answer.contains("maximum age"), "{answer}");
    // Its slot (the only one) is free again.
    let again = http
        .post(format!("http://{addr}/"))
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 200);
    assert_eq!(metrics.snapshot().sessions_open, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_held_for_the_peer_are_bounded_in_bytes() {
    let limits = capnweb::wire::Limits {
        max_answer_bytes: 8 << 20,
        ..Default::default()
    };
    let server =
        Server::bind("127.0.0.1:0").options(capnweb::SessionOptions::default().limits(limits));
    let addr = start_with(server).await;
    let mut ws = raw(addr).await;
    // A 1 MB string, then calls returning it (an echo: 45 bytes each), never pulled.
    send(&mut ws, format!(r#"["push","{}"]"#, "v".repeat(1 << 20))).await;
    for _ in 0..20 {
        send(
            &mut ws,
            r#"["push",["pipeline",0,[],[["pipeline",1]]]]"#.into(),
        )
        .await;
    }
    let abort = next_text(&mut ws).await;
    assert!(
        abort.starts_with(r#"["abort""#) && abort.contains("max_answer_bytes"),
        "{abort}"
    );
    served(addr).await;
}

/// Pushes and pulls `n` calls of the main object, reading each answer; releases each result
/// once answered if `release`. Returns the first abort, if the session ends in one.
async fn calls_keeping_results(ws: &mut Socket, n: usize, release: bool) -> Option<String> {
    for id in 1..=n {
        send(ws, r#"["push",["pipeline",0,[],[]]]"#.into()).await;
        send(ws, format!(r#"["pull",{id}]"#)).await;
        let answer = next_text(ws).await;
        if answer.starts_with(r#"["abort""#) {
            return Some(answer);
        }
        assert!(answer.starts_with(r#"["resolve""#), "{}", &answer[..60]);
        if release {
            send(ws, format!(r#"["release",{id},1]"#)).await;
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_count_until_released_against_the_budget_all_sessions_share() {
    // A pool of 8 MiB for the whole server; a call without arguments returns a 256 KB string
    // (with one, its argument).
    let server = Server::bind("127.0.0.1:0").max_buffered_bytes(8 << 20);
    let metrics = server.metrics();
    let factory = || {
        Stub::from_fn(|args: Vec<Value>| async move {
            let big = || Value::from("r".repeat(256 << 10));
            Ok::<_, RpcError>(args.into_iter().next().unwrap_or_else(big))
        })
    };
    let (addr, serve) = server.listen(factory).await.unwrap();
    tokio::spawn(serve);
    // Sent and read, never released: the results stay held (a pipeline on each may follow),
    // and past the shared pool the session ends, saying which limit.
    let mut keeper = raw(addr).await;
    let abort = calls_keeping_results(&mut keeper, 100, false).await;
    let abort = abort.expect("25 MB of results kept against an 8 MiB pool");
    assert!(abort.contains("max_buffered_bytes"), "{abort}");
    drop(keeper);
    // The pool came back with that session, and results released are given back: 100 calls
    // (25 MB) in a row are served to a peer that releases each.
    let mut releaser = raw(addr).await;
    assert_eq!(calls_keeping_results(&mut releaser, 100, true).await, None);
    served(addr).await;
    drop(releaser);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while metrics.snapshot().sessions_open > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(metrics.snapshot().sessions_open, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_answer_nobody_reads_gives_back_its_slot_at_the_write_timeout() {
    let server = Server::bind("127.0.0.1:0")
        .options(capnweb::SessionOptions::default().write_timeout(Duration::from_millis(500)))
        .max_connections(1)
        .reclaim_idle_after(None);
    let factory = || Stub::from_fn(|_: Vec<Value>| async { Ok::<_, RpcError>(Value::Null) });
    let (addr, serve) = server.listen(factory).await.unwrap();
    tokio::spawn(serve);
    // A 45 MB answer (more than loopback's socket buffers take: they grow to 32 MiB to read
    // and 4 MiB to write here), never read: it holds the only slot while the server writes it...
    let start = std::time::Instant::now();
    let unread = post_raw(addr, &asking_again(450)).await;
    let http = reqwest::Client::new();
    let status = || async {
        http.post(format!("http://{addr}/"))
            .body(asking_again(1))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    let refused = loop {
        let got = status().await;
        if got == 503 || start.elapsed() > Duration::from_secs(20) {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(refused, 503, "the unread answer held no slot");
    // ...until the peer has taken nothing of it for the write timeout: the connection ends,
    // and the slot is free.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let served = loop {
        let got = status().await;
        if got == 200 || std::time::Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(served, 200, "the slot was still held after 10 s");
    drop(unread);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_map_copying_a_literal_per_element_stops_at_the_bytes_held_for_the_peer() {
    // Found by the session fuzzer: a mapper's literal is built anew for each element, so four
    // maps of a 1 KB string over 100,000 elements (a 200 KB array, 1 KB remaps) would build
    // 440 MB. The maps running at once share the session's `max_answer_bytes` (64 MiB): each
    // is refused once past it, before it is built whole, and the session goes on.
    let addr = start().await;
    let mut ws = raw(addr).await;
    let ones = vec!["1"; 100_000].join(",");
    send(&mut ws, format!(r#"["push",[[{ones}]]]"#)).await;
    let literal = "x".repeat(1024);
    for id in 2..=5 {
        send(
            &mut ws,
            format!(r#"["push",["remap",1,[],[],["{literal}"]]]"#),
        )
        .await;
        send(&mut ws, format!(r#"["pull",{id}]"#)).await;
    }
    for _ in 2..=5 {
        let answer = next_text(&mut ws).await;
        assert!(
            answer.starts_with(r#"["reject""#) && answer.contains("max_answer_bytes"),
            "{}",
            &answer[..answer.len().min(200)]
        );
    }
    // Within the bytes, a map of the same literal runs (100 elements).
    send(
        &mut ws,
        format!(r#"["push",[[{}]]]"#, vec!["1"; 100].join(",")),
    )
    .await;
    send(
        &mut ws,
        format!(r#"["push",["remap",6,[],[],["{literal}"]]]"#),
    )
    .await;
    send(&mut ws, r#"["pull",7]"#.into()).await;
    let answer = next_text(&mut ws).await;
    assert!(
        answer.starts_with(r#"["resolve",7,[["xxx"#),
        "{}",
        &answer[..60]
    );
    served(addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_maps_build_draws_on_the_pool_all_sessions_share() {
    // A pool of 8 MiB for the whole server: a map building 20 MB (a 1 KB string over 20,000
    // elements), within its session's own 64 MiB, is refused once past the pool, while it
    // builds, and gives back what it took.
    let server = Server::bind("127.0.0.1:0").max_buffered_bytes(8 << 20);
    let addr = start_with(server).await;
    let mut ws = raw(addr).await;
    send(
        &mut ws,
        format!(r#"["push",[[{}]]]"#, vec!["1"; 20_000].join(",")),
    )
    .await;
    let literal = "x".repeat(1024);
    for id in [2, 3] {
        send(
            &mut ws,
            format!(r#"["push",["remap",1,[],[],["{literal}"]]]"#),
        )
        .await;
        send(&mut ws, format!(r#"["pull",{id}]"#)).await;
        let answer = next_text(&mut ws).await;
        assert!(
            answer.starts_with(&format!(r#"["reject",{id}"#))
                && answer.contains("max_buffered_bytes"),
            "{}",
            &answer[..answer.len().min(200)]
        );
    }
    served(addr).await;
}
