//! Procedural macros for `capnweb`. Use them through the `capnweb` crate, which re-exports
//! [`rpc_interface`] and [`RemoteError`](macro@RemoteError), and documents them with examples.

mod expand;
mod krate;
mod model;
mod remote_error;

use proc_macro::TokenStream;
use syn::ItemTrait;

/// Generates a typed client (`XxxClient`), a server wrapper (`XxxServer`) and pipelining from
/// a trait of `async fn` methods. See `capnweb::rpc_interface` for the full documentation.
#[proc_macro_attribute]
pub fn rpc_interface(attr: TokenStream, item: TokenStream) -> TokenStream {
    let krate = match krate::parse_args(proc_macro2::TokenStream::from(attr)) {
        Ok(krate) => krate,
        Err(e) => return e.to_compile_error().into(),
    };
    let item = syn::parse_macro_input!(item as ItemTrait);
    let out = match model::Interface::read(&item) {
        Ok(interface) => expand::expand(&item, &interface),
        Err(e) => {
            let mut out = e.to_compile_error();
            out.extend(quote::ToTokens::to_token_stream(
                &expand::strip_rpc_attributes(&item),
            ));
            out
        }
    };
    match krate {
        Some(krate) => krate::rename(out, &krate).into(),
        None => out.into(),
    }
}

/// Derives `capnweb::RemoteError`, `From<Self> for capnweb::RpcError` and `capnweb::CallError`
/// for an application error. See `capnweb::RemoteError` for the full documentation.
#[proc_macro_derive(RemoteError, attributes(rpc))]
pub fn derive_remote_error(item: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(item as syn::DeriveInput);
    remote_error::derive(&input)
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}
