//! The guides: how to use capnweb as a whole, where each item's documentation says what that
//! item does. Documentation only, compiled for rustdoc and its doctests: nothing here is code.
//!
//! Each guide is a markdown file of `capnweb/docs/` (readable on GitHub as it is), included
//! here so that it shows on docs.rs and its Rust examples run as doctests
//! (`cargo test --doc -p capnweb-rpc`).
//!
//! - [`interfaces`]: what `#[rpc_interface]` generates and checks, typed application errors,
//!   parameters and values.
//! - [`production`]: serving: the server's settings, the built-in WebSocket codec, metrics and
//!   tracing, TLS, tower layers and routers, a reverse proxy, security, and the bounds against
//!   hostile peers with their defaults.
//! - [`client`]: a client that stays up: reconnection, failover, circuit breakers, a pool,
//!   safe retries and timeouts, and what each guarantees.
//! - [`typescript`]: TypeScript declarations generated from the Rust traits and types.
//! - [`streams`]: readable and writable streams and blobs, and their flow control.
//! - [`semantics`]: what a call, an error, a disconnection, a limit or a string does, where
//!   JavaScript and Rust could disagree.

pub mod interfaces {
    // Rustdoc takes a link's first definition: these come before the guide's own, which point
    // at the markdown files for GitHub.
    //! [semantics guide]: super::semantics
    #![doc = include_str!("../../docs/interfaces.md")]
}

pub mod production {
    #![doc = include_str!("../../docs/production.md")]
}

pub mod client {
    #![doc = include_str!("../../docs/client.md")]
}

pub mod typescript {
    #![doc = include_str!("../../docs/typescript.md")]
}

pub mod streams {
    #![doc = include_str!("../../docs/streams.md")]
}

pub mod semantics {
    #![doc = include_str!("../../docs/semantics.md")]
}
