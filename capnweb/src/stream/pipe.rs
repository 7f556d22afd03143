//! A local pipe: a writable end (a hook taking `write`, `close` and `abort` calls, in order) and
//! a readable end. The session makes one for each `["pipe"]` the peer sends; the application
//! gets one from [`WritableStream::pipe`](super::WritableStream::pipe).
//!
//! A write is acknowledged when the reader takes its chunk, so a slow reader slows the writer
//! (through the writer's flow-control window). Chunks waiting for the reader are bounded in
//! bytes: a peer that ignores the window errors the stream instead of exhausting memory.

use std::any::Any;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::{FutureExt, Stream};
use tokio::sync::{mpsc, oneshot};

use super::ReadableStream;
use crate::error::RpcError;
use crate::stub::{resolve_promises, BoxFuture, ErrorHook, Hook, PromiseHook, Resolution, Stub};
use crate::value::Value;
use crate::wire::{Expr, PathKey};

type Ack = oneshot::Sender<Result<(), RpcError>>;

enum Op {
    Write(Value, usize, Ack),
    Close(Ack),
    Abort(RpcError),
}

/// A new pipe whose unread chunks may hold at most `max_buffered` bytes: its writable end (as a
/// stub taking `write`/`close`/`abort` calls) and its readable end.
pub(crate) fn local_pipe(max_buffered: usize) -> (Stub, ReadableStream) {
    let (tx, rx) = mpsc::unbounded_channel();
    let buffered = Arc::new(AtomicUsize::new(0));
    let cancelled = Arc::new(Mutex::new(None));
    let writer = WritableHook {
        tx: Mutex::new(Some(tx)),
        buffered: buffered.clone(),
        max_buffered,
        cancelled: cancelled.clone(),
    };
    let reader = PipeReader {
        rx,
        buffered,
        pending: None,
        done: false,
    };
    let why = cancelled;
    let readable = ReadableStream::new(reader).on_cancel(move |reason| {
        *why.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
    });
    (Stub::from_hook(writer), readable)
}

/// Why the reader cancelled the pipe, once it did: the writer's writes fail with it.
type Cancelled = Arc<Mutex<Option<RpcError>>>;

fn cancel_reason(cancelled: &Cancelled) -> RpcError {
    let reason = cancelled.lock().unwrap_or_else(|e| e.into_inner()).clone();
    reason.unwrap_or_else(canceled)
}

/// The writable end of a local pipe.
pub(crate) struct WritableHook {
    /// `None` once closed or aborted.
    tx: Mutex<Option<mpsc::UnboundedSender<Op>>>,
    buffered: Arc<AtomicUsize>,
    max_buffered: usize,
    cancelled: Cancelled,
}

