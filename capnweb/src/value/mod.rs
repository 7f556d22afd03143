//! The dynamic [`Value`]: everything a Cap'n Web message can carry.
//!
//! This module is pure data: it knows nothing of the wire syntax (see [`crate::wire`]) nor of
//! sessions. Capabilities appear here only as opaque [`Stub`] handles. [`to_value`] and
//! [`from_value`] bridge it to any serde type.

mod de;
mod js_option;
mod macros;
mod magic;
mod number;
mod ser;
mod serde_impls;
mod special;
mod value_error;

pub use de::from_value;
pub use js_option::JsOption;
pub use number::Number;
pub use ser::to_value;
pub use special::{BigInt, ByteKind, Bytes, Date, ErrorValue, OpaqueInit, RegExp};
pub use value_error::ValueError;

use crate::stream::{Blob, ReadableStream, WritableStream};
use crate::stub::Stub;

/// How deep a value composed at run time may nest: a promise replaced by its resolution, the
/// results of a `map`. Each message is bounded by [`Limits::max_depth`](crate::wire::Limits)
/// alone; values built from many are refused past this depth, so that nothing recursive on a
/// value a peer shaped (clone, drop, writing it) can overflow the stack.
pub const MAX_COMPOSED_DEPTH: usize = 512;

/// An ordered map of property names to values; insertion order is kept, as in JavaScript.
pub type Object = indexmap::IndexMap<String, Value>;

/// A dynamically typed Cap'n Web value.
///
/// It mirrors what a JavaScript peer can send: JSON values plus `undefined`, non-finite numbers,
/// bigints, dates, byte arrays, errors, URLs, `Headers`, `Request` and `Response`, and
/// references to remote (or local) objects.
///
/// ```
/// use capnweb::Value;
/// let v = Value::from(vec![Value::from(1), Value::Undefined, Value::from("x")]);
/// assert_eq!(v.as_array().unwrap().len(), 3);
/// ```
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// JavaScript `undefined`.
    #[default]
    Undefined,
    /// JSON `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number: an integer, or any `f64` including the non-finite ones.
    Number(Number),
    /// A string.
    String(String),
    /// A string only UTF-16 can hold: a JavaScript string with an unpaired surrogate (as
    /// `"\ud800"` on the wire), as its code units. Every other string is a
    /// [`String`](Value::String). It goes back to the peer exactly as it came; as a Rust
    /// `String` parameter it is a `TypeError` (take a [`Value`] to accept it).
    Utf16(Vec<u16>),
    /// An array.
    Array(Vec<Value>),
    /// A plain object, key order preserved.
    Object(Object),
    /// An arbitrary-precision integer (`bigint`).
    BigInt(BigInt),
    /// A `Date`.
    Date(Date),
    /// A byte container (`Uint8Array` by default).
    Bytes(Bytes),
    /// An `Error`.
    Error(Box<ErrorValue>),
    /// A `URL`, as its `href`.
    Url(String),
    /// A `RegExp`.
    RegExp(Box<RegExp>),
    /// A Fetch API `Headers` object, as ordered name/value pairs.
    Headers(Vec<(String, String)>),
    /// A Fetch API `Request`: its URL and its constructor's `init` object.
    Request(Box<(String, OpaqueInit)>),
    /// A Fetch API `Response`: its body and its constructor's `init` object.
    Response(Box<(Value, OpaqueInit)>),
    /// A reference to an object that can be called: delivered as is, never awaited.
    Stub(Stub),
    /// A promise for a value. Promises in a message are replaced by their resolution before the
    /// message reaches the application; a promise in a value being sent is pipelined.
    Promise(Stub),
    /// A `ReadableStream`: chunks arriving from (or to be pumped to) the peer.
    Readable(ReadableStream),
    /// A `WritableStream`: a sink the peer (or this side) writes chunks into.
    Writable(WritableStream),
    /// A `Blob`: bytes with a MIME type.
    Blob(Box<Blob>),
}

