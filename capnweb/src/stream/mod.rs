//! Streams: [`ReadableStream`] and [`WritableStream`] values, and [`Blob`]s.
//!
//! On the wire (see the protocol's `pipe`, `readable`, `writable` and `stream`):
//!
//! - A [`ReadableStream`] being sent opens a pipe on the peer (`["pipe"]`), is referred to as
//!   `["readable", id]`, and is pumped into the pipe with `stream` messages (`write`, then
//!   `close`, or `abort` on error).
//! - A [`WritableStream`] being sent is exported as `["writable", id]`; the peer's writes arrive
//!   as `stream` messages calling `write`, `close` or `abort` on it.
//! - A [`Blob`] travels as `["blob", type, ["readable", id]]`, its bytes through a pipe; the
//!   receiver collects them before delivering the value.
//!
//! Writes to a remote stream are flow-controlled: they do not wait for each other's
//! acknowledgement, but block while more than a window of bytes is unacknowledged.

mod blob;
mod pipe;
mod readable;
mod sink;
mod writable;

pub use blob::Blob;
pub(crate) use pipe::local_pipe;
pub use readable::ReadableStream;
pub(crate) use readable::Source;
pub use writable::WritableStream;
