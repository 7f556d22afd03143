//! [`Param`]: an argument of a typed call, given now or pipelined from an earlier call.

use serde::Serialize;

use super::RpcPromise;
use crate::stub::Stub;
use crate::value::{to_value, Value, ValueError};

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
