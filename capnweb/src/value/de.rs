//! A [`Value`] into any `Deserialize` type: [`from_value`].

use serde::de::{self, DeserializeOwned, IntoDeserializer, Unexpected, Visitor};

use super::magic;
use super::{Number, Object, Value, ValueError};

/// Converts a [`Value`] into any `Deserialize` type.
///
/// The mirror of [`to_value`](crate::to_value): objects fill structs and maps, arrays fill
/// sequences and tuples, `null` and `undefined` fill `Option::None` and `()`. A number fills
/// any integer type it fits exactly (JavaScript has only `f64`, so `3.0` is a fine `u8`).
/// [`Stub`](crate::Stub)s, generated clients, [`BigInt`](super::BigInt), [`Date`](super::Date),
/// [`Bytes`](super::Bytes), [`ErrorValue`](super::ErrorValue) and [`Value`] are taken as they are.
///
/// ```
/// use capnweb::{from_value, deserialize};
/// #[derive(serde::Deserialize, Debug, PartialEq)]
/// struct Point { x: i32, y: i32, label: Option<String> }
///
/// let v = deserialize(r#"{"x": 1, "y": 2.0}"#)?;
/// assert_eq!(from_value::<Point>(v)?, Point { x: 1, y: 2, label: None });
///
/// let err = from_value::<Point>(deserialize(r#"{"x": "1", "y": 2}"#)?).unwrap_err();
/// assert_eq!(err.to_string(), r#"invalid type: string "1", expected i32"#);
/// # Ok::<(), capnweb::RpcError>(())
/// ```
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ValueError> {
    T::deserialize(ValueDeserializer(value))
}

/// The deserializer behind [`from_value`].
pub(crate) struct ValueDeserializer(pub(crate) Value);

impl Value {
    /// What serde error messages call this value.
    pub(crate) fn unexpected(&self) -> Unexpected<'_> {
        match self {
            Value::Undefined | Value::Null => Unexpected::Unit,
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Number(Number::Int(i)) => Unexpected::Signed(*i),
            Value::Number(Number::UInt(u)) => Unexpected::Unsigned(*u),
            Value::Number(Number::Float(f)) => Unexpected::Float(*f),
            Value::String(s) => Unexpected::Str(s),
            Value::Utf16(_) => Unexpected::Other("string with an unpaired surrogate (not Unicode)"),
            Value::Array(_) => Unexpected::Seq,
            Value::Object(_) => Unexpected::Map,
            other => Unexpected::Other(other.kind_name()),
        }
    }
}

impl ValueDeserializer {
    fn invalid<T>(&self, expected: &dyn de::Expected) -> Result<T, ValueError> {
        Err(de::Error::invalid_type(self.0.unexpected(), expected))
    }

    /// Integers: an integral float is an integer too, as it is in JavaScript.
    fn integer<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.0 {
            Value::Number(Number::Int(i)) => visitor.visit_i64(i),
            Value::Number(Number::UInt(u)) => visitor.visit_u64(u),
            Value::Number(Number::Float(f)) => match Number::Float(f).as_i64() {
                Some(i) => visitor.visit_i64(i),
                None => match Number::Float(f).as_u64() {
                    Some(u) => visitor.visit_u64(u),
                    None => visitor.visit_f64(f),
                },
            },
            Value::BigInt(b) => match b.to_i128() {
                Some(i) => visitor.visit_i128(i),
                None => visitor.visit_str(b.as_str()),
            },
            other => ValueDeserializer(other).deserialize_any_inner(visitor),
        }
    }

    fn deserialize_any_inner<'de, V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.0 {
            Value::Undefined | Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(Number::Int(i)) => visitor.visit_i64(i),
            Value::Number(Number::UInt(u)) => visitor.visit_u64(u),
            Value::Number(Number::Float(f)) => visitor.visit_f64(f),
            Value::String(s) | Value::Url(s) => visitor.visit_string(s),
            Value::Array(a) => visit_array(a, visitor),
            Value::Object(o) => visit_object(o, visitor),
            Value::BigInt(b) => match b.to_i128() {
                Some(i) => visitor.visit_i128(i),
                None => visitor.visit_string(b.to_string()),
            },
            Value::Date(d) => visitor.visit_f64(d.0),
            Value::Bytes(b) => visitor.visit_byte_buf(b.data),
            Value::Error(e) => {
                let mut o = Object::new();
                o.insert("name".into(), Value::String(e.name));
                o.insert("message".into(), Value::String(e.message));
                if let Some(stack) = e.stack {
                    o.insert("stack".into(), Value::String(stack));
                }
                o.extend(e.props);
                visit_object(o, visitor)
            }
            Value::Headers(h) => visit_array(
                h.into_iter()
                    .map(|(k, v)| Value::Array(vec![Value::String(k), Value::String(v)]))
                    .collect(),
                visitor,
            ),
            other => Err(de::Error::invalid_type(other.unexpected(), &visitor)),
        }
    }
}

