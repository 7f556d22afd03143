//! The code generated from an [`Interface`]: the trait itself, `XxxClient` and `XxxServer`.
//!
//! Every path is absolute (`::capnweb::`, `::core::`, `::std::`) and every local name starts
//! with `__capnweb`, so the user's own `Result`, `core` module or parameter names cannot
//! change what the code means.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemTrait, TraitItem};

use crate::model::{Interface, Method};

pub(crate) fn expand(item: &ItemTrait, interface: &Interface) -> TokenStream {
    let mut out = rewrite_trait(item);
    out.extend(client(item, interface));
    out.extend(server(item, interface));
    out
}

/// The trait without its `#[rpc]` attributes: what is left to emit when the trait has errors,
/// so that the user's `impl` blocks do not fail too.
pub(crate) fn strip_rpc_attributes(item: &ItemTrait) -> ItemTrait {
    let mut item = item.clone();
    for trait_item in &mut item.items {
        if let TraitItem::Fn(f) = trait_item {
            f.attrs.retain(|a| !a.path().is_ident("rpc"));
        }
    }
    item
}

/// The trait, with each `async fn` turned into `fn -> impl Future + Send`: implementations
/// still write plain `async fn`, and the `Send` bound is checked at each of them.
fn rewrite_trait(item: &ItemTrait) -> TokenStream {
    let mut item = strip_rpc_attributes(item);
    for trait_item in &mut item.items {
        if let TraitItem::Fn(f) = trait_item {
            f.sig.asyncness = None;
            let output = match &f.sig.output {
                syn::ReturnType::Type(_, ty) => quote!(#ty),
                syn::ReturnType::Default => quote!(()),
            };
            let span = f.sig.output.span();
            f.sig.output = syn::parse_quote_spanned! {span=>
                -> impl ::core::future::Future<Output = #output> + ::core::marker::Send
            };
        }
    }
    quote!(#item)
}

fn client(item: &ItemTrait, interface: &Interface) -> TokenStream {
    let vis = &item.vis;
    let trait_name = &item.ident;
    let client = format_ident!("{}Client", trait_name);
    let server = format_ident!("{}Server", trait_name);
    let doc = format!(
        "A client of [`{trait_name}`]: calls go to the object it refers to, local or remote.\n\n\
         Methods return an [`RpcPromise`](::capnweb::RpcPromise): await it, or pipeline through \
         it. Clone it freely; dropping the last clone releases the object."
    );
    let methods = interface.methods.iter().map(client_method);
    let idempotent = interface
        .methods
        .iter()
        .filter(|m| m.idempotent)
        .map(|m| &m.wire_name);
    quote! {
        #[doc = #doc]
        #[derive(::core::clone::Clone)]
        #vis struct #client {
            __capnweb_stub: ::capnweb::Stub,
        }

        impl #client {
            /// Serves `implementation` in this process and returns a client of it: return it
            /// from a method, or pass it as an argument, to give the peer a capability.
            #vis fn from_impl<__CapnwebT>(implementation: __CapnwebT) -> Self
            where
                __CapnwebT: #trait_name + ::core::marker::Send + ::core::marker::Sync + 'static,
            {
                <Self as ::capnweb::RpcClient>::from_stub(::capnweb::Stub::new(#server::new(implementation)))
            }

            #(#methods)*
        }

        impl ::capnweb::RpcClient for #client {
            const IDEMPOTENT: &'static [&'static str] = &[#(#idempotent),*];

            fn from_stub(stub: ::capnweb::Stub) -> Self {
                #client { __capnweb_stub: stub }
            }

            fn stub(&self) -> &::capnweb::Stub {
                &self.__capnweb_stub
            }
        }

        impl ::core::convert::From<::capnweb::Stub> for #client {
            fn from(stub: ::capnweb::Stub) -> Self {
                <Self as ::capnweb::RpcClient>::from_stub(stub)
            }
        }

        impl ::core::convert::From<#client> for ::capnweb::Stub {
            fn from(client: #client) -> Self {
                client.__capnweb_stub
            }
        }

        impl ::capnweb::IntoStub for #client {
            fn into_stub(self) -> ::capnweb::Stub {
                self.__capnweb_stub
            }
        }

        impl ::core::fmt::Debug for #client {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_tuple(::core::stringify!(#client)).field(&self.__capnweb_stub).finish()
            }
        }

        impl ::capnweb::__private::serde::Serialize for #client {
            fn serialize<__S>(&self, serializer: __S) -> ::core::result::Result<__S::Ok, __S::Error>
            where
                __S: ::capnweb::__private::serde::Serializer,
            {
                ::capnweb::__private::serde::Serialize::serialize(&self.__capnweb_stub, serializer)
            }
        }

        impl<'de> ::capnweb::__private::serde::Deserialize<'de> for #client {
            fn deserialize<__D>(deserializer: __D) -> ::core::result::Result<Self, __D::Error>
            where
                __D: ::capnweb::__private::serde::Deserializer<'de>,
            {
                <::capnweb::Stub as ::capnweb::__private::serde::Deserialize<'de>>::deserialize(deserializer)
                    .map(<Self as ::capnweb::RpcClient>::from_stub)
            }
        }
    }
}

