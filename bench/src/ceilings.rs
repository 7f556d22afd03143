//! Two more ceilings beside `servers::raw` and its client: echoes with Cap'n Web's frame pattern
//! per call (`push` and `pull` in, `resolve` out, `release` in) and no RPC work at all, each
//! with its server in its own process (`capnweb-bench serve lean` or `serve codec`) and its
//! client in the runner.
//!
//! - `lean`: tokio-tungstenite as lean as it can be made on both sides: replies written from
//!   the reading task and flushed once per burst, frames built in a reused `BytesMut` (no
//!   allocation per frame once it is warm), TCP_NODELAY on both sides.
//! - `codec`: a minimal hand-written RFC 6455 text-frame codec over the TcpStream with its own
//!   buffers (one growable read buffer, frames handled in place, one write per read), no
//!   tungstenite in the data path (only its `derive_accept_key` for the handshake).

use std::future::Future;
use std::io;
use std::ops::Range;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::clients::{median, Figures, RUNS};

/// The one frame per call that never changes.
const PUSH: &[u8] = br#"["push",["pipeline",0,["square"],[2]]]"#;
const PULL: &[u8] = br#"["pull","#;
const RESOLVE: &[u8] = br#"["resolve","#;
const RELEASE: &[u8] = br#"["release","#;

fn listening(port: u16) {
    use std::io::Write;
    println!("LISTENING {port}");
    let _ = std::io::stdout().flush();
}

/// `n` in decimal, formatted into `buf` without allocating.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// The id in `["pull",<id>]`.
fn pull_id(text: &str) -> Option<&str> {
    text.strip_prefix(r#"["pull","#)?.strip_suffix(']')
}

/// The id in `["resolve",<id>,...]`.
fn resolve_id(text: &str) -> Option<&str> {
    text.strip_prefix(r#"["resolve","#)?.split(',').next()
}

/// Counts completions as `clients::raw_rate` does: `concurrency` calls in flight, a 300 ms
/// warm-up, then completions counted until `secs` past it, no new call after that.
struct Count {
    warmup: Instant,
    deadline: Instant,
    measuring: Option<(Instant, u64)>,
    outstanding: usize,
    done: u64,
}

impl Count {
    fn new(concurrency: usize, secs: f64) -> Count {
        let warmup = Instant::now() + Duration::from_millis(300);
        Count {
            warmup,
            deadline: warmup + Duration::from_secs_f64(secs),
            measuring: None,
            outstanding: concurrency,
            done: 0,
        }
    }

    /// One call done; true if another is to start in its place.
    fn completed(&mut self) -> bool {
        self.outstanding -= 1;
        self.done += 1;
        let now = Instant::now();
        if self.measuring.is_none() && now >= self.warmup {
            self.measuring = Some((now, self.done));
        }
        if now < self.deadline {
            self.outstanding += 1;
            true
        } else {
            false
        }
    }

    fn rate(&self) -> f64 {
        let (start, at_start) = self.measuring.expect("ran past the warm-up");
        (self.done - at_start) as f64 / start.elapsed().as_secs_f64()
    }
}

/// The median of `RUNS` runs of `rate`, sharing `secs`.
pub async fn median_rate<F, Fut>(rate: F, port: u16, concurrency: usize, secs: f64) -> f64
where
    F: Fn(u16, usize, f64) -> Fut,
    Fut: Future<Output = f64>,
{
    let mut rates = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        rates.push(rate(port, concurrency, secs / RUNS as f64).await);
    }
    median(rates)
}

/// A ceiling's figures: rates at 1, 16 and 256 in flight (no latency: the ceiling is a rate).
pub async fn figures<F, Fut>(rate: F, port: u16, secs: f64) -> Figures
where
    F: Fn(u16, usize, f64) -> Fut,
    Fut: Future<Output = f64>,
{
    Figures {
        c1: median_rate(&rate, port, 1, secs).await,
        c16: median_rate(&rate, port, 16, secs).await,
        c256: median_rate(&rate, port, 256, secs).await,
        p50_us: f64::NAN,
        p99_us: f64::NAN,
        batch: None,
        chain: None,
    }
}

// ---- lean: tokio-tungstenite, as lean as it goes --------------------------------------------

/// tungstenite's default config but for the read buffer, 8 KiB instead of 128 KiB: its reader
/// zero-fills the buffer's spare room before every read, including the read that finds nothing
/// at the end of a burst. Measured on both sides (three interleaved runs, BENCH_SECS=1, lean
/// pair alone): c=16 about 590k calls/s with 128 KiB, 740k with 32 KiB, 760k with 8 KiB; c=256
/// 1.22M, 1.25M, 1.25M. So 8 KiB.
fn lean_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(8 * 1024)
}

