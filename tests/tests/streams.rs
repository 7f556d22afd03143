//! Streams over a session: readable and writable streams both ways, blobs, the wire forms
//! (`pipe`, `readable`, `writable`, `stream`), and a peer that misuses them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use capnweb::transport::in_process::{self, InProcess};
use capnweb::wire::Limits;
use capnweb::{
    rpc_interface, Blob, Bytes, ReadableStream, RpcError, RpcSession, SessionOptions, Stub, Value,
    WritableStream,
};
use futures_util::{SinkExt, StreamExt};

#[rpc_interface]
pub trait Files {
    /// Reads the whole stream: how many chunks, and their text joined.
    async fn upload(&self, data: ReadableStream) -> Result<(u32, String), RpcError>;
    /// `n` chunks `"0"`, `"1"`, ... as a stream.
    async fn download(&self, n: u32) -> Result<ReadableStream, RpcError>;
    /// Writes `n` chunks into the caller's stream, then closes it.
    async fn fill(&self, sink: WritableStream, n: u32) -> Result<(), RpcError>;
    /// A stream the caller writes into; what it wrote is kept (see `written`).
    async fn sink(&self) -> Result<WritableStream, RpcError>;
    /// What was written into the last `sink`, once it was closed.
    async fn written(&self) -> Result<Vec<String>, RpcError>;
    /// A blob's type and size.
    async fn inspect(&self, blob: Blob) -> Result<(String, usize), RpcError>;
    /// A blob of `size` bytes.
    async fn make_blob(&self, size: usize) -> Result<Blob, RpcError>;
}

#[derive(Default)]
struct Store {
    written: Arc<Mutex<Option<tokio::sync::oneshot::Receiver<Vec<String>>>>>,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bytes(b) => String::from_utf8_lossy(&b.data).into_owned(),
        other => format!("{other:?}"),
    }
}

impl Files for Store {
    async fn upload(&self, mut data: ReadableStream) -> Result<(u32, String), RpcError> {
        let (mut n, mut all) = (0, String::new());
        while let Some(chunk) = data.next().await {
            n += 1;
            all.push_str(&text(&chunk?));
        }
        Ok((n, all))
    }

    async fn download(&self, n: u32) -> Result<ReadableStream, RpcError> {
        Ok(ReadableStream::from_values(
            (0..n).map(|i| Value::from(i.to_string())),
        ))
    }

    async fn fill(&self, sink: WritableStream, n: u32) -> Result<(), RpcError> {
        for i in 0..n {
            sink.write(format!("chunk {i}")).await?;
        }
        sink.close().await
    }

    async fn sink(&self) -> Result<WritableStream, RpcError> {
        let (writer, mut reader) = WritableStream::pipe();
        let (tx, rx) = tokio::sync::oneshot::channel();
        *self.written.lock().unwrap() = Some(rx);
        tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(Ok(chunk)) = reader.next().await {
                got.push(text(&chunk));
            }
            let _ = tx.send(got);
        });
        Ok(writer)
    }

    async fn written(&self) -> Result<Vec<String>, RpcError> {
        let rx = self.written.lock().unwrap().take();
        let rx = rx.ok_or_else(|| RpcError::error("no sink"))?;
        rx.await.map_err(|_| RpcError::error("sink dropped"))
    }

    async fn inspect(&self, blob: Blob) -> Result<(String, usize), RpcError> {
        Ok((blob.content_type, blob.data.len()))
    }

    async fn make_blob(&self, size: usize) -> Result<Blob, RpcError> {
        Ok(Blob::new("application/octet-stream", vec![7u8; size]))
    }
}

fn pair_with(limits: Limits) -> (FilesClient, RpcSession) {
    let (a, b) = in_process::pair();
    let main = Stub::new(FilesServer::new(Store::default()));
    let server = RpcSession::spawn(a, Some(main), SessionOptions::default().limits(limits));
    let client = RpcSession::spawn(b, None, SessionOptions::default());
    (FilesClient::from(client.main()), server)
}

fn pair() -> (FilesClient, RpcSession) {
    pair_with(Limits::default())
}

