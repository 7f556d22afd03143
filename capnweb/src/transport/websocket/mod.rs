//! WebSocket: one protocol message per text frame, over tungstenite on both sides by default,
//! polled directly by the session's task ([`Socket`]), or over capnweb's own RFC 6455 codec,
//! opt-in ([`codec`]). The server upgrades its connections itself (see `server::upgrade`); the
//! client connects, encrypts and makes its handshake here.

pub mod codec;
mod socket;
pub use socket::Socket;

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use futures_util::{Sink, Stream};
use tokio::net::TcpStream;
use tokio::time::Sleep;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::MaybeTlsStream;

use bytes::{Bytes, BytesMut};

use super::{Transport, TransportError};

/// A WebSocket as a transport. Binary frames are refused, as by the reference; pongs to the
/// peer's pings are left to the WebSocket layer. With [`keepalive`](Self::keepalive) it pings
/// the peer itself, and ends when the peer stops answering.
pub struct WebSocketTransport<W> {
    ws: W,
    /// Outgoing messages up to `STAGE` bytes are copied here, then sent as slices of it: no
    /// allocation per frame (the WebSocket layer copies each frame into its own buffer at
    /// once, so the space comes back for the next message).
    stage: BytesMut,
    keepalive: Option<Keepalive>,
    /// After an `abort` went out: the reason to close with, as the reference closes (code
    /// 3000, the error's message cut to 123 bytes).
    close_reason: Option<String>,
}

impl<W> std::fmt::Debug for WebSocketTransport<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketTransport")
            .field("keepalive", &self.keepalive.as_ref().map(|k| k.every))
            .finish_non_exhaustive()
    }
}

/// The close code the reference uses for a session it aborts.
pub const ABORT_CLOSE_CODE: u16 = 3000;

/// The longest close reason a WebSocket carries, in bytes (125 for the frame, less the code).
const MAX_CLOSE_REASON: usize = 123;

