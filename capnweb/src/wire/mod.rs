//! The wire format: messages and expressions as the reference writes them, parsed straight from
//! JSON text and written straight to it.
//!
//! Pure and synchronous: no I/O and no session state. The session turns an [`Expr`] into a
//! [`Value`](crate::Value) (see `crate::eval`) and writes values through an
//! [`Exporter`].

pub(crate) mod compose;
mod error;
mod expr;
mod limits;
mod parse;
mod utf16;
mod value_writer;
pub(crate) mod write;

pub use compose::MessageKind;
pub use error::WireError;
pub use expr::{
    BlobExpr, Capture, ErrorExpr, Expr, FetchExpr, ImportExpr, Message, PathKey, RemapExpr,
};
pub use limits::Limits;
pub use parse::{parse_expr, parse_message};
pub(crate) use utf16::write_utf16;
pub(crate) use value_writer::write_args;
pub use value_writer::{write_value, Exporter, NoExporter, WireRef};
pub(crate) use write::write_f64;
pub use write::{write_expr, write_message, write_message_to};
