//! Shared code of the examples: the interop test interface, served by `interop_server`, and
//! HTTP batches on hyper alone.

pub mod hyper_batch;
pub mod interop;
