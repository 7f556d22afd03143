//! Heap bytes a server holds per idle WebSocket session, counted by the allocator (RSS also
//! counts what the allocator keeps): `idle_heap [tungstenite|builtin] [sessions]`. The clients
//! run in another process (Node's `ws`, from `tests/node`), so only the server is counted.

use std::time::Duration;

use capnweb::transport::websocket::codec::Codec;

#[path = "../counting.rs"]
mod counting;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let codec = match args.get(1).map(String::as_str) {
        Some("tungstenite") => Codec::Tungstenite,
        _ => Codec::Builtin,
    };
    let n: i64 = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(2000);
    let (addr, serve) = capnweb::Server::bind("127.0.0.1:0")
        .websocket_codec(codec)
        .listen(capnweb_examples::interop::test_target)
        .await
        .expect("bind");
    tokio::spawn(serve);
    let hold = concat!(env!("CARGO_MANIFEST_DIR"), "/src/bin/idle_hold.mjs");
    let url = format!("ws://{addr}/");
    let warm = tokio::process::Command::new("node")
        .args([hold, &url, "10", "500"])
        .status()
        .await
        .expect("node");
    assert!(warm.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (bytes, blocks) = counting::live();
    let mut clients = tokio::process::Command::new("node")
        .args([hold, &url, &n.to_string(), "3000"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let live = capnweb::session::live_sessions();
    let per = (counting::live().0 - bytes) / n;
    let per_blocks = (counting::live().1 - blocks) as f64 / n as f64;
    println!("{codec:?}: {live} sessions, {per} heap bytes and {per_blocks:.1} blocks each");
    let _ = clients.wait().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    println!(
        "after they closed: {} sessions, {} heap bytes over the start",
        capnweb::session::live_sessions(),
        counting::live().0 - bytes
    );
}
