//! [`CodecSocket`]: the built-in codec's connection, a [`Transport`]. It ties the reader and
//! the writer together: what each frame means (a message handed to the session, a pong owed,
//! the close handshake, a violation answered with its close code), the keepalive, and the
//! close an aborted session makes.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::frame::{self, Violation};
use super::reader::{Reader, Scan, Source};
use super::writer::Writer;
use super::Role;
use crate::transport::websocket::keepalive::Keepalive;
use crate::transport::websocket::{close_reason, ABORT_CLOSE_CODE, CONTROL_BURST, READ_BUFFER};
use crate::transport::{Transport, TransportError};

/// A WebSocket whose handshake is done, as a [`Transport`], framed by capnweb's own codec (see
/// the module's doc).
///
/// ```no_run
/// # async fn f() -> Result<(), capnweb::transport::websocket::ConnectError> {
/// use capnweb::transport::websocket::{codec, ConnectOptions};
/// use capnweb::{RpcSession, SessionOptions};
/// let socket = codec::connect("ws://localhost:8080/", &ConnectOptions::new()).await?;
/// let session = RpcSession::spawn(socket, None, SessionOptions::default());
/// # drop(session); Ok(()) }
/// ```
pub struct CodecSocket<S> {
    io: S,
    role: Role,
    max_message_size: usize,
    reader: Reader,
    writer: Writer,
    keepalive: Keepalive,
    /// Once the session aborted: the reason to close with (code 3000), as the reference does.
    abort_reason: Option<String>,
    /// How the peer broke the protocol, to close with.
    violation: Option<Violation>,
    /// The peer's close frame came, or reading failed: nothing more is read.
    read_ended: bool,
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

impl<S: AsyncRead + AsyncWrite + Unpin> CodecSocket<S> {
    /// A WebSocket over `io`, whose handshake is done, for the `role` end; messages over
    /// `max_message_size` bytes are refused.
    pub fn new(io: S, role: Role, max_message_size: usize) -> CodecSocket<S> {
        CodecSocket {
            io,
            role,
            max_message_size,
            reader: Reader::new(READ_BUFFER),
            writer: Writer::new(role),
            keepalive: Keepalive::default(),
            abort_reason: None,
            violation: None,
            read_ended: false,
            control_bytes: 0,
        }
    }

    /// Bytes read at a time when messages are small (default
    /// [`READ_BUFFER`](super::super::READ_BUFFER)); the buffer grows for a larger frame, and
    /// goes back to this size once it is handled.
    pub fn read_buffer(mut self, bytes: usize) -> Self {
        self.reader.set_size(bytes.max(256));
        self
    }

    /// Pings the peer every `every`, and ends the transport with an error when nothing at all
    /// arrives within a period after a ping.
    pub fn keepalive(mut self, every: Duration) -> Self {
        self.keepalive = Keepalive::every(every);
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
    pub(super) fn with_read(mut self, bytes: &[u8]) -> Self {
        self.reader.preload(bytes);
        self
    }

    /// Tries to write what is queued (control frames the peer is owed), without waiting.
    fn write_soon(&mut self, cx: &mut Context<'_>) {
        self.writer.write_soon(&mut self.io, cx);
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
        self.reader.next_message();
        let masked = self.role == Role::Server;
        let mut controls = 0;
        loop {
            let need = match self.reader.scan(masked, self.max_message_size) {
                Err(v) => return Poll::Ready(self.violated(v)),
                Ok(Scan::Need(need)) => need,
                Ok(Scan::Frame(h, payload)) => {
                    if h.is_control() {
                        controls += 1;
                        self.control_bytes += h.header_len + payload.len();
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
            };
            match self.reader.poll_fill(&mut self.io, cx, need) {
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
                Poll::Ready(Ok(0)) => {
                    self.read_ended = true;
                    if self.reader.mid_message() {
                        return Poll::Ready(Event::Failed(TransportError::new(
                            "the connection ended in the middle of a WebSocket message",
                        )));
                    }
                    // Ended between messages without a close frame: gone all the same.
                    return Poll::Ready(Event::Closed);
                }
                Poll::Ready(Ok(_)) => self.keepalive.heard(),
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
        match h.opcode {
            frame::TEXT | frame::BINARY | frame::CONTINUATION => {
                match self.reader.data(&h, payload) {
                    Err(v) => Some(self.violated(v)),
                    Ok(None) => None,
                    // A binary message: refused, as by the reference.
                    Ok(Some((frame::BINARY, _))) => {
                        self.read_ended = true;
                        Some(Event::Failed(TransportError::new(
                            "Received unexpected message type from WebSocket.",
                        )))
                    }
                    Ok(Some((_, source))) => Some(Event::Text(source)),
                }
            }
            frame::PING => {
                self.writer.owe_pong(self.reader.payload(payload));
                None
            }
            frame::PONG => None,
            _ => {
                let code = match frame::close_code(self.reader.payload(payload)) {
                    Ok(code) => code,
                    Err(v) => return Some(self.violated(v)),
                };
                // The close handshake: the peer's code echoed (RFC 6455 5.5.1).
                self.read_ended = true;
                let echo = code.map(u16::to_be_bytes);
                self.writer
                    .queue(frame::CLOSE, echo.as_ref().map_or(&[], |c| &c[..]));
                self.write_soon(cx);
                Some(Event::Closed)
            }
        }
    }

    /// Sends a ping when one is due; fails when the last one went unanswered.
    fn poll_keepalive(&mut self, cx: &mut Context<'_>) -> Result<(), TransportError> {
        // A ping behind writes not yet gone waits for the next period (as with tungstenite).
        let drained = self.writer.drained();
        if self.keepalive.poll_ping(cx, |_| drained)? {
            self.writer.queue(frame::PING, &[]);
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
                if this.writer.owes_pongs() {
                    // A ping came with this message's fragments: answered now (rare).
                    this.write_soon(cx);
                }
                source
            }
            Event::Closed => return Poll::Ready(None),
            Event::Failed(e) => return Poll::Ready(Some(Err(e))),
            Event::Yield => return Poll::Pending,
        };
        match std::str::from_utf8(this.reader.message(source)) {
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
        if this.writer.full() {
            ready!(this.writer.poll_write_out(&mut this.io, cx)).map_err(write_error)?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send_text(self: Pin<&mut Self>, message: &str) -> Result<(), TransportError> {
        self.get_mut().writer.queue(frame::TEXT, message.as_bytes());
        Ok(())
    }

    fn poll_flush_sent(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        let this = self.get_mut();
        this.writer
            .poll_write_out(&mut this.io, cx)
            .map_err(write_error)
    }

    fn poll_close_sent(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        let this = self.get_mut();
        if !this.writer.closed() {
            let payload = match (this.violation, this.abort_reason.take()) {
                (Some(v), _) => frame::close_payload(v.code, v.reason),
                (None, Some(reason)) => frame::close_payload(ABORT_CLOSE_CODE, &reason),
                (None, None) => frame::close_payload(frame::NORMAL, ""),
            };
            this.writer.queue(frame::CLOSE, &payload);
        }
        ready!(this.writer.poll_write_out(&mut this.io, cx)).map_err(write_error)?;
        Pin::new(&mut this.io)
            .poll_shutdown(cx)
            .map_err(write_error)
    }

    fn closing(&mut self, reason: &str) {
        self.abort_reason = Some(close_reason(reason));
    }
}

fn write_error(e: io::Error) -> TransportError {
    TransportError::with_source(format!("writing the WebSocket failed: {e}"), e)
}

#[cfg(test)]
mod tests;
