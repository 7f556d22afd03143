//! A server process for fault tests: killed with SIGKILL and restarted by them.
//!
//! `fault_server --port P --delay-ms D` serves `Faulty` at `/` on 127.0.0.1:P, prints
//! `LISTENING <port>` once ready, and prints `RAN <tag>` the moment a `bump` starts to run (its
//! side effect), before waiting D ms to answer: the tests count those lines, not what a client
//! reports.

use std::io::Write;
use std::time::Duration;

use capnweb::{RpcError, Server};
use capnweb_tests::faulty::{Faulty, FaultyServer};

struct Impl {
    delay: Duration,
}

impl Faulty for Impl {
    async fn bump(&self, tag: f64) -> Result<f64, RpcError> {
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "RAN {tag}");
            let _ = out.flush();
        }
        tokio::time::sleep(self.delay).await;
        Ok(tag)
    }
    async fn ping(&self) -> Result<f64, RpcError> {
        Ok(1.0)
    }
}

fn arg(name: &str) -> Option<u64> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1)?.parse().ok()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = arg("--port").unwrap_or(0);
    let delay = Duration::from_millis(arg("--delay-ms").unwrap_or(0));
    let (addr, serve) = Server::bind(format!("127.0.0.1:{port}"))
        .listen(move || FaultyServer::new(Impl { delay }))
        .await?;
    println!("LISTENING {}", addr.port());
    std::io::stdout().flush()?;
    serve.await
}