/// The close reason for the abort message `text`: its error's message (or the string it
/// carries), cut to `MAX_CLOSE_REASON` bytes on a character boundary.
fn close_reason(text: &str) -> String {
    use crate::wire::{parse_message, Expr, Limits, Message};
    let mut reason = match parse_message(text, &Limits::default()) {
        Ok(Message::Abort(Expr::Error(e))) => e.message,
        Ok(Message::Abort(Expr::String(s))) => s,
        _ => String::new(),
    };
    if reason.len() > MAX_CLOSE_REASON {
        let mut end = MAX_CLOSE_REASON;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}

/// Pings every `every`; a peer silent for a whole period after a ping is gone.
struct Keepalive {
    every: Duration,
    tick: Pin<Box<Sleep>>,
    /// A ping went out and nothing came back since.
    awaiting: bool,
}

/// The client side of a WebSocket connection made with [`connect`].
pub type ClientWebSocket = WebSocketTransport<Socket<MaybeTlsStream<TcpStream>>>;

impl<W> WebSocketTransport<W> {
    /// Wraps an established WebSocket: a [`Socket`] (what `connect` and the server make), a
    /// tokio-tungstenite `WebSocketStream`, or anything with the same shape whose message
    /// type implements [`WsMessage`].
    pub fn new(ws: W) -> Self {
        WebSocketTransport {
            ws,
            stage: BytesMut::new(),
            keepalive: None,
            close_reason: None,
        }
    }

    /// Pings the peer every `every` (WebSocket ping frames, never protocol messages), and ends
    /// the transport with an error when nothing at all arrives within a period after a ping.
    pub fn keepalive(mut self, every: Duration) -> Self {
        self.keepalive = Some(Keepalive {
            every,
            tick: Box::pin(tokio::time::sleep(every)),
            awaiting: false,
        });
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

/// The WebSocket settings used for a message size limit: frames and messages above it are
/// refused by the WebSocket layer before they are buffered whole.
pub fn config(max_message_size: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(max_message_size))
        .max_frame_size(Some(max_message_size))
        .read_buffer_size(READ_BUFFER)
}

/// Bytes read from the socket at a time. tungstenite zero-fills this much before every read
/// (and keeps it per connection), so its default of 128 KiB costs a large memset per read and
/// 128 KiB per idle connection; Cap'n Web messages are mostly small, and a large one simply
/// takes more reads.
pub const READ_BUFFER: usize = 4 * 1024;

/// Opens a WebSocket to `url` (`ws://...`), giving up after
/// [`CONNECT_TIMEOUT`](crate::transport::CONNECT_TIMEOUT) (30 s) for TCP, TLS and the upgrade
/// together: a server that accepts the connection and never answers cannot hang it.
pub async fn connect(
    url: &str,
    max_message_size: usize,
) -> Result<ClientWebSocket, TransportError> {
    within_connect_timeout(url, open(url, &[], max_message_size, None))
        .await
        .map_err(|e| TransportError::with_source(e.to_string(), e))
}

/// `connecting` (to `url`), given up after
/// [`CONNECT_TIMEOUT`](crate::transport::CONNECT_TIMEOUT): the bound of the public connect
/// functions of both codecs. (A [`Client`](crate::Client) bounds its attempts with its own
/// `connect_timeout` instead.)
pub(crate) async fn within_connect_timeout<T>(
    url: &str,
    connecting: impl Future<Output = Result<T, ConnectError>>,
) -> Result<T, ConnectError> {
    let limit = crate::transport::CONNECT_TIMEOUT;
    match tokio::time::timeout(limit, connecting).await {
        Ok(result) => result,
        Err(_) => Err(ConnectError {
            url: url.to_owned(),
            status: None,
            message: format!("no connection (TCP, TLS and the upgrade) within {limit:?}"),
        }),
    }
}

/// Why opening a WebSocket failed: the HTTP status the server answered the upgrade with, if it
/// got that far, and what happened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("WebSocket connection to {url} failed: {message}")]
pub struct ConnectError {
    /// The URL.
    pub url: String,
    /// The upgrade's HTTP status, when the server refused it.
    pub status: Option<u16>,
    /// What happened.
    pub message: String,
}

/// A client's TLS settings for `wss://`, if any: with the `tls` feature, a rustls
/// configuration (none for the default roots); without, always `None`.
#[cfg(feature = "tls")]
pub type ClientTlsConfig = Option<std::sync::Arc<rustls::ClientConfig>>;
/// A client's TLS settings for `wss://`, if any: with the `tls` feature, a rustls
/// configuration (none for the default roots); without, always `None`.
#[cfg(not(feature = "tls"))]
pub type ClientTlsConfig = Option<std::convert::Infallible>;

/// Opens a WebSocket to `url` sending these extra request headers, within
/// [`CONNECT_TIMEOUT`](crate::transport::CONNECT_TIMEOUT) (see [`connect`]).
pub async fn connect_with_headers(
    url: &str,
    headers: &[(String, String)],
    max_message_size: usize,
) -> Result<ClientWebSocket, ConnectError> {
    within_connect_timeout(url, open(url, headers, max_message_size, None)).await
}

/// Opens a WebSocket to `url` sending these extra request headers, speaking TLS (for `wss://`)
/// as `tls` says, within [`CONNECT_TIMEOUT`](crate::transport::CONNECT_TIMEOUT) (see
/// [`connect`]).
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub async fn connect_with_tls(
    url: &str,
    headers: &[(String, String)],
    max_message_size: usize,
    tls: std::sync::Arc<rustls::ClientConfig>,
) -> Result<ClientWebSocket, ConnectError> {
    within_connect_timeout(url, open(url, headers, max_message_size, Some(tls))).await
}

pub(crate) async fn open(
    url: &str,
    headers: &[(String, String)],
    max_message_size: usize,
    tls: ClientTlsConfig,
) -> Result<ClientWebSocket, ConnectError> {
    let fail = |status: Option<u16>, message: String| ConnectError {
        url: url.to_owned(),
        status,
        message,
    };
    let request = request(url, headers).map_err(|e| fail(None, e))?;
    let stream = connect_stream(request.uri(), tls)
        .await
        .map_err(|e| fail(None, e))?;
    match Socket::client(stream, request, config(max_message_size)).await {
        Ok(ws) => Ok(WebSocketTransport::new(ws)),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let status = response.status();
            Err(fail(
                Some(status.as_u16()),
                format!("the server answered {status}"),
            ))
        }
        Err(e) => Err(fail(None, e.to_string())),
    }
}

/// The upgrade request for `url`, with these extra headers.
fn request(
    url: &str,
    headers: &[(String, String)],
) -> Result<tokio_tungstenite::tungstenite::handshake::client::Request, String> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
        let value = HeaderValue::from_str(value).map_err(|e| e.to_string())?;
        request.headers_mut().insert(name, value);
    }
    Ok(request)
}

