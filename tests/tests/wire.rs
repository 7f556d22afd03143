//! The wire format on its own: every message and expression form, malformed input, limits.

use capnweb::wire::{parse_expr, parse_message, write_expr, write_message, Expr, Limits, Message};
use capnweb::{Value, WireError};
use proptest::prelude::*;

fn roundtrip_message(text: &str) {
    let msg = parse_message(text, &Limits::default()).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(write_message(&msg), text, "written back differently");
}

#[test]
fn every_message_form_parses_and_writes_back_identically() {
    for text in [
        r#"["push",["pipeline",0,["square"],[5]]]"#,
        r#"["pull",1]"#,
        r#"["resolve",1,25]"#,
        r#"["reject",4,["error","RangeError","test error"]]"#,
        r#"["release",2,3]"#,
        r#"["abort",["error","Error","bye"]]"#,
        r#"["stream",["pipeline",-1,["write"],[["bytes","AQI"]]]]"#,
        r#"["pipe"]"#,
    ] {
        roundtrip_message(text);
    }
}

#[test]
fn every_expression_form_parses_and_writes_back_identically() {
    for text in [
        r#"[[1,[[2]],"x"]]"#,
        r#"["undefined"]"#,
        r#"[[["inf"],["-inf"],["nan"]]]"#,
        r#"["bytes","AQID"]"#,
        r#"["bytes","AQID","Uint8ClampedArray"]"#,
        r#"["bigint","-123"]"#,
        r#"["date",1749342170815]"#,
        r#"["date",null]"#,
        r#"["error","TypeError","m"]"#,
        r#"["error","TypeError","m","stack here"]"#,
        r#"["error","Error","m",null,{"code":[[1]]}]"#,
        r#"["url","https://x.test/"]"#,
        r#"["regexp","^a+\\/$","gi"]"#,
        r#"["regexp","x"]"#,
        r#"["headers",[["a","1"]]]"#,
        r#"["request","https://x.test/",{"method":"POST","headers":[["a","b"]],"body":"hi"}]"#,
        r#"["response",null,{"status":404}]"#,
        r#"["blob","text/plain",["readable",3]]"#,
        r#"["import",1]"#,
        r#"["import",1,["a",0]]"#,
        r#"["pipeline",1,["a"],[1,[[2]]]]"#,
        r#"["remap",1,["list"],[["import",0],["export",-2]],[["pipeline",-1,["square"],[["pipeline",0]]],{"x":["pipeline",1]}]]"#,
        r#"["export",-1]"#,
        r#"["promise",-2]"#,
        r#"["writable",-3]"#,
        r#"["readable",4]"#,
        r#"{"a":[[["date",0]]],"b":{"c":["undefined"]}}"#,
    ] {
        let e = parse_expr(text, &Limits::default()).unwrap_or_else(|err| panic!("{text}: {err}"));
        let mut out = String::new();
        write_expr(&mut out, &e);
        assert_eq!(out, text);
    }
}

fn err(text: &str) -> WireError {
    parse_message(text, &Limits::default()).expect_err(text)
}

