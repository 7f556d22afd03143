//! WebSocket: one protocol message per text frame. The client uses tokio-tungstenite; the server
//! side is axum's WebSocket (tungstenite underneath). One adapter serves both.

use std::fmt::Display;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_util::{Sink, Stream};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::TransportError;

/// A WebSocket as a transport. Binary frames are refused, as by the reference; pings and pongs
/// are left to the WebSocket layer.
pub struct WebSocketTransport<W> {
    ws: W,
}

/// The client side of a WebSocket connection made with [`connect`].
pub type ClientWebSocket = WebSocketTransport<WebSocketStream<MaybeTlsStream<TcpStream>>>;

/// The server side of a WebSocket accepted by axum.
pub type AxumWebSocket = WebSocketTransport<axum::extract::ws::WebSocket>;

impl<W> WebSocketTransport<W> {
    /// Wraps an established WebSocket (a tokio-tungstenite `WebSocketStream` or an axum
    /// `WebSocket`).
    pub fn new(ws: W) -> Self {
        WebSocketTransport { ws }
    }
}

/// The WebSocket settings used for a message size limit: frames and messages above it are
/// refused by the WebSocket layer before they are buffered whole.
pub fn config(max_message_size: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(max_message_size))
        .max_frame_size(Some(max_message_size))
}

/// Opens a WebSocket to `url` (`ws://...`).
pub async fn connect(
    url: &str,
    max_message_size: usize,
) -> Result<ClientWebSocket, TransportError> {
    let (ws, _) =
        tokio_tungstenite::connect_async_with_config(url, Some(config(max_message_size)), true)
            .await
            .map_err(|e| {
                TransportError::new(format!("WebSocket connection to {url} failed: {e}"))
            })?;
    Ok(WebSocketTransport::new(ws))
}

/// What a received frame means to the session.
pub enum Frame {
    /// A protocol message.
    Text(String),
    /// A binary frame: refused.
    Binary,
    /// The peer closed.
    Close,
    /// A control frame the WebSocket layer answers itself.
    Control,
}

/// A WebSocket library's message type, as far as the adapter needs it.
pub trait WsMessage: Sized {
    /// A text frame.
    fn text(s: String) -> Self;
    /// What a received frame is.
    fn frame(self) -> Frame;
}

impl WsMessage for tokio_tungstenite::tungstenite::Message {
    fn text(s: String) -> Self {
        Self::text(s)
    }
    fn frame(self) -> Frame {
        match self {
            Self::Text(t) => Frame::Text(t.as_str().to_owned()),
            Self::Binary(_) => Frame::Binary,
            Self::Close(_) => Frame::Close,
            _ => Frame::Control,
        }
    }
}

impl WsMessage for axum::extract::ws::Message {
    fn text(s: String) -> Self {
        Self::Text(s.into())
    }
    fn frame(self) -> Frame {
        match self {
            Self::Text(t) => Frame::Text(t.as_str().to_owned()),
            Self::Binary(_) => Frame::Binary,
            Self::Close(_) => Frame::Close,
            _ => Frame::Control,
        }
    }
}

fn transport_error(e: impl Display) -> TransportError {
    TransportError::new(e.to_string())
}

impl<W, M, E> Stream for WebSocketTransport<W>
where
    W: Stream<Item = Result<M, E>> + Unpin,
    M: WsMessage,
    E: Display,
{
    type Item = Result<String, TransportError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let msg = ready!(Pin::new(&mut self.ws).poll_next(cx));
            return Poll::Ready(match msg.map(|m| m.map(WsMessage::frame)) {
                None | Some(Ok(Frame::Close)) => None,
                Some(Ok(Frame::Text(t))) => Some(Ok(t)),
                Some(Ok(Frame::Binary)) => Some(Err(TransportError::new(
                    "Received unexpected message type from WebSocket.",
                ))),
                Some(Ok(Frame::Control)) => continue,
                Some(Err(e)) => Some(Err(transport_error(e))),
            });
        }
    }
}

impl<W, M, E> Sink<String> for WebSocketTransport<W>
where
    // The stream side names the message type the sink takes.
    W: Stream<Item = Result<M, E>> + Sink<M, Error = E> + Unpin,
    M: WsMessage,
    E: Display,
{
    type Error = TransportError;
    fn poll_ready(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        Pin::new(&mut self.ws)
            .poll_ready(cx)
            .map_err(transport_error)
    }
    fn start_send(mut self: Pin<&mut Self>, item: String) -> Result<(), TransportError> {
        Pin::new(&mut self.ws)
            .start_send(M::text(item))
            .map_err(transport_error)
    }
    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        Pin::new(&mut self.ws)
            .poll_flush(cx)
            .map_err(transport_error)
    }
    fn poll_close(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        Pin::new(&mut self.ws)
            .poll_close(cx)
            .map_err(transport_error)
    }
}
