//! Streams both ways: the server answers with a `ReadableStream` the client reads as it
//! arrives, and the client hands the server a `WritableStream` to write into (here a pipe whose
//! other end the client reads). Run it with `cargo run --example streams`.

use std::time::Duration;

use capnweb::{rpc_interface, ReadableStream, RpcError, Server, Value, WritableStream};
use futures_util::{StreamExt, TryStreamExt};

#[rpc_interface]
pub trait Feed {
    /// The lines of a log, one chunk each, as they are produced.
    async fn tail(&self, lines: u32) -> Result<ReadableStream, RpcError>;
    /// Writes `count` numbers into `sink`, then closes it; how many were written.
    async fn fill(&self, sink: WritableStream, count: u32) -> Result<u32, RpcError>;
    /// Reads `stream` to its end; the sum of its numbers.
    async fn sum(&self, stream: ReadableStream) -> Result<f64, RpcError>;
}

struct Logs;

impl Feed for Logs {
    async fn tail(&self, lines: u32) -> Result<ReadableStream, RpcError> {
        // Produced over time: the caller reads each line as soon as it exists.
        let produced = futures_util::stream::iter(0..lines).then(|i| async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok(Value::from(format!("line {i}")))
        });
        Ok(ReadableStream::new(produced))
    }

    async fn fill(&self, sink: WritableStream, count: u32) -> Result<u32, RpcError> {
        for i in 0..count {
            // Each write waits while the stream is full (backpressure).
            sink.write(i).await?;
        }
        sink.close().await?;
        Ok(count)
    }

    async fn sum(&self, stream: ReadableStream) -> Result<f64, RpcError> {
        stream
            .try_fold(0.0, |total, chunk| async move {
                Ok(total + chunk.as_f64().unwrap_or(0.0))
            })
            .await
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (addr, run) = Server::bind("127.0.0.1:0")
        .listen(|| FeedServer::new(Logs))
        .await?;
    tokio::spawn(run);
    let feed: FeedClient = capnweb::connect(&format!("ws://{addr}/")).await?;

    // Server to client: read the stream as it arrives.
    let mut lines = feed.tail(3).await?;
    while let Some(line) = lines.try_next().await? {
        println!("read {line:?}");
    }

    // Client to server: give the server the writable end of a pipe, read the other end.
    let (writer, reader) = WritableStream::pipe();
    let written = feed.fill(writer, 5);
    let chunks: Vec<Value> = reader.try_collect().await?;
    assert_eq!(written.await?, 5);
    println!("the server wrote {} chunks", chunks.len());
    assert_eq!(chunks.len(), 5);

    // A stream of ours, read by the server.
    let numbers = ReadableStream::from_values((1..=4).map(Value::from));
    let total = feed.sum(numbers).await?;
    println!("the server summed {total}");
    assert_eq!(total, 10.0);
    Ok(())
}
