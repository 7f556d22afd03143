//! Cap'n Web RPC for Rust: JSON-based, bidirectional, capability-passing RPC with promise
//! pipelining, speaking exactly the protocol of the TypeScript reference (npm `capnweb`).
//!
//! # Layout
//!
//! Each layer knows only the ones above it in this list (`tests/layering.rs` checks it):
//!
//! - The data, one layer (values hold stubs and streams; hooks take values):
//!   - [`value`](mod@value): the dynamic [`Value`] and its special types (bigint, date, bytes, errors),
//!     and the serde bridge [`to_value`] / [`from_value`].
//!   - [`wire`]: messages and expressions, parsed from and written to JSON text, with
//!     [`Limits`]; all of the protocol's syntax.
//!   - [`stub`]: [`Stub`], a handle on something callable, and [`RpcTarget`], what a local
//!     object implements; its evaluator turns expressions into values, and `map()` records
//!     mappers (a call interceptor) and applies them. What only a session can answer (a peer's
//!     promise, the end of its session, `stream` calls) are methods of the hooks, which the
//!     session's import hook overrides.
//!   - [`stream`]: readable and writable streams, and blobs.
//! - [`session`]: [`RpcSession`], the import and export tables of one connection, over any
//!   [`Transport`] (the trait is the session's own).
//! - [`transport`]: in-process, WebSocket and HTTP batch transports; re-exports [`Transport`].
//! - [`typed`]: [`RpcPromise`], [`Param`], [`RpcClient`] and [`Callback`], what the code that
//!   [`rpc_interface`] generates is made of.
//! - [`typescript`]: TypeScript declarations of interfaces and the types they use.
//! - [`server`] and [`connect`]: putting a main object on the network, and reaching one;
//!   `wasm` (feature `wasm`): reaching one from a browser.
//!
//! # Guides
//!
//! The [`guide`] module holds the guides, each a page: [interfaces, errors and
//! values](guide::interfaces), [serving in production](guide::production), [a client that stays
//! up](guide::client), [TypeScript front ends](guide::typescript), [streams and
//! blobs](guide::streams) and the [semantics worth knowing](guide::semantics).
//!
//! # Stability
//!
//! Until 1.0, a release that breaks the public API bumps the minor version, and
//! `CHANGELOG.md` lists each break. What may grow without a break says so: the
//! `#[non_exhaustive]` types (the [`wire`] syntax tree's `Message` and `Expr`, errors, options)
//! gain variants and fields in minor releases, so match them with a wildcard and build them
//! from their defaults. Other crates' types appear in the API only where chosen (`serde`,
//! `futures` streams and sinks, tokio's I/O traits, axum's `Router` and tower layers, rustls
//! configurations, and tungstenite's own types in `transport::websocket::Socket`, which adapts
//! it): `capnweb/external-types.txt` lists them, and CI checks the list. Their major versions
//! are ours. `#[doc(hidden)]` items (what the macro's code calls) carry no promise.
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
#![cfg_attr(docsrs, feature(doc_cfg))]

// Lets the macro's `::capnweb::` paths work in this crate's own tests.
extern crate self as capnweb;

#[cfg(feature = "websocket")]
#[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
pub mod client;
mod error;
#[cfg(doc)]
pub mod example;
// Documentation only: compiled for rustdoc, and for its doctests.
#[cfg(any(doc, doctest))]
pub mod guide;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;
pub mod session;
pub mod stream;
pub mod stub;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls;
pub mod transport;
pub mod typed;
pub mod typescript;
pub mod value;
mod waiters;
#[cfg(feature = "wasm")]
#[cfg_attr(docsrs, doc(cfg(feature = "wasm")))]
pub mod wasm;
pub mod wire;

