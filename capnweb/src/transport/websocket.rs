//! WebSocket: one protocol message per text frame, over tokio-tungstenite.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_util::{Sink, Stream};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::TransportError;

/// A WebSocket as a transport. Binary frames are refused, as by the reference.
pub struct WebSocketTransport<S> {
    ws: WebSocketStream<S>,
}

/// The client side of a WebSocket connection made with [`connect`].
pub type ClientWebSocket = WebSocketTransport<MaybeTlsStream<TcpStream>>;

impl<S> WebSocketTransport<S> {
    /// Wraps an established WebSocket.
    pub fn new(ws: WebSocketStream<S>) -> Self {
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

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> Stream for WebSocketTransport<S> {
    type Item = Result<String, TransportError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let msg = ready!(Pin::new(&mut self.ws).poll_next(cx));
            return Poll::Ready(match msg {
                None | Some(Ok(Message::Close(_))) => None,
                Some(Ok(Message::Text(t))) => Some(Ok(t.as_str().to_owned())),
                Some(Ok(Message::Binary(_))) => Some(Err(TransportError::new(
                    "Received unexpected message type from WebSocket.",
                ))),
                Some(Ok(_)) => continue,
                Some(Err(e)) => Some(Err(TransportError::new(e.to_string()))),
            });
        }
    }
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> Sink<String>
    for WebSocketTransport<S>
{
    type Error = TransportError;
    fn poll_ready(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        Pin::new(&mut self.ws)
            .poll_ready(cx)
            .map_err(|e| TransportError::new(e.to_string()))
    }
    fn start_send(mut self: Pin<&mut Self>, item: String) -> Result<(), TransportError> {
        Pin::new(&mut self.ws)
            .start_send(Message::text(item))
            .map_err(|e| TransportError::new(e.to_string()))
    }
    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        Pin::new(&mut self.ws)
            .poll_flush(cx)
            .map_err(|e| TransportError::new(e.to_string()))
    }
    fn poll_close(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        Pin::new(&mut self.ws)
            .poll_close(cx)
            .map_err(|e| TransportError::new(e.to_string()))
    }
}

/// An axum WebSocket (server side) as a transport.
pub struct AxumWebSocket(pub axum::extract::ws::WebSocket);

impl Stream for AxumWebSocket {
    type Item = Result<String, TransportError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        use axum::extract::ws::Message as M;
        loop {
            let msg = ready!(Pin::new(&mut self.0).poll_next(cx));
            return Poll::Ready(match msg {
                None | Some(Ok(M::Close(_))) => None,
                Some(Ok(M::Text(t))) => Some(Ok(t.as_str().to_owned())),
                Some(Ok(M::Binary(_))) => Some(Err(TransportError::new(
                    "Received unexpected message type from WebSocket.",
                ))),
                Some(Ok(_)) => continue,
                Some(Err(e)) => Some(Err(TransportError::new(e.to_string()))),
            });
        }
    }
}

impl Sink<String> for AxumWebSocket {
    type Error = TransportError;
    fn poll_ready(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        Pin::new(&mut self.0)
            .poll_ready(cx)
            .map_err(|e| TransportError::new(e.to_string()))
    }
    fn start_send(mut self: Pin<&mut Self>, item: String) -> Result<(), TransportError> {
        Pin::new(&mut self.0)
            .start_send(axum::extract::ws::Message::Text(item.into()))
            .map_err(|e| TransportError::new(e.to_string()))
    }
    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        Pin::new(&mut self.0)
            .poll_flush(cx)
            .map_err(|e| TransportError::new(e.to_string()))
    }
    fn poll_close(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        Pin::new(&mut self.0)
            .poll_close(cx)
            .map_err(|e| TransportError::new(e.to_string()))
    }
}
