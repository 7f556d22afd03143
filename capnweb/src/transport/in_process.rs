//! Two connected transports in one process: what one sends, the other receives.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::{Sink, Stream};
use tokio::sync::mpsc;

use super::TransportError;

/// One end of an in-process connection.
#[derive(Debug)]
pub struct InProcess {
    tx: mpsc::UnboundedSender<String>,
    rx: mpsc::UnboundedReceiver<String>,
}

/// A connected pair of in-process transports.
///
/// ```
/// let (a, b) = capnweb::transport::in_process::pair();
/// # drop((a, b));
/// ```
pub fn pair() -> (InProcess, InProcess) {
    let (atx, brx) = mpsc::unbounded_channel();
    let (btx, arx) = mpsc::unbounded_channel();
    (
        InProcess { tx: atx, rx: arx },
        InProcess { tx: btx, rx: brx },
    )
}

impl Stream for InProcess {
    type Item = Result<String, TransportError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx).map(|m| m.map(Ok))
    }
}

impl Sink<String> for InProcess {
    type Error = TransportError;
    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        Poll::Ready(Ok(()))
    }
    fn start_send(self: Pin<&mut Self>, item: String) -> Result<(), TransportError> {
        self.tx
            .send(item)
            .map_err(|_| TransportError::new("peer dropped"))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        // Dropping our sender ends the peer's stream once it has read what was sent.
        let (tx, _) = mpsc::unbounded_channel();
        self.tx = tx;
        Poll::Ready(Ok(()))
    }
}
