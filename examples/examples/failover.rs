//! Failover: a client with two endpoints keeps working while the first server goes away and
//! comes back. It starts its own servers; run it with `cargo run --example failover`.

use std::time::Duration;

use capnweb::client::{Backoff, CircuitBreaker, ConnectionState};
use capnweb::{rpc_interface, Client, RpcError, Server};
use tokio::sync::oneshot;

#[rpc_interface]
pub trait Greeter {
    /// Which server answered.
    #[rpc(idempotent)]
    async fn name(&self) -> Result<String, RpcError>;
}

struct Named(String);

impl Greeter for Named {
    async fn name(&self) -> Result<String, RpcError> {
        Ok(self.0.clone())
    }
}

/// A running server: its port, and what stops it.
struct Running {
    port: u16,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops the server and waits until it has let go of its port.
    async fn stop(self) -> std::io::Result<()> {
        let _ = self.stop.send(());
        self.task.await.expect("the server task panicked")
    }
}

/// Starts a server named `name` on `port` (0 for any).
async fn serve(name: &str, port: u16) -> std::io::Result<Running> {
    let (stop, stopped) = oneshot::channel::<()>();
    let name = name.to_owned();
    let (addr, run) = Server::bind(format!("127.0.0.1:{port}"))
        .shutdown_grace(Duration::ZERO)
        .shutdown_on(async {
            let _ = stopped.await;
        })
        .listen(move || GreeterServer::new(Named(name.clone())))
        .await?;
    Ok(Running {
        port: addr.port(),
        stop,
        task: tokio::spawn(run),
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let primary = serve("primary", 0).await?;
    let backup = serve("backup", 0).await?;
    let (port_a, port_b) = (primary.port, backup.port);

    let client = Client::<GreeterClient>::builder()
        .endpoints([
            format!("ws://127.0.0.1:{port_a}/"),
            format!("ws://127.0.0.1:{port_b}/"),
        ])
        .backoff(Backoff::exponential(Duration::from_millis(50), Duration::from_secs(1)).jitter())
        .circuit_breaker(
            CircuitBreaker::new()
                .failure_threshold(1)
                .open_for(Duration::from_millis(500)),
        )
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await?;
    println!("answered by {}", client.run(|g| g.name()).await?);

    println!("stopping the primary");
    primary.stop().await?;
    println!("answered by {}", client.run(|g| g.name()).await?);

    println!("the primary comes back");
    let _primary = serve("primary", port_a).await?;
    tokio::time::sleep(Duration::from_millis(600)).await;
    // New sessions prefer the first endpoint again; this one lives on until it ends.
    for session in client.sessions() {
        session.abort(RpcError::error("moving back to the primary"));
    }
    println!("answered by {}", client.run(|g| g.name()).await?);

    let stats = client.stats();
    println!(
        "reconnects {}, retries {}, breaker trips {}",
        stats.reconnects, stats.retries, stats.breaker_trips
    );
    assert_eq!(
        *client.connection_state().borrow(),
        ConnectionState::Connected
    );
    Ok(())
}
