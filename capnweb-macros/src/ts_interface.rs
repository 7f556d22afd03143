//! `#[rpc_interface(typescript)]`: the client implements `capnweb::typescript::TypeScript` as
//! `interface Foo extends RpcTarget`, one member per method, written `RpcStub<Foo>` where it is
//! used.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ItemTrait;

use crate::model::{camel_case, Interface, Method};
use crate::ts_derive::{doc_strings, type_of};

pub(crate) fn expand(item: &ItemTrait, interface: &Interface) -> TokenStream {
    let client = format_ident!("{}Client", item.ident);
    let name = item.ident.to_string();
    let docs = doc_strings(&item.attrs);
    let members = interface.methods.iter().map(member);
    quote! {
        impl ::capnweb::typescript::TypeScript for #client {
            fn typescript(
                __capnweb_d: &mut ::capnweb::typescript::Declarations,
            ) -> ::std::string::String {
                // Where it is used, a stub of the interface: a TypeScript caller passes a stub
                // (or a promise of one) where a capability is expected.
                __capnweb_d.import("RpcStub");
                __capnweb_d.import("RpcTarget");
                let __capnweb_name = __capnweb_d.declare::<Self>(#name, |__capnweb_d| {
                    let __capnweb_members = ::std::vec![#(#members),*];
                    ::capnweb::typescript::interface(
                        #name,
                        &[#(::std::string::String::from(#docs)),*],
                        ::core::option::Option::Some("RpcTarget"),
                        &__capnweb_members,
                    )
                });
                ::std::format!("RpcStub<{}>", __capnweb_name)
            }
        }
    }
}

fn member(m: &Method) -> TokenStream {
    let wire = &m.wire_name;
    let docs = doc_strings(&m.docs);
    let result = type_of(&m.ok_type);
    if m.property {
        return quote! {
            ::capnweb::typescript::Member::Property {
                name: ::std::string::String::from(#wire),
                docs: ::std::vec![#(::std::string::String::from(#docs)),*],
                ty: #result,
            }
        };
    }
    // Trailing `Option`s may be left out, as the server reads a missing one as `None`.
    let optional_from =
        m.params.len() - m.params.iter().rev().take_while(|p| p.is_option()).count();
    let params = m.params.iter().enumerate().map(|(i, p)| {
        let name = parameter_name(camel_case(&p.ident.to_string()));
        let ty = type_of(&p.ty);
        let optional = i >= optional_from;
        quote! {
            ::capnweb::typescript::MethodParam {
                name: ::std::string::String::from(#name),
                ty: #ty,
                optional: #optional,
            }
        }
    });
    quote! {
        ::capnweb::typescript::Member::Method {
            name: ::std::string::String::from(#wire),
            docs: ::std::vec![#(::std::string::String::from(#docs)),*],
            params: ::std::vec![#(#params),*],
            result: #result,
        }
    }
}

/// A parameter's name, with `_` after a word TypeScript reserves (a parameter cannot be called
/// `default` or `new`, and one called `this` would be no parameter at all).
fn parameter_name(name: String) -> String {
    const RESERVED: &[&str] = &[
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "debugger",
        "default",
        "delete",
        "do",
        "else",
        "enum",
        "export",
        "extends",
        "false",
        "finally",
        "for",
        "function",
        "if",
        "implements",
        "import",
        "in",
        "instanceof",
        "interface",
        "let",
        "new",
        "null",
        "package",
        "private",
        "protected",
        "public",
        "return",
        "static",
        "super",
        "switch",
        "this",
        "throw",
        "true",
        "try",
        "typeof",
        "var",
        "void",
        "while",
        "with",
        "yield",
    ];
    match RESERVED.contains(&name.as_str()) {
        true => name + "_",
        false => name,
    }
}
