//! The non-JSON values: bigint, date, bytes, errors, and the opaque Fetch API `init` objects.

use std::fmt;

use super::{Object, Value};

/// A JavaScript `RegExp`, as its `source` and `flags` (`["regexp", source, flags?]`, from the
/// reference's next release on; the flags are left out when empty). Carried, not compiled.
///
/// ```
/// use capnweb::{RegExp, Value};
/// let v = capnweb::deserialize(r#"["regexp","^a+$","gi"]"#).unwrap();
/// assert_eq!(v, Value::RegExp(Box::new(RegExp { source: "^a+$".into(), flags: "gi".into() })));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RegExp {
    /// The pattern, as `RegExp.prototype.source` gives it.
    pub source: String,
    /// The flags (`"gi"`, say), possibly empty.
    pub flags: String,
}

/// An arbitrary-size integer, kept as its canonical decimal text (`-?[0-9]+`).
///
/// ```
/// use capnweb::BigInt;
/// let b: BigInt = "-123456789012345678901234567890".parse().unwrap();
/// assert_eq!(b.as_str(), "-123456789012345678901234567890");
/// assert_eq!(BigInt::from(42i64).to_i128(), Some(42));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BigInt(String);

/// A decimal text that is not `-?[0-9]+`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid bigint literal (expected -?[0-9]+)")]
pub struct InvalidBigInt;

impl BigInt {
    /// The decimal text, without leading zeros (`0` for zero, never `-0`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number of decimal digits, not counting the sign.
    pub fn digits(&self) -> usize {
        self.0.trim_start_matches('-').len()
    }

    /// The value as an `i128`, if it fits.
    pub fn to_i128(&self) -> Option<i128> {
        self.0.parse().ok()
    }
}

impl std::str::FromStr for BigInt {
    type Err = InvalidBigInt;
    fn from_str(s: &str) -> Result<BigInt, InvalidBigInt> {
        let (neg, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidBigInt);
        }
        let trimmed = digits.trim_start_matches('0');
        Ok(BigInt(match (trimmed.is_empty(), neg) {
            (true, _) => "0".to_owned(),
            (false, true) => format!("-{trimmed}"),
            (false, false) => trimmed.to_owned(),
        }))
    }
}

impl fmt::Display for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! bigint_from {
    ($($t:ty),*) => {$(
        impl From<$t> for BigInt {
            fn from(n: $t) -> BigInt { BigInt(n.to_string()) }
        }
    )*};
}
bigint_from!(i8, i16, i32, i64, i128, u8, u16, u32, u64, u128, isize, usize);

/// A JavaScript `Date`: milliseconds since the Unix epoch, or an invalid date (`NaN`).
#[derive(Clone, Copy, Debug)]
pub struct Date(pub f64);

/// The largest time a JavaScript `Date` holds, in milliseconds either side of the epoch.
const MAX_TIME: f64 = 8.64e15;

impl Date {
    /// A date at this many milliseconds since the epoch, as JavaScript's `new Date(ms)`:
    /// truncated to a whole millisecond, and invalid beyond ±8.64e15 (±100,000,000 days).
    pub fn from_millis(ms: f64) -> Date {
        if ms.is_finite() && ms.abs() <= MAX_TIME {
            Date(ms.trunc() + 0.0)
        } else {
            Date::invalid()
        }
    }
    /// The invalid date (`new Date(NaN)`).
    pub fn invalid() -> Date {
        Date(f64::NAN)
    }
    /// Milliseconds since the epoch, or `None` for an invalid date.
    pub fn millis(&self) -> Option<f64> {
        (self.0.is_finite() && self.0.abs() <= MAX_TIME).then_some(self.0)
    }
}

impl PartialEq for Date {
    fn eq(&self, other: &Date) -> bool {
        self.millis() == other.millis()
    }
}

impl From<std::time::SystemTime> for Date {
    fn from(t: std::time::SystemTime) -> Date {
        match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Date(d.as_millis() as f64),
            Err(e) => Date(-(e.duration().as_millis() as f64)),
        }
    }
}

