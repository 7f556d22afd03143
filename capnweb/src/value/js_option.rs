//! [`JsOption`]: an optional value that keeps JavaScript's `undefined` and `null` apart.

use serde::de::{Deserialize, DeserializeOwned, Deserializer, Error as _};
use serde::ser::{Serialize, Serializer};

use super::{from_value, Value};

/// An optional value that keeps `undefined` and `null` apart, for the interfaces where a
/// JavaScript peer means different things by them (a field left alone versus cleared, say).
///
/// `Option<T>` reads both as `None` and writes `None` as `null`. `JsOption<T>` reads and writes
/// each as itself; a parameter of this type that a caller leaves out is `Undefined`.
///
/// ```
/// use capnweb::{from_value, to_value, JsOption, Value};
/// assert_eq!(from_value::<JsOption<f64>>(Value::Undefined)?, JsOption::Undefined);
/// assert_eq!(from_value::<JsOption<f64>>(Value::Null)?, JsOption::Null);
/// assert_eq!(from_value::<JsOption<f64>>(Value::from(2.5))?, JsOption::Some(2.5));
/// assert!(matches!(to_value(&JsOption::<f64>::Undefined)?, Value::Undefined));
/// assert!(matches!(to_value(&JsOption::<f64>::Null)?, Value::Null));
/// # Ok::<(), capnweb::ValueError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum JsOption<T> {
    /// `undefined`: not given.
    #[default]
    Undefined,
    /// `null`: given as nothing.
    Null,
    /// A value.
    Some(T),
}

impl<T> JsOption<T> {
    /// The value, if there is one (both `undefined` and `null` are `None`).
    pub fn into_option(self) -> Option<T> {
        match self {
            JsOption::Some(v) => Some(v),
            JsOption::Undefined | JsOption::Null => None,
        }
    }

    /// The value by reference, if there is one.
    pub fn as_option(&self) -> Option<&T> {
        match self {
            JsOption::Some(v) => Some(v),
            JsOption::Undefined | JsOption::Null => None,
        }
    }

    /// Whether it is `undefined`.
    pub fn is_undefined(&self) -> bool {
        matches!(self, JsOption::Undefined)
    }

    /// Whether it is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, JsOption::Null)
    }
}

impl<T> From<Option<T>> for JsOption<T> {
    /// `None` is `null`, as `Option` is written.
    fn from(v: Option<T>) -> JsOption<T> {
        v.map_or(JsOption::Null, JsOption::Some)
    }
}

impl<T: Serialize> Serialize for JsOption<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            // Our serializer writes a unit as `undefined` and a none as `null`.
            JsOption::Undefined => s.serialize_unit(),
            JsOption::Null => s.serialize_none(),
            JsOption::Some(v) => v.serialize(s),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for JsOption<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<JsOption<T>, D::Error> {
        // Through `Value`, which our deserializer hands over exactly (undefined included).
        match Value::deserialize(d)? {
            Value::Undefined => Ok(JsOption::Undefined),
            Value::Null => Ok(JsOption::Null),
            v => from_value(v).map(JsOption::Some).map_err(D::Error::custom),
        }
    }
}
