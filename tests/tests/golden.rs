//! Golden vectors checked against the real reference: the npm `capnweb` package's own
//! `serialize`/`deserialize`, run in Node by `node/golden.mjs`.

use capnweb::{BigInt, ByteKind, Bytes, Date, ErrorValue, Object, Value};
use capnweb_tests::{describe, golden};
use serde_json::{json, Value as Json};

fn corpus() -> Vec<Json> {
    let answer = golden(&[json!({"op": "corpus"})]);
    answer[0]["corpus"].as_array().expect("corpus").clone()
}

#[test]
fn we_read_what_the_reference_writes() {
    let corpus = corpus();
    assert!(corpus.len() > 100, "corpus too small: {}", corpus.len());
    for entry in &corpus {
        let wire = entry["wire"].as_str().unwrap();
        let ours = capnweb::deserialize(wire)
            .unwrap_or_else(|e| panic!("{}: we failed to parse {wire}: {e}", entry["name"]));
        let got = describe(&ours);
        // `decoded` is what the reference itself reads back, where that differs from the
        // original (a name that is not a built-in error class, or -0 which JSON cannot carry).
        let expected_any = [Some(&entry["desc"]), entry.get("decoded")];
        assert!(
            expected_any.iter().flatten().any(|d| **d == got),
            "{}: parsing {wire}\n expected {}\n      got {got}",
            entry["name"],
            entry["desc"]
        );
    }
}

#[test]
fn the_reference_reads_what_we_write_and_the_bytes_match() {
    let corpus = corpus();
    let mut requests = Vec::new();
    let mut ours = Vec::new();
    for entry in &corpus {
        let wire = entry["wire"].as_str().unwrap();
        let value = capnweb::deserialize(wire).unwrap();
        let written = capnweb::serialize(&value).unwrap();
        requests.push(json!({"op": "parse", "wire": written}));
        requests.push(json!({"op": "parse", "wire": wire}));
        ours.push(written);
    }
    let answers = golden(&requests);
    for (i, entry) in corpus.iter().enumerate() {
        let (from_ours, from_theirs) = (&answers[2 * i], &answers[2 * i + 1]);
        assert_eq!(
            from_ours["ok"],
            json!(true),
            "{}: the reference refused our {}: {}",
            entry["name"],
            ours[i],
            from_ours
        );
        assert_eq!(
            from_ours["desc"], from_theirs["desc"],
            "{}: ours {} reads differently",
            entry["name"], ours[i]
        );
        // Byte for byte, except where JSON allows two spellings of a number (1e21 / 1e+21).
        let wire = entry["wire"].as_str().unwrap();
        if !wire.contains("e+") {
            assert_eq!(ours[i], wire, "{}: not byte-identical", entry["name"]);
        }
    }
}

fn rust_corpus() -> Vec<(&'static str, Value)> {
    let mut obj = Object::new();
    obj.insert("undef".into(), Value::Undefined);
    obj.insert(
        "list".into(),
        Value::from(vec![Value::from("date"), Value::from(1)]),
    );
    obj.insert(
        "nested".into(),
        Value::from(vec![Value::from(vec![Value::from(vec![])])]),
    );
    let err = ErrorValue::new("TypeError", "bad")
        .with_prop("code", 42)
        .with_prop("cause", ErrorValue::new("RangeError", "inner"));
    vec![
        ("undefined", Value::Undefined),
        ("integer", Value::from(-17)),
        ("float", Value::from(0.1)),
        ("nan", Value::from(f64::NAN)),
        (
            "infinities",
            Value::from(vec![
                Value::from(f64::INFINITY),
                Value::from(f64::NEG_INFINITY),
            ]),
        ),
        (
            "bigint huge",
            Value::BigInt(
                "-123456789012345678901234567890123456789"
                    .parse::<BigInt>()
                    .unwrap(),
            ),
        ),
        ("bigint from u128", Value::BigInt(BigInt::from(u128::MAX))),
        ("date", Value::Date(Date::from_millis(1_700_000_000_123.0))),
        ("invalid date", Value::Date(Date::invalid())),
        ("bytes", Value::Bytes(Bytes::from(vec![0, 1, 2, 250, 255]))),
        (
            "int32 bytes",
            Value::Bytes(Bytes {
                data: vec![1, 0, 0, 0, 255, 255, 255, 255],
                kind: ByteKind::Int32Array,
            }),
        ),
        (
            "array buffer",
            Value::Bytes(Bytes {
                data: vec![9, 8, 7],
                kind: ByteKind::ArrayBuffer,
            }),
        ),
        ("error with props", Value::from(err)),
        ("object", Value::Object(obj)),
        ("url", Value::Url("https://example.com/a?b=c".into())),
        (
            "headers",
            Value::Headers(vec![("x-a".into(), "1".into()), ("x-b".into(), "2".into())]),
        ),
        (
            "string escapes",
            Value::from("quote \" backslash \\ newline \n tab \t nul \u{0} emoji 😀"),
        ),
    ]
}

#[test]
fn values_built_in_rust_reach_the_reference_intact() {
    let corpus = rust_corpus();
    let requests: Vec<Json> = corpus
        .iter()
        .map(|(_, v)| json!({"op": "parse", "wire": capnweb::serialize(v).unwrap()}))
        .collect();
    let answers = golden(&requests);
    for ((name, v), answer) in corpus.iter().zip(&answers) {
        assert_eq!(answer["ok"], json!(true), "{name}: refused: {answer}");
        assert_eq!(
            answer["desc"],
            describe(v),
            "{name}: the reference reads something else"
        );
        // And it writes it back the same way we do.
        assert_eq!(
            answer["reserialized"].as_str().unwrap(),
            capnweb::serialize(v).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn malformed_input_is_refused_by_both_sides() {
    let bad = [
        r#"["foo", 1]"#,
        r#"["bytes", "AQID", "Int16Array"]"#,
        r#"["bytes", "AQID", "NoSuchArray"]"#,
        r#"["bigint", "12a"]"#,
        r#"[]"#,
        r#"[1, 2]"#,
    ];
    let requests: Vec<Json> = bad
        .iter()
        .map(|w| json!({"op": "parse", "wire": w}))
        .collect();
    let answers = golden(&requests);
    for (wire, answer) in bad.iter().zip(&answers) {
        assert_eq!(answer["ok"], json!(false), "the reference accepted {wire}");
        assert!(capnweb::deserialize(wire).is_err(), "we accepted {wire}");
    }
}
