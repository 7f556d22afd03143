//! An HTTP batch whose client goes before the answer frees its session. hyper drops the batch's
//! future mid-way; a call of the batch still holds the client's callback (an import stub on the
//! session, in the call's future, in the session's export table): a cycle through the session's
//! core unless dropping the session's task ends the session.
//!
//! One test per binary: the count of live sessions is global.

use std::sync::Arc;
use std::time::Duration;

use capnweb::session::live_sessions;
use capnweb::stub::BoxFuture;
use capnweb::{RpcError, RpcTarget, Server, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// `hold(callback)`: calls the callback (whose answer cannot come), says it started, then never
/// returns, keeping the callback and its call.
struct Holder(Arc<Notify>);

impl RpcTarget for Holder {
    fn call(self: Arc<Self>, method: &str, args: Vec<Value>) -> BoxFuture<Result<Value, RpcError>> {
        match method {
            "hold" => Box::pin(async move {
                let called = match args.first() {
                    Some(Value::Stub(callback)) => Some(callback.call("", vec![Value::from(1)])),
                    _ => None,
                };
                self.0.notify_one();
                let _kept = (args, called);
                std::future::pending::<()>().await;
                Ok(Value::Undefined)
            }),
            _ => capnweb::stub::not_a_function(method),
        }
    }
}

async fn wait_for_count(expected: usize) -> usize {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n = live_sessions();
        if n == expected || tokio::time::Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_client_goes_before_the_answer_frees_its_session() {
    let before = live_sessions();
    let started = Arc::new(Notify::new());
    let main_started = started.clone();
    let (addr, serve) = Server::bind("127.0.0.1:0")
        .listen(move || Holder(main_started.clone()))
        .await
        .unwrap();
    let _server = tokio::spawn(serve);
    // A call with an exported callback, pulled: the batch waits for its answer.
    let body = [
        r#"["push",["pipeline",0,["hold"],[["export",-1]]]]"#,
        r#"["pull",1]"#,
    ]
    .join("\n");
    let request = format!(
        "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let rounds = 20;
    for round in 0..rounds {
        let mut socket = TcpStream::connect(addr).await.unwrap();
        socket.write_all(request.as_bytes()).await.unwrap();
        // The call runs, holding the callback: the session exists and waits to answer.
        tokio::time::timeout(Duration::from_secs(10), started.notified())
            .await
            .unwrap_or_else(|_| panic!("round {round}: the call never started"));
        let mut byte = [0u8; 1];
        let answered =
            tokio::time::timeout(Duration::from_millis(50), socket.read(&mut byte)).await;
        assert!(answered.is_err(), "round {round}: the batch was answered");
        // The client goes before the answer: hyper drops the batch's future.
        drop(socket);
    }
    let after = wait_for_count(before).await;
    assert_eq!(
        after, before,
        "the sessions of {rounds} abandoned batches are still alive"
    );
}
