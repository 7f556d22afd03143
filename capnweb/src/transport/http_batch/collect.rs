//! [`BatchClientTransport`]: the client side of one HTTP batch, over any HTTP client. It
//! collects messages until the first result is awaited, then sends them in one request, with a
//! pull for every call, and reads the answers from the response.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures_util::{FutureExt, Sink, Stream};

use super::BATCH_ENDED;
use crate::stub::BoxFuture;
use crate::transport::TransportError;
use crate::wire::MessageKind;

/// Sends one batch: called once, with the request body; gives the response body. A
/// [`TransportError::undelivered`] says the server certainly ran none of it.
pub type SendBatch = Box<dyn FnOnce(String) -> BoxFuture<Result<String, TransportError>> + Send>;

enum Phase {
    Collecting,
    Sending(BoxFuture<Result<String, TransportError>>),
    Receiving(VecDeque<String>),
    Done,
}

/// The client side of one HTTP batch, sent by any HTTP client (see [`SendBatch`]).
pub struct BatchClientTransport {
    /// What the batch goes to (its URL), for `Debug`.
    label: String,
    send: Option<SendBatch>,
    queued: Vec<String>,
    pushes: i64,
    /// Calls already released (never awaited, dropped): not pulled.
    released: Vec<i64>,
    triggered: bool,
    phase: Phase,
    waker: Option<Waker>,
}

impl std::fmt::Debug for BatchClientTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchClientTransport")
            .field("to", &self.label)
            .field("queued", &self.queued.len())
            .field("pushes", &self.pushes)
            .finish_non_exhaustive()
    }
}

impl BatchClientTransport {
    /// A batch that `send` sends; `label` names it in `Debug` (its URL, say).
    pub fn new(label: impl Into<String>, send: SendBatch) -> Self {
        BatchClientTransport {
            label: label.into(),
            send: Some(send),
            queued: Vec::new(),
            pushes: 0,
            released: Vec::new(),
            triggered: false,
            phase: Phase::Collecting,
            waker: None,
        }
    }

    fn send(&mut self) -> BoxFuture<Result<String, TransportError>> {
        let mut body = std::mem::take(&mut self.queued);
        let released = std::mem::take(&mut self.released);
        body.extend(
            (1..=self.pushes)
                .filter(|id| !released.contains(id))
                .map(|id| {
                    crate::wire::write_message(&crate::wire::Message::Pull { import_id: id })
                }),
        );
        match self.send.take() {
            Some(send) => send(body.join("\n")),
            None => Box::pin(std::future::ready(Err(TransportError::new(BATCH_ENDED)))),
        }
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
                    Poll::Ready(Ok(text)) => self.phase = Phase::Receiving(lines(&text)),
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
        let kind = MessageKind::of(&msg);
        if kind == MessageKind::Pull {
            // Every call of the batch is pulled when it is sent; this one says "send now".
            self.triggered = true;
            if let Some(w) = self.waker.take() {
                w.wake();
            }
        } else {
            if kind.is_call() {
                self.pushes += 1;
            } else if kind == MessageKind::Release {
                let limits = crate::wire::Limits::default();
                if let Ok(crate::wire::Message::Release {
                    import_id: id,
                    refcount: _,
                }) = crate::wire::parse_message(&msg, &limits)
                {
                    self.released.push(id);
                }
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

/// The lines of a response body (none for an empty one).
fn lines(text: &str) -> VecDeque<String> {
    match text.is_empty() {
        true => VecDeque::new(),
        false => text.split('\n').map(str::to_owned).collect(),
    }
}