/// Room for the frames of a burst: once every frame sent from it has been written out (and so
/// dropped), `reserve` takes the same allocation back, so no allocation per frame.
const SCRATCH: usize = 16 * 1024;

/// A text frame of the concatenated `parts`, carved from `scratch`.
fn lean_text(scratch: &mut BytesMut, parts: &[&[u8]]) -> Message {
    scratch.reserve(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        scratch.extend_from_slice(p);
    }
    let bytes = scratch.split().freeze();
    Message::Text(Utf8Bytes::try_from(bytes).expect("ASCII frame"))
}

/// The lean server: for each `pull`, a `resolve`; flushed once no more frames are ready.
pub async fn lean_server() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listening(listener.local_addr().expect("addr").port());
    while let Ok((socket, _)) = listener.accept().await {
        tokio::spawn(async move {
            let _ = socket.set_nodelay(true);
            let Ok(mut ws) =
                tokio_tungstenite::accept_async_with_config(socket, Some(lean_config())).await
            else {
                return;
            };
            let mut scratch = BytesMut::with_capacity(SCRATCH);
            let mut pending = false;
            loop {
                let next = if pending {
                    match ws.next().now_or_never() {
                        Some(m) => m,
                        None => {
                            if ws.flush().await.is_err() {
                                return;
                            }
                            pending = false;
                            continue;
                        }
                    }
                } else {
                    ws.next().await
                };
                let Some(Ok(Message::Text(text))) = next else {
                    return;
                };
                if let Some(id) = pull_id(&text) {
                    let reply = lean_text(&mut scratch, &[RESOLVE, id.as_bytes(), b",4]"]);
                    if ws.feed(reply).await.is_err() {
                        return;
                    }
                    pending = true;
                }
            }
        });
    }
}

