//! OpenTelemetry: our `capnweb.session` and `capnweb.call` spans, exported by
//! tracing-opentelemetry as they are, named by OpenTelemetry's RPC conventions. Here into an
//! in-memory exporter, printed at the end; in production, swap in an OTLP exporter
//! (`opentelemetry-otlp`) pointed at your collector. Run it with
//! `cargo run --example opentelemetry --features otel`.

use capnweb::Server;
use capnweb_examples::interop::{test_target, TestTargetClient};
use opentelemetry::trace::{SpanKind, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("capnweb-example")));
    tracing::subscriber::set_global_default(subscriber)?;

    let (addr, run) = Server::bind("127.0.0.1:0").listen(test_target).await?;
    tokio::spawn(run);
    let api: TestTargetClient = capnweb::connect(&format!("ws://{addr}/")).await?;
    api.square(12).await?;
    let _ = api.throw_error().await;
    drop(api);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    provider.force_flush()?;
    let spans = exporter.get_finished_spans()?;
    for span in &spans {
        let attributes: Vec<String> = span
            .attributes
            .iter()
            .map(|kv| format!("{}={}", kv.key, kv.value))
            .collect();
        println!(
            "{:?} {} [{}] {:?}",
            span.span_kind,
            span.name,
            attributes.join(", "),
            span.status
        );
    }
    let has =
        |name: &str, kind: SpanKind| spans.iter().any(|s| s.name == name && s.span_kind == kind);
    assert!(
        has("capnweb/square", SpanKind::Server),
        "the server side of the call"
    );
    assert!(
        has("capnweb/square", SpanKind::Client),
        "the client side of the call"
    );
    assert!(
        has("capnweb.session", SpanKind::Server),
        "the server's session"
    );
    let failed = spans
        .iter()
        .find(|s| s.name == "capnweb/throwError" && s.span_kind == SpanKind::Server)
        .expect("the failed call");
    assert!(
        matches!(failed.status, opentelemetry::trace::Status::Error { .. }),
        "{:?}",
        failed.status
    );
    Ok(())
}
