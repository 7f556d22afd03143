//! Cap'n Web RPC for Rust: JSON-based, bidirectional, capability-passing RPC with promise
//! pipelining, speaking exactly the protocol of the TypeScript reference (npm `capnweb`).
//!
//! # Layout
//!
//! Each layer knows only the ones above it in this list:
//!
//! - [`value`]: the dynamic [`Value`] and its special types (bigint, date, bytes, errors).
//! - [`wire`]: messages and expressions, parsed from and written to JSON text, with [`Limits`].
//! - [`stub`]: [`Stub`], a handle on something callable, and [`RpcTarget`], what a local object
//!   implements; `eval` and `map` turn expressions into values and apply `map()`.
//! - [`session`]: [`RpcSession`], the import and export tables of one connection.
//! - [`transport`]: in-process, WebSocket and HTTP batch transports, and the [`Transport`] trait.
//! - [`server`] and [`connect`]: putting a main object on the network, and reaching one.
//!
//! # Example
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use capnweb::{transport::in_process, RpcError, RpcSession, SessionOptions, Stub, Value};
//!
//! let (a, b) = in_process::pair();
//! let square = Stub::from_fn(|args: Vec<Value>| async move {
//!     let x = args[0].as_f64().ok_or_else(|| RpcError::type_error("expected a number"))?;
//!     Ok(Value::from(x * x))
//! });
//! let _server = RpcSession::spawn(a, Some(square), SessionOptions::default());
//! let client = RpcSession::spawn(b, None, SessionOptions::default());
//! let nine = client.main().call("", vec![Value::from(3)]).resolve().await?;
//! assert_eq!(nine.as_f64(), Some(9.0));
//! # Ok::<(), RpcError>(()) }).unwrap();
//! ```
#![deny(missing_docs)]

mod client;
mod error;
mod eval;
mod map;
pub mod server;
pub mod session;
pub mod stub;
pub mod transport;
pub mod value;
pub mod wire;

pub use capnweb_macros::rpc_interface;
pub use client::{connect, connect_with};
pub use error::RpcError;
pub use server::Server;
pub use session::{RpcSession, SessionOptions, SessionStats};
pub use stub::{RpcTarget, Stub};
pub use transport::{Transport, TransportError};
pub use value::{
    from_value, to_value, BigInt, ByteKind, Bytes, Date, ErrorValue, Number, Object, Value,
    ValueError,
};
pub use wire::{Limits, WireError};

/// Parses an expression without a session, as the reference's `deserialize`: stubs are refused.
///
/// ```
/// let v = capnweb::deserialize(r#"[[1, ["bigint", "2"]]]"#).unwrap();
/// assert_eq!(v.as_array().unwrap().len(), 2);
/// ```
pub fn deserialize(text: &str) -> Result<Value, RpcError> {
    let e = wire::parse_expr(text, &Limits::default())?;
    eval::evaluate(e, &mut eval::NoImporter)
}

/// Writes a value as an expression without a session, as the reference's `serialize`.
///
/// ```
/// assert_eq!(capnweb::serialize(&capnweb::Value::Undefined).unwrap(), r#"["undefined"]"#);
/// ```
pub fn serialize(value: &Value) -> Result<String, RpcError> {
    let mut out = String::new();
    wire::write_value(&mut out, value, &mut wire::NoExporter)?;
    Ok(out)
}
