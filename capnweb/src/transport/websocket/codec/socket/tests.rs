use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::super::writer::OWED_PONGS;
use super::{CodecSocket, Role};
use crate::transport::Transport;

/// A connection whose reads are `input`, and whose writes go to `output`, or never go
/// when it is `None` (a peer that does not read).
struct Peer {
    input: Vec<u8>,
    at: usize,
    output: Option<Vec<u8>>,
}

impl AsyncRead for Peer {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = (self.input.len() - self.at).min(buf.remaining()).min(1000);
        let at = self.at;
        buf.put_slice(&self.input[at..at + n]);
        self.at += n;
        if n == 0 {
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Peer {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.output {
            Some(output) => {
                output.extend_from_slice(bytes);
                Poll::Ready(Ok(bytes.len()))
            }
            None => Poll::Pending,
        }
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.output {
            Some(_) => Poll::Ready(Ok(())),
            None => Poll::Pending,
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Pending
    }
}

/// A client's ping frame (masked with a zero key, so its payload reads as is).
fn ping(payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x89, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    frame
}

/// A server socket that has read and handled all of `input` (no message in it).
fn read_all(input: Vec<u8>, output: Option<Vec<u8>>) -> CodecSocket<Peer> {
    let peer = Peer {
        input,
        at: 0,
        output,
    };
    let mut socket = CodecSocket::new(peer, Role::Server, 1 << 20);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    while socket.io.at < socket.io.input.len() || socket.reader.unhandled() {
        let polled = Pin::new(&mut socket).poll_recv(&mut cx);
        assert!(polled.is_pending(), "only pings: {polled:?}");
    }
    socket
}

#[test]
fn ten_pings_read_at_once_get_ten_pongs_in_order() {
    let payloads: Vec<Vec<u8>> = (0..10).map(|i| format!("ping {i}").into_bytes()).collect();
    let socket = read_all(
        payloads.iter().flat_map(|p| ping(p)).collect(),
        Some(vec![]),
    );
    let mut expected = Vec::new();
    for payload in &payloads {
        expected.extend_from_slice(&[0x8A, payload.len() as u8]);
        expected.extend_from_slice(payload);
    }
    assert_eq!(socket.io.output.as_deref(), Some(&expected[..]));
    assert!(!socket.writer.owes_pongs());
}

#[test]
fn a_peer_that_pings_and_never_reads_is_owed_a_bounded_queue_ending_with_the_latest() {
    let payload = |i: u32| {
        let mut p = vec![b'p'; 100];
        p[..4].copy_from_slice(&i.to_be_bytes());
        p
    };
    let socket = read_all((0..10_000).flat_map(|i| ping(&payload(i))).collect(), None);
    let (queued, pongs) = socket.writer.owed();
    assert!(
        queued <= 2 * OWED_PONGS,
        "{queued} bytes queued for a peer that reads nothing"
    );
    // The latest ping is still answered, last.
    assert!(pongs.ends_with(&payload(9_999)));
}
