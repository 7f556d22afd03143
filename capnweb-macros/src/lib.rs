//! Procedural macros for `capnweb`. Use them through the `capnweb` crate, which re-exports
//! [`rpc_interface`] and documents it with examples.

mod expand;
mod model;

use proc_macro::TokenStream;
use syn::ItemTrait;

/// Generates a typed client (`XxxClient`), a server wrapper (`XxxServer`) and pipelining from
/// a trait of `async fn` methods. See `capnweb::rpc_interface` for the full documentation.
#[proc_macro_attribute]
pub fn rpc_interface(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = proc_macro2::TokenStream::from(attr);
    if !attr.is_empty() {
        return syn::Error::new_spanned(attr, "#[rpc_interface] takes no arguments")
            .to_compile_error()
            .into();
    }
    let item = syn::parse_macro_input!(item as ItemTrait);
    match model::Interface::read(&item) {
        Ok(interface) => expand::expand(&item, &interface).into(),
        Err(e) => {
            let mut out = e.to_compile_error();
            out.extend(quote::ToTokens::to_token_stream(
                &expand::strip_rpc_attributes(&item),
            ));
            out.into()
        }
    }
}
