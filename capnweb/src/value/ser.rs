//! Any `Serialize` type into a [`Value`]: [`to_value`].

use serde::ser::{self, Serialize};

use super::magic;
use super::{Number, Object, Value, ValueError};

/// Converts any `Serialize` type into a [`Value`].
///
/// Structs and maps become objects (field order kept), sequences and tuples arrays, `Option::None`
/// becomes `null` and `()` becomes `undefined`. Enums follow serde's default (externally tagged)
/// representation, as `serde_json` does. [`Stub`](crate::Stub)s, generated clients, [`BigInt`](super::BigInt),
/// [`Date`](super::Date), [`Bytes`](super::Bytes), [`ErrorValue`](super::ErrorValue) and
/// [`Value`] keep what they are, wherever they are nested.
///
/// ```
/// use capnweb::{to_value, Date, Value};
/// #[derive(serde::Serialize)]
/// struct Event { name: String, at: Date, tags: Vec<&'static str> }
///
/// let v = to_value(&Event { name: "launch".into(), at: Date::from_millis(0.0), tags: vec!["a"] })?;
/// assert_eq!(v.get("at"), Some(&Value::Date(Date::from_millis(0.0))));
/// assert_eq!(capnweb::serialize(&v)?, r#"{"name":"launch","at":["date",0],"tags":[["a"]]}"#);
/// # Ok::<(), capnweb::RpcError>(())
/// ```
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, ValueError> {
    let _active = magic::Serializing::enter();
    value.serialize(ValueSerializer)
}

/// The serializer behind [`to_value`].
struct ValueSerializer;

/// `serialize_i8` and friends: every primitive number becomes a [`Number`].
macro_rules! numbers {
    ($($method:ident $t:ty),*) => {$(
        fn $method(self, v: $t) -> Result<Value, ValueError> {
            Ok(Value::Number(Number::from(v)))
        }
    )*};
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = ValueError;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = Tagged<SeqBuilder>;
    type SerializeMap = ObjectBuilder;
    type SerializeStruct = ObjectBuilder;
    type SerializeStructVariant = Tagged<ObjectBuilder>;

    numbers!(serialize_i8 i8, serialize_i16 i16, serialize_i32 i32, serialize_i64 i64,
             serialize_u8 u8, serialize_u16 u16, serialize_u32 u32, serialize_u64 u64,
             serialize_f32 f32, serialize_f64 f64);

    fn serialize_bool(self, v: bool) -> Result<Value, ValueError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, ValueError> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, ValueError> {
        Ok(Value::String(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, ValueError> {
        Ok(Value::Bytes(v.to_vec().into()))
    }
    fn serialize_none(self) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, ValueError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, ValueError> {
        // What a JavaScript function without `return` gives.
        Ok(Value::Undefined)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, ValueError> {
        Ok(Value::String(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        if name == magic::TOKEN {
            if let Some(v) = magic::take_in_serializer() {
                return Ok(v);
            }
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        let mut o = Object::with_capacity(1);
        o.insert(variant.to_owned(), value.serialize(self)?);
        Ok(Value::Object(o))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, ValueError> {
        Ok(SeqBuilder(Vec::with_capacity(len.unwrap_or(0).min(4096))))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, ValueError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqBuilder, ValueError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Tagged<SeqBuilder>, ValueError> {
        Ok(Tagged(variant, self.serialize_seq(Some(len))?))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<ObjectBuilder, ValueError> {
        Ok(ObjectBuilder {
            object: Object::with_capacity(len.unwrap_or(0).min(4096)),
            key: None,
        })
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<ObjectBuilder, ValueError> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Tagged<ObjectBuilder>, ValueError> {
        Ok(Tagged(variant, self.serialize_map(Some(len))?))
    }
}

/// Builds an array.
struct SeqBuilder(Vec<Value>);

impl SeqBuilder {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.0.push(value.serialize(ValueSerializer)?);
        Ok(())
    }
}

/// Sequences, tuples and tuple structs all become arrays.
macro_rules! array_builder {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for SeqBuilder {
            type Ok = Value;
            type Error = ValueError;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
                self.push(value)
            }
            fn end(self) -> Result<Value, ValueError> {
                Ok(Value::Array(self.0))
            }
        }
    )*};
}
array_builder!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

/// Builds an object.
struct ObjectBuilder {
    object: Object,
    key: Option<String>,
}

impl ser::SerializeMap for ObjectBuilder {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ValueError> {
        self.key = Some(object_key(key.serialize(ValueSerializer)?)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| ValueError::new("map value without a key"))?;
        self.object.insert(key, value.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Object(self.object))
    }
}

/// A map key as JavaScript would make it a property name: strings as they are, numbers and
/// booleans as their text.
fn object_key(key: Value) -> Result<String, ValueError> {
    match key {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::BigInt(b) => Ok(b.to_string()),
        other => Err(ValueError::new(format!(
            "a map key must be a string or a number, not {}",
            other.kind_name()
        ))),
    }
}

impl ser::SerializeStruct for ObjectBuilder {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.object
            .insert(key.to_owned(), value.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Object(self.object))
    }
}

/// An enum variant with content: `{ "Variant": content }`.
struct Tagged<B>(&'static str, B);

impl<B> Tagged<B> {
    fn wrap(variant: &str, content: Value) -> Value {
        let mut o = Object::with_capacity(1);
        o.insert(variant.to_owned(), content);
        Value::Object(o)
    }
}

impl ser::SerializeTupleVariant for Tagged<SeqBuilder> {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.1.push(value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Self::wrap(self.0, Value::Array(self.1 .0)))
    }
}

impl ser::SerializeStructVariant for Tagged<ObjectBuilder> {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        ser::SerializeStruct::serialize_field(&mut self.1, key, value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(Self::wrap(self.0, Value::Object(self.1.object)))
    }
}
