//! [`WritableStream`]: a sink for values, local (a pipe) or the peer's.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{oneshot, Notify};

use super::{local_pipe, ReadableStream};
use crate::error::RpcError;
use crate::stub::Stub;
use crate::value::Value;

/// Bytes of writes to a remote stream that may be unacknowledged before `write` waits.
const WINDOW: usize = 1024 * 1024;

/// Unread bytes an application-made pipe buffers before writes fail.
const LOCAL_PIPE_BUFFER: usize = 64 * 1024 * 1024;

/// A sink for values: a JavaScript `WritableStream`.
///
/// Received from the peer, its writes travel as `stream` messages: [`write`](Self::write) does
/// not wait for the peer to acknowledge each chunk, only for the flow-control window to have
/// room; [`close`](Self::close) waits until every write has been accepted, and fails if one was
/// not. Made here with [`pipe`](Self::pipe), it can be sent to the peer, which then writes into
/// it while this side reads the other end.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use capnweb::{Value, WritableStream};
/// use futures_util::StreamExt;
/// let (writer, mut reader) = WritableStream::pipe();
/// let read = tokio::spawn(async move { reader.next().await });
/// writer.write("hello").await?;
/// assert_eq!(read.await.unwrap().unwrap()?, Value::from("hello"));
/// # Ok::<(), capnweb::RpcError>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct WritableStream {
    inner: Arc<Inner>,
}

struct Inner {
    stub: Stub,
    flow: Mutex<Flow>,
    /// Signalled when acknowledgements free room in the window, or on error.
    room: Notify,
    closed: AtomicBool,
}

#[derive(Default)]
struct Flow {
    in_flight: usize,
    /// The first failure: every later write or close reports it.
    error: Option<RpcError>,
}

impl WritableStream {
    /// A new local pipe: what is written to the `WritableStream` is read from the
    /// `ReadableStream`. Send the writable end to a peer to receive a stream from it.
    pub fn pipe() -> (WritableStream, ReadableStream) {
        let (stub, readable) = local_pipe(LOCAL_PIPE_BUFFER);
        (WritableStream::from_stub(stub), readable)
    }

    /// A writable stream over an application's sink. Send it to a peer, and the peer's writes
    /// reach the sink in order (`close` closes it); a write or close the sink refuses fails
    /// with the sink's error, and so does everything after it: the remote writer gets that
    /// error from its `write()` or `close()`.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use capnweb::{RpcError, Value, WritableStream};
    /// // A sink that takes numbers only.
    /// let sink = futures_util::sink::unfold((), |(), v: Value| async move {
    ///     match v {
    ///         Value::Number(_) => Ok(()),
    ///         _ => Err(RpcError::type_error("numbers only")),
    ///     }
    /// });
    /// let writer = WritableStream::from_sink(sink);
    /// writer.write(1).await?;
    /// assert!(writer.write("two").await.is_err());
    /// assert!(writer.close().await.unwrap_err().to_string().contains("numbers only"));
    /// # Ok::<(), RpcError>(()) }).unwrap();
    /// ```
    pub fn from_sink(
        sink: impl futures_util::Sink<Value, Error = RpcError> + Send + 'static,
    ) -> Self {
        WritableStream::from_stub(super::sink::SinkHook::stub(sink))
    }