fn client_method(m: &Method) -> TokenStream {
    let ident = &m.ident;
    let wire = &m.wire_name;
    let ok = &m.ok_type;
    let docs = &m.docs;
    let promise = match &m.error_type {
        Some(error) => quote!(::capnweb::RpcPromise<#ok, #error>),
        None => quote!(::capnweb::RpcPromise<#ok>),
    };
    if m.property {
        return quote! {
            #(#docs)*
            pub fn #ident(&self) -> #promise {
                ::capnweb::__private::get(&self.__capnweb_stub, #wire)
            }
        };
    }
    let params = m.params.iter().map(|p| {
        let (name, ty) = (&p.ident, &p.ty);
        quote!(#name: impl ::core::convert::Into<::capnweb::Param<#ty>>)
    });
    let values = m.params.iter().map(|p| {
        let (name, ty) = (&p.ident, &p.ty);
        quote_spanned! {ty.span()=>
            __capnweb_args.push(::capnweb::__private::param::<#ty>(::core::convert::Into::into(#name))?);
        }
    });
    let count = m.params.len();
    let optional = m.params.iter().rev().take_while(|p| p.is_option()).count();
    let idempotent = m.idempotent;
    quote! {
        #(#docs)*
        // As many as the trait's method has: the lint belongs there, not here.
        #[allow(clippy::too_many_arguments)]
        pub fn #ident(&self, #(#params),*) -> #promise {
            let __capnweb_args = (move || {
                let mut __capnweb_args = ::std::vec::Vec::with_capacity(#count);
                #(#values)*
                ::core::result::Result::Ok::<_, ::capnweb::ValueError>(__capnweb_args)
            })();
            ::capnweb::__private::call(&self.__capnweb_stub, #wire, __capnweb_args, #optional, #idempotent)
        }
    }
}

fn server(item: &ItemTrait, interface: &Interface) -> TokenStream {
    let vis = &item.vis;
    let trait_name = &item.ident;
    let server = format_ident!("{}Server", trait_name);
    let doc = format!(
        "Serves an implementation of [`{trait_name}`] over RPC: the \
         [`RpcTarget`](::capnweb::RpcTarget) that decodes each call's arguments, runs the \
         method and encodes its result. Give it to `capnweb::Server::serve`, or make a client \
         of it with `{trait_name}Client::from_impl`."
    );
    let calls = interface
        .methods
        .iter()
        .filter(|m| !m.property)
        .map(|m| server_call(trait_name, m));
    let properties = interface.methods.iter().filter(|m| m.property).map(|m| {
        let (ident, wire) = (&m.ident, &m.wire_name);
        quote! {
            #wire => ::std::boxed::Box::pin(async move {
                ::capnweb::__private::ret(#trait_name::#ident(&self.0).await)
            }),
        }
    });
    quote! {
        #[doc = #doc]
        #vis struct #server<__CapnwebT>(__CapnwebT);

        impl<__CapnwebT> #server<__CapnwebT> {
            /// Serves `implementation`.
            #vis fn new(implementation: __CapnwebT) -> Self {
                #server(implementation)
            }

            /// The implementation inside.
            #vis fn get_ref(&self) -> &__CapnwebT {
                &self.0
            }
        }

        impl<__CapnwebT> ::capnweb::RpcTarget for #server<__CapnwebT>
        where
            __CapnwebT: #trait_name + ::core::marker::Send + ::core::marker::Sync + 'static,
        {
            fn call(
                self: ::std::sync::Arc<Self>,
                __capnweb_method: &str,
                __capnweb_args: ::std::vec::Vec<::capnweb::Value>,
            ) -> ::capnweb::stub::BoxFuture<::core::result::Result<::capnweb::Value, ::capnweb::RpcError>> {
                #[allow(unused_mut, unused_variables)]
                let mut __capnweb_args = __capnweb_args.into_iter();
                match __capnweb_method {
                    #(#calls)*
                    _ => ::capnweb::stub::not_a_function(__capnweb_method),
                }
            }

            fn get(
                self: ::std::sync::Arc<Self>,
                __capnweb_property: &str,
            ) -> ::capnweb::stub::BoxFuture<::core::result::Result<::capnweb::Value, ::capnweb::RpcError>> {
                match __capnweb_property {
                    #(#properties)*
                    _ => ::capnweb::__private::no_property(),
                }
            }
        }
    }
}

fn server_call(trait_name: &syn::Ident, m: &Method) -> TokenStream {
    let (ident, wire) = (&m.ident, &m.wire_name);
    let locals: Vec<_> = (0..m.params.len())
        .map(|i| format_ident!("__capnweb_p{}", i))
        .collect();
    let decode = m.params.iter().zip(&locals).map(|(p, local)| {
        let ty = &p.ty;
        let name = p.ident.to_string();
        quote_spanned! {ty.span()=>
            let #local = match ::capnweb::__private::arg::<#ty>(&mut __capnweb_args, #wire, #name) {
                ::core::result::Result::Ok(v) => v,
                ::core::result::Result::Err(e) => return ::capnweb::__private::fail(e),
            };
        }
    });
    quote! {
        #wire => {
            #(#decode)*
            ::std::boxed::Box::pin(async move {
                ::capnweb::__private::ret(#trait_name::#ident(&self.0, #(#locals),*).await)
            })
        }
    }
}
