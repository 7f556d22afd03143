//! Helpers the generated code calls (through `capnweb::__private`); not a public API.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Param, RpcPromise};
use crate::error::RpcError;
use crate::stub::{BoxFuture, Stub};
use crate::value::{from_value, to_value, Value, ValueError};

/// A parameter type, as the client sends it. A trait of our own for the error message.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent over RPC",
    label = "does not implement `serde::Serialize`",
    note = "derive `serde::Serialize` and `serde::Deserialize` for it, or use a generated `XxxClient`, `capnweb::Callback` or `capnweb::Value`"
)]
pub trait RpcSend: Serialize {}
impl<T: Serialize> RpcSend for T {}

/// A parameter type, as the server receives it. A trait of our own for the error message.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be received over RPC",
    label = "does not implement `serde::Deserialize`",
    note = "derive `serde::Serialize` and `serde::Deserialize` for it, or use a generated `XxxClient`, `capnweb::Callback` or `capnweb::Value`"
)]
pub trait RpcReceive: DeserializeOwned {}
impl<T: DeserializeOwned> RpcReceive for T {}

/// Client side: an argument as the value to send.
pub fn param<T: RpcSend>(param: Param<T>) -> Result<Value, ValueError> {
    param.into_value()
}

/// Server side: the next argument of `method`, as the declared type of parameter `name`.
pub fn arg<T: RpcReceive>(
    args: &mut std::vec::IntoIter<Value>,
    method: &str,
    name: &str,
) -> Result<T, RpcError> {
    let value = args.next().unwrap_or_default();
    let missing = matches!(value, Value::Undefined);
    from_value(value).map_err(|e| {
        RpcError::type_error(match missing {
            true => format!("{method}: missing argument `{name}`"),
            false => format!("{method}: argument `{name}`: {e}"),
        })
    })
}

/// Server side: a method's result, as the value to send.
pub fn ret<T: Serialize, E: Into<RpcError>>(result: Result<T, E>) -> Result<Value, RpcError> {
    Ok(to_value(&result.map_err(Into::into)?)?)
}

/// Server side: a call that failed before it started.
pub fn fail(error: RpcError) -> BoxFuture<Result<Value, RpcError>> {
    Box::pin(std::future::ready(Err(error)))
}

/// Server side: reading a property that is not declared.
pub fn no_property() -> BoxFuture<Result<Value, RpcError>> {
    Box::pin(std::future::ready(Ok(Value::Undefined)))
}

/// Client side: calls `method`. Trailing `null`s among the last `optional` arguments (the
/// trailing `Option` parameters) are left out, so a JavaScript callee sees them `undefined` and
/// applies its defaults.
pub fn call<T>(
    stub: &Stub,
    method: &str,
    args: Result<Vec<Value>, ValueError>,
    optional: usize,
    idempotent: bool,
) -> RpcPromise<T> {
    let mut args = match args {
        Ok(args) => args,
        Err(e) => return RpcPromise::broken(RpcError::from(e).in_call(method)),
    };
    let keep = args.len() - optional.min(args.len());
    while args.len() > keep && matches!(args.last(), Some(Value::Null)) {
        args.pop();
    }
    if idempotent {
        return RpcPromise::from_stub(crate::session::run_log::idempotent(|| {
            stub.call(method, args)
        }));
    }
    RpcPromise::from_stub(stub.call(method, args))
}

/// Client side: reads property `name`.
pub fn get<T>(stub: &Stub, name: &str) -> RpcPromise<T> {
    RpcPromise::from_stub(stub.get(name))
}