/// Which JavaScript container a byte string travels as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ByteKind {
    /// `Uint8Array`, the default (sent without a type marker).
    #[default]
    Uint8Array,
    /// `ArrayBuffer`.
    ArrayBuffer,
    /// `DataView`.
    DataView,
    /// `Int8Array`.
    Int8Array,
    /// `Uint8ClampedArray`.
    Uint8ClampedArray,
    /// `Int16Array`.
    Int16Array,
    /// `Uint16Array`.
    Uint16Array,
    /// `Int32Array`.
    Int32Array,
    /// `Uint32Array`.
    Uint32Array,
    /// `BigInt64Array`.
    BigInt64Array,
    /// `BigUint64Array`.
    BigUint64Array,
    /// `Float32Array`.
    Float32Array,
    /// `Float64Array`.
    Float64Array,
}

impl ByteKind {
    const ALL: [(ByteKind, &'static str, usize); 13] = [
        (ByteKind::Uint8Array, "Uint8Array", 1),
        (ByteKind::ArrayBuffer, "ArrayBuffer", 1),
        (ByteKind::DataView, "DataView", 1),
        (ByteKind::Int8Array, "Int8Array", 1),
        (ByteKind::Uint8ClampedArray, "Uint8ClampedArray", 1),
        (ByteKind::Int16Array, "Int16Array", 2),
        (ByteKind::Uint16Array, "Uint16Array", 2),
        (ByteKind::Int32Array, "Int32Array", 4),
        (ByteKind::Uint32Array, "Uint32Array", 4),
        (ByteKind::BigInt64Array, "BigInt64Array", 8),
        (ByteKind::BigUint64Array, "BigUint64Array", 8),
        (ByteKind::Float32Array, "Float32Array", 4),
        (ByteKind::Float64Array, "Float64Array", 8),
    ];

    /// The JavaScript class name, as written on the wire.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|e| e.0 == self)
            .map_or("Uint8Array", |e| e.1)
    }

    /// The kind for a JavaScript class name.
    pub fn from_name(name: &str) -> Option<ByteKind> {
        Self::ALL.iter().find(|e| e.1 == name).map(|e| e.0)
    }

    /// Bytes per element; the byte length must be a multiple of it.
    pub fn element_size(self) -> usize {
        Self::ALL.iter().find(|e| e.0 == self).map_or(1, |e| e.2)
    }
}

/// Bytes with the container type they travel as. Multi-byte elements are little-endian.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Bytes {
    /// The raw bytes.
    pub data: Vec<u8>,
    /// The container type.
    pub kind: ByteKind,
}

impl From<Vec<u8>> for Bytes {
    fn from(data: Vec<u8>) -> Bytes {
        Bytes {
            data,
            kind: ByteKind::Uint8Array,
        }
    }
}

/// A JavaScript `Error` as it travels: its class name, message, optional stack and extra
/// properties (such as `code` or `cause`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ErrorValue {
    /// The class name: `Error`, `TypeError`, `RangeError`, ...
    pub name: String,
    /// The message.
    pub message: String,
    /// The stack trace, if the sender chose to include one.
    pub stack: Option<String>,
    /// Extra own properties.
    pub props: Object,
}

impl ErrorValue {
    /// An error of class `name` with `message`.
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> ErrorValue {
        ErrorValue {
            name: name.into(),
            message: message.into(),
            stack: None,
            props: Object::new(),
        }
    }

    /// Adds an extra property.
    pub fn with_prop(mut self, key: impl Into<String>, value: impl Into<Value>) -> ErrorValue {
        self.props.insert(key.into(), value.into());
        self
    }
}

impl fmt::Display for ErrorValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

/// The `init` object of a `Request` or `Response`: plain JSON members, carried literally (they
/// are not expressions: an array in here is a plain JSON array), and a `Request`'s `body`, which
/// is a value of its own.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct OpaqueInit {
    /// Members other than `body`, as literal JSON (null, booleans, numbers, strings, arrays and
    /// objects only).
    pub fields: Vec<(String, Value)>,
    /// The `body` member (for a `Request`), if present.
    pub body: Option<Value>,
}
