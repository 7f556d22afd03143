//! [`Socket`]: tungstenite's WebSocket over an async byte stream, polled by one task.
//!
//! tokio-tungstenite's `WebSocketStream` lets a reader task and a writer task share a socket, so
//! each of its operations stores the task's waker in two atomic slots: several atomic operations
//! per frame. A session's socket is only ever polled by the session's task, so this keeps one
//! waker (replaced only when a poll comes with another) and hands tungstenite a plain
//! `Read + Write` over the async stream. Framing, masking, UTF-8 checks, limits, control frames
//! and the close handshake are tungstenite's, unchanged.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error, Message, WebSocket};

/// A WebSocket over `S`, as a `Stream` of received messages and a `Sink` of sent ones, for one
/// task (see the module's doc). [`connect`](super::connect) and the server make one and wrap it
/// in a [`WebSocketTransport`](super::WebSocketTransport):
///
/// ```no_run
/// # async fn f() -> Result<(), capnweb::transport::websocket::ConnectError> {
/// use capnweb::transport::websocket::{connect, ConnectOptions};
/// use capnweb::{RpcSession, SessionOptions};
/// let transport = connect("ws://localhost:8080/", &ConnectOptions::new()).await?;
/// let _session = RpcSession::spawn(transport, None, SessionOptions::default());
/// # Ok(()) }
/// ```
pub struct Socket<S> {
    ws: WebSocket<SyncIo<S>>,
    /// A queued message waits for the socket: flush before taking more.
    blocked: bool,
    /// The close handshake has begun.
    closing: bool,
    /// Reading ended (closed or failed): it stays ended.
    ended: bool,
    /// Bytes of pings and pongs read and handled, not yet told to the server's budget.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    control_bytes: usize,
}

/// The bytes a client's ping or pong takes on the wire besides its payload: two of header, four
/// of mask (with the length in the header, as it is below 126). A peer writing the length in
/// more bytes than needed leaves those counted until its next message.
const PEER_CONTROL_HEADER: usize = 6;

/// How far the pongs owed may take the write buffer past its size while reading; past it,
/// tungstenite keeps the latest ping's pong only, until there is room (RFC 6455 5.5.3 asks no
/// more), so a peer that pings and never reads cannot grow the buffer.
const OWED_PONGS: usize = 4 * 1024;

impl<S> std::fmt::Debug for Socket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket").finish_non_exhaustive()
    }
}

/// The async stream as a blocking-style one: `WouldBlock` where the stream is not ready, with
/// the polling task's waker registered.
struct SyncIo<S> {
    io: S,
    waker: Waker,
}

impl<S> SyncIo<S> {
    /// No task's waker yet: the first poll brings one.
    fn new(io: S) -> SyncIo<S> {
        SyncIo {
            io,
            waker: Waker::noop().clone(),
        }
    }

