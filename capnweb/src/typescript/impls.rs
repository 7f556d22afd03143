//! [`TypeScript`] for the types that can cross: Rust's own, and this crate's.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use super::text::union;
use super::{Declarations, TypeScript};
use crate::stream::{Blob, ReadableStream, WritableStream};
use crate::stub::Stub;
use crate::typed::{Callback, RpcPromise};
use crate::value::{BigInt, Bytes, Date, ErrorValue, JsOption, RegExp, Value};

/// Types written the same wherever they appear.
macro_rules! fixed {
    ($($ty:ty => $ts:literal),* $(,)?) => {$(
        impl TypeScript for $ty {
            fn typescript(_: &mut Declarations) -> String {
                $ts.to_owned()
            }
        }
    )*};
}

// Every Rust number travels as a JavaScript number (64-bit integers included: they are written
// as numbers, exactly when they fit in 2^53); beyond 64 bits, as a bigint.
fixed!(
    i8 => "number", i16 => "number", i32 => "number", i64 => "number", isize => "number",
    u8 => "number", u16 => "number", u32 => "number", u64 => "number", usize => "number",
    f32 => "number", f64 => "number",
    i128 => "number | bigint", u128 => "number | bigint",
    bool => "boolean", String => "string", str => "string", char => "string",
    () => "undefined",
    Value => "unknown",
    Date => "Date", Bytes => "Uint8Array", BigInt => "bigint", ErrorValue => "Error",
    RegExp => "RegExp", Blob => "Blob", ReadableStream => "ReadableStream",
    WritableStream => "WritableStream",
    // An untyped capability: whatever the peer passes.
    Stub => "unknown",
);

impl<T: TypeScript> TypeScript for Option<T> {
    fn typescript(d: &mut Declarations) -> String {
        union(&[T::typescript(d), "null".to_owned()])
    }
}

impl<T: TypeScript> TypeScript for JsOption<T> {
    fn typescript(d: &mut Declarations) -> String {
        union(&[T::typescript(d), "null".to_owned(), "undefined".to_owned()])
    }
}

/// Sequences: serde writes each as an array.
macro_rules! sequence {
    ($($ty:ident),*) => {$(
        impl<T: TypeScript> TypeScript for $ty<T> {
            fn typescript(d: &mut Declarations) -> String {
                format!("Array<{}>", T::typescript(d))
            }
        }
    )*};
}
sequence!(Vec, VecDeque, HashSet, BTreeSet);

impl<T: TypeScript> TypeScript for [T] {
    fn typescript(d: &mut Declarations) -> String {
        format!("Array<{}>", T::typescript(d))
    }
}

impl<T: TypeScript, const N: usize> TypeScript for [T; N] {
    fn typescript(d: &mut Declarations) -> String {
        let element = T::typescript(d);
        format!("[{}]", vec![element; N].join(", "))
    }
}

/// What a map's keys may be: strings (keys of JavaScript objects).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the key of a map that has a TypeScript form",
    note = "maps travel as JavaScript objects, whose keys are strings: use `String` keys"
)]
pub trait MapKey {}
impl MapKey for String {}

/// Maps with string keys: serde writes each as an object.
macro_rules! map {
    ($($ty:ident),*) => {$(
        impl<K: MapKey, V: TypeScript, S> TypeScript for $ty<K, V, S> {
            fn typescript(d: &mut Declarations) -> String {
                format!("Record<string, {}>", V::typescript(d))
            }
        }
    )*};
}
map!(HashMap);

impl<K: MapKey, V: TypeScript> TypeScript for BTreeMap<K, V> {
    fn typescript(d: &mut Declarations) -> String {
        format!("Record<string, {}>", V::typescript(d))
    }
}

impl<K: MapKey, V: TypeScript, S> TypeScript for indexmap::IndexMap<K, V, S> {
    fn typescript(d: &mut Declarations) -> String {
        format!("Record<string, {}>", V::typescript(d))
    }
}

/// Tuples: serde writes each as an array of its elements.
macro_rules! tuple {
    ($($name:ident),+) => {
        impl<$($name: TypeScript),+> TypeScript for ($($name,)+) {
            fn typescript(d: &mut Declarations) -> String {
                let elements = [$($name::typescript(d)),+];
                format!("[{}]", elements.join(", "))
            }
        }
    };
}
tuple!(A);
tuple!(A, B);
tuple!(A, B, C);
tuple!(A, B, C, D);
tuple!(A, B, C, D, E);
tuple!(A, B, C, D, E, F);
tuple!(A, B, C, D, E, F, G);
tuple!(A, B, C, D, E, F, G, H);

/// Pointers and borrows are what they point to.
macro_rules! pointer {
    ($($ty:ty),*) => {$(
        impl<T: TypeScript + ?Sized> TypeScript for $ty {
            fn typescript(d: &mut Declarations) -> String {
                T::typescript(d)
            }
        }
    )*};
}
pointer!(Box<T>, std::sync::Arc<T>, std::rc::Rc<T>, &T);

impl<T: TypeScript + ToOwned + ?Sized> TypeScript for std::borrow::Cow<'_, T> {
    fn typescript(d: &mut Declarations) -> String {
        T::typescript(d)
    }
}

/// A promise inside a value: given as a value or a promise, and received as a promise.
impl<T: TypeScript, E> TypeScript for RpcPromise<T, E> {
    fn typescript(d: &mut Declarations) -> String {
        let ty = T::typescript(d);
        union(&[ty.clone(), format!("Promise<{ty}>")])
    }
}

/// A function of one argument, which may answer at once or later.
impl<A: TypeScript, R: TypeScript> TypeScript for Callback<A, R> {
    fn typescript(d: &mut Declarations) -> String {
        let (arg, result) = (A::typescript(d), R::typescript(d));
        format!(
            "(arg: {arg}) => {}",
            union(&[result.clone(), format!("Promise<{result}>")])
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts<T: TypeScript + ?Sized>() -> String {
        Declarations::new().add::<T>()
    }

    #[test]
    fn rust_types_are_written_as_they_travel() {
        assert_eq!(ts::<u64>(), "number");
        assert_eq!(ts::<Option<Vec<String>>>(), "Array<string> | null");
        assert_eq!(ts::<JsOption<Option<f64>>>(), "number | null | undefined");
        assert_eq!(
            ts::<(u8, String, Option<bool>)>(),
            "[number, string, boolean | null]"
        );
        assert_eq!(ts::<[u8; 2]>(), "[number, number]");
        assert_eq!(
            ts::<HashMap<String, Vec<Date>>>(),
            "Record<string, Array<Date>>"
        );
        assert_eq!(ts::<Box<str>>(), "string");
        assert_eq!(ts::<RpcPromise<f64>>(), "number | Promise<number>");
        assert_eq!(
            ts::<Option<Callback<f64, Option<String>>>>(),
            "((arg: number) => string | null | Promise<string | null>) | null"
        );
        assert_eq!(ts::<Vec<Option<u8>>>(), "Array<number | null>");
    }
}
