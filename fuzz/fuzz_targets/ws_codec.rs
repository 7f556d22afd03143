//! Fuzzes the built-in WebSocket codec (`transport::websocket::codec`), the bytes a peer sends
//! being attack surface. Two modes, by the first byte:
//!
//! - hostile bytes, read by either end in chunks of the fuzzer's choosing (with reads and
//!   writes that are sometimes not ready): nothing panics, every message handed on is within
//!   the size limit, and once the input ends the transport ends within a bound of polls;
//! - a round trip: messages made from the input are framed by a client and read back by a
//!   server, in chunks: the same messages come out, in order, and nothing else.

#![no_main]

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use capnweb::transport::websocket::codec::{CodecSocket, Role};
use capnweb::transport::Transport;
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A peer's bytes, given out in chunks; reads and writes are sometimes not ready.
struct Script {
    input: Vec<u8>,
    at: usize,
    chunks: Vec<u8>,
    turn: usize,
    /// The last read or write was not ready: the next one is (so the peer always progresses).
    stalled: bool,
    written: Vec<u8>,
}

impl Script {
    /// Whether this operation is not ready (never twice in a row).
    fn stall(&mut self, n: usize, every: usize, cx: &Context<'_>) -> bool {
        self.stalled = !self.stalled && n % every == 0;
        if self.stalled {
            cx.waker().wake_by_ref();
        }
        self.stalled
    }

    fn next_chunk(&mut self) -> usize {
        self.turn += 1;
        match self.chunks.get(self.turn % self.chunks.len().max(1)) {
            Some(&c) => usize::from(c) * 7 + 1,
            None => 4096,
        }
    }
}

impl AsyncRead for Script {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.next_chunk();
        if self.stall(n, 3, cx) {
            return Poll::Pending;
        }
        let at = self.at;
        let n = n.min(self.input.len() - at).min(buf.remaining());
        buf.put_slice(&self.input[at..at + n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Script {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = self.next_chunk();
        if self.stall(n, 5, cx) {
            return Poll::Pending;
        }
        let n = n.min(buf.len());
        self.written.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn script(input: Vec<u8>, chunks: &[u8]) -> Script {
    Script {
        input,
        at: 0,
        chunks: chunks.to_vec(),
        turn: 0,
        stalled: false,
        written: Vec::new(),
    }
}

/// Reads every message `socket` yields until it ends; each is also sent back (exercising the
/// writer). Returns the messages, and whether it ended with an error.
fn drain(socket: &mut CodecSocket<Script>, max: usize, bound: usize) -> (Vec<String>, bool) {
    let mut cx = Context::from_waker(Waker::noop());
    let mut got = Vec::new();
    for _ in 0..bound {
        match Pin::new(&mut *socket).poll_recv(&mut cx) {
            Poll::Ready(Some(Ok(text))) => {
                assert!(text.len() <= max, "a message over the limit was handed on");
                let text = text.to_owned();
                Pin::new(&mut *socket).start_send_text(&text).unwrap();
                let _ = Pin::new(&mut *socket).poll_flush_sent(&mut cx);
                got.push(text);
            }
            Poll::Ready(Some(Err(_))) => return (got, true),
            Poll::Ready(None) => return (got, false),
            Poll::Pending => {}
        }
    }
    panic!("the transport did not end within {bound} polls of input that ended");
}

fuzz_target!(|data: &[u8]| {
    let [mode, max, chunk_len, rest @ ..] = data else {
        return;
    };
    let max = usize::from(*max) * 64 + 1;
    let split = usize::from(*chunk_len).min(rest.len());
    let (chunks, body) = rest.split_at(split);
    let bound = 64 + body.len() * 8;
    match mode % 3 {
        0 | 1 => {
            let role = if mode % 3 == 0 { Role::Server } else { Role::Client };
            let mut socket = CodecSocket::new(script(body.to_vec(), chunks), role, max);
            drain(&mut socket, max, bound);
            let mut cx = Context::from_waker(Waker::noop());
            for _ in 0..64 {
                if Pin::new(&mut socket).poll_close_sent(&mut cx).is_ready() {
                    break;
                }
            }
        }
        _ => {
            // Messages: the body cut at zero bytes, each made text.
            let messages: Vec<String> = body
                .split(|&b| b == 0)
                .map(|m| String::from_utf8_lossy(m).into_owned())
                .filter(|m| m.len() <= max)
                .collect();
            let mut client = CodecSocket::new(script(Vec::new(), chunks), Role::Client, max);
            let mut cx = Context::from_waker(Waker::noop());
            for m in &messages {
                Pin::new(&mut client).start_send_text(m).unwrap();
            }
            let mut flushed = false;
            for _ in 0..bound {
                if let Poll::Ready(r) = Pin::new(&mut client).poll_flush_sent(&mut cx) {
                    r.unwrap();
                    flushed = true;
                    break;
                }
            }
            assert!(flushed, "the client's frames never went out");
            let wire = std::mem::take(&mut client_io(&mut client).written);
            let mut server = CodecSocket::new(script(wire, chunks), Role::Server, max);
            let (got, failed) = drain(&mut server, max, bound + 64 * messages.len());
            assert!(!failed, "the server refused a client's well-formed frames");
            assert_eq!(got, messages);
        }
    }
});

fn client_io(socket: &mut CodecSocket<Script>) -> &mut Script {
    socket.get_mut()
}
