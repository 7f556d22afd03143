//! The client's opening handshake (RFC 6455 4.1), for the built-in codec: the request as
//! tungstenite writes it, the answer read and checked here, and the bytes after it kept.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::client::{generate_request, Request};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::transport::websocket::connect::HandshakeFailure as Failure;

/// The longest answer head read before giving up on a server.
const MAX_HEAD: usize = 16 * 1024;

/// Sends `request` over `io` and checks the server's answer; returns the bytes read after it
/// (the first frames, if the server sent them at once).
pub(super) async fn client<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    request: Request,
) -> Result<Vec<u8>, Failure> {
    let (bytes, key) = generate_request(request).map_err(|e| (None, e.to_string()))?;
    io.write_all(&bytes)
        .await
        .map_err(|e| (None, format!("sending the upgrade failed: {e}")))?;
    io.flush().await.map_err(|e| (None, e.to_string()))?;
    let mut buf = Vec::with_capacity(1024);
    // Where the search for the head's end resumes: only what came since (and the three bytes
    // before it, where the end may begin), so a server sending a byte at a time costs a scan of
    // the head once, not once per read.
    let mut searched = 0;
    let head_len = loop {
        if let Some(at) = buf[searched..].windows(4).position(|w| w == b"\r\n\r\n") {
            break searched + at + 4;
        }
        searched = buf.len().saturating_sub(3);
        if buf.len() > MAX_HEAD {
            return Err((None, "the server's answer head is too long".into()));
        }
        let mut chunk = [0u8; 1024];
        let n = io
            .read(&mut chunk)
            .await
            .map_err(|e| (None, format!("reading the upgrade's answer failed: {e}")))?;
        if n == 0 {
            return Err((
                None,
                "the server closed before answering the upgrade".into(),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_len])
        .map_err(|_| (None, "the server's answer head is not text".to_owned()))?;
    check(head, &derive_accept_key(key.as_bytes()))?;
    Ok(buf[head_len..].to_vec())
}

/// Checks an answer head: `101`, upgraded to `websocket`, with the accept key `accept`.
fn check(head: &str, accept: &str) -> Result<(), Failure> {
    let status_line = head.split("\r\n").next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| {
            let (code, _reason) = rest.split_once(' ').unwrap_or((rest, ""));
            let three_digits = code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit());
            three_digits.then(|| code.parse::<u16>().ok()).flatten()
        })
        .ok_or_else(|| (None, format!("not an HTTP/1.1 answer: {status_line:?}")))?;
    if status != 101 {
        return Err((Some(status), format!("the server answered {status}")));
    }
    // Every value of a header, however many lines it takes.
    let values = |name: &'static str| {
        head.split("\r\n").skip(1).filter_map(move |line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    };
    let has_token = |name: &'static str, token: &str| {
        values(name).any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if !has_token("upgrade", "websocket") || !has_token("connection", "upgrade") {
        return Err((None, "the server did not upgrade to WebSocket".into()));
    }
    if values("sec-websocket-accept").next() != Some(accept) {
        return Err((None, "the server's Sec-WebSocket-Accept is wrong".into()));
    }
    // None was asked for (RFC 6455 4.1): a server choosing one speaks what this codec cannot.
    if values("sec-websocket-extensions").next().is_some() {
        return Err((None, "the server chose a WebSocket extension".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn answers_are_checked() {
        let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
        let ok = format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        assert_eq!(check(&ok, accept), Ok(()));
        assert!(check(&ok, "other").is_err());
        let refused = "HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(check(refused, accept).unwrap_err().0, Some(401));
        let not_upgraded = format!("HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: {accept}\r\n\r\n");
        assert!(check(&not_upgraded, accept).is_err());
        assert!(check("garbage\r\n\r\n", accept).is_err());
        // `Connection` over two lines; a status that is not three digits; an extension.
        let two_lines = format!(
            "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nConnection: upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        assert_eq!(check(&two_lines, accept), Ok(()));
        assert!(check(&ok.replacen("101", "1010", 1), accept).is_err());
        assert!(check(&ok.replacen("101", "+10", 1), accept).is_err());
        let deflate = ok.replacen(
            "\r\n\r\n",
            "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
            1,
        );
        assert!(check(&deflate, accept).is_err());
    }
}
