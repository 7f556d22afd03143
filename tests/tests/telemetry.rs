//! Telemetry in the ecosystem's forms: tracing spans for sessions and calls, on both sides,
//! named with OpenTelemetry's RPC conventions (so tracing-opentelemetry exports them as they
//! are).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use capnweb::Server;
use capnweb_examples::interop::{test_target, TestTargetClient};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// A closed span: its name and fields.
type Closed = (String, BTreeMap<String, String>);

/// Collects every span's fields, as recorded, when it closes.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Closed>>>);

struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields(BTreeMap::new());
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(fields) = span.extensions_mut().get_mut::<Fields>() {
                values.record(fields);
            }
        }
    }
    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            let fields = span
                .extensions_mut()
                .remove::<Fields>()
                .map(|f| f.0)
                .unwrap_or_default();
            self.0
                .lock()
                .unwrap()
                .push((span.name().to_owned(), fields));
        }
    }
}

fn find<'a>(spans: &'a [Closed], name: &str, want: &[(&str, &str)]) -> Option<&'a Closed> {
    spans.iter().find(|(n, fields)| {
        n == name
            && want
                .iter()
                .all(|(k, v)| fields.get(*k).map(String::as_str) == Some(*v))
    })
}

// One thread, so that the subscriber set for this test sees the server's tasks too.
#[tokio::test(flavor = "current_thread")]
async fn sessions_and_calls_are_spans_with_opentelemetry_names_on_both_sides() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let (addr, run) = Server::bind("127.0.0.1:0")
        .listen(test_target)
        .await
        .unwrap();
    let server = tokio::spawn(run);
    let url = format!("ws://{addr}/");
    let main: TestTargetClient = capnweb::connect(&url).await.unwrap();
    assert_eq!(main.square(3).await.unwrap(), 9.0);
    let error = main.throw_error().await.unwrap_err();
    assert_eq!(error.name(), "RangeError");
    // Dropping the client ends both sessions, which closes their spans.
    drop(main);
    for _ in 0..200 {
        let both = {
            let closed = capture.0.lock().unwrap();
            find(&closed, "capnweb.session", &[("otel.kind", "server")]).is_some()
                && find(&closed, "capnweb.session", &[("otel.kind", "client")]).is_some()
        };
        if both {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    server.abort();

    let spans = capture.0.lock().unwrap().clone();
    let names = |spans: &[Closed]| format!("{spans:#?}");
    for kind in ["server", "client"] {
        let square = find(
            &spans,
            "capnweb.call",
            &[
                ("otel.kind", kind),
                ("otel.name", "capnweb/square"),
                ("rpc.system", "capnweb"),
                ("rpc.method", "square"),
            ],
        );
        let square =
            square.unwrap_or_else(|| panic!("no {kind} span of square in {}", names(&spans)));
        assert!(!square.1.contains_key("otel.status_code"), "{square:?}");
        find(
            &spans,
            "capnweb.call",
            &[
                ("otel.kind", kind),
                ("rpc.method", "throwError"),
                ("otel.status_code", "ERROR"),
                ("error.type", "RangeError"),
            ],
        )
        .unwrap_or_else(|| panic!("no failed {kind} span of throwError in {}", names(&spans)));
    }
    let peer = find(
        &spans,
        "capnweb.session",
        &[("otel.kind", "server"), ("rpc.system", "capnweb")],
    )
    .unwrap_or_else(|| panic!("no server session span in {}", names(&spans)));
    assert!(
        peer.1["network.peer.address"].starts_with("127.0.0.1:"),
        "{peer:?}"
    );
    find(
        &spans,
        "capnweb.session",
        &[
            ("otel.kind", "client"),
            ("network.peer.address", &addr.to_string()),
        ],
    )
    .unwrap_or_else(|| panic!("no client session span in {}", names(&spans)));
}