    fn poll<T>(
        &mut self,
        op: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> io::Result<T>
    where
        S: Unpin,
    {
        let mut cx = Context::from_waker(&self.waker);
        match op(Pin::new(&mut self.io), &mut cx) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl<S: AsyncRead + Unpin> Read for SyncIo<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.poll(|io, cx| {
            let mut buf = ReadBuf::new(buf);
            io.poll_read(cx, &mut buf).map_ok(|()| buf.filled().len())
        })
    }
}

impl<S: AsyncWrite + Unpin> Write for SyncIo<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.poll(|io, cx| io.poll_write(cx, buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.poll(|io, cx| io.poll_flush(cx))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Socket<S> {
    /// A WebSocket whose handshake is done: `io` carries frames from now on.
    pub fn from_raw_socket(io: S, role: Role, config: WebSocketConfig) -> Socket<S> {
        let io = SyncIo::new(io);
        Socket::from_websocket(WebSocket::from_raw_socket(io, role, Some(config)))
    }

    /// Makes the client handshake for `request` over `io` (connected, and encrypted if it is
    /// to be), then carries frames over it. Bytes the server sent after its answer, in the
    /// same read, are kept for the first frames.
    pub async fn client(
        io: S,
        request: tokio_tungstenite::tungstenite::handshake::client::Request,
        config: WebSocketConfig,
    ) -> Result<Socket<S>, Error> {
        use tokio_tungstenite::tungstenite::handshake::client::ClientHandshake;
        use tokio_tungstenite::tungstenite::HandshakeError;
        let io = SyncIo::new(io);
        let mut mid = Some(ClientHandshake::start(io, request, Some(config))?);
        let (ws, _response) = std::future::poll_fn(|cx| {
            let mut handshake = mid.take().expect("polled after completion");
            handshake.get_mut().get_mut().waker.clone_from(cx.waker());
            match handshake.handshake() {
                Ok(done) => Poll::Ready(Ok(done)),
                Err(HandshakeError::Interrupted(waiting)) => {
                    mid = Some(waiting);
                    Poll::Pending
                }
                Err(HandshakeError::Failure(e)) => Poll::Ready(Err(e)),
            }
        })
        .await?;
        Ok(Socket::from_websocket(ws))
    }

    fn from_websocket(ws: WebSocket<SyncIo<S>>) -> Socket<S> {
        Socket {
            ws,
            blocked: false,
            closing: false,
            ended: false,
            control_bytes: 0,
        }
    }

    /// Runs `op` on the WebSocket with this poll's waker (kept from the last poll if it is the
    /// same task's, as it always is).
    fn with<T>(&mut self, cx: &Context<'_>, op: impl FnOnce(&mut WebSocket<SyncIo<S>>) -> T) -> T {
        self.ws.get_mut().waker.clone_from(cx.waker());
        op(&mut self.ws)
    }
}

#[cfg(feature = "server")]
impl<S> Socket<S> {
    /// Bytes of control frames read and handled since the last call: the server gives them
    /// back to its budget (they belong to no message).
    pub(crate) fn take_control_bytes(&mut self) -> usize {
        std::mem::take(&mut self.control_bytes)
    }
}

/// Reads a message, with the write buffer bounded for the pongs it queues (see `OWED_PONGS`):
/// tungstenite queues one per ping it reads, written or not; our own messages are not bounded
/// (the session waits for them to be written before it reads again).
fn read_owing_latest_pong<S: Read + Write>(ws: &mut WebSocket<S>) -> Result<Message, Error> {
    let unbounded = ws.get_config().max_write_buffer_size;
    ws.set_config(|c| {
        c.max_write_buffer_size = unbounded.min(c.write_buffer_size.saturating_add(OWED_PONGS));
    });
    let read = ws.read();
    ws.set_config(|c| c.max_write_buffer_size = unbounded);
    read
}

/// `WouldBlock` is "not yet".
fn ready<T>(result: Result<T, Error>) -> Poll<Result<T, Error>> {
    match result {
        Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
        other => Poll::Ready(other),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for Socket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match std::task::ready!(ready(self.with(cx, read_owing_latest_pong))) {
            Ok(message) => {
                if let Message::Ping(data) | Message::Pong(data) = &message {
                    self.control_bytes += PEER_CONTROL_HEADER + data.len();
                }
                Poll::Ready(Some(Ok(message)))
            }
            Err(e) => {
                self.ended = true;
                match e {
                    Error::ConnectionClosed | Error::AlreadyClosed => Poll::Ready(None),
                    e => Poll::Ready(Some(Err(e))),
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for Socket<S> {
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if !self.blocked {
            return Poll::Ready(Ok(()));
        }
        let flushed = std::task::ready!(ready(self.with(cx, WebSocket::flush)));
        self.blocked = false;
        Poll::Ready(flushed)
    }

    fn start_send(mut self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        // No waker needed: a write that cannot go out yet stays queued (`blocked`), and
        // `poll_ready` or `poll_flush` waits for it with the task's waker.
        match self.ws.write(message) {
            Ok(()) => Ok(()),
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                self.blocked = true;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let flushed = std::task::ready!(ready(self.with(cx, WebSocket::flush)));
        self.blocked = false;
        match flushed {
            // Closed just now: everything there was to write went.
            Err(Error::ConnectionClosed) => Poll::Ready(Ok(())),
            other => Poll::Ready(other),
        }
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.blocked = false;
        let closing = self.closing;
        let result = self.with(cx, |ws| match closing {
            // Queued already: flushing drives the close handshake on.
            true => ws.flush(),
            false => ws.close(None),
        });
        match result {
            Ok(()) | Err(Error::ConnectionClosed) => Poll::Ready(Ok(())),
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                self.closing = true;
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection whose reads are `input`, and whose writes go only once `writable` (a peer
    /// that reads nothing until then), counting what was written.
    struct Stuck {
        input: Vec<u8>,
        at: usize,
        writable: bool,
        written: usize,
    }

    impl AsyncRead for Stuck {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let n = (self.input.len() - self.at).min(buf.remaining()).min(1000);
            if n == 0 {
                return Poll::Pending;
            }
            let at = self.at;
            buf.put_slice(&self.input[at..at + n]);
            self.at += n;
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Stuck {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            if !self.writable {
                return Poll::Pending;
            }
            self.written += buf.len();
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            match self.writable {
                true => Poll::Ready(Ok(())),
                false => Poll::Pending,
            }
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    #[test]
    fn a_peer_that_pings_and_never_reads_is_owed_a_bounded_write_buffer() {
        const PINGS: usize = 10_000;
        let mut input = Vec::new();
        for _ in 0..PINGS {
            input.extend_from_slice(&[0x89, 0x80 | 100, 1, 2, 3, 4]);
            input.extend_from_slice(&[b'p'; 100]);
        }
        let stuck = Stuck {
            input,
            at: 0,
            writable: false,
            written: 0,
        };
        let config = crate::transport::websocket::config(1 << 20);
        let mut socket = Socket::from_raw_socket(stuck, Role::Server, config);
        let mut cx = Context::from_waker(Waker::noop());
        let mut pings = 0;
        while let Poll::Ready(Some(Ok(message))) = Pin::new(&mut socket).poll_next(&mut cx) {
            assert!(matches!(message, Message::Ping(_)), "{message:?}");
            pings += 1;
        }
        assert_eq!(pings, PINGS, "every ping was read");
        assert_eq!(socket.control_bytes, PINGS * 106, "and counted as read");
        // The peer reads at last: what was queued for it, in all.
        socket.ws.get_mut().io.writable = true;
        let flushed = Pin::new(&mut socket).poll_flush(&mut cx);
        assert!(matches!(flushed, Poll::Ready(Ok(()))), "{flushed:?}");
        let written = socket.ws.get_ref().io.written;
        let bound = config.write_buffer_size + OWED_PONGS + 2 * 102;
        assert!(
            (102..=bound).contains(&written),
            "{written} bytes queued for a peer that read nothing (bound {bound})"
        );
    }
}