/// Turns a trait of `async fn` methods into an RPC interface: a typed client, a server and
/// promise pipelining, from one declaration.
///
/// For `trait Foo` it generates:
///
/// - **`FooClient`**: one method per trait method, taking `impl Into<Param<T>>` (a value, or
///   the [`RpcPromise`] of one from an earlier call) and returning an [`RpcPromise`]. Cheap to
///   clone; implements [`RpcClient`], `Serialize` and `Deserialize` (so it can be an argument or
///   a result of another interface), `From<Stub>`. `FooClient::from_impl(x)` serves a local
///   implementation `x` and gives a client of it.
/// - **`FooServer<T>`**: `FooServer::new(x)` is the [`RpcTarget`] serving `x: impl Foo`. It
///   decodes each argument into its declared Rust type (a wrong one is answered with a
///   `TypeError` naming the method and the parameter), runs the method and encodes its result.
///   Names that are not declared methods are answered "is not a function", as JavaScript does.
/// - **The trait** itself, with each `async fn` rewritten to return `impl Future + Send`:
///   implement it with plain `async fn`s; a future that is not `Send` is reported at the impl.
///
/// Rules, checked at compile time with errors at the offending span: methods are `async fn`
/// taking `&self`, not generic, with owned parameter types, returning `Result<T, E>`;
/// parameter and result types are serde types (or clients, [`Callback`], [`Stub`], [`Value`]).
///
/// `E` is [`RpcError`], or an application error that derives [`RemoteError`](trait@RemoteError):
/// then the client's method gives `Result<T, E>` too, the variant the server returned with its
/// fields, and every other failure through `E`'s `From<RpcError>`. An alias `Result<T>` is taken
/// to fail with `RpcError`.
///
/// Method attributes:
///
/// - `#[rpc(name = "...")]`: the wire name; by default the method name in camelCase
///   (`make_counter` is called as `makeCounter`), so TypeScript peers meet it as they expect.
/// - `#[rpc(property)]`: read as a property (`["pipeline", id, ["value"]]`), not called.
/// - `#[rpc(idempotent)]`: safe to send again after a reconnect; listed in
///   [`RpcClient::IDEMPOTENT`].
///
/// The documentation's [`example`] module shows what it generates for an example interface.
///
/// For a dependency renamed in `Cargo.toml` (the package is `capnweb-rpc`), name it:
/// `#[rpc_interface(crate = "::my_name")]`, as serde's `crate = "..."`.
///
/// With `#[rpc_interface(typescript)]`, the client also implements
/// [`typescript::TypeScript`]: the interface's TypeScript declaration, for TypeScript callers
/// (see [`typescript`](mod@typescript)).
///
/// A parameter of type `T` takes anything that is `Into<Param<T>>` (see [`Param`]): a `T`, the
/// promise of one, or for a `String` a `&str` as it is, `api.withdraw("alice", 5.0)`. Do not
/// write `"alice".into()` there: the parameter is generic, so `.into()` has no one target type
/// and fails with E0283, "type annotations needed", a rustc error no attribute can reword
/// (its help does suggest removing the call). Pass the `&str` itself, or a `String`
/// (`String::from("alice")`, `name.clone()`).
///
/// Trailing `Option` parameters may be left out by a caller (a TypeScript caller omitting them
/// reaches `None`), and the generated client leaves out trailing `None`s, so a JavaScript
/// callee's default parameters apply. Doc comments are carried onto the client's methods.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use capnweb::{rpc_interface, transport::in_process, RpcError, RpcSession, SessionOptions, Stub};
///
/// #[rpc_interface]
/// pub trait Counter {
///     /// Adds `amount` (1 if `None`) and returns the new count.
///     async fn increment(&self, amount: Option<i64>) -> Result<i64, RpcError>;
///     #[rpc(property)]
///     async fn value(&self) -> Result<i64, RpcError>;
/// }
///
/// #[rpc_interface]
/// pub trait Calculator {
///     async fn add(&self, a: i64, b: i64) -> Result<i64, RpcError>;
///     async fn make_counter(&self, start: i64) -> Result<CounterClient, RpcError>;
///     #[rpc(idempotent)]
///     async fn list_ids(&self) -> Result<Vec<i64>, RpcError>;
/// }
///
/// struct Count(std::sync::Mutex<i64>);
/// impl Counter for Count {
///     async fn increment(&self, amount: Option<i64>) -> Result<i64, RpcError> {
///         let mut n = self.0.lock().unwrap();
///         *n += amount.unwrap_or(1);
///         Ok(*n)
///     }
///     async fn value(&self) -> Result<i64, RpcError> {
///         Ok(*self.0.lock().unwrap())
///     }
/// }
///
/// struct Calc;
/// impl Calculator for Calc {
///     async fn add(&self, a: i64, b: i64) -> Result<i64, RpcError> {
///         Ok(a + b)
///     }
///     async fn make_counter(&self, start: i64) -> Result<CounterClient, RpcError> {
///         Ok(CounterClient::from_impl(Count(std::sync::Mutex::new(start))))
///     }
///     async fn list_ids(&self) -> Result<Vec<i64>, RpcError> {
///         Ok(vec![1, 2, 3])
///     }
/// }
///
/// // Any transport will do; `capnweb::connect` and `capnweb::Server` use WebSockets.
/// let (a, b) = in_process::pair();
/// let _server = RpcSession::spawn(a, Some(Stub::new(CalculatorServer::new(Calc))), SessionOptions::default());
/// let calc = CalculatorClient::from(RpcSession::spawn(b, None, SessionOptions::default()).main());
///
/// assert_eq!(calc.add(1, 2).await?, 3);
/// // Pipelining: the counter is used before it exists, in one round trip.
/// assert_eq!(calc.make_counter(5).increment(Some(3)).await?, 8);
/// // A result passed on as an argument, without waiting for it.
/// assert_eq!(calc.add(calc.add(1, 2), 10).await?, 13);
/// // map(): the calls run on the server, for each element.
/// assert_eq!(calc.list_ids().map(|id| calc.add(&id, &id)).await?, vec![2, 4, 6]);
/// # Ok::<(), RpcError>(()) }).unwrap();
/// ```
pub use capnweb_macros::rpc_interface;
/// Derives [`RemoteError`] (the trait's documentation says what it sends and how it is
/// configured), `From<Self> for RpcError` and [`CallError`].
pub use capnweb_macros::RemoteError;
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub use client::Client;
#[cfg(feature = "websocket")]
#[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
pub use client::{connect, connect_with};
pub use error::RpcError;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub use server::Server;
pub use session::{Metrics, MetricsSnapshot, RpcSession, SessionOptions, SessionStats};
pub use stream::{Blob, ReadableStream, WritableStream};
pub use stub::{OnBroken, RpcTarget, Stub};
#[cfg(feature = "http-batch")]
#[cfg_attr(docsrs, doc(cfg(feature = "http-batch")))]
pub use transport::http_batch::HttpBatch;
pub use transport::{Transport, TransportError};
pub use typed::{
    CallError, Callback, IntoStub, MapResult, Param, RemoteError, RpcClient, RpcPromise,
};
pub use value::{
    from_value, to_value, BigInt, ByteKind, Bytes, Date, ErrorValue, JsOption, Number, Object,
    RegExp, Value, ValueError, WrongKind,
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
    stub::eval::evaluate(e, &mut stub::eval::NoImporter)
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

/// What the code generated by `#[rpc_interface]` uses. Not a public API: no stability promise.
#[doc(hidden)]
pub mod __private {
    pub use crate::typed::dispatch::*;
    pub use serde;
}

/// The README's code, compiled as doctests so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
