//! Metrics for Prometheus: the `metrics` feature counts sessions, calls (by method and
//! outcome), their latency, bytes and limit hits through the `metrics` facade, and
//! metrics-exporter-prometheus serves them as Prometheus text. Run it with
//! `cargo run --example prometheus --features metrics`; it scrapes itself once and prints what
//! it got.

use std::io::{Read, Write};

use capnweb::Server;
use capnweb_examples::interop::{test_target, TestTargetClient};
use metrics_exporter_prometheus::PrometheusBuilder;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Where Prometheus scrapes: a free port on loopback.
    let scrape = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    PrometheusBuilder::new()
        .with_http_listener(scrape)
        .install()?;

    let (addr, run) = Server::bind("127.0.0.1:0").listen(test_target).await?;
    tokio::spawn(run);
    let api: TestTargetClient = capnweb::connect(&format!("ws://{addr}/")).await?;
    for i in 0..3 {
        api.square(i).await?;
    }
    let _ = api.throw_error().await;

    // What Prometheus would read.
    let text = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut socket = std::net::TcpStream::connect(scrape)?;
        socket
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
        let mut response = String::new();
        socket.read_to_string(&mut response)?;
        Ok(response)
    })
    .await??;
    for line in text.lines().filter(|l| l.starts_with("capnweb_")) {
        println!("{line}");
    }
    let ok = r#"capnweb_calls_total{rpc_method="square",outcome="ok"} 3"#;
    let failed = r#"capnweb_calls_total{rpc_method="throwError",outcome="error"} 1"#;
    assert!(text.contains(ok), "no `{ok}` in:\n{text}");
    assert!(text.contains(failed), "no `{failed}` in:\n{text}");
    assert!(text.contains("capnweb_call_duration_seconds"), "{text}");
    Ok(())
}
