//! The serde bridge: any `Serialize` type to a value (and its wire text) and back.

use std::collections::BTreeMap;

use capnweb::{
    deserialize, from_value, serialize, to_value, BigInt, ByteKind, Bytes, Date, ErrorValue, Stub,
    Value,
};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
enum Shape {
    Dot,
    Circle(f64),
    Rect { w: u32, h: u32 },
    Pair(i8, i8),
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Record {
    id: u64,
    name: String,
    tags: Vec<String>,
    score: Option<f64>,
    shapes: Vec<Shape>,
    counts: BTreeMap<String, i32>,
    nested: Vec<Vec<u8>>,
}

fn record() -> Record {
    Record {
        id: u64::MAX,
        name: "ünï".into(),
        tags: vec!["a".into(), "b".into()],
        score: None,
        shapes: vec![
            Shape::Dot,
            Shape::Circle(1.5),
            Shape::Rect { w: 2, h: 3 },
            Shape::Pair(-1, 1),
        ],
        counts: [("x".to_owned(), -4)].into_iter().collect(),
        nested: vec![vec![1, 2], vec![]],
    }
}

/// Through the value, the wire text, and back.
fn through_wire<T: Serialize + serde::de::DeserializeOwned>(t: &T) -> T {
    let text = serialize(&to_value(t).unwrap()).unwrap();
    from_value(deserialize(&text).unwrap()).unwrap()
}

#[test]
fn a_struct_with_every_serde_shape_survives_the_wire() {
    assert_eq!(through_wire(&record()), record());
}

#[test]
fn arrays_are_escaped_and_enums_are_externally_tagged() {
    let text = serialize(&to_value(&record()).unwrap()).unwrap();
    assert_eq!(
        text,
        r#"{"id":18446744073709551615,"name":"ünï","tags":[["a","b"]],"score":null,"shapes":[["Dot",{"Circle":1.5},{"Rect":{"w":2,"h":3}},{"Pair":[[-1,1]]}]],"counts":{"x":-4},"nested":[[[[1,2]],[[]]]]}"#
    );
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Special {
    big: BigInt,
    when: Date,
    blob: Bytes,
    err: ErrorValue,
    any: Value,
    wide: i128,
}

#[test]
fn special_values_keep_their_kind_inside_structs() {
    let s = Special {
        big: "-123456789012345678901234567890".parse().unwrap(),
        when: Date::from_millis(1_749_342_170_815.0),
        blob: Bytes {
            data: vec![1, 0, 2, 0],
            kind: ByteKind::Uint16Array,
        },
        err: ErrorValue::new("RangeError", "too far").with_prop("code", 7),
        any: Value::from(vec![Value::Undefined, Value::from(f64::NAN)]),
        wide: i128::MIN,
    };
    let text = serialize(&to_value(&s).unwrap()).unwrap();
    assert_eq!(
        text,
        r#"{"big":["bigint","-123456789012345678901234567890"],"when":["date",1749342170815],"blob":["bytes","AQACAA","Uint16Array"],"err":["error","RangeError","too far",null,{"code":7}],"any":[[["undefined"],["nan"]]],"wide":["bigint","-170141183460469231731687303715884105728"]}"#
    );
    assert_eq!(
        from_value::<Special>(deserialize(&text).unwrap()).unwrap(),
        s
    );
}

#[test]
fn unit_is_undefined_and_none_is_null_and_both_read_as_none() {
    assert_eq!(to_value(&()).unwrap(), Value::Undefined);
    assert_eq!(to_value(&None::<u8>).unwrap(), Value::Null);
    assert_eq!(from_value::<Option<u8>>(Value::Undefined).unwrap(), None);
    assert_eq!(from_value::<Option<u8>>(Value::Null).unwrap(), None);
    from_value::<()>(Value::Undefined).unwrap();
}

#[test]
fn integral_floats_fill_integers_and_fractions_do_not() {
    assert_eq!(from_value::<u8>(Value::from(3.0)).unwrap(), 3);
    assert_eq!(from_value::<i64>(Value::from(-2.0)).unwrap(), -2);
    let e = from_value::<i64>(Value::from(2.5)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid type: floating point `2.5`, expected i64"
    );
    let e = from_value::<u8>(Value::from(300)).unwrap_err();
    assert_eq!(e.to_string(), "invalid value: integer `300`, expected u8");
}

#[test]
fn wrong_kinds_and_missing_fields_are_named() {
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Need {
        a: String,
        b: u32,
    }
    let e = from_value::<Need>(deserialize(r#"{"a":"x"}"#).unwrap()).unwrap_err();
    assert_eq!(e.to_string(), "missing field `b`");
    let e = from_value::<Need>(deserialize(r#"{"a":1,"b":2}"#).unwrap()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid type: integer `1`, expected a string"
    );
    let e = from_value::<Vec<u8>>(deserialize(r#"["date",0]"#).unwrap()).unwrap_err();
    assert!(
        e.to_string().starts_with("invalid type: floating point"),
        "{e}"
    );
    let e = from_value::<Stub>(Value::from(1)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid type: integer `1`, expected a capability (stub or function)"
    );
}

#[test]
fn stubs_pass_through_structs_by_identity() {
    #[derive(Serialize, Deserialize)]
    struct Holder {
        cap: Stub,
        label: String,
    }
    let stub = Stub::from_fn(|_| async { Ok(Value::Null) });
    let v = to_value(&Holder {
        cap: stub.clone(),
        label: "x".into(),
    })
    .unwrap();
    assert!(matches!(v.get("cap"), Some(Value::Stub(s)) if s.same(&stub)));
    let back: Holder = from_value(v).unwrap();
    assert!(back.cap.same(&stub));
}

#[test]
fn other_formats_get_a_plain_json_shape_and_never_a_stub() {
    let s = Special {
        big: BigInt::from(12),
        when: Date::from_millis(5.0),
        blob: Bytes::from(vec![7]),
        err: ErrorValue::new("Error", "m"),
        any: Value::from("v"),
        wide: 1,
    };
    assert_eq!(
        serde_json::to_string(&s).unwrap(),
        r#"{"big":"12","when":5.0,"blob":[7],"err":{"name":"Error","message":"m"},"any":"v","wide":1}"#
    );
    let back: Special = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(back, s);
    let stub = Stub::from_fn(|_| async { Ok(Value::Null) });
    let e = serde_json::to_string(&stub).unwrap_err();
    assert!(e.to_string().contains("capnweb session"), "{e}");
}

#[test]
fn maps_with_number_keys_become_objects() {
    let m: BTreeMap<u32, bool> = [(1, true), (20, false)].into_iter().collect();
    let v = to_value(&m).unwrap();
    assert_eq!(serialize(&v).unwrap(), r#"{"1":true,"20":false}"#);
    assert_eq!(from_value::<BTreeMap<u32, bool>>(v).unwrap(), m);
}

proptest! {
    #[test]
    fn any_record_round_trips(
        id in any::<u64>(),
        name in ".*",
        tags in proptest::collection::vec(".*", 0..4),
        score in proptest::option::of(any::<f64>().prop_filter("NaN is not equal to itself", |f| !f.is_nan())),
        nested in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..4), 0..4),
        counts in proptest::collection::btree_map(".*", any::<i32>(), 0..4),
    ) {
        let r = Record { id, name, tags, score, shapes: vec![Shape::Circle(-0.5)], counts, nested };
        prop_assert_eq!(through_wire(&r), r);
    }
}

#[test]
fn values_are_written_as_json_with_value_macro() {
    use capnweb::{value, BigInt, Bytes, Date, Value};
    let pair = |a: i32, b: i32| a + b;
    let v = value!([
        null,
        undefined,
        -1.5,
        pair(1, 2),
        [[]],
        {},
        { "a": { "b": [1, { "c": "d" }] }, "e": undefined, },
        Date::from_millis(5.0),
        "12".parse::<BigInt>().unwrap(),
        Bytes::from(vec![1u8, 2]),
        Some("x"),
        None::<bool>,
        (),
    ]);
    assert_eq!(
        capnweb::serialize(&v).unwrap(),
        r#"[[null,["undefined"],-1.5,3,[[[[]]]],{},{"a":{"b":[[1,{"c":"d"}]]},"e":["undefined"]},["date",5],["bigint","12"],["bytes","AQI"],"x",null,["undefined"]]]"#
    );
    assert_eq!(value!({}), Value::Object(capnweb::Object::new()));
    assert_eq!(value!(7), Value::from(7));
}

#[test]
fn values_convert_back_to_what_they_hold_or_say_what_they_are() {
    use capnweb::{value, Date, Value, WrongKind};
    assert_eq!(String::try_from(value!("s")).unwrap(), "s");
    assert_eq!(f64::try_from(value!(2)).unwrap(), 2.0);
    assert_eq!(
        Date::try_from(Value::from(Date::from_millis(9.0))).unwrap(),
        Date::from_millis(9.0)
    );
    let err: WrongKind = bool::try_from(value!([1])).unwrap_err();
    assert_eq!(err.expected, "a boolean");
    assert_eq!(err.value, value!([1]), "the value comes back whole");
    assert!(err.to_string().contains("array"), "{err}");
}
