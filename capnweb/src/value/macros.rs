//! [`value!`](crate::value!): a [`Value`](crate::Value) written as JSON, as `serde_json::json!`.

/// Builds a [`Value`](crate::Value) written as JSON: `null`, `undefined`, arrays, objects (in
/// the order written, keys string literals), and any expression that converts into a `Value`
/// (numbers, strings, booleans, `Date`, `BigInt`, `Bytes`, errors, stubs, streams, blobs, other
/// values, `Option`s).
///
/// ```
/// use capnweb::{value, Date, Value};
/// let name = "Ada";
/// let v = value!({
///     "name": name,
///     "tags": ["admin", 2, null, undefined],
///     "joined": Date::from_millis(0.0),
///     "nested": { "ok": true, "empty": [] },
/// });
/// assert_eq!(v.get("name").and_then(Value::as_str), Some("Ada"));
/// assert_eq!(v.get("tags").and_then(Value::as_array).map(Vec::len), Some(4));
/// assert_eq!(capnweb::serialize(&v).unwrap(),
///     r#"{"name":"Ada","tags":[["admin",2,null,["undefined"]]],"joined":["date",0],"nested":{"ok":true,"empty":[[]]}}"#);
/// ```
#[macro_export]
macro_rules! value {
    // Arrays: elements built one by one.
    (@array [$($done:expr),*]) => {
        $crate::Value::Array(::std::vec![$($done),*])
    };
    (@array [$($done:expr),*] null $(, $($rest:tt)*)?) => {
        $crate::value!(@array [$($done,)* $crate::Value::Null] $($($rest)*)?)
    };
    (@array [$($done:expr),*] undefined $(, $($rest:tt)*)?) => {
        $crate::value!(@array [$($done,)* $crate::Value::Undefined] $($($rest)*)?)
    };
    (@array [$($done:expr),*] [$($array:tt)*] $(, $($rest:tt)*)?) => {
        $crate::value!(@array [$($done,)* $crate::value!([$($array)*])] $($($rest)*)?)
    };
    (@array [$($done:expr),*] {$($object:tt)*} $(, $($rest:tt)*)?) => {
        $crate::value!(@array [$($done,)* $crate::value!({$($object)*})] $($($rest)*)?)
    };
    (@array [$($done:expr),*] $next:expr $(, $($rest:tt)*)?) => {
        $crate::value!(@array [$($done,)* $crate::Value::from($next)] $($($rest)*)?)
    };

    // Objects: members inserted one by one, in order.
    (@object $object:ident) => {};
    (@object $object:ident $key:literal : null $(, $($rest:tt)*)?) => {
        $object.insert(::std::string::String::from($key), $crate::Value::Null);
        $crate::value!(@object $object $($($rest)*)?);
    };
    (@object $object:ident $key:literal : undefined $(, $($rest:tt)*)?) => {
        $object.insert(::std::string::String::from($key), $crate::Value::Undefined);
        $crate::value!(@object $object $($($rest)*)?);
    };
    (@object $object:ident $key:literal : [$($array:tt)*] $(, $($rest:tt)*)?) => {
        $object.insert(::std::string::String::from($key), $crate::value!([$($array)*]));
        $crate::value!(@object $object $($($rest)*)?);
    };
    (@object $object:ident $key:literal : {$($inner:tt)*} $(, $($rest:tt)*)?) => {
        $object.insert(::std::string::String::from($key), $crate::value!({$($inner)*}));
        $crate::value!(@object $object $($($rest)*)?);
    };
    (@object $object:ident $key:literal : $value:expr $(, $($rest:tt)*)?) => {
        $object.insert(::std::string::String::from($key), $crate::Value::from($value));
        $crate::value!(@object $object $($($rest)*)?);
    };

    (null) => { $crate::Value::Null };
    (undefined) => { $crate::Value::Undefined };
    ([$($array:tt)*]) => { $crate::value!(@array [] $($array)*) };
    ({$($members:tt)*}) => {{
        #[allow(unused_mut)]
        let mut object = $crate::Object::new();
        $crate::value!(@object object $($members)*);
        $crate::Value::Object(object)
    }};
    ($other:expr) => { $crate::Value::from($other) };
}