impl Value {
    /// The array inside, if this is an array.
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The object inside, if this is an object.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// This number as an `f64`, if it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(n.as_f64()),
            _ => None,
        }
    }

    /// This number as an `i64`, if it is an integral number that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// The boolean inside, if this is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The capability inside, if this is a stub or a promise.
    pub fn as_stub(&self) -> Option<&Stub> {
        match self {
            Value::Stub(s) | Value::Promise(s) => Some(s),
            _ => None,
        }
    }

    /// A field of an object by name.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|o| o.get(key))
    }

    /// Whether this is `null` or `undefined`.
    pub fn is_nullish(&self) -> bool {
        matches!(self, Value::Null | Value::Undefined)
    }

    /// The JavaScript `typeof`-like name of this value's kind, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Undefined => "undefined",
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) | Value::Utf16(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            Value::BigInt(_) => "bigint",
            Value::Date(_) => "Date",
            Value::Bytes(_) => "bytes",
            Value::Error(_) => "Error",
            Value::Url(_) => "URL",
            Value::RegExp(_) => "RegExp",
            Value::Headers(_) => "Headers",
            Value::Request(_) => "Request",
            Value::Response(_) => "Response",
            Value::Stub(_) => "stub",
            Value::Promise(_) => "promise",
            Value::Readable(_) => "ReadableStream",
            Value::Writable(_) => "WritableStream",
            Value::Blob(_) => "Blob",
        }
    }

    /// About how many bytes this value holds in memory, itself and all it owns (what a peer
    /// makes us hold by sending it): every node, string, byte and property counted, however
    /// deep or exotic (a `RegExp`, a UTF-16 string, an `Error`'s properties, a `Request`).
    pub(crate) fn held_bytes(&self) -> usize {
        use std::mem::size_of;
        let object = |o: &Object| {
            let mut n = o.capacity() * (size_of::<(String, Value)>() + size_of::<usize>());
            for (k, v) in o {
                n += k.capacity() + v.held_bytes() - size_of::<Value>();
            }
            n
        };
        let init = |i: &OpaqueInit| {
            let mut n = i.fields.capacity() * size_of::<(String, Value)>();
            for (k, v) in &i.fields {
                n += k.capacity() + v.held_bytes() - size_of::<Value>();
            }
            n + i.body.as_ref().map_or(0, Value::held_bytes)
        };
        size_of::<Value>()
            + match self {
                Value::String(s) | Value::Url(s) => s.capacity(),
                Value::Utf16(u) => u.capacity() * 2,
                Value::Array(a) => {
                    let mut n = a.capacity() * size_of::<Value>();
                    for v in a {
                        n += v.held_bytes() - size_of::<Value>();
                    }
                    n
                }
                Value::Object(o) => object(o),
                Value::BigInt(b) => b.as_str().len(),
                Value::Bytes(b) => b.data.capacity(),
                Value::Error(e) => {
                    size_of::<ErrorValue>()
                        + e.name.capacity()
                        + e.message.capacity()
                        + e.stack.as_ref().map_or(0, String::capacity)
                        + object(&e.props)
                }
                Value::RegExp(r) => size_of::<RegExp>() + r.source.capacity() + r.flags.capacity(),
                Value::Headers(h) => {
                    let mut n = h.capacity() * size_of::<(String, String)>();
                    for (k, v) in h {
                        n += k.capacity() + v.capacity();
                    }
                    n
                }
                Value::Request(r) => {
                    size_of::<(String, OpaqueInit)>() + r.0.capacity() + init(&r.1)
                }
                Value::Response(r) => {
                    size_of::<(Value, OpaqueInit)>() + r.0.held_bytes() + init(&r.1)
                }
                Value::Blob(b) => size_of::<Blob>() + b.content_type.capacity() + b.data.capacity(),
                _ => 0,
            }
    }

    /// How deep this value nests (a scalar is 1, `[[]]` is 2), counted up to `limit` + 1 at
    /// most: a scan bounded by the limit, however deep the value.
    pub(crate) fn depth_within(&self, limit: usize) -> usize {
        if limit == 0 {
            return 1;
        }
        let inner = |values: &mut dyn Iterator<Item = &Value>| {
            let mut deepest = 0;
            for v in values {
                deepest = deepest.max(v.depth_within(limit - 1));
                if deepest > limit - 1 {
                    break;
                }
            }
            deepest
        };
        1 + match self {
            Value::Array(a) => inner(&mut a.iter()),
            Value::Object(o) => inner(&mut o.values()),
            Value::Error(e) => inner(&mut e.props.values()),
            Value::Response(r) => r.0.depth_within(limit - 1),
            _ => 0,
        }
    }

    /// Whether any promise is nested in this value (so it must be resolved before delivery).
    pub(crate) fn contains_promise(&self) -> bool {
        // Plain loops: one small frame per level of nesting.
        match self {
            Value::Promise(_) => true,
            Value::Array(a) => {
                for v in a {
                    if v.contains_promise() {
                        return true;
                    }
                }
                false
            }
            Value::Object(o) => Value::any_contains_promise(o),
            Value::Error(e) => Value::any_contains_promise(&e.props),
            Value::Response(r) => r.0.contains_promise(),
            _ => false,
        }
    }

    fn any_contains_promise(o: &Object) -> bool {
        for v in o.values() {
            if v.contains_promise() {
                return true;
            }
        }
        false
    }
}

