//! Connecting, the one way both codecs do it: the URL read into an upgrade request, TCP (and
//! TLS for `wss://`), then the codec's own handshake, all within
//! [`CONNECT_TIMEOUT`](crate::transport::CONNECT_TIMEOUT) for the public connect functions.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::MaybeTlsStream;

/// Why opening a WebSocket failed: the HTTP status the server answered the upgrade with, if it
/// got that far, and what happened, with its cause (`source()`: the I/O error of a connection
/// refused, say). Every connect function of both codecs fails with it.
#[derive(Clone, Debug, thiserror::Error)]
#[error("WebSocket connection to {url} failed: {message}")]
#[non_exhaustive]
pub struct ConnectError {
    /// The URL.
    pub url: String,
    /// The upgrade's HTTP status, when the server refused it.
    pub status: Option<u16>,
    /// What happened.
    pub message: String,
    /// What caused it, when another error did.
    #[source]
    cause: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
}

/// Two failures are the same when they say the same (their causes are not compared).
impl PartialEq for ConnectError {
    fn eq(&self, other: &ConnectError) -> bool {
        (&self.url, self.status, &self.message) == (&other.url, other.status, &other.message)
    }
}

impl Eq for ConnectError {}

/// A transport's error, for code that runs a transport it connected (its cause kept).
impl From<ConnectError> for crate::transport::TransportError {
    fn from(e: ConnectError) -> Self {
        crate::transport::TransportError::with_source(e.to_string(), e)
    }
}

/// Why connecting failed, before the handshake: what happened, and the I/O error that did it.
type StreamFailure = (String, Option<io::Error>);

/// A client's TLS settings for `wss://`, if any: with the `tls` feature, a rustls
/// configuration (none for the default roots); without, always `None`.
#[cfg(feature = "tls")]
pub type ClientTlsConfig = Option<std::sync::Arc<rustls::ClientConfig>>;
/// A client's TLS settings for `wss://`, if any: with the `tls` feature, a rustls
/// configuration (none for the default roots); without, always `None`.
#[cfg(not(feature = "tls"))]
pub type ClientTlsConfig = Option<std::convert::Infallible>;

/// The connection a client's WebSocket runs on: TCP (without Nagle's delay: messages are
/// written whole, once per burst), encrypted for `wss://`.
pub struct ClientStream(MaybeTlsStream<TcpStream>);

impl std::fmt::Debug for ClientStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secure = !matches!(self.0, MaybeTlsStream::Plain(_));
        f.debug_struct("ClientStream")
            .field("tls", &secure)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for ClientStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

/// Why a codec's handshake failed: the server's HTTP status if it answered with another, and
/// what happened.
pub(super) type HandshakeFailure = (Option<u16>, String);

/// Opens a WebSocket to `url` with these extra request headers: connects (see
/// [`ClientStream`]), then makes the codec's `handshake` over the connection.
pub(super) async fn open<T, H>(
    url: &str,
    headers: &[(String, String)],
    tls: ClientTlsConfig,
    handshake: impl FnOnce(ClientStream, Request) -> H,
) -> Result<T, ConnectError>
where
    H: Future<Output = Result<T, HandshakeFailure>>,
{
    let fail = |(status, message): HandshakeFailure| ConnectError {
        url: url.to_owned(),
        status,
        message,
        cause: None,
    };
    let request = request(url, headers).map_err(|e| fail((None, e)))?;
    let stream = connect_stream(request.uri(), tls)
        .await
        .map_err(|(message, cause)| ConnectError {
            cause: cause.map(|e| std::sync::Arc::new(e) as _),
            ..fail((None, message))
        })?;
    handshake(ClientStream(stream), request).await.map_err(fail)
}

/// `connecting` (to `url`), given up after
/// [`CONNECT_TIMEOUT`](crate::transport::CONNECT_TIMEOUT): the bound of the public connect
/// functions of both codecs. (A [`Client`](crate::Client) bounds its attempts with its own
/// `connect_timeout` instead.)
pub(super) async fn within_connect_timeout<T>(
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
            cause: None,
        }),
    }
}

/// The upgrade request for `url`, with these extra headers.
fn request(url: &str, headers: &[(String, String)]) -> Result<Request, String> {
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

/// The connection a WebSocket to `uri` runs on (see [`ClientStream`]).
async fn connect_stream(
    uri: &tokio_tungstenite::tungstenite::http::Uri,
    tls: ClientTlsConfig,
) -> Result<MaybeTlsStream<TcpStream>, StreamFailure> {
    let said = |message: String| (message, None);
    let failed = |e: io::Error| (e.to_string(), Some(e));
    let secure = match uri.scheme_str() {
        Some("ws") => false,
        Some("wss") => true,
        _ => return Err(said("the URL's scheme is not ws:// or wss://".into())),
    };
    let host = uri
        .host()
        .ok_or_else(|| said("the URL has no host".into()))?;
    // An IPv6 address is written in brackets in a URL, not to a resolver.
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let tcp = TcpStream::connect((host, port)).await.map_err(failed)?;
    tcp.set_nodelay(true).map_err(failed)?;
    if !secure {
        let _ = tls;
        return Ok(MaybeTlsStream::Plain(tcp));
    }
    #[cfg(feature = "tls")]
    {
        let config = match tls {
            Some(config) => config,
            None => default_tls().map_err(said)?,
        };
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| said(format!("{host} is not a name TLS can check: {e}")))?;
        let encrypted = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(failed)?;
        Ok(MaybeTlsStream::Rustls(encrypted))
    }
    #[cfg(not(feature = "tls"))]
    Err(said(
        "wss:// needs the `tls` feature (or one of its roots features)".into(),
    ))
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
