//! capnweb's own RFC 6455 codec, the default: [`CodecSocket`] carries Cap'n Web's messages as text
//! frames straight between the socket and the session, with no message object per frame.
//!
//! Received frames are unmasked and checked in place in one read buffer and handed to the
//! session as `&str`; sent messages are framed straight into one write buffer, written once per
//! burst. The rules of RFC 6455 hold as they do with tungstenite (the other choice): a server's
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
//!
//! Its files: `frame` (a frame's bytes, pure functions), `reader` (the read buffer, frames
//! found and fragments put together), `writer` (the write buffer, pongs owed, mask keys),
//! `socket` (what frames mean, and the [`Transport`](crate::transport::Transport)),
//! `handshake` (a client's upgrade), `pool` (the buffers lent for a burst).

mod frame;
mod handshake;
mod pool;
mod reader;
mod socket;
mod writer;

pub use socket::CodecSocket;

use super::connect::{open, ClientStream, ConnectOptions};
use super::ConnectError;

/// Which WebSocket implementation carries a connection's frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Codec {
    /// tungstenite, through [`WebSocketTransport`](super::WebSocketTransport).
    Tungstenite,
    /// capnweb's own codec, [`CodecSocket`] (the default): fewer copies, no allocation per
    /// frame, and no buffer held by an idle connection.
    #[default]
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

/// The client side of a WebSocket opened with [`connect`].
pub type ClientCodecSocket = CodecSocket<ClientStream>;

/// Opens a WebSocket to `url` (`ws://`, or `wss://` with the `tls` feature) framed by the
/// built-in codec, as `options` say. (The answer's head is bounded: 16 KiB.)
pub async fn connect(
    url: &str,
    options: &ConnectOptions,
) -> Result<ClientCodecSocket, ConnectError> {
    let max_message_size = options.message_limit();
    let socket = open(url, options, |mut stream, request| async move {
        let rest = handshake::client(&mut stream, request).await?;
        Ok(CodecSocket::new(stream, Role::Client, max_message_size).with_read(&rest))
    })
    .await?;
    Ok(match options.pings() {
        Some(every) => socket.keepalive(every),
        None => socket,
    })
}
