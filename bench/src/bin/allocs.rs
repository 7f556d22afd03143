//! Heap allocations per call, client and server together, over a loopback WebSocket and in an
//! HTTP batch: `cargo run --release --manifest-path bench/Cargo.toml --bin allocs`.
//!
//! A counting allocator wraps the system one, so this is its own binary: the timed benchmarks
//! run without the counter.

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::IntoFuture;
use std::sync::atomic::{AtomicU64, Ordering};

use capnweb::transport::websocket::ConnectOptions;
use capnweb_examples::interop::TestTargetClient;
use futures_util::future::join_all;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to `System` with the caller's own arguments, so `System`'s
// guarantees are the caller's; counting touches no memory the allocator hands out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as received (see the impl's comment).
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received (see the impl's comment).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as received (see the impl's comment).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations per unit of `work`, which does `units` units.
async fn per_unit<F: std::future::Future<Output = ()>>(units: u64, work: F) -> f64 {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    work.await;
    (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / units as f64
}

/// Allocations per call at 1 and at 256 in flight through `main`.
async fn websocket(main: &TestTargetClient) -> (f64, f64) {
    // Warm up: tables and buffers reach their working size.
    join_all((0..2000).map(|i| main.square(i as f64).into_future())).await;
    const N: u64 = 20_000;
    let one = per_unit(N, async {
        for i in 0..N {
            main.square(i as f64).await.expect("square");
        }
    })
    .await;
    let many = per_unit(N, async {
        for chunk in 0..N / 256 {
            let calls = (0..256).map(|i| main.square((chunk * 256 + i) as f64).into_future());
            for r in join_all(calls).await {
                r.expect("square");
            }
        }
    })
    .await;
    (one, many)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    use capnweb::transport::websocket::codec::{self, Codec};
    let mut addrs = Vec::new();
    for c in [Codec::Tungstenite, Codec::Builtin] {
        let (addr, serve) = capnweb::Server::bind("127.0.0.1:0")
            .websocket_codec(c)
            .listen(capnweb_examples::interop::test_target)
            .await
            .expect("bind");
        tokio::spawn(serve);
        addrs.push(addr);
    }
    let limit = ConnectOptions::new().max_message_size(1 << 26);
    let transport = capnweb::transport::websocket::connect(&format!("ws://{}/", addrs[0]), &limit)
        .await
        .expect("connect");
    let session = capnweb::RpcSession::spawn(transport, None, capnweb::SessionOptions::default());
    let (one, many) = websocket(&TestTargetClient::from(session.main())).await;
    let socket = codec::connect(&format!("ws://{}/", addrs[1]), &limit)
        .await
        .expect("connect");
    let session = capnweb::RpcSession::spawn(socket, None, capnweb::SessionOptions::default());
    let (codec_one, codec_many) = websocket(&TestTargetClient::from(session.main())).await;
    let http = format!("http://{}/", addrs[0]);
    let batch = per_unit(10 * 1000, async {
        for _ in 0..10 {
            let batch = capnweb::HttpBatch::<TestTargetClient>::new(&http);
            let main = batch.main();
            let calls = (0..1000).map(|i| main.square(i as f64).into_future());
            for r in join_all(calls).await {
                r.expect("batch square");
            }
        }
    })
    .await;
    println!("allocations per call, client and server together:");
    println!("  WebSocket (tungstenite), 1 in flight      {one:6.1}");
    println!("  WebSocket (tungstenite), 256 in flight    {many:6.1}");
    println!("  built-in WebSocket codec, 1 in flight     {codec_one:6.1}");
    println!("  built-in WebSocket codec, 256 in flight   {codec_many:6.1}");
    println!("  HTTP batch of 1,000                       {batch:6.1}");
}