#[tokio::test]
async fn a_readable_stream_is_sent_as_an_argument() {
    let (files, _server) = pair();
    let chunks = ReadableStream::from_values(["a", "bc", "def"].map(Value::from));
    assert_eq!(files.upload(chunks).await.unwrap(), (3, "abcdef".into()));
    // Chunks produced over time, and many of them (more than one flow-control window).
    let big = "x".repeat(10_000);
    let slow = futures_util::stream::iter(0..300).then(move |_| {
        let big = big.clone();
        async move {
            tokio::task::yield_now().await;
            Ok(Value::from(big))
        }
    });
    let (n, all) = files.upload(ReadableStream::new(slow)).await.unwrap();
    assert_eq!((n, all.len()), (300, 3_000_000));
}

#[tokio::test]
async fn a_readable_stream_comes_back_as_a_result() {
    let (files, _server) = pair();
    let stream = files.download(1000).await.unwrap();
    let got: Vec<String> = stream.map(|c| text(&c.unwrap())).collect().await;
    assert_eq!(got.len(), 1000);
    assert_eq!(got[999], "999");
}

#[tokio::test]
async fn the_server_writes_into_the_callers_writable_stream() {
    let (files, _server) = pair();
    let (writer, reader) = WritableStream::pipe();
    let filled = files.fill(writer, 50);
    let read = tokio::spawn(reader.map(|c| text(&c.unwrap())).collect::<Vec<_>>());
    filled.await.unwrap();
    let got = read.await.unwrap();
    assert_eq!(got.len(), 50);
    assert_eq!(got[49], "chunk 49");
}

#[tokio::test]
async fn the_caller_writes_into_a_writable_stream_from_the_server() {
    let (files, _server) = pair();
    let sink = files.sink().await.unwrap();
    for i in 0..100 {
        sink.write(Value::Bytes(Bytes::from(format!("{i}").into_bytes())))
            .await
            .unwrap();
    }
    sink.close().await.unwrap();
    let written = files.written().await.unwrap();
    assert_eq!(written.len(), 100);
    assert_eq!(written[99], "99");
    // Writing after close fails clearly.
    assert!(sink.write("late").await.is_err());
}

#[tokio::test]
async fn blobs_travel_both_ways_through_pipes() {
    let (files, _server) = pair();
    let blob = Blob::new("text/plain", vec![1u8; 200_000]);
    assert_eq!(
        files.inspect(blob).await.unwrap(),
        ("text/plain".to_owned(), 200_000)
    );
    let made = files.make_blob(100_000).await.unwrap();
    assert_eq!(made.content_type, "application/octet-stream");
    assert_eq!(made.data, vec![7u8; 100_000]);
}

#[tokio::test]
async fn a_blob_over_the_limit_is_refused_and_the_session_goes_on() {
    let limits = Limits {
        max_blob_size: 1000,
        ..Limits::default()
    };
    let (files, _server) = pair_with(limits);
    let err = files
        .inspect(Blob::new("", vec![0u8; 5000]))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "RangeError", "{err}");
    assert_eq!(
        files
            .inspect(Blob::new("a/b", vec![0u8; 10]))
            .await
            .unwrap(),
        ("a/b".into(), 10)
    );
}

#[tokio::test]
async fn a_failing_stream_reaches_the_reader_as_an_error() {
    let (files, _server) = pair();
    let failing = futures_util::stream::iter(vec![
        Ok(Value::from("one")),
        Err(RpcError::range_error("source broke")),
    ]);
    let err = files
        .upload(ReadableStream::new(failing))
        .await
        .unwrap_err();
    assert_eq!(
        (err.name(), err.message().as_str()),
        ("RangeError", "source broke")
    );
}

// ---------------------------------------------------------------------------------------------
// Raw frames: what goes on the wire, and a peer that misuses pipes.

fn raw_peer(limits: Limits) -> (RpcSession, InProcess) {
    let (a, b) = in_process::pair();
    let main = Stub::new(FilesServer::new(Store::default()));
    let session = RpcSession::spawn(a, Some(main), SessionOptions::default().limits(limits));
    (session, b)
}

async fn send(peer: &mut InProcess, frames: &[&str]) {
    for f in frames {
        peer.send((*f).to_owned()).await.unwrap();
    }
}

