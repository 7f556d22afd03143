//! [`Param`]: an argument of a typed call, given now or pipelined from an earlier call.

use serde::Serialize;

use super::RpcPromise;
use crate::stub::Stub;
use crate::value::{to_value, JsOption, Value, ValueError};

/// An argument of a generated client method: a value of type `T`, or the promise of one.
///
/// Generated methods take `impl Into<Param<T>>`, so a caller passes either a `T` or an
/// [`RpcPromise<T>`] from an earlier call, which is pipelined: the server substitutes the result
/// without a round trip through the caller.
///
/// ```
/// use capnweb::{Param, RpcPromise, Stub, Value};
/// let now: Param<i64> = 5.into();
/// let later: Param<i64> = RpcPromise::<i64>::from_stub(Stub::resolved(Value::from(5))).into();
/// # drop((now, later));
/// ```
///
/// Pass the value itself, not `.into()` of it: for `withdraw(&self, account: String, ..)`,
/// write `api.withdraw("alice", 5.0)` (a `&str` is `Into<Param<String>>`) or
/// `api.withdraw(String::from("alice"), 5.0)`. `api.withdraw("alice".into(), 5.0)` does not
/// compile: the parameter is `impl Into<Param<String>>`, so nothing fixes the type `.into()`
/// should make, and rustc stops with E0283, "type annotations needed" (an ambiguity, which
/// `#[diagnostic::on_unimplemented]` cannot reword; rustc's own help suggests removing the
/// `.into()`).
#[derive(Debug)]
pub enum Param<T> {
    /// A value at hand.
    Value(T),
    /// A value to come: the result of an earlier call.
    Promise(Stub),
}

impl<T: Serialize> Param<T> {
    /// The value to send.
    pub fn into_value(self) -> Result<Value, ValueError> {
        match self {
            Param::Value(v) => to_value(&v),
            Param::Promise(stub) => Ok(Value::Promise(stub)),
        }
    }
}

impl<T> From<T> for Param<T> {
    fn from(v: T) -> Param<T> {
        Param::Value(v)
    }
}

impl<T, E> From<RpcPromise<T, E>> for Param<T> {
    fn from(p: RpcPromise<T, E>) -> Param<T> {
        Param::Promise(RpcPromise::into_stub(p))
    }
}

impl<T, E> From<&RpcPromise<T, E>> for Param<T> {
    fn from(p: &RpcPromise<T, E>) -> Param<T> {
        Param::Promise(RpcPromise::stub(p).clone())
    }
}

/// A client (a capability) can be passed by reference: it is cloned, which is cheap, and the
/// caller keeps its own.
impl<T: super::RpcClient> From<&T> for Param<T> {
    fn from(client: &T) -> Param<T> {
        Param::Value(T::from_stub(client.stub().clone()))
    }
}

/// An optional parameter can be given its value directly: `increment(3.0)` for `Some(3.0)`.
impl<T> From<T> for Param<Option<T>> {
    fn from(v: T) -> Param<Option<T>> {
        Param::Value(Some(v))
    }
}

/// An optional parameter can be given the promise of a value: it is pipelined as usual.
impl<T, E> From<RpcPromise<T, E>> for Param<Option<T>> {
    fn from(p: RpcPromise<T, E>) -> Param<Option<T>> {
        Param::Promise(RpcPromise::into_stub(p))
    }
}

impl<T, E> From<&RpcPromise<T, E>> for Param<Option<T>> {
    fn from(p: &RpcPromise<T, E>) -> Param<Option<T>> {
        Param::Promise(RpcPromise::stub(p).clone())
    }
}

impl From<&str> for Param<String> {
    fn from(s: &str) -> Param<String> {
        Param::Value(s.to_owned())
    }
}

/// A [`JsOption`] parameter can be given its value directly: `rename("x")` for `Some("x")`.
impl<T> From<T> for Param<JsOption<T>> {
    fn from(v: T) -> Param<JsOption<T>> {
        Param::Value(JsOption::Some(v))
    }
}

/// JavaScript has one number type: an integer that a float holds exactly can be given where
/// a float is declared (`square(3)` for an `f64`), without a cast. Wider integers, which a
/// float may round, still need one.
macro_rules! exact_in_float {
    ($float:ty: $($int:ty),*) => {$(
        impl From<$int> for Param<$float> {
            fn from(v: $int) -> Param<$float> {
                Param::Value(<$float>::from(v))
            }
        }

        impl From<$int> for Param<Option<$float>> {
            fn from(v: $int) -> Param<Option<$float>> {
                Param::Value(Some(<$float>::from(v)))
            }
        }
    )*};
}

exact_in_float!(f64: i8, i16, i32, u8, u16, u32);
exact_in_float!(f32: i8, i16, u8, u16);
