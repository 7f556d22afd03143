//! [`WebSocketTransport`]: the session's [`Transport`] over a message-based WebSocket library
//! (tungstenite, through [`Socket`]). What it adds to the library is the framing of
//! the session's text into the library's messages; keepalive, connecting and the close reason
//! are the ones both codecs share.

use std::fmt::Display;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Sink, Stream};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::connect::{open, ClientStream, ConnectOptions};
use super::keepalive::Keepalive;
use super::{close_reason, config, ConnectError, Socket};
use super::{ABORT_CLOSE_CODE, CONTROL_BURST};
use crate::transport::{Transport, TransportError};

/// A WebSocket as a transport. Binary frames are refused, as by the reference; pongs to the
/// peer's pings are left to the WebSocket layer. With [`keepalive`](Self::keepalive) it pings
/// the peer itself, and ends when the peer stops answering.
pub struct WebSocketTransport<W> {
    ws: W,
    /// Outgoing messages up to `STAGE` bytes are copied here, then sent as slices of it: no
    /// allocation per frame (the WebSocket layer copies each frame into its own buffer at
    /// once, so the space comes back for the next message).
    stage: BytesMut,
    keepalive: Keepalive,
    /// Once the session aborted: the reason to close with, as the reference closes (code
    /// 3000, the error's message cut to 123 bytes).
    close_reason: Option<String>,
}

impl<W> std::fmt::Debug for WebSocketTransport<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketTransport")
            .field("keepalive", &self.keepalive.period())
            .finish_non_exhaustive()
    }
}

/// The client side of a WebSocket connection made with [`connect`].
pub type ClientWebSocket = WebSocketTransport<Socket<ClientStream>>;

impl<W> WebSocketTransport<W> {
    /// Wraps an established WebSocket: a [`Socket`] (what `connect` and the server make), a
    /// tokio-tungstenite `WebSocketStream`, or anything with the same shape whose message
    /// type implements [`WsMessage`].
    pub fn new(ws: W) -> Self {
        WebSocketTransport {
            ws,
            stage: BytesMut::new(),
            keepalive: Keepalive::default(),
            close_reason: None,
        }
    }

    /// Pings the peer every `every` (WebSocket ping frames, never protocol messages), and ends
    /// the transport with an error when nothing at all arrives within a period after a ping.
    pub fn keepalive(mut self, every: Duration) -> Self {
        self.keepalive = Keepalive::every(every);
        self
    }
}

#[cfg(feature = "server")]
impl<S> WebSocketTransport<Socket<S>> {
    /// Bytes of control frames read and handled since the last call (see `Socket`).
    pub(crate) fn take_control_bytes(&mut self) -> usize {
        self.ws.take_control_bytes()
    }
}

/// Opens a WebSocket to `url` (`ws://`, or `wss://` with the `tls` feature) framed by
/// tungstenite, as `options` say.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use capnweb::transport::websocket::{connect, ConnectOptions};
/// let options = ConnectOptions::new().header("authorization", "Bearer secret");
/// let transport = connect("ws://127.0.0.1:8080/", &options).await?;
/// let session = capnweb::RpcSession::spawn(transport, None, Default::default());
/// # drop(session); Ok(()) }
/// ```
pub async fn connect(url: &str, options: &ConnectOptions) -> Result<ClientWebSocket, ConnectError> {
    let config = config(options.message_limit());
    let transport = open(url, options, |stream, request| async move {
        use tokio_tungstenite::tungstenite::Error;
        match Socket::client(stream, request, config).await {
            Ok(ws) => Ok(WebSocketTransport::new(ws)),
            Err(Error::Http(response)) => {
                let status = response.status();
                Err((
                    Some(status.as_u16()),
                    format!("the server answered {status}"),
                ))
            }
            Err(e) => Err((None, e.to_string())),
        }
    })
    .await?;
    Ok(match options.pings() {
        Some(every) => transport.keepalive(every),
        None => transport,
    })
}

/// What a received frame means to the session.
#[derive(Debug)]
pub enum Frame<T> {
    /// A protocol message.
    Text(T),
    /// A binary frame: refused.
    Binary,
    /// The peer closed.
    Close,
    /// A control frame the WebSocket layer answers itself.
    Control,
}

/// A WebSocket library's message type, as far as the adapter needs it.
pub trait WsMessage: Sized {
    /// A text frame's payload as received (read in place by the session, then dropped).
    type Text: AsRef<str> + Send;
    /// A text frame carrying `payload`, UTF-8 text (a slice of the adapter's send buffer,
    /// copied from a `&str`).
    fn text(payload: Bytes) -> Result<Self, TransportError>;
    /// A ping frame.
    fn ping() -> Self;
    /// A close frame with `code` and `reason`, if the library makes one (else the library's
    /// own close is used).
    fn close(code: u16, reason: String) -> Option<Self> {
        let _ = (code, reason);
        None
    }
    /// What a received frame is.
    fn frame(self) -> Frame<Self::Text>;
}

