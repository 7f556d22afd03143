//! Serves the interop test interface on 127.0.0.1 over WebSocket and HTTP batch at `/`.
//!
//! `cargo run --release --example interop_server -- --port 0` prints `LISTENING <port>` once
//! ready and exits cleanly on SIGTERM or Ctrl-C. With `--typescript` it prints the TypeScript
//! module of the interface (`TestTarget` and `Counter`) instead, and exits. With
//! `--tls CERT KEY` (PEM files) it serves `wss://` and `https://`; with `--metrics ADDR` it
//! serves its metrics as Prometheus text at `http://ADDR/metrics`: that needs the `metrics`
//! feature (`--features capnweb-examples/metrics`), and without it `--metrics` is refused.
//!
//! With `--health` it answers liveness and readiness probes at `/livez` and `/readyz`. On
//! SIGTERM (or Ctrl-C) it drains as a Kubernetes rolling update needs, and exits 0: `/readyz`
//! answers 503 at once; it goes on accepting for `--unready-delay-ms MS` (default 0), then
//! refuses new connections, lets the calls in flight finish (up to 10 s), and tells each peer
//! it is shutting down. (`Server` catches the signals itself, registered before `LISTENING`.)

use std::io::Write;

use capnweb::tls::ServerTls;
use capnweb::Server;
use capnweb_examples::interop::{test_target, typescript_module};

/// What `--metrics` without the `metrics` feature is answered with (exit status 2).
#[cfg(not(feature = "metrics"))]
const METRICS_NEEDS_FEATURE: &str = "--metrics needs the \"metrics\" feature: \
    cargo run --example interop_server --features capnweb-examples/metrics -- --metrics ADDR";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    // Refused rather than ignored: an operator who asked for metrics would get none, unawares.
    #[cfg(not(feature = "metrics"))]
    if args.iter().any(|a| a == "--metrics") {
        eprintln!("{METRICS_NEEDS_FEATURE}");
        std::process::exit(2);
    }
    if args.iter().any(|a| a == "--typescript") {
        let module = typescript_module()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        print!("{module}");
        return Ok(());
    }
    let port = args
        .iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(0), |p| p.parse::<u16>())
        .map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("--port: {e}"))
        })?;
    // Browsers on any origin may use it, over WebSocket and HTTP batch (it is a test server).
    let mut server = Server::bind(format!("127.0.0.1:{port}")).cors(["*"]);
    if args.iter().any(|a| a == "--health") {
        server = server.health_paths("/livez", "/readyz");
    }
    if let Some(i) = args.iter().position(|a| a == "--unready-delay-ms") {
        let ms = args
            .get(i + 1)
            .and_then(|ms| ms.parse::<u64>().ok())
            .ok_or_else(|| {
                let usage = "--unready-delay-ms needs a number of milliseconds";
                std::io::Error::new(std::io::ErrorKind::InvalidInput, usage)
            })?;
        server = server.unready_delay(std::time::Duration::from_millis(ms));
    }
    if let Some(i) = args.iter().position(|a| a == "--tls") {
        let (Some(cert), Some(key)) = (args.get(i + 1), args.get(i + 2)) else {
            let usage = "--tls needs a certificate file and a key file (PEM)";
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, usage));
        };
        let tls = ServerTls::from_pem(&std::fs::read(cert)?, &std::fs::read(key)?)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        server = server.tls(tls);
    }
    #[cfg(feature = "metrics")]
    if let Some(i) = args.iter().position(|a| a == "--metrics") {
        let bad = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
        let at: std::net::SocketAddr = args
            .get(i + 1)
            .ok_or_else(|| bad("--metrics needs an address".into()))?
            .parse()
            .map_err(|e| bad(format!("--metrics: {e}")))?;
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(at)
            .install()
            .map_err(|e| bad(format!("--metrics: {e}")))?;
    }
    let (addr, serve) = server.listen(test_target).await?;
    println!("LISTENING {}", addr.port());
    std::io::stdout().flush()?;
    serve.await
}
