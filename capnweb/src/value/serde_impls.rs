//! `Serialize` and `Deserialize` for [`Value`], [`Stub`] and the special types.
//!
//! With [`to_value`](crate::to_value) and [`from_value`](crate::from_value) they pass through
//! unchanged (see `magic`). With any other format they take a plain JSON shape: a bigint is its
//! decimal text, a date its milliseconds, bytes a byte string, an error an object; a stub cannot
//! leave a session, so serializing one elsewhere is an error.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, Serialize, SerializeMap, SerializeSeq, Serializer};

use super::magic;
use super::{BigInt, Bytes, Date, ErrorValue, Number, Object, Value};
use crate::stream::{Blob, ReadableStream, WritableStream};
use crate::stub::Stub;

/// Serializes `value` through the handshake if our serializer runs, else with `plain`.
fn handshake<S: Serializer>(
    s: S,
    value: impl FnOnce() -> Value,
    plain: impl FnOnce(S) -> Result<S::Ok, S::Error>,
) -> Result<S::Ok, S::Error> {
    if magic::serializing() {
        magic::give_serializer(value());
        s.serialize_newtype_struct(magic::TOKEN, &())
    } else {
        plain(s)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        handshake(s, || self.clone(), |s| self.serialize_plain(s))
    }
}

impl Value {
    fn serialize_plain<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Undefined | Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(Number::Int(i)) => s.serialize_i64(*i),
            Value::Number(Number::UInt(u)) => s.serialize_u64(*u),
            Value::Number(Number::Float(f)) => s.serialize_f64(*f),
            Value::String(v) | Value::Url(v) => s.serialize_str(v),
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Object(o) => serialize_object(s, o.iter()),
            Value::BigInt(b) => s.serialize_str(b.as_str()),
            Value::Date(d) => s.serialize_f64(d.0),
            Value::Bytes(b) => s.serialize_bytes(&b.data),
            Value::Error(e) => e.serialize_plain(s),
            Value::Headers(h) => s.collect_seq(h),
            Value::Utf16(_) => Err(ser::Error::custom(
                "a string with an unpaired surrogate is not Unicode: only capnweb can serialize it",
            )),
            other => Err(ser::Error::custom(format!(
                "a {} can only be serialized by capnweb",
                other.kind_name()
            ))),
        }
    }
}

fn serialize_object<'a, S: Serializer>(
    s: S,
    entries: impl ExactSizeIterator<Item = (&'a String, &'a Value)>,
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(entries.len()))?;
    for (k, v) in entries {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

impl ErrorValue {
    fn serialize_plain<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("name", &self.name)?;
        map.serialize_entry("message", &self.message)?;
        if let Some(stack) = &self.stack {
            map.serialize_entry("stack", stack)?;
        }
        for (k, v) in &self.props {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_newtype_struct(magic::TOKEN, ValueVisitor)
    }
}

/// Builds a [`Value`] from serde's data model (for formats other than ours).
struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any value")
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match magic::take_in_visitor() {
            Some(v) => Ok(v),
            None => d.deserialize_any(ValueVisitor),
        }
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec().into()))
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v.into()))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Object::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// Deserializes a [`Value`] and converts it with `convert`, which names what it expected.
fn via_value<'de, D: Deserializer<'de>, T>(
    d: D,
    expected: &'static str,
    convert: impl FnOnce(Value) -> Result<T, Value>,
) -> Result<T, D::Error> {
    let v = Value::deserialize(d)?;
    convert(v).map_err(|v| de::Error::invalid_type(v.unexpected(), &expected))
}

impl Serialize for Stub {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let value = || match self.is_promise() {
            true => Value::Promise(self.clone()),
            false => Value::Stub(self.clone()),
        };
        handshake(s, value, |_| {
            Err(ser::Error::custom(
                "a capability can only be sent over a capnweb session",
            ))
        })
    }
}

impl<'de> Deserialize<'de> for Stub {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Stub, D::Error> {
        via_value(d, "a capability (stub or function)", |v| match v {
            Value::Stub(s) | Value::Promise(s) => Ok(s),
            other => Err(other),
        })
    }
}

impl Serialize for BigInt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        handshake(
            s,
            || Value::BigInt(self.clone()),
            |s| s.serialize_str(self.as_str()),
        )
    }
}

impl<'de> Deserialize<'de> for BigInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<BigInt, D::Error> {
        via_value(d, "a bigint", |v| match v {
            Value::BigInt(b) => Ok(b),
            Value::Number(Number::Int(i)) => Ok(BigInt::from(i)),
            Value::Number(Number::UInt(u)) => Ok(BigInt::from(u)),
            Value::String(s) => s.parse().map_err(|_| Value::String(s)),
            other => Err(other),
        })
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        handshake(s, || Value::Date(*self), |s| s.serialize_f64(self.0))
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        via_value(d, "a date", |v| match v {
            Value::Date(d) => Ok(d),
            Value::Number(n) => Ok(Date(n.as_f64())),
            other => Err(other),
        })
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        handshake(
            s,
            || Value::Bytes(self.clone()),
            |s| s.serialize_bytes(&self.data),
        )
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        via_value(d, "bytes", |v| match v {
            Value::Bytes(b) => Ok(b),
            Value::Array(a) => {
                let data: Option<Vec<u8>> = a
                    .iter()
                    .map(|x| x.as_i64().and_then(|i| u8::try_from(i).ok()))
                    .collect();
                data.map(Bytes::from).ok_or(Value::Array(a))
            }
            other => Err(other),
        })
    }
}

impl Serialize for ErrorValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        handshake(
            s,
            || Value::Error(Box::new(self.clone())),
            |s| self.serialize_plain(s),
        )
    }
}

impl<'de> Deserialize<'de> for ErrorValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ErrorValue, D::Error> {
        via_value(d, "an error", |v| match v {
            Value::Error(e) => Ok(*e),
            Value::Object(mut o) => {
                let text = |o: &mut Object, k: &str| match o.shift_remove(k) {
                    Some(Value::String(s)) => Some(s),
                    _ => None,
                };
                let name = text(&mut o, "name").unwrap_or_else(|| "Error".into());
                let message = text(&mut o, "message").unwrap_or_default();
                let stack = text(&mut o, "stack");
                Ok(ErrorValue {
                    name,
                    message,
                    stack,
                    props: o,
                })
            }
            other => Err(other),
        })
    }
}

/// A stream can only travel over a session: it is passed through, never flattened.
macro_rules! stream_serde {
    ($ty:ident, $variant:ident, $what:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                handshake(
                    s,
                    || Value::$variant(self.clone()),
                    |_| {
                        Err(ser::Error::custom(concat!(
                            "a ",
                            $what,
                            " can only be sent over a capnweb session"
                        )))
                    },
                )
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                via_value(d, concat!("a ", $what), |v| match v {
                    Value::$variant(s) => Ok(s),
                    other => Err(other),
                })
            }
        }
    };
}

stream_serde!(ReadableStream, Readable, "ReadableStream");
stream_serde!(WritableStream, Writable, "WritableStream");

/// Elsewhere a blob is its bytes.
impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        handshake(
            s,
            || Value::Blob(Box::new(self.clone())),
            |s| s.serialize_bytes(&self.data),
        )
    }
}

/// A blob, or bytes (as a blob of unknown type).
impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Blob, D::Error> {
        via_value(d, "a Blob", |v| match v {
            Value::Blob(b) => Ok(*b),
            Value::Bytes(b) => Ok(Blob::new("", b.data)),
            other => Err(other),
        })
    }
}
