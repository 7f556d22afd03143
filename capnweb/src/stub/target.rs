//! [`RpcTarget`]: what application objects implement to be called over RPC.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::RpcError;
use crate::value::Value;

/// A boxed, sendable future: what object-safe traits here return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// An object that can be called over RPC, with dynamically typed arguments.
///
/// `#[rpc_interface]` implements this for you (see `XxxServer`). Implement it by hand to serve
/// an object whose methods are only known at run time. Only names the object declares may be
/// reached: answer anything else with an error, as the default methods do.
///
/// ```
/// use std::sync::Arc;
/// use capnweb::{RpcError, RpcTarget, Value};
/// use capnweb::stub::BoxFuture;
///
/// struct Echo;
/// impl RpcTarget for Echo {
///     fn call(self: Arc<Self>, method: &str, args: Vec<Value>) -> BoxFuture<Result<Value, RpcError>> {
///         match method {
///             "echo" => Box::pin(async move { Ok(args.into_iter().next().unwrap_or_default()) }),
///             _ => capnweb::stub::not_a_function(method),
///         }
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be served over RPC",
    label = "not an RPC target",
    note = "annotate the trait with `#[capnweb::rpc_interface]` and wrap your implementation in the generated `XxxServer`, or implement `capnweb::RpcTarget` by hand"
)]
pub trait RpcTarget: Send + Sync + 'static {
    /// Calls `method` (an empty name calls the object itself as a function).
    fn call(self: Arc<Self>, method: &str, args: Vec<Value>) -> BoxFuture<Result<Value, RpcError>>;

    /// Reads `property`. By default no property exists (`undefined`, as JavaScript answers).
    fn get(self: Arc<Self>, property: &str) -> BoxFuture<Result<Value, RpcError>> {
        let _ = property;
        Box::pin(async { Ok(Value::Undefined) })
    }
}

/// The error the reference answers for a call to something that is not a declared method.
pub fn not_a_function(method: &str) -> BoxFuture<Result<Value, RpcError>> {
    let err = RpcError::type_error(format!("'{method}' is not a function."));
    Box::pin(async move { Err(err) })
}

/// A closure served as a callable object.
pub(crate) struct FnTarget<F>(pub(crate) F);

impl<F, Fut> RpcTarget for FnTarget<F>
where
    F: Fn(Vec<Value>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, RpcError>> + Send + 'static,
{
    fn call(self: Arc<Self>, method: &str, args: Vec<Value>) -> BoxFuture<Result<Value, RpcError>> {
        if method.is_empty() {
            Box::pin((self.0)(args))
        } else {
            not_a_function(method)
        }
    }
}
