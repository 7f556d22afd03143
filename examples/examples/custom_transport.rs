//! A transport of your own: a session needs only a `Stream` of incoming messages and a `Sink`
//! of outgoing ones (every such pair is a `capnweb::Transport`; a transport that wants to
//! lend its buffers instead implements the trait's methods itself). This one carries them over any byte stream, one
//! message per line (JSON text never holds a raw newline), here an in-memory pipe; a serial
//! line, a Unix socket or a QUIC stream would do the same. Run it with
//! `cargo run --example custom_transport`.

use std::pin::Pin;
use std::task::{Context, Poll};

use capnweb::transport::TransportError;
use capnweb::{RpcError, RpcSession, SessionOptions, Stub, Value};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// Messages as lines of a byte stream.
struct Lines {
    incoming: Pin<Box<dyn Stream<Item = Result<String, TransportError>> + Send>>,
    outgoing: Pin<Box<dyn Sink<String, Error = TransportError> + Send>>,
}

impl Lines {
    fn new(
        read: impl AsyncRead + Send + Unpin + 'static,
        write: impl AsyncWrite + Send + Unpin + 'static,
    ) -> Lines {
        let lines = BufReader::new(read).lines();
        let incoming = futures_util::stream::unfold(lines, |mut lines| async move {
            match lines.next_line().await {
                Ok(Some(line)) => Some((Ok(line), lines)),
                Ok(None) => None,
                Err(e) => Some((Err(TransportError::with_source("read failed", e)), lines)),
            }
        });
        let outgoing = futures_util::sink::unfold(write, |mut write, message: String| async move {
            write.write_all(message.as_bytes()).await?;
            write.write_all(b"\n").await?;
            write.flush().await?;
            Ok::<_, std::io::Error>(write)
        });
        let outgoing = futures_util::SinkExt::sink_map_err(outgoing, |e| {
            TransportError::with_source("write failed", e)
        });
        Lines {
            incoming: Box::pin(incoming),
            outgoing: Box::pin(outgoing),
        }
    }
}

impl Stream for Lines {
    type Item = Result<String, TransportError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.incoming.as_mut().poll_next(cx)
    }
}

impl Sink<String> for Lines {
    type Error = TransportError;
    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.outgoing.as_mut().poll_ready(cx)
    }
    fn start_send(mut self: Pin<&mut Self>, item: String) -> Result<(), Self::Error> {
        self.outgoing.as_mut().start_send(item)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.outgoing.as_mut().poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.outgoing.as_mut().poll_close(cx)
    }
}

#[tokio::main]
async fn main() -> Result<(), RpcError> {
    // Two ends of an in-memory byte pipe, each split into its reading and writing halves.
    let (a, b) = tokio::io::duplex(64 * 1024);
    let (a_read, a_write) = tokio::io::split(a);
    let (b_read, b_write) = tokio::io::split(b);

    let greet = Stub::from_fn(|args: Vec<Value>| async move {
        let name = args.first().and_then(Value::as_str).unwrap_or("stranger");
        Ok::<_, RpcError>(Value::from(format!("hello, {name}")))
    });
    let _server = RpcSession::spawn(
        Lines::new(a_read, a_write),
        Some(greet),
        SessionOptions::default(),
    );
    let client = RpcSession::spawn(Lines::new(b_read, b_write), None, SessionOptions::default());

    let answer = client
        .main()
        .call("", vec![Value::from("line")])
        .resolve()
        .await?;
    println!("{}", answer.as_str().unwrap_or_default());
    assert_eq!(answer.as_str(), Some("hello, line"));
    Ok(())
}
