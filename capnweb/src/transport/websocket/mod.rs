//! WebSocket: one protocol message per text frame, over capnweb's own RFC 6455 codec on both
//! sides by default ([`codec`]), or over tungstenite, polled directly by the session's task
//! ([`Socket`], wrapped in a [`WebSocketTransport`]). The two differ only in framing: they
//! share the keepalive, the way a client connects (URL, TCP, TLS, the timeout) and the close
//! an aborted session makes. The server upgrades its connections itself (see
//! `server::upgrade`).
//!
//! - `adapter`: [`WebSocketTransport`], the session's transport over a message-based library.
//! - `socket`: [`Socket`], tungstenite polled by one task.
//! - [`codec`]: the built-in codec.
//! - `connect`: connecting a client, for both; `keepalive`: the pings, for both.

mod adapter;
pub mod codec;
mod connect;
mod keepalive;
#[cfg(feature = "client")]
pub(crate) use keepalive::SILENT_PEER;
mod socket;

pub use adapter::{connect, ClientWebSocket, Frame, WebSocketTransport, WsMessage};
pub(crate) use connect::ClientTlsConfig;
pub use connect::{ClientStream, ConnectError, ConnectOptions};
pub use socket::Socket;

use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The close code the reference uses for a session it aborts.
pub const ABORT_CLOSE_CODE: u16 = 3000;

/// The longest close reason a WebSocket carries, in bytes (125 for the frame, less the code).
const MAX_CLOSE_REASON: usize = 123;

/// The close reason for a session that aborted with `reason` (see
/// [`Transport::closing`](crate::transport::Transport::closing)): cut to `MAX_CLOSE_REASON`
/// bytes on a character boundary.
fn close_reason(reason: &str) -> String {
    let mut end = reason.len().min(MAX_CLOSE_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}

/// Control frames handled in one poll before the task yields to others (and the server's
/// budget takes back what they were read from).
const CONTROL_BURST: usize = 64;

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

#[cfg(test)]
mod tests {
    use super::close_reason;

    #[test]
    fn a_close_reason_is_cut_to_123_bytes_on_a_character_boundary() {
        assert_eq!(close_reason("short"), "short");
        let long = "é".repeat(100);
        let cut = close_reason(&long);
        assert_eq!(cut.len(), 122, "61 two-byte characters, not half of one");
        assert!(long.starts_with(&cut));
    }
}
