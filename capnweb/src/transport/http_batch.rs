//! HTTP batch: every message of a short session in one POST, the answers in its response,
//! newline-delimited, as the reference's `newHttpBatchRpcSession`.
//!
//! The client collects messages until the first result is awaited, then sends the batch with a
//! pull for every call in it (so results can be awaited one after the other), pushes first.
//! Ids restart at 1 in every batch; a call made after the batch was sent fails.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use futures_util::{FutureExt, Sink, Stream};

use super::TransportError;
use crate::error::RpcError;
use crate::session::{RpcSession, SessionOptions};
use crate::stub::{BoxFuture, Stub};

/// The error a batch session ends with once its answers have been read.
pub const BATCH_ENDED: &str = "Batch RPC request ended.";

/// A client batch: queue calls on [`main`](HttpBatch::main), then await them; the first await
/// sends them all in one request.
///
/// ```no_run
/// # async fn demo() -> Result<(), capnweb::RpcError> {
/// use capnweb::{transport::http_batch::HttpBatch, Value};
/// let batch = HttpBatch::new("http://127.0.0.1:8080/");
/// let a = batch.main().call("square", vec![Value::from(3)]);
/// let b = batch.main().call("square", vec![Value::from(4)]);
/// assert_eq!(a.resolve().await?.as_f64(), Some(9.0));
/// assert_eq!(b.resolve().await?.as_f64(), Some(16.0));
/// # Ok(()) }
/// ```
pub struct HttpBatch {
    session: RpcSession,
}

impl HttpBatch {
    /// A new batch to `url`.
    pub fn new(url: &str) -> HttpBatch {
        let transport =
            BatchClientTransport::new(url.to_owned(), reqwest::Client::new(), Vec::new());
        HttpBatch {
            session: RpcSession::spawn(transport, None, SessionOptions::default()),
        }
    }

    /// A new batch to `url` sending these extra request headers.
    pub fn with_headers(url: &str, headers: Vec<(String, String)>) -> HttpBatch {
        let transport = BatchClientTransport::new(url.to_owned(), reqwest::Client::new(), headers);
        HttpBatch {
            session: RpcSession::spawn(transport, None, SessionOptions::default()),
        }
    }

    /// The server's main object, in this batch.
    pub fn main(&self) -> Stub {
        self.session.main()
    }

    /// The session behind the batch.
    pub fn session(&self) -> &RpcSession {
        &self.session
    }
}

enum Phase {
    Collecting,
    Sending(BoxFuture<Result<Vec<String>, TransportError>>),
    Receiving(VecDeque<String>),
    Done,
}

/// The client side of one HTTP batch.
pub struct BatchClientTransport {
    url: String,
    client: reqwest::Client,
    headers: Vec<(String, String)>,
    queued: Vec<String>,
    pushes: i64,
    /// Calls already released (never awaited, dropped): not pulled.
    released: Vec<i64>,
    triggered: bool,
    phase: Phase,
    waker: Option<Waker>,
}

impl BatchClientTransport {
    fn new(url: String, client: reqwest::Client, headers: Vec<(String, String)>) -> Self {
        BatchClientTransport {
            url,
            client,
            headers,
            queued: Vec::new(),
            pushes: 0,
            released: Vec::new(),
            triggered: false,
            phase: Phase::Collecting,
            waker: None,
        }
    }

    fn send(&mut self) -> BoxFuture<Result<Vec<String>, TransportError>> {
        let mut body = std::mem::take(&mut self.queued);
        let released = std::mem::take(&mut self.released);
        body.extend(
            (1..=self.pushes)
                .filter(|id| !released.contains(id))
                .map(|id| format!("[\"pull\",{id}]")),
        );
        let mut req = self.client.post(&self.url).body(body.join("\n"));
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        Box::pin(async move {
            let resp = req
                .send()
                .await
                .map_err(|e| TransportError::new(format!("RPC request failed: {e}")))?;
            let status = resp.status();
            if !status.is_success() {
                return Err(TransportError::new(format!("RPC request failed: {status}")));
            }
            let text = resp
                .text()
                .await
                .map_err(|e| TransportError::new(format!("RPC request failed: {e}")))?;
            Ok(if text.is_empty() {
                Vec::new()
            } else {
                text.split('\n').map(str::to_owned).collect()
            })
        })
    }
}