#[test]
fn malformed_messages_get_typed_errors() {
    assert!(matches!(err("not json"), WireError::Json(_)));
    assert!(matches!(
        err(r#"{"push":1}"#),
        WireError::MalformedMessage { .. }
    ));
    assert!(matches!(err(r#"["nope",1]"#), WireError::UnknownMessage(t) if t == "nope"));
    assert!(matches!(
        err(r#"["pull","x"]"#),
        WireError::MalformedExpression { .. }
    ));
    assert!(matches!(
        err(r#"["pull",1.5]"#),
        WireError::MalformedExpression { .. }
    ));
    assert!(matches!(
        err(r#"["release",1,-1]"#),
        WireError::MalformedMessage { .. }
    ));
    assert!(matches!(
        err(r#"["push"]"#),
        WireError::MalformedMessage { .. }
    ));
    assert!(
        matches!(err(r#"["push",["date","x"]]"#), WireError::MalformedExpression { kind, .. } if kind == "date")
    );
    assert!(matches!(
        err(r#"["push",["frobnicate"]]"#),
        WireError::UnknownExpression(_)
    ));
    assert!(matches!(
        err(r#"["push",[]]"#),
        WireError::UnknownExpression(_)
    ));
    assert!(matches!(
        err(r#"["push",[[1],2]]"#),
        WireError::UnknownExpression(_)
    ));
    assert!(matches!(
        err(r#"["push",["bytes","!!"]]"#),
        WireError::MalformedExpression { .. }
    ));
    assert!(matches!(
        err(r#"["push",["remap",0,[],[["bogus",1]],[]]]"#),
        WireError::MalformedExpression { .. }
    ));
}

#[test]
fn a_hundred_thousand_deep_nesting_is_refused_without_overflowing() {
    let depth = 100_000;
    let arrays = format!("[\"push\",{}1{}]", "[".repeat(depth), "]".repeat(depth));
    assert!(matches!(err(&arrays), WireError::TooDeep { limit: 256 }));
    let objects = format!(
        "[\"push\",{}1{}]",
        "{\"a\":".repeat(depth),
        "}".repeat(depth)
    );
    assert!(matches!(err(&objects), WireError::TooDeep { limit: 256 }));
}

fn escaped_nesting(levels: usize) -> String {
    format!("{}1{}", "[[".repeat(levels), "]]".repeat(levels))
}

#[test]
fn depth_counts_an_escaped_array_once_and_includes_call_arguments() {
    // 200 escaped arrays are 400 JSON levels: serde_json's own limit (128) would refuse them.
    let ok = format!("[\"resolve\",1,{}]", escaped_nesting(200));
    assert!(parse_message(&ok, &Limits::default()).is_ok());
    let too_deep = format!("[\"resolve\",1,{}]", escaped_nesting(256));
    assert!(matches!(err(&too_deep), WireError::TooDeep { .. }));
    // Call arguments sit one level below the call.
    let args = format!(
        "[\"push\",[\"pipeline\",0,[\"f\"],[{}]]]",
        escaped_nesting(254)
    );
    assert!(parse_message(&args, &Limits::default()).is_ok());
    let args = format!(
        "[\"push\",[\"pipeline\",0,[\"f\"],[{}]]]",
        escaped_nesting(255)
    );
    assert!(matches!(err(&args), WireError::TooDeep { .. }));
    let custom = Limits {
        max_depth: 8,
        ..Limits::default()
    };
    assert!(parse_message(&format!("[\"resolve\",1,{}]", escaped_nesting(8)), &custom).is_err());
}

#[test]
fn oversized_messages_are_refused_before_parsing() {
    let big = format!("[\"resolve\",1,\"{}\"]", "x".repeat(64 * 1024 * 1024));
    assert!(matches!(err(&big), WireError::TooLarge { limit, .. } if limit == 32 * 1024 * 1024));
    let small = Limits {
        max_message_size: 16,
        ..Limits::default()
    };
    assert!(matches!(
        parse_message(r#"["resolve",1,"0123456789"]"#, &small),
        Err(WireError::TooLarge {
            size: 26,
            limit: 16
        })
    ));
}

#[test]
fn bigints_are_validated_and_bounded_before_parsing() {
    let ok = format!("[\"bigint\",\"-{}\"]", "9".repeat(16_384));
    assert!(parse_expr(&ok, &Limits::default()).is_ok());
    let long = format!("[\"bigint\",\"{}\"]", "9".repeat(16_385));
    assert!(matches!(
        parse_expr(&long, &Limits::default()),
        Err(WireError::BigIntTooLong {
            digits: 16_385,
            limit: 16_384
        })
    ));
    for bad in ["", "-", "+5", "1e5", "0x10", " 1", "1.0", "--1"] {
        let text = format!("[\"bigint\",\"{bad}\"]");
        assert!(
            parse_expr(&text, &Limits::default()).is_err(),
            "{bad:?} was accepted"
        );
    }
}

#[test]
fn keys_the_reference_drops_are_dropped() {
    for key in [
        "__proto__",
        "toJSON",
        "constructor",
        "toString",
        "valueOf",
        "hasOwnProperty",
        "isPrototypeOf",
        "propertyIsEnumerable",
        "toLocaleString",
        "__defineGetter__",
        "__defineSetter__",
        "__lookupGetter__",
        "__lookupSetter__",
    ] {
        let v = capnweb::deserialize(&format!("{{\"kept\":1,\"{key}\":2}}")).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["kept"], "key {key} was not dropped");
        let e = capnweb::deserialize(&format!(
            "[\"error\",\"Error\",\"m\",null,{{\"{key}\":1,\"code\":2}}]"
        ))
        .unwrap();
        let Value::Error(e) = e else {
            panic!("not an error")
        };
        assert_eq!(
            e.props.keys().collect::<Vec<_>>(),
            ["code"],
            "error prop {key} was not dropped"
        );
    }
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        Just(Value::Undefined),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".*".prop_map(Value::String),
        any::<i128>().prop_map(|i| Value::BigInt(i.into())),
        (-8.64e15f64..8.64e15).prop_map(|ms| Value::Date(capnweb::Date(ms.trunc()))),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| Value::Bytes(b.into())),
        ("[A-Za-z]{1,12}", ".*").prop_map(|(n, m)| Value::from(capnweb::ErrorValue::new(n, m))),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::vec(("[a-z]{0,6}", inner), 0..8).prop_map(|kv| {
                Value::Object(
                    kv.into_iter()
                        .filter(|(k, _)| !capnweb_dropped(k))
                        .collect(),
                )
            }),
        ]
    })
}

fn capnweb_dropped(k: &str) -> bool {
    ["constructor", "valueOf", "toString"].contains(&k)
}

proptest! {
    #[test]
    fn writing_then_parsing_gives_the_value_back(v in arb_value()) {
        let text = capnweb::serialize(&v).unwrap();
        let back = capnweb::deserialize(&text).unwrap();
        prop_assert_eq!(back, v);
    }

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,200}") {
        let _ = parse_message(&s, &Limits::default());
    }
}

/// Found by the fuzzer (`fuzz/`): a path index above `i64::MAX` was written back wrapped.
#[test]
fn a_path_index_above_i64_max_is_written_back_unchanged() {
    let text = r#"["import",3,[11111111111111561616,0,"b"]]"#;
    let expr = parse_expr(text, &Limits::default()).unwrap();
    let mut out = String::new();
    write_expr(&mut out, &expr);
    assert_eq!(out, text);
}

/// Found by the round-trip property test: a float in [2^63, 2^64) is written as an integer and
/// read back as an unsigned one, which must compare equal and convert to the same `u64`.
#[test]
fn a_float_between_2_63_and_2_64_equals_its_unsigned_reading() {
    use capnweb::Number;
    let f = 1.736_254_433_426_138_1e19;
    assert_eq!(Number::Float(f).as_u64(), Some(17_362_544_334_261_381_120));
    assert_eq!(Number::Float(f), Number::UInt(17_362_544_334_261_381_120));
    assert_eq!(Number::Float(1.0e20).as_u64(), None);
    assert_eq!(Number::Float(-1.0).as_u64(), None);
}

#[test]
fn members_a_newer_peer_may_add_are_ignored_as_the_reference_does() {
    let ok = |text: &str| {
        parse_message(text, &Limits::default()).unwrap_or_else(|e| panic!("{text}: {e}"))
    };
    assert_eq!(ok(r#"["pull",1,2]"#), Message::Pull { import_id: 1 });
    assert_eq!(
        ok(r#"["release",1,2,{"x":[[1]]}]"#),
        Message::Release {
            import_id: 1,
            refcount: 2
        }
    );
    assert_eq!(ok(r#"["pipe","extra"]"#), Message::Pipe);
    assert_eq!(
        ok(r#"["push",["inf",1],["more"]]"#),
        Message::Push(Expr::Number(capnweb::Number::Float(f64::INFINITY)))
    );
    let e =
        |text: &str| parse_expr(text, &Limits::default()).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert!(matches!(e(r#"["nan",null]"#), Expr::Number(n) if n.as_f64().is_nan()));
    assert_eq!(
        e(r#"["-inf",[1]]"#),
        Expr::Number(capnweb::Number::Float(f64::NEG_INFINITY))
    );
    assert_eq!(
        e(r#"["bigint","12","x"]"#),
        Expr::BigInt("12".parse().unwrap())
    );
    assert_eq!(
        e(r#"["date",5,{"tz":"UTC"}]"#),
        Expr::Date(capnweb::Date(5.0))
    );
    // The others stay exact: an extra member is an error.
    assert!(parse_expr(r#"["undefined",1]"#, &Limits::default()).is_err());
    assert!(parse_expr(r#"["export",-1,2]"#, &Limits::default()).is_err());
    // Skipped members are still bounded in depth.
    let deep = format!(
        "[\"pull\",1,{}{}]",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(matches!(
        parse_message(&deep, &Limits::default()),
        Err(WireError::TooDeep { .. })
    ));
}

#[test]
fn dates_are_clipped_as_javascript_clips_them() {
    let date = |text: &str| match parse_expr(text, &Limits::default()).unwrap() {
        Expr::Date(d) => d.millis(),
        other => panic!("{other:?}"),
    };
    assert_eq!(date(r#"["date",8.64e15]"#), Some(8.64e15));
    assert_eq!(date(r#"["date",-8.64e15]"#), Some(-8.64e15));
    assert_eq!(date(r#"["date",8.640000000000001e15]"#), None);
    assert_eq!(date(r#"["date",-9e15]"#), None);
    assert_eq!(date(r#"["date",1e300]"#), None);
    assert_eq!(date(r#"["date",-1.5]"#), Some(-1.0));
    let mut out = String::new();
    capnweb::wire::write_expr(&mut out, &Expr::Date(capnweb::Date(9e15)));
    assert_eq!(out, r#"["date",null]"#);
}

#[test]
fn a_regexp_with_empty_flags_is_written_without_them() {
    let e = parse_expr(r#"["regexp","a|b",""]"#, &Limits::default()).unwrap();
    let mut out = String::new();
    write_expr(&mut out, &e);
    assert_eq!(out, r#"["regexp","a|b"]"#);
    assert!(parse_expr(r#"["regexp"]"#, &Limits::default()).is_err());
    assert!(parse_expr(r#"["regexp",1]"#, &Limits::default()).is_err());
}
