//! The WebSocket transport over its own socket adapter (`transport::websocket::Socket`): what
//! the server sends with its handshake answer, large messages in both directions, many calls
//! at once on both runtime flavours, and a peer that reads nothing for a while.

use std::future::{poll_fn, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use capnweb::transport::websocket::{connect, ConnectOptions};
use capnweb::transport::Transport;
use capnweb::{Server, Value};
use capnweb_examples::interop::{test_target, TestTargetClient};
use futures_util::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

async fn server() -> String {
    let (addr, serve) = Server::bind("127.0.0.1:0")
        .listen(test_target)
        .await
        .expect("bind");
    tokio::spawn(serve);
    format!("ws://{addr}/")
}

/// A server that answers the upgrade and, in the same write, sends a frame: the client must
/// not lose it (the handshake reads past its answer).
#[tokio::test]
async fn a_frame_sent_with_the_handshake_answer_is_received() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client closed during its upgrade");
            request.extend_from_slice(&buf[..n]);
        }
        let request = String::from_utf8(request).unwrap();
        let key = request
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("sec-websocket-key")
                    .then(|| value.trim().to_owned())
            })
            .expect("a key");
        let frame = br#"["pull",7]"#;
        let mut answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            derive_accept_key(key.as_bytes())
        )
        .into_bytes();
        answer.extend_from_slice(&[0x81, frame.len() as u8]);
        answer.extend_from_slice(frame);
        socket.write_all(&answer).await.unwrap();
        // Held open until the client has read.
        let _ = socket.read(&mut buf).await;
    });
    let mut transport = connect(
        &format!("ws://127.0.0.1:{port}/"),
        &ConnectOptions::new().max_message_size(1 << 20),
    )
    .await
    .expect("connect");
    let received = tokio::time::timeout(
        Duration::from_secs(5),
        poll_fn(|cx| Pin::new(&mut transport).poll_recv(cx)),
    )
    .await
    .expect("the frame arrives")
    .expect("a message")
    .expect("not an error");
    assert_eq!(AsRef::<str>::as_ref(&received), r#"["pull",7]"#);
}

fn big(len: usize) -> String {
    (0..len)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect()
}

async fn large_messages_both_ways() {
    let main: TestTargetClient = capnweb::connect(&server().await).await.unwrap();
    // Larger than the read buffer, the socket's buffers and a TCP window: many reads, and
    // writes that wait for the peer to read.
    for len in [1, 4 * 1024, 100_000, 3_000_000] {
        let text = big(len);
        let back = main.echo(Value::from(text.as_str())).await.unwrap();
        assert_eq!(back, Value::from(text.as_str()), "{len} bytes");
    }
}

#[tokio::test]
async fn large_messages_cross_both_ways_current_thread() {
    large_messages_both_ways().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_messages_cross_both_ways_multi_thread() {
    large_messages_both_ways().await;
}

async fn many_calls_at_once() {
    let main: TestTargetClient = capnweb::connect(&server().await).await.unwrap();
    for _ in 0..20 {
        let calls = (0..500).map(|i| main.square(i as f64).into_future());
        let results = join_all(calls).await;
        for (i, r) in results.into_iter().enumerate() {
            assert_eq!(r.unwrap(), (i * i) as f64);
        }
    }
}

#[tokio::test]
async fn many_calls_at_once_current_thread() {
    many_calls_at_once().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_calls_at_once_multi_thread() {
    many_calls_at_once().await;
}

/// A server that reads nothing for a while: the client's writes wait (its session does not
/// spin or drop anything), and everything goes once the server reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_wait_for_a_peer_that_is_slow_to_read() {
    use tokio_tungstenite::tungstenite::Message;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (count_tx, count_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        use futures_util::StreamExt;
        let (socket, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(socket).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut bytes = 0usize;
        while bytes < 20 * 100_000 {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => bytes += t.len(),
                other => panic!("unexpected {other:?}"),
            }
        }
        let _ = count_tx.send(bytes);
    });
    let mut transport = connect(
        &format!("ws://127.0.0.1:{port}/"),
        &ConnectOptions::new().max_message_size(1 << 20),
    )
    .await
    .expect("connect");
    let message = format!("[\"push\",\"{}\"]", big(100_000 - 10));
    for _ in 0..20 {
        poll_fn(|cx| Pin::new(&mut transport).poll_send_ready(cx))
            .await
            .unwrap();
        Pin::new(&mut transport).start_send_text(&message).unwrap();
    }
    tokio::time::timeout(
        Duration::from_secs(10),
        poll_fn(|cx| Pin::new(&mut transport).poll_flush_sent(cx)),
    )
    .await
    .expect("flushed once the peer reads")
    .unwrap();
    let bytes = tokio::time::timeout(Duration::from_secs(10), count_rx)
        .await
        .expect("the peer got everything")
        .unwrap();
    assert_eq!(bytes, 20 * message.len());
}
