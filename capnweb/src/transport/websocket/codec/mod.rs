//! capnweb's own RFC 6455 codec, opt-in: [`CodecSocket`] carries Cap'n Web's messages as text
//! frames straight between the socket and the session, with no message object per frame.
//!
//! Received frames are unmasked and checked in place in one read buffer and handed to the
//! session as `&str`; sent messages are framed straight into one write buffer, written once per
//! burst. The rules of RFC 6455 hold as they do with tungstenite (the default): a server's
//! peer must mask and a client's must not, reserved bits and opcodes are refused, control frames
//! are whole and short, fragments are put together (with control frames between them), text is
//! checked to be UTF-8, a frame or message over `max_message_size` is refused before it is
//! buffered whole, each ping is answered (the latest only, past a bound on the pongs owed to a
//! peer that does not read), and the close handshake is made. A
//! peer that breaks them gets a close frame with the RFC's code (1002, 1007 or 1009) and the
//! session ends with the reason.
//!
//! On the server, [`Server::websocket_codec`](crate::Server::websocket_codec) turns it on; a
//! client opens one with [`connect`] (or `Client::builder().websocket_codec(..)`).

mod frame;
mod handshake;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::MaybeTlsStream;

use super::{
    close_reason, ClientTlsConfig, ConnectError, Keepalive, ABORT_CLOSE_CODE, CONTROL_BURST,
};
use crate::transport::{Transport, TransportError};
use frame::Violation;

/// Which WebSocket implementation carries a connection's frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Codec {
    /// tungstenite, through [`WebSocketTransport`](super::WebSocketTransport) (the default).
    #[default]
    Tungstenite,
    /// capnweb's own codec, [`CodecSocket`]: fewer copies and no allocation per frame.
    Builtin,
}

/// Which end of the connection a [`CodecSocket`] is: a server's peer masks its frames, a
/// client's does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The end that accepted the connection.
    Server,
    /// The end that opened it (and masks what it sends).
    Client,
}

/// A WebSocket whose handshake is done, as a [`Transport`], framed by capnweb's own codec (see
/// the module's doc).
///
/// ```no_run
/// # async fn f() -> Result<(), capnweb::transport::websocket::ConnectError> {
/// use capnweb::transport::websocket::codec;
/// use capnweb::{RpcSession, SessionOptions};
/// let socket = codec::connect("ws://localhost:8080/", &[], 1 << 20).await?;
/// let session = RpcSession::spawn(socket, None, SessionOptions::default());
/// # drop(session); Ok(()) }
/// ```
pub struct CodecSocket<S> {
    io: S,
    role: Role,
    max_message_size: usize,
    reader: Reader,
    writer: Writer,
    keepalive: Option<Keepalive>,
    /// After an `abort` went out: the reason to close with (code 3000), as the reference does.
    abort_reason: Option<String>,
    /// How the peer broke the protocol, to close with.
    violation: Option<Violation>,
    /// The peer's close frame came, or reading failed: nothing more is read.
    read_ended: bool,
    /// A close frame is queued: nothing more is sent.
    close_sent: bool,
    /// Bytes of control frames read and handled, not yet told to the server's budget.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    control_bytes: usize,
}

impl<S> std::fmt::Debug for CodecSocket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodecSocket")
            .field("role", &self.role)
            .field("max_message_size", &self.max_message_size)
            .finish_non_exhaustive()
    }
}

/// The client side of a WebSocket opened with [`connect`].
pub type ClientCodecSocket = CodecSocket<MaybeTlsStream<TcpStream>>;

/// What was read and not yet handed on.
struct Reader {
    /// Zero-filled once; `buf[start..end]` is read and not yet handled.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The buffer's size when idle (it grows for a larger frame, and goes back after).
    size: usize,
    /// The opcode of a message arriving in fragments, and its payload so far.
    fragments: Option<u8>,
    message: Vec<u8>,
    /// `message` was handed on: cleared at the next read.
    message_handed: bool,
}

/// What is queued to be written.
struct Writer {
    buf: Vec<u8>,
    written: usize,
    /// Pong frames owed, in order, framed and not yet queued: moved to `buf` once it is
    /// written. Past `OWED_PONGS` bytes only the latest ping's is kept (RFC 6455 5.5.3 asks no
    /// more), so a peer that pings and never reads cannot grow either buffer.
    pongs: Vec<u8>,
    /// A client's mask keys.
    masks: Option<MaskKeys>,
}

