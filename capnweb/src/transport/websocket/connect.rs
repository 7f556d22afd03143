//! Connecting, the one way both codecs do it: the URL read into an upgrade request, TCP (and
//! TLS for `wss://`), then the codec's own handshake, all within
//! the timeout of [`ConnectOptions`].

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

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
pub(crate) type ClientTlsConfig = Option<std::sync::Arc<rustls::ClientConfig>>;
/// A client's TLS settings for `wss://`, if any: with the `tls` feature, a rustls
/// configuration (none for the default roots); without, always `None`.
#[cfg(not(feature = "tls"))]
pub(crate) type ClientTlsConfig = Option<std::convert::Infallible>;

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

/// How a client opens a WebSocket, with either codec ([`connect`](super::connect) for
/// tungstenite, [`codec::connect`](super::codec::connect) for the built-in one): extra request
/// headers, the largest message taken, TLS for `wss://`, pings, and how long TCP, TLS and the
/// upgrade may take together.
///
/// ```
/// use std::time::Duration;
/// use capnweb::transport::websocket::ConnectOptions;
///
/// let options = ConnectOptions::new()
///     .header("authorization", "Bearer secret")
///     .max_message_size(1 << 20)
///     .keepalive(Duration::from_secs(30));
/// # let _ = options;
/// ```
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    headers: Vec<(String, String)>,
    max_message_size: usize,
    tls: ClientTlsConfig,
    keepalive: Option<Duration>,
    timeout: Duration,
}

impl Default for ConnectOptions {
    /// No extra headers, the default [`Limits`](crate::wire::Limits)' message size, the
    /// default TLS roots, no pings, and [`CONNECT_TIMEOUT`](crate::transport::CONNECT_TIMEOUT).
    fn default() -> Self {
        ConnectOptions {
            headers: Vec::new(),
            max_message_size: crate::wire::Limits::default().max_message_size,
            tls: None,
            keepalive: None,
            timeout: crate::transport::CONNECT_TIMEOUT,
        }
    }
}

impl ConnectOptions {
    /// The defaults (see [`Default`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends this extra header with the upgrade request (a token, say); a header of the same
    /// name given before is replaced.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.headers.push((name, value.into()));
        self
    }

    /// Sends these extra headers (see [`header`](Self::header)).
    pub fn headers<N: Into<String>, V: Into<String>>(
        self,
        headers: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        headers
            .into_iter()
            .fold(self, |options, (name, value)| options.header(name, value))
    }

    /// The largest frame and message taken from the server, in bytes: larger ones are refused
    /// before they are buffered whole. Give the session's
    /// [`max_message_size`](crate::wire::Limits::max_message_size).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Speaks TLS for `wss://` as `tls` says (a private certificate authority, a client
    /// certificate: see [`ClientTls`](crate::tls::ClientTls)) instead of trusting the default
    /// roots.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, tls: std::sync::Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Pings the server every `every` (WebSocket ping frames, never protocol messages), and
    /// ends the transport with an error when nothing at all arrives within a period after a
    /// ping.
    pub fn keepalive(mut self, every: Duration) -> Self {
        self.keepalive = Some(every);
        self
    }

    /// How long TCP, TLS and the upgrade may take together (default
    /// [`CONNECT_TIMEOUT`](crate::transport::CONNECT_TIMEOUT), 30 s): a server that accepts the
    /// connection and never answers cannot hang the connect.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub(crate) fn with_tls(mut self, tls: ClientTlsConfig) -> Self {
        self.tls = tls;
        self
    }

    pub(super) fn message_limit(&self) -> usize {
        self.max_message_size
    }

    pub(super) fn pings(&self) -> Option<Duration> {
        self.keepalive
    }
}

/// Opens a WebSocket to `url` as `options` say: connects (see [`ClientStream`]), then makes the
/// codec's `handshake` over the connection, all within `options`' timeout.
pub(super) async fn open<T, H>(
    url: &str,
    options: &ConnectOptions,
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
    let connecting = async {
        let request = request(url, &options.headers).map_err(|e| fail((None, e)))?;
        let stream = connect_stream(request.uri(), options.tls.clone())
            .await
            .map_err(|(message, cause)| ConnectError {
                cause: cause.map(|e| std::sync::Arc::new(e) as _),
                ..fail((None, message))
            })?;
        handshake(ClientStream(stream), request).await.map_err(fail)
    };
    let limit = options.timeout;
    tokio::time::timeout(limit, connecting)
        .await
        .unwrap_or_else(|_| {
            Err(fail((
                None,
                format!("no connection (TCP, TLS and the upgrade) within {limit:?}"),
            )))
        })
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
