//! A client in the browser: Rust compiled to `wasm32-unknown-unknown` (a Leptos, Dioxus or Yew
//! front end, say) calling a Cap'n Web server over the browser's own `WebSocket`
//! ([`connect`]), or in HTTP batches over its `fetch` ([`HttpBatch`]).
//!
//! The session runs on the page's event loop (`wasm-bindgen-futures`), its timeouts (idle,
//! maximum age) on the browser's timers; everything else is the same as on a server: typed
//! clients from `#[rpc_interface]`, pipelining, callbacks the server calls back, `map`,
//! streams.
//!
//! ```no_run
//! # async fn demo() -> Result<(), capnweb::RpcError> {
//! use capnweb::{rpc_interface, RpcError};
//!
//! #[rpc_interface]
//! pub trait Greeter {
//!     async fn greet(&self, name: String) -> Result<String, RpcError>;
//! }
//!
//! let greeter: GreeterClient = capnweb::wasm::connect("wss://example.com/").await?;
//! let hello = greeter.greet("Ada").await?;
//! # drop(hello); Ok(()) }
//! ```

use std::marker::PhantomData;

use futures_util::{SinkExt, StreamExt};
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, State};

use crate::error::RpcError;
use crate::session::{RpcSession, SessionOptions};
use crate::stub::Stub;
use crate::transport::http_batch::{
    refused_status, BatchClientTransport, SendBatch, BATCH_TIMEOUT,
};
use crate::transport::in_process::{self, InProcess};
use crate::transport::TransportError;

/// Connects to the server at `url` (`ws://` or `wss://`) and returns its main object as `C`
/// (a generated client, or [`Stub`]).
pub async fn connect<C: From<Stub>>(url: &str) -> Result<C, RpcError> {
    let session = connect_with(url, None, SessionOptions::default()).await?;
    Ok(C::from(session.into_main()))
}

/// Connects to `url`, serving `local_main` to the server (it may call it back), and returns the
/// session once the socket is open.
pub async fn connect_with(
    url: &str,
    local_main: Option<Stub>,
    options: SessionOptions,
) -> Result<RpcSession, RpcError> {
    let socket = WebSocket::open(url)
        .map_err(|e| RpcError::disconnected(format!("cannot open a WebSocket to {url}: {e}")))?;
    let socket = opened(socket, url).await?;
    let (session_end, socket_end) = in_process::pair();
    wasm_bindgen_futures::spawn_local(pump(socket, socket_end));
    let (session, run) = RpcSession::new(session_end, local_main, with_browser_timer(options));
    wasm_bindgen_futures::spawn_local(run);
    Ok(session)
}

/// The options, waiting on the browser's timers unless they say otherwise.
fn with_browser_timer(mut options: SessionOptions) -> SessionOptions {
    if options.timer.is_none() {
        options = options.timer(browser_sleep);
    }
    options
}

/// A `setTimeout`, as a future the session can hold (the timer itself lives on the page's
/// event loop; its firing comes back over a channel).
fn browser_sleep(after: std::time::Duration) -> crate::stub::BoxFuture<()> {
    // setTimeout takes at most 2^31 - 1 ms (about 24.8 days): longer waits go in steps.
    const STEP: u128 = i32::MAX as u128;
    let (fired, wait) = tokio::sync::oneshot::channel::<()>();
    let mut left = after.as_millis();
    wasm_bindgen_futures::spawn_local(async move {
        loop {
            let step = left.min(STEP);
            gloo_timers::future::TimeoutFuture::new(step as u32).await;
            left -= step;
            if left == 0 {
                break;
            }
        }
        let _ = fired.send(());
    });
    Box::pin(async move {
        let _ = wait.await;
    })
}

/// Waits until `socket` is open: its first event is either the opening or the failure.
async fn opened(socket: WebSocket, url: &str) -> Result<WebSocket, RpcError> {
    let mut socket = socket;
    // gloo-net's sink becomes ready once the socket is open, or fails if it cannot open.
    let ready = futures_util::future::poll_fn(|cx| socket.poll_ready_unpin(cx)).await;
    match (ready, socket.state()) {
        (Ok(()), State::Open) => Ok(socket),
        (result, state) => Err(RpcError::disconnected(format!(
            "the WebSocket to {url} did not open ({state:?}{})",
            result.err().map(|e| format!(": {e}")).unwrap_or_default()
        ))),
    }
}

/// Carries messages between the browser's socket and the session's end of an in-process pair,
/// until either side ends; then closes the other (dropping the pair's end ends the session).
async fn pump(socket: WebSocket, session: InProcess) {
    let (mut socket_tx, mut socket_rx) = socket.split();
    let (mut session_tx, mut session_rx) = session.split();
    let outgoing = async {
        while let Some(Ok(text)) = session_rx.next().await {
            if socket_tx.send(Message::Text(text)).await.is_err() {
                break;
            }
        }
        let _ = socket_tx.close().await;
    };
    let incoming = async {
        while let Some(Ok(message)) = socket_rx.next().await {
            let text = match message {
                Message::Text(text) => text,
                // The protocol is text; a binary frame is taken as UTF-8, as the server does.
                Message::Bytes(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => text,
                    Err(_) => break,
                },
            };
            if session_tx.send(text).await.is_err() {
                break;
            }
        }
    };
    futures_util::future::select(std::pin::pin!(outgoing), std::pin::pin!(incoming)).await;
}