impl WsMessage for tokio_tungstenite::tungstenite::Message {
    type Text = Utf8Bytes;
    fn text(payload: Bytes) -> Result<Self, TransportError> {
        use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
        use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
        // A text frame as it is: the payload was a `&str`, so checking it again is not needed.
        Ok(Self::Frame(WsFrame::message(
            payload,
            OpCode::Data(Data::Text),
            true,
        )))
    }
    fn ping() -> Self {
        Self::Ping(Default::default())
    }
    fn close(code: u16, reason: String) -> Option<Self> {
        Some(Self::Close(Some(
            tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: code.into(),
                reason: reason.into(),
            },
        )))
    }
    fn frame(self) -> Frame<Utf8Bytes> {
        match self {
            Self::Text(t) => Frame::Text(t),
            Self::Binary(_) => Frame::Binary,
            Self::Close(_) => Frame::Close,
            _ => Frame::Control,
        }
    }
}

fn transport_error(e: impl Display) -> TransportError {
    TransportError::new(e.to_string())
}

/// A failed read; tungstenite's refusal of a frame or message over the size limit says so.
fn read_error<E: Display + 'static>(e: E) -> TransportError {
    use tokio_tungstenite::tungstenite::Error;
    let over = (&e as &dyn std::any::Any)
        .downcast_ref::<Error>()
        .is_some_and(|e| matches!(e, Error::Capacity(_)));
    let error = transport_error(e);
    match over {
        true => error.over_limit("max_message_size"),
        false => error,
    }
}

impl<W: Unpin> WebSocketTransport<W> {
    /// Sends a ping when one is due and the library takes it; fails when the last one went
    /// unanswered.
    fn poll_keepalive<M, E>(&mut self, cx: &mut Context<'_>) -> Result<(), TransportError>
    where
        W: Sink<M, Error = E>,
        M: WsMessage,
        E: Display,
    {
        let ws = &mut self.ws;
        let room =
            |cx: &mut Context<'_>| matches!(Pin::new(&mut *ws).poll_ready(cx), Poll::Ready(Ok(())));
        if self.keepalive.poll_ping(cx, room)? {
            Pin::new(&mut self.ws)
                .start_send(M::ping())
                .map_err(transport_error)?;
            let _ = Pin::new(&mut self.ws).poll_flush(cx);
        }
        Ok(())
    }
}

impl<W, M, E> Transport for WebSocketTransport<W>
where
    W: Stream<Item = Result<M, E>> + Sink<M, Error = E> + Send + Unpin + 'static,
    M: WsMessage + 'static,
    E: Display + 'static,
{
    type Received<'a> = M::Text;

    fn poll_recv(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<M::Text, TransportError>>> {
        if let Err(e) = self.poll_keepalive::<M, E>(cx) {
            return Poll::Ready(Some(Err(e)));
        }
        let mut controls = 0;
        loop {
            let msg = ready!(Pin::new(&mut self.ws).poll_next(cx));
            self.keepalive.heard();
            return Poll::Ready(match msg.map(|m| m.map(WsMessage::frame)) {
                None | Some(Ok(Frame::Close)) => None,
                Some(Ok(Frame::Text(t))) => Some(Ok(t)),
                Some(Ok(Frame::Binary)) => Some(Err(TransportError::new(
                    "Received unexpected message type from WebSocket.",
                ))),
                Some(Ok(Frame::Control)) => {
                    controls += 1;
                    if controls == CONTROL_BURST {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    continue;
                }
                Some(Err(e)) => Some(Err(read_error(e))),
            });
        }
    }

    fn poll_send_ready(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        Pin::new(&mut self.ws)
            .poll_ready(cx)
            .map_err(transport_error)
    }

    fn start_send_text(mut self: Pin<&mut Self>, message: &str) -> Result<(), TransportError> {
        let this = &mut *self;
        let payload = if message.len() > STAGE {
            // A large message gets a buffer of its own, gone once sent: the staging buffer
            // stays small for the session's whole life.
            Bytes::copy_from_slice(message.as_bytes())
        } else {
            if this.stage.capacity() < message.len() {
                // Taken back whole once the frames cut from it are gone (at once: the
                // WebSocket layer copies each frame into its own buffer).
                this.stage.reserve(STAGE);
            }
            this.stage.extend_from_slice(message.as_bytes());
            this.stage.split().freeze()
        };
        let frame = M::text(payload)?;
        Pin::new(&mut this.ws)
            .start_send(frame)
            .map_err(transport_error)
    }

    fn poll_flush_sent(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        Pin::new(&mut self.ws)
            .poll_flush(cx)
            .map_err(transport_error)
    }

    fn poll_close_sent(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        if self.close_reason.is_some() {
            // Aborted: close as the reference does, with code 3000 and the reason.
            ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(transport_error)?;
            let reason = self.close_reason.take().unwrap_or_default();
            if let Some(frame) = M::close(ABORT_CLOSE_CODE, reason) {
                Pin::new(&mut self.ws)
                    .start_send(frame)
                    .map_err(transport_error)?;
            }
        }
        Pin::new(&mut self.ws)
            .poll_close(cx)
            .map_err(transport_error)
    }

    fn closing(&mut self, reason: &str) {
        self.close_reason = Some(close_reason(reason));
    }
}

/// The staging buffer's size: most messages fit; a larger one is copied on its own.
const STAGE: usize = 1024;
