//! Shared code of the examples: the interop test interface, served by `interop_server`.

pub mod interop;
