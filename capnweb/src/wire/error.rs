//! [`WireError`]: why a message could not be read or written.

/// Why a message could not be parsed, or a value could not be written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The message is larger than [`Limits::max_message_size`](super::Limits).
    #[error("message of {size} bytes exceeds the maximum size of {limit} bytes")]
    TooLarge {
        /// The message's size in bytes.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// The message nests deeper than [`Limits::max_depth`](super::Limits).
    #[error("message exceeds the maximum nesting depth of {limit}")]
    TooDeep {
        /// The limit in force.
        limit: usize,
    },
    /// A bigint has more digits than [`Limits::max_bigint_digits`](super::Limits).
    #[error("bigint of {digits} digits exceeds the maximum of {limit} digits")]
    BigIntTooLong {
        /// Its number of digits.
        digits: usize,
        /// The limit in force.
        limit: usize,
    },
    /// The text is not JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// The message is an array whose first element names no known message type.
    #[error("unknown message type: {0}")]
    UnknownMessage(String),
    /// The message is not of the form `["type", ...]`, or its members have the wrong types.
    #[error("malformed `{kind}` message: {detail}")]
    MalformedMessage {
        /// The message type, or `message` when not even that could be read.
        kind: String,
        /// What is wrong.
        detail: String,
    },
    /// An array expression whose first element is no known type code.
    #[error("unknown special value: {0}")]
    UnknownExpression(String),
    /// A known expression with members of the wrong type or count.
    #[error("malformed `{kind}` expression: {detail}")]
    MalformedExpression {
        /// The expression's type code (`bytes`, `error`, `pipeline`, ...).
        kind: String,
        /// What is wrong.
        detail: String,
    },
    /// The peer went over a limit of the session other than the message's shape.
    #[error("{what} exceeds the limit of {limit}")]
    LimitExceeded {
        /// What went over, e.g. `exports held by the peer`.
        what: &'static str,
        /// The limit in force.
        limit: usize,
    },
    /// A value could not be written (for example a stub with no session to export it).
    #[error("cannot serialize: {0}")]
    Unserializable(String),
}

impl WireError {
    /// The limit this error is going over, if it is one: `max_message_size`, `max_depth`,
    /// `max_bigint_digits`, or what a session counts (`exports held by the peer`, ...).
    pub fn limit(&self) -> Option<&'static str> {
        match self {
            WireError::TooLarge { .. } => Some("max_message_size"),
            WireError::TooDeep { .. } => Some("max_depth"),
            WireError::BigIntTooLong { .. } => Some("max_bigint_digits"),
            WireError::LimitExceeded { what, .. } => Some(what),
            _ => None,
        }
    }
}

impl WireError {
    pub(crate) fn expr(kind: &str, detail: impl Into<String>) -> WireError {
        WireError::MalformedExpression {
            kind: kind.to_owned(),
            detail: detail.into(),
        }
    }

    pub(crate) fn message(kind: &str, detail: impl Into<String>) -> WireError {
        WireError::MalformedMessage {
            kind: kind.to_owned(),
            detail: detail.into(),
        }
    }
}
