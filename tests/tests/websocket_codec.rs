//! The built-in WebSocket codec (`transport::websocket::codec`): sessions over it on both
//! runtime flavours, against tungstenite both ways, and RFC 6455's rules checked byte by byte
//! from a raw peer on either side: masking, reserved bits and opcodes, control frames,
//! fragments, UTF-8, size limits, pings and the close handshake.

use std::future::{poll_fn, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use capnweb::transport::websocket::codec::{self, ClientCodecSocket, Codec};
use capnweb::transport::websocket::ConnectOptions;
use capnweb::transport::Transport;
use capnweb::wire::Limits;
use capnweb::{RpcSession, Server, SessionOptions, Value};
use capnweb_examples::interop::{test_target, TestTargetClient};
use futures_util::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

const SECOND: Duration = Duration::from_secs(5);

async fn server_with(codec: Codec, max_message_size: usize) -> std::net::SocketAddr {
    let mut options = SessionOptions::default();
    options.limits = Limits {
        max_message_size,
        ..Limits::default()
    };
    let (addr, serve) = Server::bind("127.0.0.1:0")
        .options(options)
        .websocket_codec(codec)
        .listen(test_target)
        .await
        .expect("bind");
    tokio::spawn(serve);
    addr
}

async fn codec_client(addr: std::net::SocketAddr) -> (TestTargetClient, RpcSession) {
    let socket = codec::connect(
        &format!("ws://{addr}/"),
        &ConnectOptions::new().max_message_size(1 << 26),
    )
    .await
    .expect("connect");
    let session = RpcSession::spawn(socket, None, SessionOptions::default());
    (TestTargetClient::from(session.main()), session)
}

fn big(len: usize) -> String {
    (0..len)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect()
}

/// Messages from 1 byte to 3 MB, and 20 rounds of 500 calls at once, through `main`.
async fn exercise(main: &TestTargetClient) {
    for len in [1, 4 * 1024, 100_000, 3_000_000] {
        let text = big(len);
        let back = main.echo(Value::from(text.as_str())).await.unwrap();
        assert_eq!(back, Value::from(text.as_str()), "{len} bytes");
    }
    for _ in 0..20 {
        let calls = (0..500).map(|i| main.square(i as f64).into_future());
        for (i, r) in join_all(calls).await.into_iter().enumerate() {
            assert_eq!(r.unwrap(), (i * i) as f64);
        }
    }
}

async fn both_ends_on_the_codec() {
    let addr = server_with(Codec::Builtin, 1 << 26).await;
    let (main, _session) = codec_client(addr).await;
    exercise(&main).await;
}

#[tokio::test]
async fn both_ends_on_the_codec_current_thread() {
    both_ends_on_the_codec().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_ends_on_the_codec_multi_thread() {
    both_ends_on_the_codec().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tungstenite_client_talks_to_a_codec_server() {
    let addr = server_with(Codec::Builtin, 1 << 26).await;
    let main: TestTargetClient = capnweb::connect(&format!("ws://{addr}/")).await.unwrap();
    exercise(&main).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_codec_client_talks_to_a_tungstenite_server() {
    let addr = server_with(Codec::Tungstenite, 1 << 26).await;
    let (main, _session) = codec_client(addr).await;
    exercise(&main).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resilient_client_connects_with_the_codec() {
    let addr = server_with(Codec::Builtin, 1 << 20).await;
    let client = capnweb::Client::<TestTargetClient>::builder()
        .endpoints([format!("ws://{addr}/")])
        .websocket_codec(Codec::Builtin)
        .build();
    let main = client.main().await.unwrap();
    assert_eq!(main.square(12.0).await.unwrap(), 144.0);
}

// ---- A raw peer, to send and expect frames byte by byte. ----

/// One end of a WebSocket written by hand.
struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Whether this end masks what it sends (a client does).
    masks: bool,
}

/// A frame as read: its first byte (FIN, RSV and opcode) and unmasked payload.
#[derive(Debug, PartialEq)]
struct RawFrame {
    b0: u8,
    payload: Vec<u8>,
}

impl Raw {
    /// Opens a WebSocket to a server by hand.
    async fn client(addr: std::net::SocketAddr) -> Raw {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let request = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Raw {
            stream,
            buf: Vec::new(),
            masks: true,
        };
        let head = raw.head().await;
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(head.contains(&derive_accept_key(key.as_bytes())), "{head}");
        raw
    }

    /// Accepts one client's upgrade by hand.
    async fn server(listener: &TcpListener) -> Raw {
        let (stream, _) = listener.accept().await.unwrap();
        let mut raw = Raw {
            stream,
            buf: Vec::new(),
            masks: false,
        };
        let head = raw.head().await;
        let key = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("sec-websocket-key")
                    .then(|| value.trim().to_owned())
            })
            .expect("a key");
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            derive_accept_key(key.as_bytes())
        );
        raw.stream.write_all(answer.as_bytes()).await.unwrap();
        raw
    }

    async fn head(&mut self) -> String {
        loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(self.buf[..at + 4].to_vec()).unwrap();
                self.buf.drain(..at + 4);
                return head;
            }
            assert!(self.fill().await, "closed during the handshake");
        }
    }

    /// Reads more; false at the end of the stream.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(SECOND, self.stream.read(&mut chunk))
            .await
            .expect("the peer answers in time")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// One frame with this first byte, masked if `mask`.
    fn frame(b0: u8, payload: &[u8], mask: bool) -> Vec<u8> {
        let mut out = vec![b0];
        let bit = if mask { 0x80 } else { 0 };
        match payload.len() {
            n @ 0..=125 => out.push(bit | n as u8),
            n @ 126..=0xFFFF => {
                out.push(bit | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(bit | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let key = [0x37, 0xFA, 0x21, 0x3D];
        if mask {
            out.extend_from_slice(&key);
        }
        out.extend(
            payload
                .iter()
                .enumerate()
                .map(|(i, b)| if mask { b ^ key[i % 4] } else { *b }),
        );
        out
    }

    /// Sends one frame with this first byte, masked if this end masks (or as `mask` says).
    async fn send_as(&mut self, b0: u8, payload: &[u8], mask: bool) {
        let out = Raw::frame(b0, payload, mask);
        self.stream.write_all(&out).await.unwrap();
    }

    /// Sends a ping for each payload, all in one write (so that they are read at once).
    async fn pings_at_once(&mut self, payloads: &[Vec<u8>]) {
        let burst: Vec<u8> = payloads
            .iter()
            .flat_map(|p| Raw::frame(0x89, p, self.masks))
            .collect();
        self.stream.write_all(&burst).await.unwrap();
    }

    /// Expects a pong for each payload, in order.
    async fn expect_pongs(&mut self, payloads: &[Vec<u8>]) {
        for payload in payloads {
            let pong = self.recv().await.expect("a pong");
            assert_eq!(
                pong,
                RawFrame {
                    b0: 0x8A,
                    payload: payload.clone()
                }
            );
        }
    }

    async fn send(&mut self, b0: u8, payload: &[u8]) {
        self.send_as(b0, payload, self.masks).await;
    }

    async fn text(&mut self, text: &str) {
        self.send(0x81, text.as_bytes()).await;
    }

    /// The next frame, or `None` at the end of the stream.
    async fn recv(&mut self) -> Option<RawFrame> {
        loop {
            if self.buf.len() >= 2 {
                let (b0, b1) = (self.buf[0], self.buf[1]);
                let (len, mut at) = match b1 & 0x7F {
                    126 if self.buf.len() >= 4 => {
                        (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
                    }
                    127 if self.buf.len() >= 10 => (
                        u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize,
                        10,
                    ),
                    126 | 127 => (usize::MAX, 0),
                    n => (n as usize, 2),
                };
                let key = (b1 & 0x80 != 0).then(|| {
                    at += 4;
                    [0, 1, 2, 3].map(|i| self.buf.get(at - 4 + i).copied().unwrap_or(0))
                });
                if len != usize::MAX && self.buf.len() >= at + len {
                    let mut payload = self.buf[at..at + len].to_vec();
                    if let Some(key) = key {
                        for (i, b) in payload.iter_mut().enumerate() {
                            *b ^= key[i % 4];
                        }
                    }
                    self.buf.drain(..at + len);
                    return Some(RawFrame { b0, payload });
                }
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// The next text frame's text (skipping nothing: it must be one).
    async fn recv_text(&mut self) -> String {
        let frame = self.recv().await.expect("a frame");
        assert_eq!(frame.b0, 0x81, "a whole text frame: {frame:?}");
        String::from_utf8(frame.payload).unwrap()
    }

    /// Reads until the close frame, then expects its code and the end of the stream.
    async fn expect_close(&mut self, code: u16) -> String {
        loop {
            let frame = self.recv().await.expect("a close frame before the end");
            if frame.b0 == 0x88 {
                assert!(frame.payload.len() >= 2, "{frame:?}");
                let got = u16::from_be_bytes([frame.payload[0], frame.payload[1]]);
                let reason = String::from_utf8(frame.payload[2..].to_vec()).unwrap();
                assert_eq!(got, code, "closed with {got}: {reason}");
                assert_eq!(self.recv().await, None, "the server ends the connection");
                return reason;
            }
            // Before it, the session's own abort may come.
            assert_eq!(frame.b0, 0x81, "{frame:?}");
        }
    }
}

async fn codec_server() -> Raw {
    Raw::client(server_with(Codec::Builtin, 1000).await).await
}

const PUSH: &str = r#"["push",["pipeline",0,["square"],[3]]]"#;

#[tokio::test]
async fn a_fragmented_message_with_a_ping_between_is_served_and_the_ping_answered() {
    let mut peer = codec_server().await;
    let (a, rest) = PUSH.split_at(10);
    let (b, c) = rest.split_at(10);
    peer.send(0x01, a.as_bytes()).await; // text, not final
    peer.send(0x89, b"are you there").await; // a ping between fragments
    peer.send(0x00, b.as_bytes()).await; // continuation
    peer.send(0x80, c.as_bytes()).await; // final continuation
    let pong = peer.recv().await.unwrap();
    assert_eq!(
        pong,
        RawFrame {
            b0: 0x8A,
            payload: b"are you there".to_vec()
        }
    );
    peer.text(r#"["pull",1]"#).await;
    assert_eq!(peer.recv_text().await, r#"["resolve",1,9]"#);
    // The longest ping there may be is answered whole.
    peer.send(0x89, &[7; 125]).await;
    assert_eq!(peer.recv().await.unwrap().payload, vec![7; 125]);
    // An unasked pong is ignored.
    peer.send(0x8A, b"x").await;
    peer.text(PUSH).await;
    peer.text(r#"["pull",2]"#).await;
    assert_eq!(peer.recv_text().await, r#"["resolve",2,9]"#);
}

#[tokio::test]
async fn the_close_handshake_echoes_the_code_and_ends_the_connection() {
    let mut peer = codec_server().await;
    let mut close = 1000u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"bye");
    peer.send(0x88, &close).await;
    peer.expect_close(1000).await;
}

#[tokio::test]
async fn frames_breaking_rfc_6455_close_the_connection_with_1002() {
    let cases: &[(&str, u8, &[u8], Option<bool>)] = &[
        ("unmasked from a client", 0x81, b"[\"pull\",1]", Some(false)),
        ("a reserved bit", 0xC1, b"x", None),
        ("a reserved opcode", 0x83, b"x", None),
        ("a reserved control opcode", 0x8B, b"", None),
        ("a continuation of nothing", 0x80, b"x", None),
        ("a fragmented ping", 0x09, b"x", None),
        ("a ping too long", 0x89, &[0; 126], None),
        ("a close of one byte", 0x88, &[3], None),
        ("a close with a reserved code", 0x88, &[0x03, 0xED], None),
    ];
    for (what, b0, payload, mask) in cases {
        let mut peer = codec_server().await;
        peer.send_as(*b0, payload, mask.unwrap_or(true)).await;
        let reason = peer.expect_close(1002).await;
        assert!(!reason.is_empty(), "{what}: a reason is given");
    }
    // A new message before the fragmented one ended.
    let mut peer = codec_server().await;
    peer.send(0x01, b"[\"pu").await;
    peer.send(0x81, b"[\"pull\",1]").await;
    peer.expect_close(1002).await;
}

#[tokio::test]
async fn text_that_is_not_utf8_closes_with_1007() {
    let mut peer = codec_server().await;
    peer.send(0x81, b"[\"\xFF\"]").await;
    peer.expect_close(1007).await;
    // Split in two fragments at a character's middle is fine, though.
    let mut peer = codec_server().await;
    let text = r#"["push",["pipeline",0,["echo"],["é"]]]"#.as_bytes();
    let cut = text.iter().position(|&b| b == 0xC3).unwrap() + 1;
    peer.send(0x01, &text[..cut]).await;
    peer.send(0x80, &text[cut..]).await;
    peer.text(r#"["pull",1]"#).await;
    assert_eq!(peer.recv_text().await, r#"["resolve",1,"é"]"#);
}

#[tokio::test]
async fn a_frame_or_message_over_the_limit_closes_with_1009_before_it_is_read() {
    // Only a header announcing 1 MB (the limit is 1000 bytes): refused without the body.
    let mut peer = codec_server().await;
    let mut header = vec![0x81, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 20).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    peer.stream.write_all(&header).await.unwrap();
    peer.expect_close(1009).await;
    // Fragments each under the limit, together over it.
    let mut peer = codec_server().await;
    peer.send(0x01, &[b' '; 600]).await;
    peer.send(0x80, &[b' '; 600]).await;
    peer.expect_close(1009).await;
}

#[tokio::test]
async fn a_binary_message_ends_the_session_with_a_reason() {
    let mut peer = codec_server().await;
    peer.send(0x82, b"[]").await;
    let abort = peer.recv_text().await;
    assert!(abort.starts_with("[\"abort\""), "{abort}");
    let reason = peer.expect_close(3000).await;
    assert!(reason.contains("unexpected message type"), "{reason}");
}

#[tokio::test]
async fn a_flood_of_pings_unread_does_not_stop_the_session_answering() {
    let mut peer = codec_server().await;
    // 20,000 pings of 100 bytes (2 MB) while reading nothing, then a call.
    let mut burst = Vec::new();
    for _ in 0..20_000 {
        burst.extend_from_slice(&[0x89, 0x80 | 100, 0, 0, 0, 0]);
        burst.extend_from_slice(&[b'p'; 100]);
    }
    peer.stream.write_all(&burst).await.unwrap();
    peer.text(PUSH).await;
    peer.text(r#"["pull",1]"#).await;
    let mut pongs = 0;
    loop {
        let frame = peer.recv().await.expect("the session still answers");
        match frame.b0 {
            0x8A => pongs += 1,
            0x81 => {
                assert_eq!(frame.payload, br#"["resolve",1,9]"#);
                break;
            }
            other => panic!("unexpected frame {other:#x}"),
        }
    }
    assert!((1..=20_000).contains(&pongs), "{pongs} pongs");
}

/// Ten pings with payloads, sent in one write (as Autobahn's cases 2.10 and 2.11 do).
fn ten_pings() -> Vec<Vec<u8>> {
    (0..10).map(|i| format!("ping {i}").into_bytes()).collect()
}

#[tokio::test]
async fn each_of_ten_pings_sent_at_once_is_answered_in_order() {
    let mut peer = codec_server().await;
    peer.pings_at_once(&ten_pings()).await;
    peer.expect_pongs(&ten_pings()).await;
    peer.text(PUSH).await;
    peer.text(r#"["pull",1]"#).await;
    assert_eq!(peer.recv_text().await, r#"["resolve",1,9]"#);
}

// ---- The client's side of the rules. ----

/// A codec client connected to a raw server.
async fn client_and_raw_server() -> (ClientCodecSocket, Raw) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let options = ConnectOptions::new().max_message_size(1000);
    let (client, server) = tokio::join!(codec::connect(&url, &options), Raw::server(&listener));
    (client.unwrap(), server)
}

async fn recv<T: Transport>(
    t: &mut T,
) -> Option<Result<String, capnweb::transport::TransportError>> {
    tokio::time::timeout(
        SECOND,
        poll_fn(|cx| {
            Pin::new(&mut *t)
                .poll_recv(cx)
                .map(|m| m.map(|m| m.map(|m| m.as_ref().to_owned())))
        }),
    )
    .await
    .expect("in time")
}

async fn send<T: Transport>(t: &mut T, text: &str) {
    Pin::new(&mut *t).start_send_text(text).unwrap();
    poll_fn(|cx| Pin::new(&mut *t).poll_flush_sent(cx))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_codec_client_masks_assembles_fragments_and_answers_pings() {
    let (mut client, mut server) = client_and_raw_server().await;
    send(&mut client, "[\"pull\",1]").await;
    send(&mut client, "[\"pull\",2]").await;
    // Masked on the wire (`recv` unmasks): the same text each time.
    assert_eq!(server.recv_text().await, "[\"pull\",1]");
    assert_eq!(server.recv_text().await, "[\"pull\",2]");
    server.send(0x01, b"[\"resolve\"").await;
    server.send(0x89, b"hi").await;
    server.send(0x80, b",1,2]").await;
    assert_eq!(
        recv(&mut client).await.unwrap().unwrap(),
        "[\"resolve\",1,2]"
    );
    assert_eq!(
        server.recv().await.unwrap(),
        RawFrame {
            b0: 0x8A,
            payload: b"hi".to_vec()
        }
    );
    // The server closes: the client echoes, and its transport ends.
    server.send(0x88, &1001u16.to_be_bytes()).await;
    assert!(recv(&mut client).await.is_none());
    assert_eq!(server.recv().await.unwrap().payload, 1001u16.to_be_bytes());
}

#[tokio::test]
async fn a_codec_client_answers_each_of_ten_pings_sent_at_once_in_order() {
    let (mut client, mut server) = client_and_raw_server().await;
    server.pings_at_once(&ten_pings()).await;
    server.text("[\"pull\",1]").await;
    assert_eq!(recv(&mut client).await.unwrap().unwrap(), "[\"pull\",1]");
    server.expect_pongs(&ten_pings()).await;
}

#[tokio::test]
async fn a_codec_client_refuses_masked_frames_from_a_server() {
    let (mut client, mut server) = client_and_raw_server().await;
    server.send_as(0x81, b"[\"pull\",1]", true).await;
    let error = recv(&mut client).await.unwrap().unwrap_err();
    assert!(error.to_string().contains("must not be masked"), "{error}");
    poll_fn(|cx| Pin::new(&mut client).poll_close_sent(cx))
        .await
        .unwrap();
    let close = server.recv().await.unwrap();
    assert_eq!(
        (close.b0, &close.payload[..2]),
        (0x88, &1002u16.to_be_bytes()[..])
    );
}

#[tokio::test]
async fn a_codec_client_keeps_a_frame_sent_with_the_handshake_answer() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let accept = async {
        let mut server = Raw::server(&listener).await;
        // Right behind the 101, before the client read it (usually one segment).
        server.send(0x81, b"[\"pull\",7]").await;
        server
    };
    let options = ConnectOptions::new().max_message_size(1000);
    let (client, _server) = tokio::join!(codec::connect(&url, &options), accept);
    let mut client = client.unwrap();
    assert_eq!(recv(&mut client).await.unwrap().unwrap(), "[\"pull\",7]");
}

#[tokio::test]
async fn a_refused_upgrade_reports_its_status() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 2048];
        let _ = stream.read(&mut buf).await;
        let _ = stream
            .write_all(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n")
            .await;
    });
    let error = codec::connect(&url, &ConnectOptions::new().max_message_size(1000))
        .await
        .unwrap_err();
    assert_eq!(error.status, Some(401), "{error}");
}

#[tokio::test]
async fn keepalive_ends_a_codec_transport_whose_peer_stops_answering() {
    let (client, mut server) = client_and_raw_server().await;
    let mut client = client.keepalive(Duration::from_millis(100));
    let started = tokio::time::Instant::now();
    let error = recv(&mut client).await.unwrap().unwrap_err();
    assert!(error.to_string().contains("keep-alive"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // It did ping, masked, with nothing in it.
    assert_eq!(
        server.recv().await.unwrap(),
        RawFrame {
            b0: 0x89,
            payload: vec![]
        }
    );
}

/// Many peers each holding half of a large frame: together they cannot take the server past
/// its buffer budget (those beyond it are refused with a reason naming it), a well-behaved
/// client is served all along, and the budget is whole again once they are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_frames_together_cannot_exceed_the_buffer_budget() {
    const BUDGET: usize = 1024 * 1024;
    let mut options = SessionOptions::default();
    options.limits = Limits {
        max_message_size: 4 * BUDGET,
        ..Limits::default()
    };
    let (addr, serve) = Server::bind("127.0.0.1:0")
        .options(options)
        .max_buffered_bytes(BUDGET)
        .websocket_codec(Codec::Builtin)
        .listen(test_target)
        .await
        .unwrap();
    tokio::spawn(serve);
    let (good, _session) = codec_client(addr).await;
    let mut holders = Vec::new();
    for _ in 0..12 {
        let mut peer = Raw::client(addr).await;
        let mut header = vec![0x81, 0x80 | 127];
        header.extend_from_slice(&600_000u64.to_be_bytes());
        header.extend_from_slice(&[0, 0, 0, 0]);
        peer.stream.write_all(&header).await.unwrap();
        peer.stream.write_all(&[b' '; 300_000]).await.unwrap();
        holders.push(peer);
        assert_eq!(good.square(3.0).await.unwrap(), 9.0, "served meanwhile");
    }
    let mut refused = 0;
    for peer in &mut holders {
        if let Ok(Some(frame)) = tokio::time::timeout(Duration::from_millis(500), peer.recv()).await
        {
            let text = String::from_utf8_lossy(&frame.payload).into_owned();
            assert!(text.contains("max_buffered_bytes"), "{text}");
            refused += 1;
        }
    }
    assert!(
        // Each holds 300 KB, the first 64 KiB its own (see `max_buffered_bytes`).
        refused >= 12 - BUDGET / (300_000 - 64 * 1024),
        "only {refused} of 12 refused"
    );
    drop(holders);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = big(900_000);
    let back = good.echo(Value::from(text.as_str())).await.unwrap();
    assert_eq!(
        back,
        Value::from(text.as_str()),
        "the budget is whole again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_budget_held_by_half_sent_messages_ordinary_calls_are_still_served() {
    for codec in [Codec::Tungstenite, Codec::Builtin] {
        // Four holders, each at its cap of 256 KiB, draw 192 KiB each from the common pool
        // (the first 64 KiB of a share are its own): the 768 KiB pool is full, to the byte.
        const CAP: usize = 256 * 1024;
        let addr = budget_server(codec, 4 * (CAP - 64 * 1024), CAP, Duration::from_secs(30)).await;
        let mut holders = Vec::new();
        for _ in 0..4 {
            let mut peer = Raw::client(addr).await;
            let mut header = vec![0x81, 0x80 | 127];
            header.extend_from_slice(&3_000_000u64.to_be_bytes());
            header.extend_from_slice(&[0, 0, 0, 0]);
            peer.stream.write_all(&header).await.unwrap();
            let payload = vec![b' '; CAP - header.len()];
            peer.stream.write_all(&payload).await.unwrap();
            holders.push(peer);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        // A client's ordinary messages fit in its own reserve: it is served, not refused.
        let (good, session) = codec_client(addr).await;
        for i in 0..50 {
            assert_eq!(good.square(f64::from(i)).await.unwrap(), f64::from(i * i));
        }
        assert!(!session.is_closed(), "{codec:?}");
        drop(holders);
    }
}

/// A server framing with `codec`, with these budget settings (and messages up to 4 MiB).
async fn budget_server(
    codec: Codec,
    total: usize,
    per_session: usize,
    message_timeout: Duration,
) -> std::net::SocketAddr {
    let mut options = SessionOptions::default();
    options.limits = Limits {
        max_message_size: 4 << 20,
        ..Limits::default()
    };
    let (addr, serve) = Server::bind("127.0.0.1:0")
        .options(options)
        .max_buffered_bytes(total)
        .max_session_buffered_bytes(per_session)
        .message_timeout(message_timeout)
        .websocket_codec(codec)
        .listen(test_target)
        .await
        .unwrap();
    tokio::spawn(serve);
    addr
}

/// Sends the header of a text frame of `len` bytes, and `sent` bytes of it.
async fn begin_message(peer: &mut Raw, len: u64, sent: usize) {
    let mut header = vec![0x81, 0x80 | 127];
    header.extend_from_slice(&len.to_be_bytes());
    header.extend_from_slice(&[0, 0, 0, 0]);
    peer.stream.write_all(&header).await.unwrap();
    peer.stream.write_all(&vec![b' '; sent]).await.unwrap();
}

/// Reads past pongs to the next text frame, which must be `expected`.
async fn expect_text_past_pongs(peer: &mut Raw, expected: &str) {
    loop {
        let frame = peer.recv().await.expect("the session still answers");
        match frame.b0 {
            0x8A => {}
            0x81 => {
                assert_eq!(String::from_utf8_lossy(&frame.payload), expected);
                return;
            }
            other => panic!("unexpected frame {other:#x}"),
        }
    }
}

/// A few peers holding messages unfinished cannot take the budget from all others: each holds
/// at most its own cap (beyond, its session ends with a reason naming it), and a well-behaved
/// client is served all along, its large messages too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_holding_unfinished_messages_cannot_take_the_budget_from_others() {
    const BUDGET: usize = 1024 * 1024;
    const PER_SESSION: usize = 128 * 1024;
    for codec in [Codec::Tungstenite, Codec::Builtin] {
        let addr = budget_server(codec, BUDGET, PER_SESSION, Duration::from_secs(60)).await;
        let (good, _session) = codec_client(addr).await;
        // Six hold 120 KB each of a 600 KB message: 720 KB of the budget, kept.
        let mut holders = Vec::new();
        for _ in 0..6 {
            let mut peer = Raw::client(addr).await;
            begin_message(&mut peer, 600_000, 120_000).await;
            holders.push(peer);
        }
        // Two more would hold as much as they can: each is stopped at its cap (it sends just
        // past it, so that all it sent is read), with the reason.
        for _ in 0..2 {
            let mut peer = Raw::client(addr).await;
            begin_message(&mut peer, 600_000, PER_SESSION).await;
            let abort = peer.recv_text().await;
            assert!(
                abort.contains("max_session_buffered_bytes"),
                "{codec:?}: {abort}"
            );
            peer.expect_close(3000).await;
        }
        // Served meanwhile, a 100 KB message too.
        assert_eq!(good.square(3.0).await.unwrap(), 9.0, "{codec:?}");
        let text = big(100_000);
        let back = good.echo(Value::from(text.as_str())).await.unwrap();
        assert_eq!(back, Value::from(text.as_str()), "{codec:?}");
        drop(holders);
    }
}

/// A message begun must be whole within the message timeout: a peer that leaves one unfinished
/// has its session ended with a reason naming it. Control frames are not messages: a peer that
/// pings for longer than the timeout is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_left_unfinished_ends_its_session_at_the_message_timeout() {
    for codec in [Codec::Tungstenite, Codec::Builtin] {
        let addr = budget_server(codec, 1 << 20, 1 << 20, Duration::from_millis(300)).await;
        let mut stalled = Raw::client(addr).await;
        begin_message(&mut stalled, 100, 10).await;
        let started = tokio::time::Instant::now();
        let abort = stalled.recv_text().await;
        assert!(abort.contains("message_timeout"), "{codec:?}: {abort}");
        stalled.expect_close(3000).await;
        assert!(started.elapsed() < Duration::from_secs(3), "{codec:?}");
        let mut pinger = Raw::client(addr).await;
        for _ in 0..10 {
            pinger.send(0x89, b"hi").await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        pinger.text(PUSH).await;
        pinger.text(r#"["pull",1]"#).await;
        expect_text_past_pongs(&mut pinger, r#"["resolve",1,9]"#).await;
    }
}

/// Control frames are given back to the budget once handled: a peer that pings (reading nothing
/// meanwhile) sixteen times the whole budget keeps its session, and others theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_are_given_back_to_the_budget_once_answered() {
    const BUDGET: usize = 64 * 1024;
    for codec in [Codec::Tungstenite, Codec::Builtin] {
        let addr = budget_server(codec, BUDGET, BUDGET, Duration::from_secs(60)).await;
        let (good, _session) = codec_client(addr).await;
        let mut pinger = Raw::client(addr).await;
        let mut burst = Vec::new();
        for _ in 0..10_000 {
            burst.extend_from_slice(&[0x89, 0x80 | 100, 0, 0, 0, 0]);
            burst.extend_from_slice(&[b'p'; 100]);
        }
        pinger.stream.write_all(&burst).await.unwrap();
        pinger.text(PUSH).await;
        pinger.text(r#"["pull",1]"#).await;
        expect_text_past_pongs(&mut pinger, r#"["resolve",1,9]"#).await;
        let text = big(30_000);
        let back = good.echo(Value::from(text.as_str())).await.unwrap();
        assert_eq!(back, Value::from(text.as_str()), "{codec:?}");
    }
}

#[tokio::test]
async fn a_connection_ending_inside_a_message_ends_the_session_with_a_reason() {
    for partial in [
        &[0x81u8, 0x85, 0, 0, 0, 0, b'['][..],
        &[0x01, 0x81, 0, 0, 0, 0, b'['][..],
    ] {
        let mut peer = codec_server().await;
        peer.stream.write_all(partial).await.unwrap();
        peer.stream.shutdown().await.unwrap();
        let abort = peer.recv_text().await;
        assert!(abort.contains("middle of a WebSocket message"), "{abort}");
        peer.expect_close(3000).await;
    }
}

#[tokio::test]
async fn control_frames_are_answered_under_a_message_limit_below_125_bytes() {
    let mut peer = Raw::client(server_with(Codec::Builtin, 50).await).await;
    peer.send(0x89, &[9; 120]).await;
    assert_eq!(
        peer.recv().await.unwrap(),
        RawFrame {
            b0: 0x8A,
            payload: vec![9; 120]
        }
    );
    // A message over it is still refused.
    peer.send(0x81, &[b' '; 60]).await;
    peer.expect_close(1009).await;
}
