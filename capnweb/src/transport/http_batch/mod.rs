//! HTTP batch: every message of a short session in one POST, the answers in its response,
//! newline-delimited, as the reference's `newHttpBatchRpcSession`.
//!
//! The client collects messages until the first result is awaited, then sends the batch with a
//! pull for every call in it (so results can be awaited one after the other), pushes first.
//! Ids restart at 1 in every batch; a call made after the batch was sent fails.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::future::Either;
use futures_util::{FutureExt, Sink, Stream};

use super::TransportError;
use crate::error::RpcError;
use crate::session::{RpcSession, SessionOptions};
use crate::stub::Stub;
use crate::wire::MessageKind;

#[cfg(feature = "http-batch")]
mod client;
mod collect;
#[cfg(feature = "http-batch")]
#[cfg_attr(docsrs, doc(cfg(feature = "http-batch")))]
pub use client::HttpBatch;
pub use collect::{BatchClientTransport, SendBatch};

/// How long a batch client (`capnweb::HttpBatch`, or `capnweb::wasm::HttpBatch`) waits for
/// its request to be answered in full: 60 s (the native one connecting within
/// [`CONNECT_TIMEOUT`](crate::transport::CONNECT_TIMEOUT)). The answer is bounded in size too,
/// by the session's `max_message_size` (as a server bounds the request).
pub const BATCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The error a batch session ends with once its answers have been read.
pub const BATCH_ENDED: &str = "Batch RPC request ended.";

/// The failure of a batch answered with a status other than success: a server refuses a batch
/// (4xx, 503) before running any of it; another 5xx may come from a proxy after it ran, and so
/// may a 408 (a timeout layer's answer while the batch runs).
#[cfg_attr(not(any(feature = "http-batch", feature = "wasm")), allow(dead_code))]
pub(crate) fn refused_status(status: u16, reason: &str) -> TransportError {
    // As the reference words it: "RPC request failed: 404 Not Found".
    let message = format!("RPC request failed: {status} {reason}");
    match ((400..500).contains(&status) && status != 408) || status == 503 {
        true => TransportError::undelivered(message),
        false => TransportError::new(message),
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
    let out = Arc::new(Mutex::new(Answer::default()));
    let all_read = Arc::new(tokio::sync::Notify::new());
    let max_answer = options.limits.max_message_size;
    let transport = BatchServerTransport {
        lines,
        out: out.clone(),
        all_read: all_read.clone(),
        signalled: false,
        max_answer,
    };
    // Every push becomes an export: sized once rather than grown (and rehashed) call by call.
    let pushes = transport
        .lines
        .iter()
        .filter(|l| MessageKind::read(l) == MessageKind::Push)
        .count();
    let (session, run) = RpcSession::new(transport, Some(main), options);
    session.reserve_exports(pushes);
    let finish = async {
        all_read.notified().await;
        // The peer can send nothing more: what waits on its promises or callbacks would wait
        // forever (and hold the request open). It fails instead, as the calls that need it.
        session.end_of_input(&RpcError::error(
            "the HTTP batch ended before the client could answer this",
        ));
        let _ = session.drain().await;
        // Ending the session makes its task write what is queued, then stop.
        session.core_abort_quietly(RpcError::disconnected(BATCH_ENDED));
    };
    // Both in this task, not a task of its own: no hand-off between threads (each a wake-up of
    // an idle core) per batch. A session that ends early (a panicking method, say) ends the
    // wait: the response holds what was written.
    let run = std::pin::pin!(std::panic::AssertUnwindSafe(run).catch_unwind());
    let finish = std::pin::pin!(finish);
    if let Either::Right(((), run)) = futures_util::future::select(run, finish).await {
        let _ = run.await;
    }
    let answer = std::mem::take(&mut *out.lock().unwrap_or_else(|p| p.into_inner()));
    let mut text = answer.lines.join("\n");
    if answer.overflowed {
        // The calls not answered learn why.
        let why =
            format!("the batch's answer exceeds the maximum message size of {max_answer} bytes");
        let abort = crate::wire::write_message(&crate::wire::Message::Abort(
            crate::wire::Expr::Error(Box::new(crate::wire::ErrorExpr {
                name: "RangeError".into(),
                message: why,
                stack: None,
                props: None,
            })),
        ));
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&abort);
    }
    text
}

/// What a batch answers: its lines, and whether more would have gone past its bound.
#[derive(Default)]
struct Answer {
    lines: Vec<String>,
    bytes: usize,
    overflowed: bool,
}

struct BatchServerTransport {
    lines: VecDeque<String>,
    out: Arc<Mutex<Answer>>,
    all_read: Arc<tokio::sync::Notify>,
    signalled: bool,
    /// The most bytes the answer may hold (the request's own bound, `max_message_size`).
    max_answer: usize,
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
        let mut answer = self.out.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded as the request is: a few bytes asking for a large value many times cannot
        // make the server build an answer of any size. Past the bound, the session ends.
        if answer.overflowed || answer.bytes + msg.len() + 1 > self.max_answer {
            answer.overflowed = true;
            return Err(TransportError::new("the batch's answer is too large"));
        }
        answer.bytes += msg.len() + 1;
        answer.lines.push(msg);
        Ok(())
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        Poll::Ready(Ok(()))
    }
}