/// Structural equality. Stubs and streams compare by identity; `NaN` equals `NaN` so that round-trip tests
/// can compare values.
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        use Value::{
            Array, BigInt, Blob, Bool, Bytes, Date, Error, Headers, Null, Number, Object, Promise,
            Readable, RegExp, Request, Response, String, Stub, Undefined, Url, Utf16, Writable,
        };
        match (self, other) {
            (Undefined, Undefined) | (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (Number(a), Number(b)) => a == b,
            (String(a), String(b)) | (Url(a), Url(b)) => a == b,
            (RegExp(a), RegExp(b)) => a == b,
            (Utf16(a), Utf16(b)) => a == b,
            (Array(a), Array(b)) => a == b,
            (Object(a), Object(b)) => a.len() == b.len() && a.iter().eq(b.iter()),
            (BigInt(a), BigInt(b)) => a == b,
            (Date(a), Date(b)) => a == b,
            (Bytes(a), Bytes(b)) => a == b,
            (Error(a), Error(b)) => a == b,
            (Headers(a), Headers(b)) => a == b,
            (Request(a), Request(b)) => a == b,
            (Response(a), Response(b)) => a == b,
            (Stub(a), Stub(b)) | (Promise(a), Promise(b)) => a.same(b),
            (Readable(a), Readable(b)) => a.same(b),
            (Writable(a), Writable(b)) => a.same(b),
            (Blob(a), Blob(b)) => a == b,
            _ => false,
        }
    }
}

macro_rules! from_number {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Value { Value::Number(Number::from(n)) }
        }
    )*};
}
from_number!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, isize, usize);

/// Beyond 64 bits a JavaScript number cannot hold it exactly: a bigint can.
impl From<i128> for Value {
    fn from(n: i128) -> Value {
        match u64::try_from(n) {
            Ok(u) => Value::from(u),
            Err(_) => i64::try_from(n).map_or(Value::BigInt(BigInt::from(n)), Value::from),
        }
    }
}

/// Beyond 64 bits a JavaScript number cannot hold it exactly: a bigint can.
impl From<u128> for Value {
    fn from(n: u128) -> Value {
        u64::try_from(n).map_or(Value::BigInt(BigInt::from(n)), Value::from)
    }
}

/// Each kind a variant holds as it is.
macro_rules! from_variant {
    ($($t:ty => $variant:ident),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value { Value::$variant(v) }
        }
    )*};
}
from_variant!(
    bool => Bool, String => String, Vec<Value> => Array, Object => Object, Stub => Stub,
    ReadableStream => Readable, WritableStream => Writable, Date => Date, BigInt => BigInt,
    Bytes => Bytes,
);

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}
impl From<Blob> for Value {
    fn from(b: Blob) -> Value {
        Value::Blob(Box::new(b))
    }
}
impl From<ErrorValue> for Value {
    fn from(e: ErrorValue) -> Value {
        Value::Error(Box::new(e))
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Value {
        o.map_or(Value::Null, Into::into)
    }
}
impl From<RegExp> for Value {
    fn from(r: RegExp) -> Value {
        Value::RegExp(Box::new(r))
    }
}
impl<T: Into<Value>> From<super::JsOption<T>> for Value {
    fn from(o: super::JsOption<T>) -> Value {
        match o {
            super::JsOption::Undefined => Value::Undefined,
            super::JsOption::Null => Value::Null,
            super::JsOption::Some(v) => v.into(),
        }
    }
}
/// `undefined`, as a JavaScript function that returns nothing.
impl From<()> for Value {
    fn from((): ()) -> Value {
        Value::Undefined
    }
}

/// A value of another kind than the one asked for, given back whole.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("expected {expected}, got a value of kind {}", .value.kind_name())]
pub struct WrongKind {
    /// The kind asked for.
    pub expected: &'static str,
    /// The value, unchanged.
    pub value: Value,
}

macro_rules! try_from_value {
    ($($t:ty => $kind:literal, $pat:pat => $out:expr;)*) => {$(
        impl TryFrom<Value> for $t {
            type Error = WrongKind;
            fn try_from(v: Value) -> Result<$t, WrongKind> {
                match v {
                    $pat => Ok($out),
                    value => Err(WrongKind { expected: $kind, value }),
                }
            }
        }
    )*};
}
try_from_value! {
    String => "a string", Value::String(s) => s;
    bool => "a boolean", Value::Bool(b) => b;
    f64 => "a number", Value::Number(n) => n.as_f64();
    Date => "a Date", Value::Date(d) => d;
    BigInt => "a bigint", Value::BigInt(b) => b;
    Bytes => "bytes", Value::Bytes(b) => b;
    Stub => "a stub", Value::Stub(s) | Value::Promise(s) => s;
    ErrorValue => "an Error", Value::Error(e) => *e;
    ReadableStream => "a ReadableStream", Value::Readable(s) => s;
    WritableStream => "a WritableStream", Value::Writable(s) => s;
    Vec<Value> => "an array", Value::Array(a) => a;
    Object => "an object", Value::Object(o) => o;
}
