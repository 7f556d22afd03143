//! Procedural macros for `capnweb`. Use them through the `capnweb` crate, which re-exports
//! [`rpc_interface`] and [`RemoteError`](macro@RemoteError), and documents them with examples.

mod attr;
mod expand;
mod krate;
mod model;
mod remote_error;
mod ts_derive;
mod ts_interface;
mod ts_serde;

use proc_macro::TokenStream;
use syn::ItemTrait;

/// Generates a typed client (`XxxClient`), a server wrapper (`XxxServer`) and pipelining from
/// a trait of `async fn` methods. See `capnweb::rpc_interface` for the full documentation.
///
/// The client's parameters are generic (`impl Into<Param<T>>`): pass a `String` parameter a
/// `&str` or a `String` as it is (`api.withdraw("alice", 5.0)`), not `"alice".into()`, whose
/// target type cannot be inferred (E0283).
#[proc_macro_attribute]
pub fn rpc_interface(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = match krate::parse_args(proc_macro2::TokenStream::from(attr)) {
        Ok(args) => args,
        Err(e) => return e.to_compile_error().into(),
    };
    let item = syn::parse_macro_input!(item as ItemTrait);
    let out = match model::Interface::read(&item) {
        Ok(interface) => {
            let mut out = expand::expand(&item, &interface);
            if args.typescript {
                out.extend(ts_interface::expand(&item, &interface));
            }
            out
        }
        Err(e) => {
            let mut out = e.to_compile_error();
            out.extend(quote::ToTokens::to_token_stream(
                &expand::strip_rpc_attributes(&item),
            ));
            out
        }
    };
    match args.krate {
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

/// Derives `capnweb::typescript::TypeScript` for a serde struct or enum: its TypeScript form as
/// serde writes it. See `capnweb::typescript` for the full documentation.
#[proc_macro_derive(TypeScript, attributes(ts, serde))]
pub fn derive_typescript(item: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(item as syn::DeriveInput);
    ts_derive::derive(&input)
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}