/// A client masks every frame with a new key, which RFC 6455 asks a peer cannot predict: a
/// counter through SipHash keyed at random (std's `RandomState`), so that keys seen reveal
/// nothing of the next ones.
struct MaskKeys {
    keys: std::collections::hash_map::RandomState,
    count: u64,
}

impl MaskKeys {
    fn new() -> MaskKeys {
        MaskKeys {
            keys: std::collections::hash_map::RandomState::new(),
            count: 0,
        }
    }

    fn next(&mut self) -> [u8; 4] {
        use std::hash::BuildHasher;
        self.count += 1;
        (self.keys.hash_one(self.count) as u32).to_ne_bytes()
    }
}

/// Queued bytes above which [`Transport::poll_send_ready`] waits for the socket.
const WRITE_HIGH_WATER: usize = 64 * 1024;

/// A write buffer larger than this is let go once written, so a burst does not stay.
const WRITE_KEEP: usize = 64 * 1024;

/// Bytes of pong frames owed past which only the latest ping's is kept (as tungstenite's
/// path bounds them, in `socket`).
const OWED_PONGS: usize = 4 * 1024;

/// What a received frame meant.
enum Event {
    /// A whole text message: where its bytes are.
    Text(Source),
    /// The peer closed (with a close frame, or by ending the connection).
    Closed,
    Failed(TransportError),
    /// Many control frames came at once: poll again later.
    Yield,
}

enum Source {
    /// One frame's payload, in the read buffer.
    Buffer(std::ops::Range<usize>),
    /// Fragments put together in `Reader::message`.
    Assembled,
}

impl<S: AsyncRead + AsyncWrite + Unpin> CodecSocket<S> {
    /// A WebSocket over `io`, whose handshake is done, for the `role` end; messages over
    /// `max_message_size` bytes are refused.
    pub fn new(io: S, role: Role, max_message_size: usize) -> CodecSocket<S> {
        CodecSocket {
            io,
            role,
            max_message_size,
            reader: Reader {
                buf: Vec::new(),
                start: 0,
                end: 0,
                size: super::READ_BUFFER,
                fragments: None,
                message: Vec::new(),
                message_handed: false,
            },
            writer: Writer {
                buf: Vec::new(),
                written: 0,
                pongs: Vec::new(),
                masks: (role == Role::Client).then(MaskKeys::new),
            },
            keepalive: None,
            abort_reason: None,
            violation: None,
            read_ended: false,
            close_sent: false,
            control_bytes: 0,
        }
    }

    /// Bytes read at a time when messages are small (default
    /// [`READ_BUFFER`](super::READ_BUFFER)); the buffer grows for a larger frame, and goes back
    /// to this size once it is handled.
    pub fn read_buffer(mut self, bytes: usize) -> Self {
        self.reader.size = bytes.max(256);
        self
    }

    /// Pings the peer every `every`, and ends the transport with an error when nothing at all
    /// arrives within a period after a ping.
    pub fn keepalive(mut self, every: Duration) -> Self {
        self.keepalive = Some(Keepalive {
            every,
            tick: Box::pin(tokio::time::sleep(every)),
            awaiting: false,
        });
        self
    }

    /// The connection under the WebSocket.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The connection under the WebSocket, to change its settings (reading or writing on it
    /// directly would break the framing).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// Bytes already read from `io` after the handshake: the first frames.
    fn with_read(mut self, bytes: &[u8]) -> Self {
        let r = &mut self.reader;
        r.buf = vec![0; bytes.len().max(r.size)];
        r.buf[..bytes.len()].copy_from_slice(bytes);
        r.end = bytes.len();
        self
    }

    fn mask(&mut self) -> Option<[u8; 4]> {
        self.writer.masks.as_mut().map(MaskKeys::next)
    }

    /// Queues a frame (nothing once a close frame is queued: the RFC allows nothing after it).
    fn queue(&mut self, opcode: u8, payload: &[u8]) {
        if self.close_sent {
            return;
        }
        let mask = self.mask();
        frame::write_frame(&mut self.writer.buf, opcode, payload, mask);
        self.close_sent = opcode == frame::CLOSE;
    }