/// The lean client's rate: frames fed as they are made, a burst of resolves drained with
/// `now_or_never`, one flush per burst.
pub async fn lean_rate(port: u16, concurrency: usize, secs: f64) -> f64 {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(
        format!("ws://127.0.0.1:{port}/"),
        stream,
        Some(lean_config()),
    )
    .await
    .expect("handshake");
    let push = Utf8Bytes::from_static(r#"["push",["pipeline",0,["square"],[2]]]"#);
    let mut scratch = BytesMut::with_capacity(SCRATCH);
    let mut digits = [0u8; 20];
    let mut next_id = 1u64;
    for _ in 0..concurrency {
        ws.feed(Message::Text(push.clone())).await.expect("send");
        let id = decimal(next_id, &mut digits);
        ws.feed(lean_text(&mut scratch, &[PULL, id, b"]"]))
            .await
            .expect("send");
        next_id += 1;
    }
    ws.flush().await.expect("flush");
    let mut count = Count::new(concurrency, secs);
    while count.outstanding > 0 {
        let mut msg = ws.next().await;
        loop {
            let Some(Ok(Message::Text(text))) = msg else {
                panic!("lean echo ended");
            };
            let id = resolve_id(&text).expect("a resolve");
            ws.feed(lean_text(&mut scratch, &[RELEASE, id.as_bytes(), b",1]"]))
                .await
                .expect("send");
            if count.completed() {
                ws.feed(Message::Text(push.clone())).await.expect("send");
                let id = decimal(next_id, &mut digits);
                ws.feed(lean_text(&mut scratch, &[PULL, id, b"]"]))
                    .await
                    .expect("send");
                next_id += 1;
            }
            match ws.next().now_or_never() {
                Some(m) => msg = m,
                None => break,
            }
        }
        ws.flush().await.expect("flush");
    }
    count.rate()
}

/// The lean ceiling's figures.
pub async fn lean(port: u16, secs: f64) -> Figures {
    figures(lean_rate, port, secs).await
}

// ---- codec: a hand-written RFC 6455 text-frame codec -----------------------------------------

/// Spare room made in the read buffer before each read.
const READ_CHUNK: usize = 64 * 1024;
/// Larger frames end the connection (a bench, not a server for strangers).
const MAX_FRAME: usize = 16 << 20;
/// The client's `Sec-WebSocket-Key` (RFC 6455's example nonce).
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Reads into `buf` until it holds an HTTP head; returns the head's length (up to and with the
/// blank line). Bytes past it stay in `buf`.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(i + 4);
        }
        if buf.len() > 16 * 1024 {
            return Err(invalid("HTTP head too long"));
        }
        buf.reserve(4096);
        if stream.read_buf(buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// The value of header `name` in an HTTP head.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// What `parse` found at the start of a buffer.
enum Parsed {
    /// Not a whole frame yet.
    Incomplete,
    /// A close frame (`len` bytes).
    Close,
    /// A text frame of `len` bytes whose (unmasked) payload is at `payload`.
    Text { payload: Range<usize>, len: usize },
}

/// Parses the frame at the start of `buf`, unmasking its payload in place if `masked` (frames
/// from a client must be masked, frames from a server must not be). Only FIN text frames and
/// close frames are expected; anything else is an error.
fn parse(buf: &mut [u8], masked: bool) -> io::Result<Parsed> {
    let [b0, b1, ..] = *buf else {
        return Ok(Parsed::Incomplete);
    };
    let opcode = b0 & 0x0F;
    if b0 & 0x80 == 0 || (opcode != 1 && opcode != 8) {
        return Err(invalid("not a FIN text or close frame"));
    }
    if (b1 & 0x80 != 0) != masked {
        return Err(invalid("wrong masking"));
    }
    let (len, mut at) = match b1 & 0x7F {
        126 => match *buf {
            [_, _, a, b, ..] => (u64::from(u16::from_be_bytes([a, b])), 4),
            _ => return Ok(Parsed::Incomplete),
        },
        127 => match buf.get(2..10) {
            Some(&[a, b, c, d, e, f, g, h]) => (u64::from_be_bytes([a, b, c, d, e, f, g, h]), 10),
            _ => return Ok(Parsed::Incomplete),
        },
        n => (u64::from(n), 2),
    };
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| l <= MAX_FRAME)
        .ok_or_else(|| invalid("frame too large"))?;
    let key = if masked {
        let Some(&[a, b, c, d]) = buf.get(at..at + 4) else {
            return Ok(Parsed::Incomplete);
        };
        at += 4;
        Some([a, b, c, d])
    } else {
        None
    };
    let payload = at..at + len;
    let Some(bytes) = buf.get_mut(payload.clone()) else {
        return Ok(Parsed::Incomplete);
    };
    if let Some(key) = key {
        for (i, b) in bytes.iter_mut().enumerate() {
            *b ^= key[i & 3];
        }
    }
    if opcode == 8 {
        return Ok(Parsed::Close);
    }
    Ok(Parsed::Text {
        payload,
        len: at + len,
    })
}