async fn recv(peer: &mut InProcess, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let msg = tokio::time::timeout(Duration::from_secs(5), peer.next())
            .await
            .expect("a reply in time");
        out.push(msg.expect("open").expect("ok"));
    }
    out
}

#[tokio::test]
async fn a_pipe_opened_by_the_peer_carries_its_writes_to_the_reader() {
    let (_session, mut peer) = raw_peer(Limits::default());
    send(
        &mut peer,
        &[
            r#"["pipe"]"#,
            r#"["stream",["pipeline",1,["write"],["he"]]]"#,
            r#"["push",["pipeline",0,["upload"],[["readable",1]]]]"#,
            r#"["pull",3]"#,
            r#"["stream",["pipeline",1,["write"],[["bytes","bGxv"]]]]"#,
            r#"["stream",["pipeline",1,["close"],[]]]"#,
        ],
    )
    .await;
    let mut replies = recv(&mut peer, 4).await;
    replies.sort();
    assert_eq!(
        replies,
        [
            r#"["resolve",2,["undefined"]]"#,
            r#"["resolve",3,[[2,"hello"]]]"#,
            r#"["resolve",4,["undefined"]]"#,
            r#"["resolve",5,["undefined"]]"#,
        ]
    );
}

#[tokio::test]
async fn a_readable_result_goes_out_as_pipe_then_writes_then_close() {
    let (_session, mut peer) = raw_peer(Limits::default());
    send(
        &mut peer,
        &[
            r#"["push",["pipeline",0,["download"],[2]]]"#,
            r#"["pull",1]"#,
        ],
    )
    .await;
    // The pipe first, so the result can name it; then the writes, without waiting for their
    // acknowledgements (they fit in the window); then the close.
    let out = recv(&mut peer, 5).await;
    assert_eq!(
        out,
        [
            r#"["pipe"]"#,
            r#"["resolve",1,["readable",1]]"#,
            r#"["stream",["pipeline",1,["write"],["0"]]]"#,
            r#"["stream",["pipeline",1,["write"],["1"]]]"#,
            r#"["stream",["pipeline",1,["close"],[]]]"#,
        ]
    );
}