    /// Writes everything queued, then flushes the stream. The pongs owed are queued only once
    /// the rest is written: a peer that pings and does not read is owed at most `OWED_PONGS`
    /// bytes of them, not a queue that grows.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let w = &mut self.writer;
            while w.written < w.buf.len() {
                match ready!(Pin::new(&mut self.io).poll_write(cx, &w.buf[w.written..])) {
                    Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Ok(n) => w.written += n,
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            if w.buf.capacity() > WRITE_KEEP {
                w.buf = Vec::new();
            }
            w.buf.clear();
            w.written = 0;
            if self.writer.pongs.is_empty() {
                break;
            }
            let pongs = std::mem::take(&mut self.writer.pongs);
            // (Nothing may follow a close frame.)
            if !self.close_sent {
                self.writer.buf.extend_from_slice(&pongs);
            }
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Tries to write what is queued (control frames the peer is owed), without waiting.
    fn write_soon(&mut self, cx: &mut Context<'_>) {
        let _ = self.poll_write_out(cx);
    }

    /// The peer broke the protocol: nothing more is read, the close frame says why (sent
    /// when the session closes, after its `abort`).
    fn violated(&mut self, v: Violation) -> Event {
        self.read_ended = true;
        self.violation = Some(v);
        let error = TransportError::new(format!("WebSocket protocol error: {}", v.reason));
        Event::Failed(match v.code {
            frame::TOO_BIG => error.over_limit("max_message_size"),
            _ => error,
        })
    }

    /// Reads until a text message is whole, answering control frames on the way.
    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Event> {
        if self.reader.message_handed {
            self.reader.message_handed = false;
            self.reader.message.clear();
            if self.reader.message.capacity() > 4 * self.reader.size {
                self.reader.message = Vec::new();
            }
        }
        let masked = self.role == Role::Server;
        let mut controls = 0;
        loop {
            let r = &mut self.reader;
            let need = match frame::parse_header(&r.buf[r.start..r.end], masked) {
                Err(v) => return Poll::Ready(self.violated(v)),
                Ok(None) => frame::MAX_HEADER,
                Ok(Some(h)) => {
                    let so_far = if h.opcode == frame::CONTINUATION {
                        r.message.len() as u64
                    } else {
                        0
                    };
                    // (A control frame is at most 125 bytes, whatever the limit.)
                    let too_big = !h.is_control()
                        && h.len.saturating_add(so_far) > self.max_message_size as u64;
                    let total = usize::try_from(h.len)
                        .ok()
                        .and_then(|len| len.checked_add(h.header_len));
                    let Some(total) = total.filter(|_| !too_big) else {
                        return Poll::Ready(self.violated(Violation {
                            code: frame::TOO_BIG,
                            reason: "a message is larger than max_message_size",
                        }));
                    };
                    if r.end - r.start >= total {
                        let payload = r.start + h.header_len..r.start + total;
                        r.start += total;
                        if let Some(key) = h.mask {
                            frame::apply_mask(&mut r.buf[payload.clone()], key);
                        }
                        if h.is_control() {
                            controls += 1;
                            self.control_bytes += total;
                        }
                        match self.on_frame(h, payload, cx) {
                            Some(event) => return Poll::Ready(event),
                            None if controls >= CONTROL_BURST => {
                                self.write_soon(cx);
                                cx.waker().wake_by_ref();
                                return Poll::Ready(Event::Yield);
                            }
                            None => continue,
                        }
                    }
                    total
                }
            };
            let r = &mut self.reader;
            r.make_room(need);
            let mut read = ReadBuf::new(&mut r.buf[r.end..]);
            match Pin::new(&mut self.io).poll_read(cx, &mut read) {
                Poll::Pending => {
                    self.write_soon(cx);
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => {
                    self.read_ended = true;
                    return Poll::Ready(Event::Failed(TransportError::with_source(
                        format!("reading the WebSocket failed: {e}"),
                        e,
                    )));
                }
                Poll::Ready(Ok(())) => {
                    let n = read.filled().len();
                    if n == 0 {
                        self.read_ended = true;
                        let r = &self.reader;
                        if r.start != r.end || r.fragments.is_some() {
                            return Poll::Ready(Event::Failed(TransportError::new(
                                "the connection ended in the middle of a WebSocket message",
                            )));
                        }
                        // Ended between messages without a close frame: gone all the same.
                        return Poll::Ready(Event::Closed);
                    }
                    self.reader.end += n;
                    if let Some(k) = &mut self.keepalive {
                        k.awaiting = false;
                    }
                }
            }
        }
    }

    /// Handles one whole frame, its payload unmasked at `payload` in the read buffer.
    fn on_frame(
        &mut self,
        h: frame::Header,
        payload: std::ops::Range<usize>,
        cx: &mut Context<'_>,
    ) -> Option<Event> {
        let r = &mut self.reader;
        match h.opcode {
            frame::TEXT | frame::BINARY => {
                if r.fragments.is_some() {
                    return Some(self.violated(frame_error(
                        "a new message began before the fragmented one ended",
                    )));
                }
                if !h.fin {
                    r.fragments = Some(h.opcode);
                    r.message.extend_from_slice(&r.buf[payload]);
                    return None;
                }
                if h.opcode == frame::BINARY {
                    return Some(self.binary());
                }
                Some(Event::Text(Source::Buffer(payload)))
            }
            frame::CONTINUATION => {
                let Some(opcode) = r.fragments else {
                    return Some(self.violated(frame_error(
                        "a continuation frame with no message to continue",
                    )));
                };
                r.message.extend_from_slice(&r.buf[payload]);
                if !h.fin {
                    return None;
                }
                r.fragments = None;
                r.message_handed = true;
                if opcode == frame::BINARY {
                    return Some(self.binary());
                }
                Some(Event::Text(Source::Assembled))
            }
            frame::PING => {
                // Written when reading waits (or yields), after what is queued.
                let mask = self.writer.masks.as_mut().map(MaskKeys::next);
                let pongs = &mut self.writer.pongs;
                if pongs.len() + frame::MAX_HEADER + payload.len() > OWED_PONGS {
                    pongs.clear();
                }
                frame::write_frame(pongs, frame::PONG, &self.reader.buf[payload], mask);
                None
            }
            frame::PONG => None,
            _ => {
                let code = match frame::close_code(&r.buf[payload]) {
                    Ok(code) => code,
                    Err(v) => return Some(self.violated(v)),
                };
                // The close handshake: the peer's code echoed (RFC 6455 5.5.1).
                self.read_ended = true;
                let echo = code.map(u16::to_be_bytes);
                self.queue(frame::CLOSE, echo.as_ref().map_or(&[], |c| &c[..]));
                self.write_soon(cx);
                Some(Event::Closed)
            }
        }
    }

    /// A binary message: refused, as by the reference.
    fn binary(&mut self) -> Event {
        self.read_ended = true;
        Event::Failed(TransportError::new(
            "Received unexpected message type from WebSocket.",
        ))
    }

    /// Sends a ping when one is due; fails when the last one went unanswered.
    fn poll_keepalive(&mut self, cx: &mut Context<'_>) -> Result<(), TransportError> {
        let Some(k) = &mut self.keepalive else {
            return Ok(());
        };
        let drained = self.writer.written == self.writer.buf.len();
        let mut due = false;
        while k.tick.as_mut().poll(cx).is_ready() {
            if k.awaiting {
                return Err(TransportError::new(format!(
                    "keep-alive: the peer did not answer a ping within {:?}",
                    k.every
                )));
            }
            // A ping behind writes not yet gone waits for the next period (as with tungstenite).
            if drained {
                k.awaiting = true;
                due = true;
            }
            let next = tokio::time::Instant::now() + k.every;
            k.tick.as_mut().reset(next);
        }
        if due {
            self.queue(frame::PING, &[]);
            self.write_soon(cx);
        }
        Ok(())
    }
}

#[cfg(feature = "server")]
impl<S> CodecSocket<S> {
    /// Bytes of control frames read and handled since the last call: the server gives them
    /// back to its budget (they belong to no message).
    pub(crate) fn take_control_bytes(&mut self) -> usize {
        std::mem::take(&mut self.control_bytes)
    }
}

fn frame_error(reason: &'static str) -> Violation {
    Violation {
        code: frame::PROTOCOL_ERROR,
        reason,
    }
}

impl Reader {
    /// Makes room to read toward `need` bytes from `start` (a frame, or a header): compacts,
    /// or grows the buffer by doubling (so a peer announcing a large frame gets room only as
    /// its bytes come); an idle grown buffer goes back to its size.
    fn make_room(&mut self, need: usize) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() > 4 * self.size {
                self.buf = Vec::new();
            }
        }
        let unread = self.end - self.start;
        if self.buf.len() > 4 * self.size && unread <= self.size / 2 && need <= self.size {
            // Grown for a large frame, now holding the start of a small one: back to its size
            // (a peer cannot keep a large buffer with a byte at a time).
            let mut small = vec![0; self.size];
            small[..unread].copy_from_slice(&self.buf[self.start..self.end]);
            self.buf = small;
            self.start = 0;
            self.end = unread;
        }
        if self.buf.is_empty() {
            self.buf = vec![0; self.size];
        }
        let missing = need.saturating_sub(unread).max(1);
        let enough = missing.min(self.size / 2);
        if self.buf.len() - self.end >= enough {
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.start = 0;
            self.end = unread;
        }
        if self.buf.len() - self.end >= enough {
            return;
        }
        let grown = self
            .end
            .saturating_add(missing)
            .min((2 * self.buf.len()).max(self.size));
        self.buf.resize(grown, 0);
    }
}

impl<S: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for CodecSocket<S> {
    type Received<'a> = &'a str;

