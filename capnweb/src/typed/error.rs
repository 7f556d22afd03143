//! Typed application errors: [`RemoteError`] (what `#[derive(RemoteError)]` implements) and
//! [`CallError`] (the error type a typed call's promise gives).

use crate::error::RpcError;
use crate::value::ErrorValue;

/// An application error that travels as a JavaScript `Error`: its variant's name (or the
/// struct's) as the error's `name`, its `Display` as the `message`, its fields as the error's
/// own properties.
///
/// Derive it (`#[derive(capnweb::RemoteError)]`, with `Display` from `thiserror` or by hand,
/// and your own `From<RpcError>` for the failures that are not yours), then declare it as a
/// method's error: `async fn withdraw(&self, amount: f64) -> Result<f64, BankError>`. The server
/// sends the variant it returns; the generated client's method gives `Result<f64, BankError>`,
/// with that variant and its fields, and any other failure (a disconnection, a `TypeError`)
/// through `From<RpcError>`.
///
/// The derive also implements `From<Self> for RpcError` and [`CallError`]. On the type, on a
/// variant or on a field, `#[rpc(name = "...")]` sets the name that travels; on the type,
/// `#[rpc(crate = "...")]` names a renamed `capnweb` dependency. Fields are sent with serde
/// (as call results are) and must have names: they become properties. A field cannot be
/// called `name` or `stack`, which a JavaScript `Error` already has.
///
/// A field called `message` (or sent as `message` with `#[rpc(name = "message")]`) is the
/// error's message itself, not a property: its value is sent as the `Error`'s `message` in
/// place of the `Display`, and a received error's message fills it. So a TypeScript caller reads
/// it as `err.message`, and a plain `Error` a TypeScript server throws is decoded with its
/// message there. It is a `String` (or `Box<str>`, `Arc<str>`, `Cow<'static, str>`):
///
/// ```
/// use capnweb::{RemoteError, RpcError};
///
/// #[derive(Debug, PartialEq, RemoteError, thiserror::Error)]
/// pub enum ShopError {
///     #[error("{message}")]
///     Other { message: String, code: u32 },
///     #[error(transparent)]
///     Rpc(#[from] RpcError),
/// }
///
/// let sent = ShopError::Other { message: "the till is closed".into(), code: 7 };
/// let wire = sent.to_error_value();
/// assert_eq!(wire.message, "the till is closed");
/// assert!(!wire.props.contains_key("message"), "the message is not a property too");
/// assert_eq!(ShopError::from_error_value(&wire), Some(sent));
/// ```
///
/// **TypeScript callers** see the message and every field (`err.balance`), but the npm
/// `capnweb` client rebuilds only JavaScript's own error classes: an error of any other name
/// arrives as a plain `Error`, `err.name === "Error"`. For them to tell the variants apart,
/// `#[rpc(tag = "kind")]` on the type also sends the name as a property (`err.kind ===
/// "InsufficientFunds"`), and an error whose `kind` property names a variant is decoded as that
/// variant whatever its `name` (so a TypeScript server can throw
/// `Object.assign(new Error("..."), { kind: "InsufficientFunds", balance: 5 })`). A TypeScript
/// server's own error class (`class InsufficientFunds extends Error`) travels with its name,
/// and is decoded by name with or without a tag.
///
/// ```
/// use capnweb::{RemoteError, RpcError};
///
/// #[derive(Debug, PartialEq, RemoteError, thiserror::Error)]
/// pub enum BankError {
///     #[error("insufficient funds: the balance is {balance}")]
///     InsufficientFunds { balance: f64 },
///     #[error("the account is frozen")]
///     #[rpc(name = "AccountFrozen")]
///     Frozen,
///     /// Everything that is not the bank's: disconnections, bad arguments.
///     #[error(transparent)]
///     Rpc(#[from] RpcError),
/// }
///
/// let wire = RpcError::from(BankError::InsufficientFunds { balance: 5.0 });
/// assert_eq!(wire.name(), "InsufficientFunds");
/// assert_eq!(wire.message(), "insufficient funds: the balance is 5");
/// let back = BankError::from_rpc_error(wire);
/// assert_eq!(back, BankError::InsufficientFunds { balance: 5.0 });
///
/// use capnweb::CallError;
/// let other = BankError::from_rpc_error(RpcError::type_error("bad argument"));
/// assert!(matches!(other, BankError::Rpc(_)));
/// ```
///
/// A variant that holds an `RpcError` (as `Rpc` above) is how failures that are not the
/// application's reach the caller; it is never sent as itself, but as the `RpcError` it holds.
pub trait RemoteError: Sized {
    /// The error as it travels.
    fn to_error_value(&self) -> ErrorValue;

    /// The application error that `error` was sent as, if it is one of this type's (by name,
    /// with every field decoded); `None` for any other.
    fn from_error_value(error: &ErrorValue) -> Option<Self>;
}

/// The error a typed call's [`RpcPromise`](super::RpcPromise) gives: [`RpcError`] itself, or a
/// type that derives [`RemoteError`] and converts every other failure with `From<RpcError>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the error of an RPC method's client",
    label = "does not implement `capnweb::CallError`",
    note = "derive `capnweb::RemoteError` for it (with `From<RpcError>`), or declare the method's error as `capnweb::RpcError`"
)]
pub trait CallError: Sized {
    /// The failure `error`, as this type: the application error it was sent as, or else the
    /// `RpcError` converted.
    fn from_rpc_error(error: RpcError) -> Self;
}

impl CallError for RpcError {
    fn from_rpc_error(error: RpcError) -> RpcError {
        error
    }
}