fn visit_array<'de, V: Visitor<'de>>(a: Vec<Value>, visitor: V) -> Result<V::Value, ValueError> {
    let len = a.len();
    let mut seq = de::value::SeqDeserializer::new(a.into_iter().map(ValueDeserializer));
    let out = visitor.visit_seq(&mut seq)?;
    seq.end()
        .map_err(|_| de::Error::invalid_length(len, &"fewer elements"))?;
    Ok(out)
}

fn visit_object<'de, V: Visitor<'de>>(o: Object, visitor: V) -> Result<V::Value, ValueError> {
    let entries = o
        .into_iter()
        .map(|(k, v)| (KeyDeserializer(k), ValueDeserializer(v)));
    let mut map = de::value::MapDeserializer::new(entries);
    let out = visitor.visit_map(&mut map)?;
    map.end()?;
    Ok(out)
}

impl<'de> IntoDeserializer<'de, ValueError> for ValueDeserializer {
    type Deserializer = ValueDeserializer;
    fn into_deserializer(self) -> ValueDeserializer {
        self
    }
}

macro_rules! integers {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            self.integer(visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for ValueDeserializer {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_any_inner(visitor)
    }

    integers!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
              deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128);

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.0 {
            Value::Number(n) => visitor.visit_f64(n.as_f64()),
            _ => self.deserialize_any_inner(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.0 {
            Value::Null | Value::Undefined => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.0 {
            Value::Null | Value::Undefined => visitor.visit_unit(),
            _ => self.invalid(&visitor),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        if name == magic::TOKEN {
            magic::give_visitor(self.0);
            return visitor.visit_newtype_struct(ValueDeserializer(Value::Undefined));
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_any_inner(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_any_inner(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.0 {
            Value::String(variant) => visitor.visit_enum(variant.into_deserializer()),
            Value::Object(o) if o.len() == 1 => {
                let (variant, content) = o.into_iter().next().expect("one entry");
                visitor.visit_enum(de::value::MapAccessDeserializer::new(
                    de::value::MapDeserializer::new(std::iter::once((
                        variant,
                        ValueDeserializer(content),
                    ))),
                ))
            }
            other => Err(de::Error::invalid_type(
                other.unexpected(),
                &"a variant name or an object with one key",
            )),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        drop(self);
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool char str string seq tuple tuple_struct map struct identifier
    }
}

/// A property name, which may stand for a number key (`{"1": true}` fills a `BTreeMap<u32, _>`).
struct KeyDeserializer(String);

impl<'de> IntoDeserializer<'de, ValueError> for KeyDeserializer {
    type Deserializer = KeyDeserializer;
    fn into_deserializer(self) -> KeyDeserializer {
        self
    }
}

macro_rules! parsed_keys {
    ($($method:ident $visit:ident $t:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            match self.0.parse::<$t>() {
                Ok(n) => visitor.$visit(n),
                Err(_) => visitor.visit_string(self.0),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for KeyDeserializer {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_string(self.0)
    }

    parsed_keys!(deserialize_i8 visit_i8 i8, deserialize_i16 visit_i16 i16,
                 deserialize_i32 visit_i32 i32, deserialize_i64 visit_i64 i64,
                 deserialize_u8 visit_u8 u8, deserialize_u16 visit_u16 u16,
                 deserialize_u32 visit_u32 u32, deserialize_u64 visit_u64 u64,
                 deserialize_f32 visit_f32 f32, deserialize_f64 visit_f64 f64,
                 deserialize_bool visit_bool bool);

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_enum(self.0.into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}