/// A batch over the browser's `fetch`: queue calls on [`main`](HttpBatch::main), then await
/// them; the first await sends them all in one request, as [`crate::HttpBatch`] does natively.
///
/// ```no_run
/// # async fn demo() -> Result<(), capnweb::RpcError> {
/// use capnweb::{wasm::HttpBatch, Stub, Value};
/// let batch = HttpBatch::<Stub>::new("https://example.com/rpc");
/// let a = batch.main().call("square", vec![Value::from(3)]);
/// let b = batch.main().call("square", vec![Value::from(4)]);
/// assert_eq!(a.resolve().await?.as_f64(), Some(9.0));
/// # drop(b); Ok(()) }
/// ```
#[must_use = "a batch sends nothing until one of its calls is awaited"]
pub struct HttpBatch<C = Stub> {
    session: RpcSession,
    main: PhantomData<fn() -> C>,
}

impl<C> std::fmt::Debug for HttpBatch<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpBatch")
            .field("session", &self.session)
            .finish()
    }
}

impl<C: From<Stub>> HttpBatch<C> {
    /// A new batch to `url`.
    pub fn new(url: &str) -> Self {
        Self::with_headers(url, Vec::new())
    }

    /// A new batch to `url` sending these extra request headers.
    pub fn with_headers(url: &str, headers: Vec<(String, String)>) -> Self {
        let options = with_browser_timer(SessionOptions::default());
        let max = options.limits.max_message_size;
        let transport = BatchClientTransport::new(url, fetch_sender(url.to_owned(), headers, max));
        let (session, run) = RpcSession::new(transport, None, options);
        wasm_bindgen_futures::spawn_local(run);
        HttpBatch {
            session,
            main: PhantomData,
        }
    }

    /// The server's main object, in this batch.
    pub fn main(&self) -> C {
        C::from(self.session.main())
    }

    /// The session behind the batch.
    pub fn session(&self) -> &RpcSession {
        &self.session
    }
}

/// Sends a batch with `fetch`. The request runs on the page's event loop (its future is not
/// `Send`); its answer comes back over a channel. The batch fails when no whole answer came
/// within [`BATCH_TIMEOUT`] (60 s, as natively; the browser sets no limit of its own), or the
/// answer is longer than `max_body` bytes (the session's `max_message_size`).
fn fetch_sender(url: String, headers: Vec<(String, String)>, max_body: usize) -> SendBatch {
    Box::new(move |body: String| {
        let (answer, answered) = tokio::sync::oneshot::channel();
        wasm_bindgen_futures::spawn_local(async move {
            let fetching = std::pin::pin!(fetch(&url, &headers, body, max_body));
            let expired = browser_sleep(BATCH_TIMEOUT);
            let result = match futures_util::future::select(fetching, expired).await {
                futures_util::future::Either::Left((result, _)) => result,
                futures_util::future::Either::Right(((), _)) => Err(TransportError::new(format!(
                    "RPC request failed: no answer within {BATCH_TIMEOUT:?}"
                ))),
            };
            let _ = answer.send(result);
        });
        Box::pin(async move {
            answered
                .await
                .unwrap_or_else(|_| Err(TransportError::new("the batch request was dropped")))
        })
    })
}

async fn fetch(
    url: &str,
    headers: &[(String, String)],
    body: String,
    max_body: usize,
) -> Result<String, TransportError> {
    let mut request = gloo_net::http::Request::post(url);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let failed = |e: gloo_net::Error| TransportError::new(format!("RPC request failed: {e}"));
    // A failed fetch may still have reached the server (CORS refusing the answer looks the
    // same to the page), so it is not marked undelivered.
    let response = request
        .body(body)
        .map_err(failed)?
        .send()
        .await
        .map_err(failed)?;
    if !response.ok() {
        return Err(refused_status(response.status(), &response.status_text()));
    }
    let too_long = || {
        TransportError::new(format!(
            "RPC request failed: the answer is longer than max_message_size ({max_body} bytes)"
        ))
        .over_limit("max_message_size")
    };
    // A declared length over the limit is refused before the body is read. (Without one, the
    // browser reads the body whole before `text()` gives it: checked after.)
    let declared = response.headers().get("content-length");
    if declared
        .and_then(|n| n.trim().parse::<u64>().ok())
        .is_some_and(|n| n > max_body as u64)
    {
        return Err(too_long());
    }
    let text = response.text().await.map_err(failed)?;
    if text.len() > max_body {
        return Err(too_long());
    }
    Ok(text)
}