impl WritableHook {
    fn sender(&self) -> Option<mpsc::UnboundedSender<Op>> {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn finish(&self) -> Option<mpsc::UnboundedSender<Op>> {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn write(&self, chunk: Value) -> Stub {
        let Some(tx) = self.sender() else {
            return broken(RpcError::type_error("write to a closed WritableStream"));
        };
        // Its true size in memory, whatever its kind: a pipe nobody reads buffers at most
        // `max_stream_buffer` of it.
        let size = chunk.held_bytes();
        let before = self.buffered.fetch_add(size, Ordering::Relaxed);
        if before + size > self.max_buffered {
            self.buffered.fetch_sub(size, Ordering::Relaxed);
            let error = RpcError::range_error(format!(
                "stream writes ran more than {} bytes ahead of the reader",
                self.max_buffered
            ));
            if let Some(tx) = self.finish() {
                let _ = tx.send(Op::Abort(error.clone()));
            }
            return broken(error);
        }
        let (ack, done) = oneshot::channel();
        if tx.send(Op::Write(chunk, size, ack)).is_err() {
            self.buffered.fetch_sub(size, Ordering::Relaxed);
            return broken(cancel_reason(&self.cancelled));
        }
        self.acknowledged(done)
    }

    /// The promise of an acknowledgement: the reader's cancel reason if it goes first.
    fn acknowledged(&self, done: oneshot::Receiver<Result<(), RpcError>>) -> Stub {
        let cancelled = self.cancelled.clone();
        PromiseHook::pending(async move {
            done.await
                .unwrap_or_else(|_| Err(cancel_reason(&cancelled)))?;
            Ok(Value::Undefined)
        })
    }
}

fn canceled() -> RpcError {
    RpcError::error("The ReadableStream end of this pipe was canceled.")
}

pub(super) fn broken(error: RpcError) -> Stub {
    Stub::from_hook(ErrorHook(error))
}

impl Hook for WritableHook {
    fn call(self: Arc<Self>, path: &[PathKey], mut args: Vec<Value>) -> Stub {
        let [PathKey::Name(method)] = path else {
            return broken(RpcError::error(
                "WritableStream stub only supports direct method calls",
            ));
        };
        let mut first = || (!args.is_empty()).then(|| args.swap_remove(0));
        match method.as_str() {
            "write" => self.write(first().unwrap_or_default()),
            "close" => {
                let Some(tx) = self.finish() else {
                    return broken(RpcError::type_error("close of a closed WritableStream"));
                };
                let (ack, done) = oneshot::channel();
                let _ = tx.send(Op::Close(ack));
                self.acknowledged(done)
            }
            "abort" => {
                let reason = match first() {
                    None | Some(Value::Undefined) => RpcError::error("WritableStream was aborted"),
                    Some(v) => RpcError::from_thrown(v),
                };
                if let Some(tx) = self.finish() {
                    let _ = tx.send(Op::Abort(reason));
                }
                Stub::resolved(Value::Undefined)
            }
            other => broken(RpcError::error(format!(
                "Unknown WritableStream method: {other}"
            ))),
        }
    }

    fn get(self: Arc<Self>, _: &[PathKey]) -> Stub {
        broken(RpcError::error(
            "Cannot access properties on a WritableStream stub",
        ))
    }

    fn map(self: Arc<Self>, _: &[PathKey], _: Vec<Stub>, _: Arc<[Expr]>) -> Stub {
        broken(RpcError::error("Cannot use map() on a WritableStream"))
    }

    fn resolve(self: Arc<Self>) -> Resolution {
        Resolution::ready(Ok(Value::Stub(Stub(self))))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Drop for WritableHook {
    /// Released without `close()`: the stream ends abnormally, as in the reference.
    fn drop(&mut self) {
        if let Some(tx) = self.finish() {
            let _ = tx.send(Op::Abort(RpcError::error(
                "WritableStream RPC stub was disposed without calling close()",
            )));
        }
    }
}

/// The readable end of a local pipe.
struct PipeReader {
    rx: mpsc::UnboundedReceiver<Op>,
    buffered: Arc<AtomicUsize>,
    /// A chunk holding promises, being resolved before delivery, with its acknowledgement.
    pending: Option<(BoxFuture<Result<Value, RpcError>>, Ack)>,
    done: bool,
}

impl Stream for PipeReader {
    type Item = Result<Value, RpcError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Some((fut, _)) = &mut self.pending {
            let result = futures_util::ready!(fut.poll_unpin(cx));
            let (_, ack) = self.pending.take().expect("pending above");
            let _ = ack.send(result.as_ref().map(drop).map_err(Clone::clone));
            return Poll::Ready(Some(result));
        }
        match futures_util::ready!(self.rx.poll_recv(cx)) {
            None => {
                self.done = true;
                Poll::Ready(None)
            }
            Some(Op::Write(chunk, size, ack)) => {
                self.buffered.fetch_sub(size, Ordering::Relaxed);
                if chunk.contains_promise() {
                    self.pending = Some((resolve_promises(chunk), ack));
                    return self.poll_next(cx);
                }
                let _ = ack.send(Ok(()));
                Poll::Ready(Some(Ok(chunk)))
            }
            Some(Op::Close(ack)) => {
                let _ = ack.send(Ok(()));
                self.done = true;
                Poll::Ready(None)
            }
            Some(Op::Abort(reason)) => {
                self.done = true;
                Poll::Ready(Some(Err(reason)))
            }
        }
    }
}
