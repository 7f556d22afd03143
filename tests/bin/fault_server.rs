//! A server process for fault tests: killed with SIGKILL and restarted by them.
//!
//! `fault_server --port P --delay-ms D` serves `Faulty` at `/` on 127.0.0.1:P, prints
//! `LISTENING <port>` once ready, and prints `RAN <tag>` the moment a `bump` starts to run (its
//! side effect), before waiting D ms to answer, and for each number written to a `sink`: the
//! tests count those lines, not what a client reports. `--trust-proxy` believes X-Forwarded-For
//! from 127.0.0.1; `--grace-ms G` is how long shutdown (SIGTERM) lets calls finish. `--health`
//! serves the probes `/livez` and `/readyz`, and `--unready-delay-ms U` is how long, on SIGTERM,
//! `/readyz` answers 503 while the server still accepts, before it stops accepting and drains.

use std::io::Write;
use std::time::Duration;

use capnweb::server::{per_connection, ConnectInfo};
use capnweb::{RpcError, Server, Value, WritableStream};
use capnweb_tests::faulty::{Faulty, FaultyServer, ListenerClient, Room, RoomClient};

struct Impl {
    delay: Duration,
    peer: String,
}

/// The side effect the tests count.
fn ran(tag: f64) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "RAN {tag}");
    let _ = out.flush();
}

impl Faulty for Impl {
    async fn bump(&self, tag: f64) -> Result<f64, RpcError> {
        ran(tag);
        tokio::time::sleep(self.delay).await;
        Ok(tag)
    }
    async fn ping(&self) -> Result<f64, RpcError> {
        Ok(1.0)
    }
    async fn record(&self, tag: f64) -> Result<f64, RpcError> {
        ran(tag);
        Ok(tag)
    }
    async fn peer(&self) -> Result<String, RpcError> {
        Ok(self.peer.clone())
    }
    async fn read(&self) -> Result<f64, RpcError> {
        tokio::time::sleep(self.delay).await;
        Ok(1.0)
    }
    async fn join(&self, name: String, listener: ListenerClient) -> Result<RoomClient, RpcError> {
        {
            let mut rooms = ROOMS.lock().unwrap();
            match rooms.iter_mut().find(|(n, _)| *n == name) {
                Some((_, listeners)) => listeners.push(listener),
                None => rooms.push((name.clone(), vec![listener])),
            }
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "JOINED {name}");
        let _ = out.flush();
        Ok(RoomClient::from_impl(RoomImpl(name, self.delay)))
    }
    async fn sink(&self) -> Result<WritableStream, RpcError> {
        let sink = futures_util::sink::unfold((), |(), chunk: Value| async move {
            ran(chunk.as_f64().unwrap_or(f64::NAN));
            Ok::<_, RpcError>(())
        });
        Ok(WritableStream::from_sink(sink))
    }
}

/// The rooms of this process, by name: their listeners.
static ROOMS: std::sync::Mutex<Vec<(String, Vec<ListenerClient>)>> =
    std::sync::Mutex::new(Vec::new());

struct RoomImpl(String, Duration);

impl Room for RoomImpl {
    async fn post(&self, tag: f64) -> Result<f64, RpcError> {
        ran(tag);
        tokio::time::sleep(self.1).await;
        let listeners = (ROOMS.lock().unwrap().iter())
            .find(|(name, _)| *name == self.0)
            .map(|(_, l)| l.clone())
            .unwrap_or_default();
        for listener in listeners {
            // A listener gone with its session is skipped.
            let _ = listener.heard(tag).await;
        }
        Ok(tag)
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
    let mut server = Server::bind(format!("127.0.0.1:{port}"));
    if std::env::args().any(|a| a == "--trust-proxy") {
        server = server.trusted_proxies(["127.0.0.1".parse().expect("an address")]);
    }
    if std::env::args().any(|a| a == "--health") {
        server = server.health_paths("/livez", "/readyz");
    }
    if let Some(delay) = arg("--unready-delay-ms") {
        server = server.unready_delay(Duration::from_millis(delay));
    }
    if let Some(grace) = arg("--grace-ms") {
        server = server.shutdown_grace(Duration::from_millis(grace));
    }
    let factory = per_connection(move |info: &ConnectInfo| {
        let peer = info.peer.map(|p| p.to_string()).unwrap_or_default();
        FaultyServer::new(Impl { delay, peer })
    });
    let (addr, serve) = server.listen(factory).await?;
    println!("LISTENING {}", addr.port());
    std::io::stdout().flush()?;
    serve.await
}
