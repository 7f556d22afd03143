//! Procedural macros for `capnweb`. Use them through the `capnweb` crate, which re-exports
//! [`rpc_interface`] and documents it with examples.

mod expand;
mod krate;
mod model;

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