    fn poll_recv<'a>(
        self: Pin<&'a mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<&'a str, TransportError>>> {
        let this = self.get_mut();
        if let Err(e) = this.poll_keepalive(cx) {
            return Poll::Ready(Some(Err(e)));
        }
        if this.read_ended {
            return Poll::Ready(None);
        }
        let source = match ready!(this.poll_event(cx)) {
            Event::Text(source) => {
                if !this.writer.pongs.is_empty() {
                    // A ping came with this message's fragments: answered now (rare).
                    this.write_soon(cx);
                }
                source
            }
            Event::Closed => return Poll::Ready(None),
            Event::Failed(e) => return Poll::Ready(Some(Err(e))),
            Event::Yield => return Poll::Pending,
        };
        let bytes = match source {
            Source::Buffer(range) => &this.reader.buf[range],
            Source::Assembled => &this.reader.message[..],
        };
        match std::str::from_utf8(bytes) {
            Ok(text) => Poll::Ready(Some(Ok(text))),
            Err(_) => {
                let v = Violation {
                    code: frame::INVALID_PAYLOAD,
                    reason: "a text message is not UTF-8",
                };
                this.read_ended = true;
                this.violation = Some(v);
                Poll::Ready(Some(Err(TransportError::new(format!(
                    "WebSocket protocol error: {}",
                    v.reason
                )))))
            }
        }
    }