    pub(crate) fn from_stub(stub: Stub) -> WritableStream {
        WritableStream {
            inner: Arc::new(Inner {
                stub,
                flow: Mutex::new(Flow::default()),
                room: Notify::new(),
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// The object that takes the `write`, `close` and `abort` calls.
    pub(crate) fn stub(&self) -> &Stub {
        &self.inner.stub
    }

    /// Whether two handles are the same stream.
    pub fn same(&self, other: &WritableStream) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Writes a chunk. Returns once the chunk is on its way and the window has room; an error
    /// means the stream failed (by this write or an earlier one).
    pub async fn write(&self, chunk: impl Into<Value>) -> Result<(), RpcError> {
        let chunk = chunk.into();
        if self.is_closed() {
            return Err(RpcError::type_error("write to a closed WritableStream"));
        }
        if !self.inner.stub.0.is_remote() {
            // A local object: its writes are simply awaited in turn.
            let result = self.local_call("write", vec![chunk]).await;
            if let Err(e) = &result {
                self.inner.fail(e.clone());
            }
            return result;
        }
        loop {
            let room = self.inner.room.notified();
            {
                let flow = self.inner.lock();
                if let Some(e) = &flow.error {
                    return Err(e.clone());
                }
                if flow.in_flight < WINDOW {
                    break;
                }
            }
            room.await;
        }
        // Held while sending, so the acknowledgement cannot be counted before the send.
        let mut flow = self.inner.lock();
        let acked = Arc::downgrade(&self.inner);
        let sent = self.inner.stub.0.stream_call(
            "write",
            vec![chunk],
            Box::new(move |size, result| {
                if let Some(inner) = acked.upgrade() {
                    inner.acknowledged(size, result.map(drop));
                }
            }),
        );
        match sent {
            Ok(size) => {
                flow.in_flight += size;
                Ok(())
            }
            Err(e) => {
                flow.error.get_or_insert(e.clone());
                Err(e)
            }
        }
    }

    /// Closes the stream once every write is through; fails if any write failed.
    pub async fn close(&self) -> Result<(), RpcError> {
        if let Some(e) = self.inner.lock().error.clone() {
            return Err(e);
        }
        self.inner.closed.store(true, Ordering::Relaxed);
        let result = if self.inner.stub.0.is_remote() {
            let (tx, rx) = oneshot::channel();
            let callback = Box::new(move |_, result: Result<Value, RpcError>| {
                let _ = tx.send(result.map(drop));
            });
            match self.inner.stub.0.stream_call("close", Vec::new(), callback) {
                Ok(_) => rx
                    .await
                    .unwrap_or_else(|_| Err(RpcError::disconnected("session ended"))),
                Err(e) => Err(e),
            }
        } else {
            self.local_call("close", Vec::new()).await
        };
        // A failed write is the cause; the failed close only its consequence.
        match (self.inner.lock().error.clone(), result) {
            (Some(e), _) | (None, Err(e)) => Err(e),
            (None, Ok(())) => Ok(()),
        }
    }

    /// Aborts the stream: the reader gets `reason` as an error. Later writes fail.
    #[allow(clippy::needless_pass_by_value)] // the reason is handed over, as a sink's error is
    pub fn abort(&self, reason: RpcError) {
        self.inner.closed.store(true, Ordering::Relaxed);
        self.inner.fail(reason.clone());
        let args = vec![Value::Error(Box::new(reason.to_value()))];
        if self.inner.stub.0.is_remote() {
            let _ = self
                .inner
                .stub
                .0
                .stream_call("abort", args, Box::new(|_, _| {}));
        } else {
            drop(self.inner.stub.call("abort", args));
        }
    }

    /// Waits until the stream has failed (a write or close was refused, or it was aborted),
    /// and gives the error.
    pub(crate) async fn failed(&self) -> RpcError {
        loop {
            // Made before the check: a failure between the two still wakes it.
            let changed = self.inner.room.notified();
            if let Some(e) = &self.inner.lock().error {
                return e.clone();
            }
            changed.await;
        }
    }

    async fn local_call(&self, method: &str, args: Vec<Value>) -> Result<(), RpcError> {
        self.inner.stub.call(method, args).resolve().await.map(drop)
    }

    /// Whether [`close`](Self::close) or [`abort`](Self::abort) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Relaxed)
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Flow> {
        self.flow.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn acknowledged(&self, size: usize, result: Result<(), RpcError>) {
        let mut flow = self.lock();
        flow.in_flight = flow.in_flight.saturating_sub(size);
        if let Err(e) = result {
            flow.error.get_or_insert(e);
        }
        drop(flow);
        self.room.notify_waiters();
    }

    fn fail(&self, error: RpcError) {
        self.lock().error.get_or_insert(error);
        self.room.notify_waiters();
    }
}

impl fmt::Debug for WritableStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WritableStream({:?})", self.inner.stub)
    }
}
