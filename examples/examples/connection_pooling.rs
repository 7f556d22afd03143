//! A pool of sessions: work spreads over them, and the pool keeps serving while one dies. It
//! starts its own server; run it with `cargo run --example connection_pooling`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use capnweb::{rpc_interface, Client, RpcError, Server};

#[rpc_interface]
pub trait Work {
    /// Takes `ms` milliseconds, then says which connection served it.
    async fn job(&self, ms: u64) -> Result<u64, RpcError>;
}

struct Worker(u64);

impl Work for Worker {
    async fn job(&self, ms: u64) -> Result<u64, RpcError> {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(self.0)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let connections = Arc::new(AtomicU64::new(0));
    let (addr, serve) = Server::bind("127.0.0.1:0")
        .listen(move || WorkServer::new(Worker(connections.fetch_add(1, Ordering::Relaxed))))
        .await?;
    tokio::spawn(serve);

    let client = Client::<WorkClient>::builder()
        .endpoint(format!("ws://127.0.0.1:{}/", addr.port()))
        .pool_size(4)
        .connect()
        .await?;
    while client.sessions().len() < 4 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let start = Instant::now();
    let jobs: Vec<_> = (0..200)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.run(|w| w.job(5)).await })
        })
        .collect();
    let mut served_by = std::collections::BTreeMap::new();
    for (i, job) in jobs.into_iter().enumerate() {
        if i == 100 {
            // One session dies mid-way; the others carry on, and it is replaced.
            client.sessions()[0].abort(RpcError::error("a session dies"));
        }
        if let Ok(conn) = job.await? {
            *served_by.entry(conn).or_insert(0) += 1;
        }
    }
    println!(
        "200 jobs in {:?}, per connection: {served_by:?}",
        start.elapsed()
    );
    let stats = client.stats();
    println!(
        "calls {}, errors {}, retries {}, reconnects {}, p50 {:?}, p99 {:?}",
        stats.calls,
        stats.errors,
        stats.retries,
        stats.reconnects,
        stats.latency_p50,
        stats.latency_p99
    );
    Ok(())
}
