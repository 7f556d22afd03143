//! The official TypeScript client (npm `capnweb`, in Node) against our server.

use capnweb::transport::websocket::codec::Codec;
use capnweb::Server;
use capnweb_examples::interop::test_target;
use capnweb_tests::node_dir;

/// Runs `node <script> <ws-url> <http-url>` against a fresh interop server; returns whether it
/// exited successfully, and its stdout and stderr.
async fn run_against_rust_server(script: &str) -> (bool, String, String) {
    run_against(script, Codec::Tungstenite).await
}

/// [`run_against_rust_server`], the server's WebSockets framed by `codec`.
async fn run_against(script: &str, codec: Codec) -> (bool, String, String) {
    let (addr, serve) = Server::bind("127.0.0.1:0")
        .websocket_codec(codec)
        .listen(test_target)
        .await
        .unwrap();
    let server = tokio::spawn(serve);
    let port = addr.port();
    let output = tokio::process::Command::new("node")
        .arg(script)
        .arg(format!("ws://127.0.0.1:{port}/"))
        .arg(format!("http://127.0.0.1:{port}/"))
        .current_dir(node_dir())
        .output()
        .await
        .expect("node must be installed");
    server.abort();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_client_suite_passes_against_rust_server() {
    client_suite_passes(Codec::Tungstenite).await;
}

/// The same suite, the server on the built-in WebSocket codec (Node's WebSocket is the peer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_client_suite_passes_against_the_builtin_codec() {
    client_suite_passes(Codec::Builtin).await;
}

async fn client_suite_passes(codec: Codec) {
    let (success, stdout, stderr) = run_against("client-suite.mjs", codec).await;
    let failures: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("not ok"))
        .collect();
    assert!(
        success && failures.is_empty(),
        "the TypeScript client suite failed against our server:\n{}\n--- full output ---\n{stdout}\n{stderr}",
        failures.join("\n"),
    );
    assert!(stdout.contains("# pass"), "no test ran: {stdout}");
}

/// What only a typed (`#[rpc_interface]`) server does: TypeScript callers passing wrong types or
/// leaving arguments out get `TypeError`s naming the method and the argument.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_callers_get_type_errors_from_typed_parameters() {
    let (success, stdout, stderr) = run_against_rust_server("typed-server-suite.mjs").await;
    assert!(
        success && stdout.contains("# pass 6"),
        "typed-server-suite failed:\n{stdout}\n{stderr}"
    );
}

/// Streams and blobs: the TypeScript client's `ReadableStream`, `WritableStream` and `Blob`
/// against our pipes, both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_streams_and_blobs_work_against_rust_server() {
    streams_work(Codec::Tungstenite).await;
}

/// Streams over the built-in codec: many frames, some large.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_streams_and_blobs_work_against_the_builtin_codec() {
    streams_work(Codec::Builtin).await;
}

async fn streams_work(codec: Codec) {
    let (success, stdout, stderr) = run_against("stream-suite.mjs", codec).await;
    assert!(
        success && stdout.contains("# pass 8") && stdout.contains("# fail 0"),
        "stream-suite failed:\n{stdout}\n{stderr}"
    );
}