/// Appends a FIN text frame of the concatenated `parts` to `out`, masked with `mask` if given.
fn write_frame(out: &mut Vec<u8>, mask: Option<[u8; 4]>, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let bit = if mask.is_some() { 0x80 } else { 0 };
    out.push(0x81);
    if len < 126 {
        out.push(bit | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(bit | 126);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
    let start = out.len();
    for p in parts {
        out.extend_from_slice(p);
    }
    if let Some(key) = mask {
        for (i, b) in out[start..].iter_mut().enumerate() {
            *b ^= key[i & 3];
        }
    }
}

/// Drops the `used` bytes at the front of `buf`, keeping a partial frame behind them.
fn consume(buf: &mut Vec<u8>, used: usize) {
    if used == buf.len() {
        buf.clear();
    } else {
        buf.drain(..used);
    }
}

/// The codec server: for each `pull`, a `resolve`; all replies to one read in one write.
pub async fn codec_server() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listening(listener.local_addr().expect("addr").port());
    while let Ok((socket, _)) = listener.accept().await {
        tokio::spawn(async move {
            let _ = codec_session(socket).await;
        });
    }
}

async fn codec_session(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(2 * READ_CHUNK);
    let head_len = read_head(&mut stream, &mut buf).await?;
    let head = std::str::from_utf8(&buf[..head_len]).map_err(|_| invalid("HTTP head"))?;
    let key = header(head, "sec-websocket-key").ok_or_else(|| invalid("no key"))?;
    let accept = derive_accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    stream.write_all(response.as_bytes()).await?;
    consume(&mut buf, head_len);
    let mut out = Vec::with_capacity(READ_CHUNK);
    loop {
        let mut at = 0;
        loop {
            match parse(&mut buf[at..], true)? {
                Parsed::Incomplete => break,
                Parsed::Close => return Ok(()),
                Parsed::Text { payload, len } => {
                    let payload = &buf[at + payload.start..at + payload.end];
                    let text = std::str::from_utf8(payload).map_err(|_| invalid("UTF-8"))?;
                    if let Some(id) = pull_id(text) {
                        write_frame(&mut out, None, &[RESOLVE, id.as_bytes(), b",4]"]);
                    }
                    at += len;
                }
            }
        }
        consume(&mut buf, at);
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
        buf.reserve(READ_CHUNK);
        if stream.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
    }
}

/// A cheaply varying mask key (xorshift32).
struct Mask(u32);

impl Mask {
    fn next(&mut self) -> Option<[u8; 4]> {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        Some(self.0.to_le_bytes())
    }
}

/// Queues one call's `push` and `pull`, masked.
fn codec_call(out: &mut Vec<u8>, mask: &mut Mask, next_id: &mut u64) {
    let mut digits = [0u8; 20];
    write_frame(out, mask.next(), &[PUSH]);
    write_frame(
        out,
        mask.next(),
        &[PULL, decimal(*next_id, &mut digits), b"]"],
    );
    *next_id += 1;
}

/// The codec client's rate: all frames made for one read written in one `write_all`.
pub async fn codec_rate(port: u16, concurrency: usize, secs: f64) -> f64 {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let request = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut buf = Vec::with_capacity(2 * READ_CHUNK);
    let head_len = read_head(&mut stream, &mut buf).await.expect("101");
    let head = std::str::from_utf8(&buf[..head_len]).expect("HTTP head");
    assert!(head.starts_with("HTTP/1.1 101"), "not switched: {head:?}");
    assert_eq!(
        header(head, "sec-websocket-accept"),
        Some(derive_accept_key(KEY.as_bytes()).as_str())
    );
    consume(&mut buf, head_len);

    let mut out = Vec::with_capacity(READ_CHUNK);
    let mut mask = Mask(0x9E37_79B9);
    let mut next_id = 1u64;
    for _ in 0..concurrency {
        codec_call(&mut out, &mut mask, &mut next_id);
    }
    stream.write_all(&out).await.expect("send");
    out.clear();
    let mut count = Count::new(concurrency, secs);
    while count.outstanding > 0 {
        buf.reserve(READ_CHUNK);
        if stream.read_buf(&mut buf).await.expect("read") == 0 {
            panic!("codec echo ended");
        }
        let mut at = 0;
        loop {
            match parse(&mut buf[at..], false).expect("a frame") {
                Parsed::Incomplete => break,
                Parsed::Close => panic!("codec echo closed"),
                Parsed::Text { payload, len } => {
                    let payload = &buf[at + payload.start..at + payload.end];
                    let text = std::str::from_utf8(payload).expect("UTF-8");
                    let id = resolve_id(text).expect("a resolve");
                    write_frame(&mut out, mask.next(), &[RELEASE, id.as_bytes(), b",1]"]);
                    if count.completed() {
                        codec_call(&mut out, &mut mask, &mut next_id);
                    }
                    at += len;
                }
            }
        }
        consume(&mut buf, at);
        if !out.is_empty() {
            stream.write_all(&out).await.expect("send");
            out.clear();
        }
    }
    count.rate()
}

/// The codec ceiling's figures.
pub async fn codec(port: u16, secs: f64) -> Figures {
    figures(codec_rate, port, secs).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        for n in [0usize, 5, 125, 126, 65535, 65536] {
            let text = "x".repeat(n);
            for mask in [None, Some([1, 2, 3, 4])] {
                let mut out = Vec::new();
                write_frame(&mut out, mask, &[text.as_bytes()]);
                for cut in [0, 1, out.len() - 1] {
                    let mut part = out[..cut].to_vec();
                    assert!(matches!(
                        parse(&mut part, mask.is_some()),
                        Ok(Parsed::Incomplete)
                    ));
                }
                let Ok(Parsed::Text { payload, len }) = parse(&mut out, mask.is_some()) else {
                    panic!("a text frame");
                };
                assert_eq!(len, out.len());
                assert_eq!(&out[payload], text.as_bytes());
            }
        }
    }

    #[test]
    fn decimal_formats() {
        let mut d = [0u8; 20];
        assert_eq!(decimal(0, &mut d), b"0");
        assert_eq!(decimal(1234567, &mut d), b"1234567");
        assert_eq!(decimal(u64::MAX, &mut d), u64::MAX.to_string().as_bytes());
    }

    #[test]
    fn accept_key() {
        // RFC 6455, section 1.3.
        assert_eq!(
            derive_accept_key(KEY.as_bytes()),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
