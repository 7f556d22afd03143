//! Helpers the generated code calls (through `capnweb::__private`); not a public API.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Param, RemoteError, RpcPromise};
use crate::error::RpcError;
use crate::stub::{BoxFuture, Stub};
use crate::value::{from_value, to_value, ErrorValue, Value, ValueError};

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
pub fn call<T, E>(
    stub: &Stub,
    method: &str,
    args: Result<Vec<Value>, ValueError>,
    optional: usize,
    idempotent: bool,
) -> RpcPromise<T, E> {
    let mut args = match args {
        Ok(args) => args,
        Err(e) => {
            return RpcPromise::<T>::broken(RpcError::from(e).in_call(method)).with_error();
        }
    };
    let keep = args.len() - optional.min(args.len());
    while args.len() > keep && matches!(args.last(), Some(Value::Null)) {
        args.pop();
    }
    let stub = match idempotent {
        true => crate::session::run_log::idempotent(|| stub.call(method, args)),
        false => stub.call(method, args),
    };
    // The client side of the call, with OpenTelemetry's RPC field names; free when tracing at
    // INFO is off.
    let span = tracing::info_span!(
        "capnweb.call",
        otel.name = %format_args!("capnweb/{method}"),
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        rpc.system = "capnweb",
        rpc.method = method,
        error.type = tracing::field::Empty,
    );
    RpcPromise::<T>::from_stub(stub).with_error().in_span(span)
}

/// Client side: reads property `name`.
pub fn get<T, E>(stub: &Stub, name: &str) -> RpcPromise<T, E> {
    RpcPromise::<T>::from_stub(stub.get(name)).with_error()
}

/// Typed errors: what the derive's `CallError` does, the application error if `error` is one,
/// else `From<RpcError>`.
pub fn decode_call_error<E: RemoteError + From<RpcError>>(error: RpcError) -> E {
    if let RpcError::Remote(value) = &error {
        if let Some(typed) = E::from_error_value(value) {
            return typed;
        }
    }
    E::from(error)
}

/// Typed errors: a field of an application error, as the property it travels as. A field serde
/// cannot write is left out (and logged): the error itself still reaches the caller.
pub fn error_prop<T: RpcSend>(error: &mut ErrorValue, key: &str, field: &T) {
    match to_value(field) {
        Ok(value) => {
            error.props.insert(key.to_owned(), value);
        }
        Err(e) => {
            tracing::warn!(error = %e, property = key, "capnweb: an error's field was left out")
        }
    }
}

/// Typed errors: the field `key` of a received application error (`None` if it does not decode
/// as a `T`; a missing property is `undefined`, so an `Option` field reads `None`).
pub fn error_field<T: RpcReceive>(error: &ErrorValue, key: &str) -> Option<T> {
    from_value(error.props.get(key).cloned().unwrap_or_default()).ok()
}

/// Typed errors: the type of a field that travels as `message`, which is the error's message
/// itself (sent in place of the `Display`, and filled from the message received).
#[diagnostic::on_unimplemented(
    message = "a RemoteError field that travels as `message` is the error's message: it must be a `String`, not `{Self}`",
    label = "not a string",
    note = "make it a `String`, or send it as a property of another name with #[rpc(name = \"...\")]"
)]
pub trait ErrorMessage {
    /// The message to send.
    fn to_message(&self) -> String;
    /// The field, from the message received.
    fn from_message(message: &str) -> Self;
}

impl ErrorMessage for String {
    fn to_message(&self) -> String {
        self.clone()
    }
    fn from_message(message: &str) -> String {
        message.to_owned()
    }
}

impl ErrorMessage for Box<str> {
    fn to_message(&self) -> String {
        self.as_ref().to_owned()
    }
    fn from_message(message: &str) -> Box<str> {
        message.into()
    }
}

impl ErrorMessage for std::sync::Arc<str> {
    fn to_message(&self) -> String {
        self.as_ref().to_owned()
    }
    fn from_message(message: &str) -> std::sync::Arc<str> {
        message.into()
    }
}

impl ErrorMessage for std::borrow::Cow<'static, str> {
    fn to_message(&self) -> String {
        self.as_ref().to_owned()
    }
    fn from_message(message: &str) -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Owned(message.to_owned())
    }
}

/// Typed errors with a tag: the tag property when it is a string (a JavaScript peer's `Error`
/// carries its kind there), else the error's name.
pub fn error_kind<'e>(error: &'e ErrorValue, tag: &str) -> &'e str {
    match error.props.get(tag) {
        Some(Value::String(kind)) => kind,
        _ => &error.name,
    }
}

/// Typed errors: an error that an application error holds, sent as itself.
pub fn held_error(error: &RpcError) -> ErrorValue {
    error.to_value()
}