/// The connection a WebSocket to `uri` runs on: TCP (without Nagle's delay: messages are
/// written whole, once per burst), encrypted for `wss://`.
async fn connect_stream(
    uri: &tokio_tungstenite::tungstenite::http::Uri,
    tls: ClientTlsConfig,
) -> Result<MaybeTlsStream<TcpStream>, String> {
    let secure = match uri.scheme_str() {
        Some("ws") => false,
        Some("wss") => true,
        _ => return Err("the URL's scheme is not ws:// or wss://".into()),
    };
    let host = uri.host().ok_or("the URL has no host")?;
    // An IPv6 address is written in brackets in a URL, not to a resolver.
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    if !secure {
        let _ = tls;
        return Ok(MaybeTlsStream::Plain(tcp));
    }
    #[cfg(feature = "tls")]
    {
        let config = match tls {
            Some(config) => config,
            None => default_tls()?,
        };
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| format!("{host} is not a name TLS can check: {e}"))?;
        let encrypted = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        Ok(MaybeTlsStream::Rustls(encrypted))
    }
    #[cfg(not(feature = "tls"))]
    Err("wss:// needs the `tls` feature (or one of its roots features)".into())
}

/// The TLS settings of `wss://` without settings of its own: the roots the enabled feature
/// chose, built once.
#[cfg(feature = "tls")]
fn default_tls() -> Result<std::sync::Arc<rustls::ClientConfig>, String> {
    static DEFAULT: std::sync::OnceLock<Result<std::sync::Arc<rustls::ClientConfig>, String>> =
        std::sync::OnceLock::new();
    DEFAULT
        .get_or_init(|| {
            crate::tls::ClientTls::new()
                .build()
                .map_err(|e| e.to_string())
        })
        .clone()
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

use tokio_tungstenite::tungstenite::Utf8Bytes;

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

/// Sends a ping when one is due; fails when the last one went unanswered.
fn poll_keepalive<W, M, E>(
    ws: &mut W,
    keepalive: &mut Option<Keepalive>,
    cx: &mut Context<'_>,
) -> Result<(), TransportError>
where
    W: Sink<M, Error = E> + Unpin,
    M: WsMessage,
    E: Display,
{
    let Some(k) = keepalive else {
        return Ok(());
    };
    while k.tick.as_mut().poll(cx).is_ready() {
        if k.awaiting {
            return Err(TransportError::new(format!(
                "keep-alive: the peer did not answer a ping within {:?}",
                k.every
            )));
        }
        // A ping that cannot be queued now waits for the next period.
        if let Poll::Ready(Ok(())) = Pin::new(&mut *ws).poll_ready(cx) {
            Pin::new(&mut *ws)
                .start_send(M::ping())
                .map_err(transport_error)?;
            let _ = Pin::new(&mut *ws).poll_flush(cx);
            k.awaiting = true;
        }
        let next = tokio::time::Instant::now() + k.every;
        k.tick.as_mut().reset(next);
    }
    Ok(())
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
        let this = &mut *self;
        if let Err(e) = poll_keepalive::<W, M, E>(&mut this.ws, &mut this.keepalive, cx) {
            return Poll::Ready(Some(Err(e)));
        }
        let mut controls = 0;
        loop {
            let msg = ready!(Pin::new(&mut self.ws).poll_next(cx));
            if let Some(k) = &mut self.keepalive {
                k.awaiting = false;
            }
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
        if message.starts_with("[\"abort\",") {
            self.close_reason = Some(close_reason(message));
        }
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
}

/// The staging buffer's size: most messages fit; a larger one is copied on its own.
const STAGE: usize = 1024;

/// Control frames handled in one poll before the task yields to others (and the server's
/// budget takes back what they were read from).
const CONTROL_BURST: usize = 64;
