//! [`RpcError`]: the one error type callers see.

use crate::value::{ErrorValue, Value};
use crate::wire::WireError;

/// An RPC failure.
///
/// A server method fails with an error that travels to the caller as a JavaScript `Error` of the
/// same class (`Error`, `TypeError`, `RangeError`, ...): build one with [`RpcError::new`] or the
/// shorthands. Everything else describes what went wrong locally or with the connection.
///
/// ```
/// use capnweb::RpcError;
/// let e = RpcError::range_error("out of range");
/// assert_eq!(e.name(), "RangeError");
/// assert_eq!(e.to_string(), "RangeError: out of range");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RpcError {
    /// An error thrown by the remote method (or to be thrown to the remote caller).
    #[error("{0}")]
    Remote(Box<ErrorValue>),
    /// The connection ended. `maybe_delivered` is `false` only when the call certainly never
    /// left this process.
    #[error("disconnected: {reason}")]
    Disconnected {
        /// Why the session ended.
        reason: String,
        /// Whether the peer may have received the call.
        maybe_delivered: bool,
    },
    /// The peer sent something that breaks the protocol.
    #[error("protocol error: {0}")]
    Protocol(#[from] WireError),
    /// A value could not be converted to or from the Rust type asked for.
    #[error("TypeError: {0}")]
    Type(String),
    /// The call did not complete in time; it was released, and the session goes on.
    #[error("timed out after {after:?}")]
    Timeout {
        /// The time limit that expired.
        after: std::time::Duration,
    },
}

/// The class of the error a server answers a call with when it did not run it (it was
/// draining), and ends a session with when none of the calls it left unanswered ran: the client
/// may run them again elsewhere. Other peers see an ordinary error.
pub(crate) const NOT_RUN: &str = "NotRunError";

impl RpcError {
    /// An error of JavaScript class `name` (e.g. `"Error"`, `"TypeError"`).
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> RpcError {
        RpcError::Remote(Box::new(ErrorValue::new(name, message)))
    }
    /// A plain `Error`.
    pub fn error(message: impl Into<String>) -> RpcError {
        RpcError::new("Error", message)
    }
    /// A `TypeError`.
    pub fn type_error(message: impl Into<String>) -> RpcError {
        RpcError::new("TypeError", message)
    }
    /// A `RangeError`.
    pub fn range_error(message: impl Into<String>) -> RpcError {
        RpcError::new("RangeError", message)
    }

    /// A disconnection that may have reached the peer.
    pub(crate) fn disconnected(reason: impl Into<String>) -> RpcError {
        RpcError::Disconnected {
            reason: reason.into(),
            maybe_delivered: true,
        }
    }

    /// The same error, with the method it happened in named at the front of its message.
    pub(crate) fn in_call(self, method: &str) -> RpcError {
        match self {
            RpcError::Type(m) => RpcError::Type(format!("{method}: {m}")),
            other => other,
        }
    }

    /// The JavaScript class name this error travels as.
    pub fn name(&self) -> &str {
        match self {
            RpcError::Remote(e) => &e.name,
            RpcError::Type(_) => "TypeError",
            _ => "Error",
        }
    }

    /// The message, without the class name.
    pub fn message(&self) -> String {
        match self {
            RpcError::Remote(e) => e.message.clone(),
            RpcError::Type(m) => m.clone(),
            other => other.to_string(),
        }
    }

    /// The error as the value it travels as (no stack: stacks are not sent).
    pub fn to_value(&self) -> ErrorValue {
        match self {
            RpcError::Remote(e) => ErrorValue {
                stack: None,
                ..(**e).clone()
            },
            other => ErrorValue::new(other.name(), other.message()),
        }
    }

    /// An error received from the peer: an `Error` value, or any other thrown value.
    pub(crate) fn from_thrown(v: Value) -> RpcError {
        match v {
            Value::Error(e) => RpcError::Remote(e),
            other => {
                let text = match &other {
                    Value::String(s) => s.clone(),
                    v => format!("non-Error value thrown: {}", v.kind_name()),
                };
                RpcError::Remote(Box::new(
                    ErrorValue::new("Error", text).with_prop("value", other),
                ))
            }
        }
    }
}

impl From<ErrorValue> for RpcError {
    fn from(e: ErrorValue) -> RpcError {
        RpcError::Remote(Box::new(e))
    }
}