#[tokio::test]
async fn a_writable_argument_is_written_with_stream_messages() {
    let (_session, mut peer) = raw_peer(Limits::default());
    send(
        &mut peer,
        &[
            r#"["push",["pipeline",0,["fill"],[["writable",-1],2]]]"#,
            r#"["pull",1]"#,
        ],
    )
    .await;
    let out = recv(&mut peer, 3).await;
    assert_eq!(
        out,
        [
            r#"["stream",["pipeline",-1,["write"],["chunk 0"]]]"#,
            r#"["stream",["pipeline",-1,["write"],["chunk 1"]]]"#,
            r#"["stream",["pipeline",-1,["close"],[]]]"#,
        ]
    );
    // The close is answered; then the call returns. No pull or release for stream calls.
    send(&mut peer, &[r#"["resolve",3,["undefined"]]"#]).await;
    let mut out = recv(&mut peer, 2).await;
    out.sort();
    assert_eq!(
        out,
        [r#"["release",-1,1]"#, r#"["resolve",1,["undefined"]]"#]
    );
    send(&mut peer, &[r#"["resolve",1,["undefined"]]"#]).await;
    send(&mut peer, &[r#"["resolve",2,["undefined"]]"#]).await;
}

#[tokio::test]
async fn a_readable_end_taken_twice_or_never_opened_aborts_with_a_reason() {
    for frames in [
        vec![
            r#"["pipe"]"#,
            r#"["push",["pipeline",0,["upload"],[["readable",1]]]]"#,
            r#"["push",["pipeline",0,["upload"],[["readable",1]]]]"#,
        ],
        vec![r#"["push",["pipeline",0,["upload"],[["readable",7]]]]"#],
    ] {
        let (session, mut peer) = raw_peer(Limits::default());
        send(&mut peer, &frames).await;
        let out = recv(&mut peer, 1).await;
        assert!(out[0].starts_with(r#"["abort",["error","#), "{out:?}");
        assert!(
            out[0].contains("is not a pipe or its readable end was already consumed"),
            "{out:?}"
        );
        tokio::time::timeout(Duration::from_secs(5), session.closed())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn writes_far_ahead_of_the_reader_fail_the_stream_not_the_server() {
    let limits = Limits {
        max_stream_buffer: 10_000,
        ..Limits::default()
    };
    let (session, mut peer) = raw_peer(limits);
    send(&mut peer, &[r#"["pipe"]"#]).await;
    // Nobody reads the pipe; the peer ignores the acknowledgements.
    let chunk = format!(
        r#"["stream",["pipeline",1,["write"],["{}"]]]"#,
        "z".repeat(3000)
    );
    for _ in 0..5 {
        send(&mut peer, &[&chunk]).await;
    }
    let out = recv(&mut peer, 2).await;
    assert!(
        out.iter()
            .any(|m| m.starts_with(r#"["reject",5,["error","RangeError""#)),
        "{out:?}"
    );
    // Later writes fail too, and the session still serves calls.
    send(
        &mut peer,
        &[
            r#"["push",["pipeline",0,["makeBlob"],[3]]]"#,
            r#"["pull",7]"#,
        ],
    )
    .await;
    let out = recv(&mut peer, 4).await;
    assert!(out.iter().any(|m| m == r#"["pipe"]"#), "{out:?}");
    assert!(!session.is_closed());
}

#[tokio::test]
async fn every_kind_of_chunk_counts_its_true_size_against_the_stream_buffer() {
    // Kinds that were counted as a few bytes each: a RegExp, a UTF-16 string, an Error's
    // properties, a value nested deeper than 64. Each chunk holds about 3 KB.
    let pattern = "a".repeat(3000);
    let units = "\\ud800".repeat(1000);
    let props = format!(r#"{{"detail":"{}"}}"#, "p".repeat(3000));
    let deep = format!(
        "{}\"{}\"{}",
        "[[".repeat(100),
        "d".repeat(3000),
        "]]".repeat(100)
    );
    let kinds = [
        format!(r#"["regexp","{pattern}","g"]"#),
        format!(r#""{units}x""#),
        format!(r#"["error","Error","m",null,{props}]"#),
        deep,
    ];
    for chunk in kinds {
        let limits = Limits {
            max_stream_buffer: 10_000,
            ..Limits::default()
        };
        let (_session, mut peer) = raw_peer(limits);
        send(&mut peer, &[r#"["pipe"]"#]).await;
        let write = format!(r#"["stream",["pipeline",1,["write"],[{chunk}]]]"#);
        for _ in 0..5 {
            send(&mut peer, &[&write]).await;
        }
        let out = recv(&mut peer, 2).await;
        assert!(
            out.iter().any(|m| m.contains("ahead of the reader")),
            "{}: {out:?}",
            &chunk[..40]
        );
    }
}

#[tokio::test]
async fn unknown_methods_on_a_pipe_are_errors_answered_to_the_caller() {
    let (session, mut peer) = raw_peer(Limits::default());
    send(
        &mut peer,
        &[
            r#"["pipe"]"#,
            r#"["stream",["pipeline",1,["constructor"],[]]]"#,
            r#"["stream",["pipeline",1,["write","x"],[]]]"#,
        ],
    )
    .await;
    let out = recv(&mut peer, 2).await;
    assert!(
        out[0].contains("Unknown WritableStream method: constructor"),
        "{out:?}"
    );
    assert!(
        out[1].contains("only supports direct method calls"),
        "{out:?}"
    );
    assert!(!session.is_closed());
}

/// A server whose main object is a function of one stream: it reads a chunk, then cancels.
fn cancelling_server() -> Stub {
    let (a, b) = in_process::pair();
    let main = Stub::from_fn(|args: Vec<Value>| async move {
        let Some(Value::Readable(mut s)) = args.into_iter().next() else {
            return Err(RpcError::type_error("a stream"));
        };
        let first = s.next().await.transpose()?;
        s.cancel(RpcError::range_error("read one, that will do"));
        Ok(first.unwrap_or_default())
    });
    #[allow(clippy::mem_forget)] // the serving side lives as long as the test, on purpose
    std::mem::forget(RpcSession::spawn(a, Some(main), SessionOptions::default()));
    RpcSession::spawn(b, None, SessionOptions::default()).main()
}

async fn a_remote_reader_cancelling_tells_the_source_why() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let numbers = futures_util::stream::unfold(0, |i| async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        Some((Ok(Value::from(i)), i + 1))
    });
    let source = ReadableStream::new(numbers).on_cancel(move |reason| drop(tx.send(reason)));
    // Kept until the end: dropping it would end the session, a reason of its own.
    let server = cancelling_server();
    let first = server
        .call("", vec![Value::Readable(source)])
        .resolve()
        .await
        .unwrap();
    assert_eq!(first.as_f64(), Some(0.0));
    let reason = tokio::time::timeout(Duration::from_secs(5), rx)
        .await
        .expect("told in time")
        .unwrap();
    assert!(
        matches!(&reason, RpcError::Remote(e) if e.name == "RangeError"),
        "{reason:?}"
    );
    assert!(reason.to_string().contains("that will do"), "{reason}");
}

#[tokio::test]
async fn a_remote_reader_cancelling_tells_the_source_why_current_thread() {
    for _ in 0..5 {
        a_remote_reader_cancelling_tells_the_source_why().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_reader_cancelling_tells_the_source_why_multi_thread() {
    for _ in 0..5 {
        a_remote_reader_cancelling_tells_the_source_why().await;
    }
}

#[tokio::test]
async fn a_source_learns_when_its_session_ends_mid_stream() {
    let (a, b) = in_process::pair();
    let main = Stub::from_fn(|_: Vec<Value>| async move {
        std::future::pending::<()>().await;
        Ok(Value::Null)
    });
    let server = RpcSession::spawn(a, Some(main), SessionOptions::default());
    let client = RpcSession::spawn(b, None, SessionOptions::default());
    let (tx, rx) = tokio::sync::oneshot::channel();
    let numbers = futures_util::stream::unfold(0, |i| async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        Some((Ok(Value::from(i)), i + 1))
    });
    let source = ReadableStream::new(numbers).on_cancel(move |reason| drop(tx.send(reason)));
    let call = client.main().call("", vec![Value::Readable(source)]);
    tokio::time::sleep(Duration::from_millis(20)).await;
    server.abort(RpcError::error("going away"));
    let reason = tokio::time::timeout(Duration::from_secs(5), rx)
        .await
        .expect("told in time")
        .unwrap();
    // The session's end, or the server's end of the pipe going with it: either way, told.
    let told =
        matches!(reason, RpcError::Disconnected { .. }) || reason.to_string().contains("canceled");
    assert!(told, "{reason:?}");
    drop(call);
}

/// A sink that takes everything and fails to close.
struct FailsToClose(Arc<Mutex<Vec<Value>>>);

impl futures_util::Sink<Value> for FailsToClose {
    type Error = RpcError;
    fn poll_ready(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), RpcError>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn start_send(self: std::pin::Pin<&mut Self>, item: Value) -> Result<(), RpcError> {
        self.0.lock().unwrap().push(item);
        Ok(())
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), RpcError>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), RpcError>> {
        std::task::Poll::Ready(Err(RpcError::error("disk full")))
    }
}

#[tokio::test]
async fn a_sink_failing_to_close_fails_the_remote_writers_close() {
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = WritableStream::from_sink(FailsToClose(got.clone()));
    let (a, b) = in_process::pair();
    let main = Stub::from_fn(move |_: Vec<Value>| {
        let sink = sink.clone();
        async move { Ok(Value::Writable(sink)) }
    });
    let _server = RpcSession::spawn(a, Some(main), SessionOptions::default());
    let client = RpcSession::spawn(b, None, SessionOptions::default());
    let Value::Writable(remote) = client.main().call("", vec![]).resolve().await.unwrap() else {
        panic!("a writable")
    };
    for i in 0..5 {
        remote.write(i).await.unwrap();
    }
    let err = remote.close().await.unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    let got: Vec<f64> = got
        .lock()
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert_eq!(got, vec![0.0, 1.0, 2.0, 3.0, 4.0], "in order");
}