    fn poll_send_ready(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        let this = self.get_mut();
        if this.writer.buf.len() - this.writer.written >= WRITE_HIGH_WATER {
            ready!(this.poll_write_out(cx)).map_err(write_error)?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send_text(self: Pin<&mut Self>, message: &str) -> Result<(), TransportError> {
        let this = self.get_mut();
        if message.starts_with("[\"abort\",") {
            this.abort_reason = Some(close_reason(message));
        }
        this.queue(frame::TEXT, message.as_bytes());
        Ok(())
    }

    fn poll_flush_sent(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        self.get_mut().poll_write_out(cx).map_err(write_error)
    }

    fn poll_close_sent(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        let this = self.get_mut();
        if !this.close_sent {
            let payload = match (this.violation, this.abort_reason.take()) {
                (Some(v), _) => frame::close_payload(v.code, v.reason),
                (None, Some(reason)) => frame::close_payload(ABORT_CLOSE_CODE, &reason),
                (None, None) => frame::close_payload(frame::NORMAL, ""),
            };
            this.queue(frame::CLOSE, &payload);
        }
        ready!(this.poll_write_out(cx)).map_err(write_error)?;
        Pin::new(&mut this.io)
            .poll_shutdown(cx)
            .map_err(write_error)
    }
}

fn write_error(e: io::Error) -> TransportError {
    TransportError::with_source(format!("writing the WebSocket failed: {e}"), e)
}

/// Opens a WebSocket to `url` (`ws://`, or `wss://` with the `tls` feature) framed by the
/// built-in codec, sending these extra request headers. Gives up after
/// [`CONNECT_TIMEOUT`](crate::transport::CONNECT_TIMEOUT) (30 s) for TCP, TLS and the upgrade
/// together: a server that accepts the connection and never answers cannot hang it. (The
/// answer's head is bounded too: 16 KiB.)
pub async fn connect(
    url: &str,
    headers: &[(String, String)],
    max_message_size: usize,
) -> Result<ClientCodecSocket, ConnectError> {
    super::within_connect_timeout(url, open(url, headers, max_message_size, None)).await
}

/// [`connect`], speaking TLS (for `wss://`) as `tls` says (within the same
/// [`CONNECT_TIMEOUT`](crate::transport::CONNECT_TIMEOUT)).
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub async fn connect_with_tls(
    url: &str,
    headers: &[(String, String)],
    max_message_size: usize,
    tls: std::sync::Arc<rustls::ClientConfig>,
) -> Result<ClientCodecSocket, ConnectError> {
    super::within_connect_timeout(url, open(url, headers, max_message_size, Some(tls))).await
}

pub(crate) async fn open(
    url: &str,
    headers: &[(String, String)],
    max_message_size: usize,
    tls: ClientTlsConfig,
) -> Result<ClientCodecSocket, ConnectError> {
    let fail = |status: Option<u16>, message: String| ConnectError {
        url: url.to_owned(),
        status,
        message,
    };
    let request = super::request(url, headers).map_err(|e| fail(None, e))?;
    let mut stream = super::connect_stream(request.uri(), tls)
        .await
        .map_err(|e| fail(None, e))?;
    let rest = handshake::client(&mut stream, request)
        .await
        .map_err(|(status, e)| fail(status, e))?;
    Ok(CodecSocket::new(stream, Role::Client, max_message_size).with_read(&rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_buffer_grows_by_doubling_toward_a_frame_and_compacts_first() {
        let mut r = Reader {
            buf: Vec::new(),
            start: 0,
            end: 0,
            size: 1024,
            fragments: None,
            message: Vec::new(),
            message_handed: false,
        };
        r.make_room(14);
        assert_eq!(r.buf.len(), 1024);
        // Half handled, the rest a frame's start: compacted before growing.
        (r.start, r.end) = (900, 1024);
        r.make_room(2000);
        assert_eq!((r.start, r.end, r.buf.len()), (0, 124, 1024));
        r.end = 1024;
        r.make_room(1_000_000);
        assert_eq!(r.buf.len(), 2048, "doubled, not the announced size");
        r.end = 2048;
        r.make_room(3000);
        assert_eq!(r.buf.len(), 3000, "never past the frame");
        // Idle again: back to its size.
        (r.start, r.end) = (3000, 3000);
        r.buf.resize(8192, 0);
        r.make_room(14);
        assert_eq!(r.buf.len(), 1024);
    }

    #[test]
    fn a_grown_buffer_holding_the_start_of_a_small_frame_goes_back_to_its_size() {
        let mut r = Reader {
            buf: vec![0; 1 << 20],
            start: 1000,
            end: 1003,
            size: 1024,
            fragments: None,
            message: Vec::new(),
            message_handed: false,
        };
        r.buf[1000..1003].copy_from_slice(b"abc");
        r.make_room(14);
        assert_eq!((r.buf.len(), r.start, r.end), (1024, 0, 3));
        assert_eq!(&r.buf[..3], b"abc");
        // Not while the frame being read is large.
        r.buf = vec![0; 1 << 20];
        (r.start, r.end) = (1000, 1003);
        r.make_room(500_000);
        assert_eq!(r.buf.len(), 1 << 20);
    }

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
        while socket.io.at < socket.io.input.len() || socket.reader.start < socket.reader.end {
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
        assert!(socket.writer.pongs.is_empty());
    }

    #[test]
    fn a_peer_that_pings_and_never_reads_is_owed_a_bounded_queue_ending_with_the_latest() {
        let payload = |i: u32| {
            let mut p = vec![b'p'; 100];
            p[..4].copy_from_slice(&i.to_be_bytes());
            p
        };
        let socket = read_all((0..10_000).flat_map(|i| ping(&payload(i))).collect(), None);
        let queued = socket.writer.buf.len() + socket.writer.pongs.len();
        assert!(
            queued <= 2 * OWED_PONGS,
            "{queued} bytes queued for a peer that reads nothing"
        );
        // The latest ping is still answered, last.
        assert!(socket.writer.pongs.ends_with(&payload(9_999)));
    }

    #[test]
    fn mask_keys_vary() {
        let mut keys = MaskKeys::new();
        let drawn: std::collections::HashSet<[u8; 4]> = (0..1000).map(|_| keys.next()).collect();
        assert!(drawn.len() > 990);
    }
}
