//! Heap bytes a server holds per idle WebSocket session, counted by the allocator (RSS also
//! counts what the allocator keeps): `idle_heap [tungstenite|builtin] [sessions]`. The clients
//! run in another process (Node's `ws`, from `tests/node`), so only the server is counted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use capnweb::transport::websocket::codec::Codec;

struct Counting;

static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);
static LIVE_BLOCKS: AtomicI64 = AtomicI64::new(0);

// SAFETY: every method forwards to `System` with the caller's own arguments, so `System`'s
// guarantees are the caller's; counting touches no memory the allocator hands out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        LIVE_BLOCKS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as received (see the impl's comment).
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        LIVE_BLOCKS.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: forwarded as received (see the impl's comment).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        // SAFETY: forwarded as received (see the impl's comment).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

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
    let (bytes, blocks) = (
        LIVE_BYTES.load(Ordering::Relaxed),
        LIVE_BLOCKS.load(Ordering::Relaxed),
    );
    let mut clients = tokio::process::Command::new("node")
        .args([hold, &url, &n.to_string(), "3000"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let live = capnweb::session::live_sessions();
    let per = (LIVE_BYTES.load(Ordering::Relaxed) - bytes) / n;
    let per_blocks = (LIVE_BLOCKS.load(Ordering::Relaxed) - blocks) as f64 / n as f64;
    println!("{codec:?}: {live} sessions, {per} heap bytes and {per_blocks:.1} blocks each");
    let _ = clients.wait().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    println!(
        "after they closed: {} sessions, {} heap bytes over the start",
        capnweb::session::live_sessions(),
        LIVE_BYTES.load(Ordering::Relaxed) - bytes
    );
}
