//! [`ValueError`]: a value that does not fit the Rust type asked for, or the other way round.

use std::fmt;

/// A conversion between a Rust type and a [`Value`](super::Value) failed: the wrong kind of
/// value, a missing field, a number out of range, a capability given to a plain serializer.
///
/// It becomes an [`RpcError::Type`](crate::RpcError::Type), which travels as a `TypeError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValueError {
    message: String,
}

impl ValueError {
    /// An error with this message.
    pub fn new(message: impl fmt::Display) -> ValueError {
        ValueError {
            message: message.to_string(),
        }
    }
}

impl serde::ser::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> ValueError {
        ValueError::new(msg)
    }
}

impl serde::de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> ValueError {
        ValueError::new(msg)
    }
}

impl From<ValueError> for crate::RpcError {
    fn from(e: ValueError) -> crate::RpcError {
        crate::RpcError::Type(e.message)
    }
}
