//! Encode and decode cost of representative messages, and the server's cost of an HTTP batch
//! (criterion):
//! `cargo bench --manifest-path bench/Cargo.toml`.

use std::hint::black_box;

use capnweb::wire::{parse_message, write_value, Limits, NoExporter};
use capnweb::Value;
use criterion::{criterion_group, criterion_main, Criterion};

/// A call as the TypeScript client sends it, and a result with some structure.
const CALL: &str = r#"["push",["pipeline",0,["square"],[7]]]"#;
const RESULT: &str = r#"["resolve",3,{"id":12345,"name":"Ada Lovelace","tags":[["math","poetry"]],"joined":["date",1749342170815],"score":98.5,"active":true}]"#;

fn codec(c: &mut Criterion) {
    let limits = Limits::default();
    c.bench_function("decode call", |b| {
        b.iter(|| parse_message(black_box(CALL), &limits).unwrap())
    });
    c.bench_function("decode result", |b| {
        b.iter(|| parse_message(black_box(RESULT), &limits).unwrap())
    });
    let value = capnweb::deserialize(
        r#"{"id":12345,"name":"Ada Lovelace","tags":[["math","poetry"]],"joined":["date",1749342170815],"score":98.5,"active":true}"#,
    )
    .unwrap();
    c.bench_function("encode result", |b| {
        b.iter(|| {
            let mut out = String::with_capacity(160);
            write_value(&mut out, black_box(&value), &mut NoExporter).unwrap();
            out
        })
    });
    let _: &Value = &value;
}

/// The server's whole work on an HTTP batch body of 1,000 `square` calls (no HTTP): parsing,
/// calls, answers.
fn batch(c: &mut Criterion) {
    let body: Vec<String> = (1..=1000)
        .map(|i| format!("[\"push\",[\"pipeline\",0,[\"square\"],[{i}]]]\n[\"pull\",{i}]"))
        .collect();
    let body = body.join("\n");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let options = capnweb::SessionOptions::default();
    c.bench_function("serve batch of 1000 calls", |b| {
        b.iter(|| {
            let main = capnweb_examples::interop::test_target();
            let out = rt.block_on(capnweb::transport::http_batch::serve_batch(
                black_box(&body),
                main,
                options.clone(),
            ));
            assert_eq!(out.lines().count(), 1000);
        })
    });
}

criterion_group!(benches, codec, batch);
criterion_main!(benches);