impl Stream for BatchClientTransport {
    type Item = Result<String, TransportError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if self.triggered && matches!(self.phase, Phase::Collecting) {
                let fut = self.send();
                self.phase = Phase::Sending(fut);
            }
            match &mut self.phase {
                Phase::Collecting => {
                    self.waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                Phase::Sending(fut) => match fut.poll_unpin(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(lines)) => self.phase = Phase::Receiving(lines.into()),
                    Poll::Ready(Err(e)) => {
                        self.phase = Phase::Done;
                        return Poll::Ready(Some(Err(e)));
                    }
                },
                Phase::Receiving(lines) => match lines.pop_front() {
                    Some(line) => return Poll::Ready(Some(Ok(line))),
                    None => {
                        self.phase = Phase::Done;
                        return Poll::Ready(Some(Err(TransportError::new(BATCH_ENDED))));
                    }
                },
                Phase::Done => return Poll::Ready(None),
            }
        }
    }
}

impl Sink<String> for BatchClientTransport {
    type Error = TransportError;
    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        Poll::Ready(Ok(()))
    }
    fn start_send(mut self: Pin<&mut Self>, msg: String) -> Result<(), TransportError> {
        // After the batch was sent, messages are dropped: the session ends with the batch.
        if !matches!(self.phase, Phase::Collecting) {
            return Ok(());
        }
        if msg.starts_with("[\"pull\",") {
            // Every call of the batch is pulled when it is sent; this one says "send now".
            self.triggered = true;
            if let Some(w) = self.waker.take() {
                w.wake();
            }
        } else {
            if msg.starts_with("[\"push\",") || msg.starts_with("[\"stream\",") {
                self.pushes += 1;
            } else if let Ok(crate::wire::Message::Release(id, _)) =
                crate::wire::parse_message(&msg, &crate::wire::Limits::default())
            {
                self.released.push(id);
            }
            self.queued.push(msg);
        }
        Ok(())
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        Poll::Ready(Ok(()))
    }
}

/// Answers one HTTP batch request body with `main` as the main object: runs every message,
/// waits until every pulled result is ready, and returns the response body.
pub async fn serve_batch(body: &str, main: Stub, options: SessionOptions) -> String {
    let lines: VecDeque<String> = if body.is_empty() {
        VecDeque::new()
    } else {
        body.split('\n').map(str::to_owned).collect()
    };
    let out = Arc::new(Mutex::new(Vec::new()));
    let all_read = Arc::new(tokio::sync::Notify::new());
    let transport = BatchServerTransport {
        lines,
        out: out.clone(),
        all_read: all_read.clone(),
        signalled: false,
    };
    let (session, run) = RpcSession::new(transport, Some(main), options);
    let run = tokio::spawn(run);
    let finish = async {
        all_read.notified().await;
        let _ = session.drain().await;
        // Ending the session makes its task write what is queued, then stop.
        session.core_abort_quietly(RpcError::disconnected(BATCH_ENDED));
    };
    finish.await;
    let _ = run.await;
    let lines = std::mem::take(&mut *out.lock().unwrap_or_else(|p| p.into_inner()));
    lines.join("\n")
}

struct BatchServerTransport {
    lines: VecDeque<String>,
    out: Arc<Mutex<Vec<String>>>,
    all_read: Arc<tokio::sync::Notify>,
    signalled: bool,
}

impl Stream for BatchServerTransport {
    type Item = Result<String, TransportError>;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.lines.pop_front() {
            Some(l) => Poll::Ready(Some(Ok(l))),
            None => {
                if !self.signalled {
                    self.signalled = true;
                    self.all_read.notify_one();
                }
                Poll::Pending
            }
        }
    }
}

impl Sink<String> for BatchServerTransport {
    type Error = TransportError;
    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        Poll::Ready(Ok(()))
    }
    fn start_send(self: Pin<&mut Self>, msg: String) -> Result<(), TransportError> {
        self.out.lock().unwrap_or_else(|p| p.into_inner()).push(msg);
        Ok(())
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        Poll::Ready(Ok(()))
    }
}
