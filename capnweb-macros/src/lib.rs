//! Procedural macros for `capnweb`. Use them through the `capnweb` crate.
use proc_macro::TokenStream;

/// Placeholder until the interface macro lands.
#[proc_macro_attribute]
pub fn rpc_interface(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
