//! [`ReadableStream`]: a stream of values, local or arriving from the peer through a pipe.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::stream::{BoxStream, Stream, StreamExt};

use crate::error::RpcError;
use crate::value::{Bytes, Value};

/// Chunk size used when bytes are turned into a stream.
const BYTES_CHUNK: usize = 64 * 1024;

/// A stream of values: a JavaScript `ReadableStream`.
///
/// Read it as a [`Stream`] of `Result<Value, RpcError>`; send it by putting it in an argument or
/// a result, and the peer receives a stream it can read as the chunks are pumped to it. A
/// stream is read once: clones share the same chunks, and sending it hands them over.
///
/// Its reader may stop early with a reason ([`cancel`](Self::cancel)), the remote reader of a
/// stream this side sent as well: the source learns it through [`on_cancel`](Self::on_cancel),
/// as a JavaScript source's `cancel(reason)`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use capnweb::{ReadableStream, Value};
/// use futures_util::StreamExt;
/// let mut s = ReadableStream::from_values([Value::from(1), Value::from(2)]);
/// assert_eq!(s.next().await.unwrap()?, Value::from(1));
/// assert_eq!(s.next().await.unwrap()?, Value::from(2));
/// assert!(s.next().await.is_none());
/// # Ok::<(), capnweb::RpcError>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct ReadableStream {
    state: Arc<Mutex<State>>,
}

enum State {
    Ready(Source),
    /// Handed to a session to be sent: reading it here is an error, once.
    Sent,
    Done,
}

type OnCancel = Box<dyn FnOnce(RpcError) + Send>;

/// A stream's chunks, and who to tell if its reader stops early.
pub(crate) struct Source {
    pub(crate) chunks: BoxStream<'static, Result<Value, RpcError>>,
    on_cancel: Option<OnCancel>,
}

impl Source {
    /// The reader stopped early, for `reason`: the chunks go, and the source is told.
    pub(crate) fn cancel(self, reason: RpcError) {
        // Told first: a pipe's writer then fails with the reason, not a bare "canceled".
        if let Some(f) = self.on_cancel {
            f(reason);
        }
        drop(self.chunks);
    }
}

impl ReadableStream {
    /// A stream of the items of `stream`.
    pub fn new(stream: impl Stream<Item = Result<Value, RpcError>> + Send + 'static) -> Self {
        ReadableStream {
            state: Arc::new(Mutex::new(State::Ready(Source {
                chunks: stream.boxed(),
                on_cancel: None,
            }))),
        }
    }

    /// Calls `f` with the reason if the stream's reader stops before its end: a local reader
    /// calling [`cancel`](Self::cancel), or the peer it was sent to cancelling its end (or
    /// leaving: the session's end is a reason too). Not called when the stream is read to its
    /// end or fails on its own. A second `on_cancel` runs after the first.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use capnweb::{ReadableStream, RpcError, Value};
    /// let (tx, rx) = tokio::sync::oneshot::channel();
    /// let s = ReadableStream::from_values([Value::from(1)])
    ///     .on_cancel(move |reason| drop(tx.send(reason.to_string())));
    /// s.cancel(RpcError::error("enough"));
    /// assert!(rx.await.unwrap().contains("enough"));
    /// # });
    /// ```
    pub fn on_cancel(self, f: impl FnOnce(RpcError) + Send + 'static) -> Self {
        {
            let mut state = self.lock();
            if let State::Ready(source) = &mut *state {
                source.on_cancel = Some(match source.on_cancel.take() {
                    Some(first) => Box::new(move |reason: RpcError| {
                        first(reason.clone());
                        f(reason);
                    }),
                    None => Box::new(f),
                });
            }
        }
        self
    }

    /// Stops reading, for `reason`: the source learns it (see [`on_cancel`](Self::on_cancel));
    /// for a stream from the peer, the peer's writer does (its writes fail with `reason`).
    /// Reading it afterwards gives its end.
    pub fn cancel(&self, reason: RpcError) {
        let mut state = self.lock();
        if !matches!(*state, State::Ready(_)) {
            return;
        }
        let State::Ready(source) = std::mem::replace(&mut *state, State::Done) else {
            unreachable!("checked above")
        };
        drop(state);
        source.cancel(reason);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A stream of these values.
    pub fn from_values<I>(values: I) -> Self
    where
        I: IntoIterator<Item = Value>,
        I::IntoIter: Send + 'static,
    {
        ReadableStream::new(futures_util::stream::iter(values.into_iter().map(Ok)))
    }

    /// A stream of byte chunks (`Uint8Array`s) carrying `data`.
    pub fn from_bytes(data: impl AsRef<[u8]>) -> Self {
        let chunks: Vec<Value> = data
            .as_ref()
            .chunks(BYTES_CHUNK)
            .map(|c| Value::Bytes(Bytes::from(c.to_vec())))
            .collect();
        ReadableStream::from_values(chunks)
    }

    /// Reads the whole stream, which must carry byte chunks, into one buffer of at most `max`
    /// bytes.
    pub async fn read_bytes(mut self, max: usize) -> Result<Vec<u8>, RpcError> {
        let mut out = Vec::new();
        while let Some(chunk) = self.next().await {
            match chunk? {
                Value::Bytes(b) if out.len() + b.data.len() <= max => out.extend(b.data),
                Value::Bytes(_) => {
                    return Err(RpcError::range_error(format!(
                        "stream carries more than {max} bytes"
                    )))
                }
                other => {
                    return Err(RpcError::type_error(format!(
                        "expected a stream of bytes, got a chunk of type {}",
                        other.kind_name()
                    )))
                }
            }
        }
        Ok(out)
    }

    /// Takes the source out, to be sent. `None` if it was already taken or read to the end.
    pub(crate) fn take(&self) -> Option<Source> {
        let mut state = self.lock();
        match std::mem::replace(&mut *state, State::Sent) {
            State::Ready(s) => Some(s),
            other => {
                *state = other;
                None
            }
        }
    }

    /// Whether two handles share the same stream.
    pub fn same(&self, other: &ReadableStream) -> bool {
        Arc::ptr_eq(&self.state, &other.state)
    }
}

impl Stream for ReadableStream {
    type Item = Result<Value, RpcError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *state {
            State::Ready(s) => {
                let item = s.chunks.poll_next_unpin(cx);
                if let Poll::Ready(None) = item {
                    *state = State::Done;
                }
                item
            }
            State::Sent => {
                *state = State::Done;
                Poll::Ready(Some(Err(RpcError::type_error(
                    "this ReadableStream was sent to a peer; it cannot be read here",
                ))))
            }
            State::Done => Poll::Ready(None),
        }
    }
}

impl fmt::Debug for ReadableStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReadableStream({:p})", Arc::as_ptr(&self.state))
    }
}
