//! `#[derive(RemoteError)]`: an application error type as the JavaScript `Error` it travels as
//! (its variant's name, its `Display` as the message, its named fields as properties; a field
//! that travels as `message` is the message itself).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Error, Fields, Ident, Type};

use crate::attr::{crate_path, non_empty};

/// Properties a JavaScript `Error` already has: a field (or the tag) of that name would
/// overwrite them. A field may travel as `message` (it is then the message itself); the tag may
/// not.
const RESERVED: [&str; 3] = ["name", MESSAGE, "stack"];

/// The key of a field that is the error's message rather than a property of its own.
const MESSAGE: &str = "message";

pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    if !input.generics.params.is_empty() {
        return Err(Error::new(
            input.generics.span(),
            "a RemoteError cannot be generic: its fields travel with one concrete type each",
        ));
    }
    let options = Options::read(&input.attrs, true)?;
    let ty = &input.ident;
    let shapes = match &input.data {
        Data::Enum(e) => e
            .variants
            .iter()
            .map(|v| {
                let name = Options::read(&v.attrs, false)?.name;
                let variant = &v.ident;
                let path = quote!(#ty::#variant);
                Shape::read(path, name.unwrap_or_else(|| v.ident.to_string()), &v.fields)
            })
            .collect::<syn::Result<Vec<_>>>()?,
        Data::Struct(s) => {
            let name = options.name.clone().unwrap_or_else(|| ty.to_string());
            vec![Shape::read(quote!(#ty), name, &s.fields)?]
        }
        Data::Union(u) => {
            return Err(Error::new(
                u.union_token.span,
                "a RemoteError is an enum or a struct",
            ))
        }
    };
    if let Some(tag) = &options.tag {
        check_not_reserved(tag, input.ident.span())?;
        for shape in &shapes {
            if let Kind::Fields(fields) = &shape.kind {
                if let Some(field) = fields.iter().find(|f| &f.key == tag) {
                    return Err(Error::new(
                        field.ident.span(),
                        format!("`{tag}` is the tag of this error type: it cannot be a field too"),
                    ));
                }
            }
        }
    }
    let to_value = shapes.iter().map(|s| s.encode_arm(options.tag.as_deref()));
    let from_value = shapes.iter().filter_map(Shape::decode_arm);
    // With a tag, an error whose name is not one of ours (a JavaScript peer's own `Error`) is
    // matched by the tag property instead.
    let kind = match &options.tag {
        Some(tag) => quote! {
            ::capnweb::__private::error_kind(__capnweb_error, #tag)
        },
        None => quote!(__capnweb_error.name.as_str()),
    };
    let into_rpc = shapes.iter().map(Shape::held_arm);
    let out = quote! {
        impl ::capnweb::RemoteError for #ty {
            fn to_error_value(&self) -> ::capnweb::ErrorValue {
                #[allow(unused_mut)]
                let mut __capnweb_error = ::capnweb::ErrorValue::new(
                    "Error",
                    ::std::string::ToString::to_string(self),
                );
                match self {
                    #(#to_value)*
                }
                __capnweb_error
            }

            fn from_error_value(__capnweb_error: &::capnweb::ErrorValue) -> ::core::option::Option<Self> {
                #[allow(unreachable_patterns)]
                match #kind {
                    #(#from_value)*
                    _ => ::core::option::Option::None,
                }
            }
        }

        impl ::core::convert::From<#ty> for ::capnweb::RpcError {
            fn from(__capnweb_value: #ty) -> ::capnweb::RpcError {
                match __capnweb_value {
                    #(#into_rpc)*
                    #[allow(unreachable_patterns)]
                    __capnweb_other => ::capnweb::RpcError::from(
                        <#ty as ::capnweb::RemoteError>::to_error_value(&__capnweb_other),
                    ),
                }
            }
        }

        impl ::capnweb::CallError for #ty {
            fn from_rpc_error(__capnweb_error: ::capnweb::RpcError) -> Self {
                ::capnweb::__private::decode_call_error(__capnweb_error)
            }
        }
    };
    Ok(match options.krate {
        Some(krate) => crate::krate::rename(out, &krate),
        None => out,
    })
}

/// One variant (or the struct): how it is matched, and what it travels as.
struct Shape {
    /// `Type::Variant` or `Type`.
    path: TokenStream,
    /// The error's `name` on the wire.
    name: String,
    kind: Kind,
}

enum Kind {
    /// Named fields (or none): sent as properties, but for one keyed `message`.
    Fields(Vec<Field>),
    /// A single unnamed `RpcError`: sent as that error itself.
    Held,
}

/// A named field and the key it travels as.
struct Field {
    ident: Ident,
    key: String,
    ty: Type,
}

impl Field {
    /// Whether it is the error's message rather than a property.
    fn is_message(&self) -> bool {
        self.key == MESSAGE
    }
}

impl Shape {
    fn read(path: TokenStream, name: String, fields: &Fields) -> syn::Result<Shape> {
        let kind = match fields {
            Fields::Unit => Kind::Fields(Vec::new()),
            Fields::Named(named) => {
                let mut out: Vec<Field> = Vec::new();
                for f in &named.named {
                    let ident = f.ident.clone().expect("named fields have names");
                    let key = Options::read(&f.attrs, false)?
                        .name
                        .unwrap_or_else(|| ident.to_string().trim_start_matches("r#").to_owned());
                    if key != MESSAGE {
                        check_not_reserved(&key, ident.span())?;
                    }
                    if out.iter().any(|other| other.key == key) {
                        return Err(Error::new(
                            ident.span(),
                            format!("two fields of this variant travel as `{key}`: rename one with #[rpc(name = \"...\")]"),
                        ));
                    }
                    let ty = f.ty.clone();
                    out.push(Field { ident, key, ty });
                }
                Kind::Fields(out)
            }
            Fields::Unnamed(unnamed) => {
                let is_rpc_error = unnamed.unnamed.len() == 1
                    && matches!(&unnamed.unnamed[0].ty, syn::Type::Path(p)
                        if p.path.segments.last().is_some_and(|s| s.ident == "RpcError"));
                if !is_rpc_error {
                    return Err(Error::new(
                        fields.span(),
                        "give these fields names (they travel as the error's properties); only a variant holding one `RpcError`, sent as itself, may be a tuple",
                    ));
                }
                Kind::Held
            }
        };
        Ok(Shape { path, name, kind })
    }

    /// The arm of `to_error_value` for this shape.
    fn encode_arm(&self, tag: Option<&str>) -> TokenStream {
        let path = &self.path;
        let name = &self.name;
        match &self.kind {
            Kind::Fields(fields) => {
                // Bound to names of our own, so a field cannot shadow `__capnweb_error`.
                let locals: Vec<_> = (0..fields.len())
                    .map(|i| quote::format_ident!("__capnweb_field{}", i))
                    .collect();
                let bindings = fields.iter().zip(&locals).map(|(field, local)| {
                    let ident = &field.ident;
                    quote!(#ident: #local)
                });
                let tag = tag.map(|tag| {
                    quote!(::capnweb::__private::error_prop(&mut __capnweb_error, #tag, &#name);)
                });
                let props = fields.iter().zip(&locals).map(|(field, local)| {
                    let key = &field.key;
                    if field.is_message() {
                        let set = message_call(&field.ty, &quote!(to_message(#local)));
                        quote!(__capnweb_error.message = #set;)
                    } else {
                        quote!(::capnweb::__private::error_prop(&mut __capnweb_error, #key, #local);)
                    }
                });
                quote! {
                    #path { #(#bindings),* } => {
                        __capnweb_error.name = ::std::string::String::from(#name);
                        #tag
                        #(#props)*
                    }
                }
            }
            Kind::Held => quote! {
                #path(__capnweb_held) => {
                    __capnweb_error = ::capnweb::__private::held_error(__capnweb_held);
                }
            },
        }
    }

    /// The arm of `from_error_value`: none for a held `RpcError`, which is never matched by name.
    fn decode_arm(&self) -> Option<TokenStream> {
        let Kind::Fields(fields) = &self.kind else {
            return None;
        };
        let (path, name) = (&self.path, &self.name);
        let decoded = fields.iter().map(|field| {
            let (ident, key, ty) = (&field.ident, &field.key, &field.ty);
            if field.is_message() {
                let get = message_call(ty, &quote!(from_message(&__capnweb_error.message)));
                quote!(#ident: #get)
            } else {
                quote!(#ident: ::capnweb::__private::error_field(__capnweb_error, #key)?)
            }
        });
        Some(quote! {
            #name => ::core::option::Option::Some(#path { #(#decoded),* }),
        })
    }

    /// The arm of `From<Self> for RpcError` for a held error, which is given back unchanged.
    fn held_arm(&self) -> TokenStream {
        match &self.kind {
            Kind::Held => {
                let path = &self.path;
                quote!(#path(__capnweb_held) => __capnweb_held,)
            }
            Kind::Fields(_) => TokenStream::new(),
        }
    }
}

/// `<ty as ErrorMessage>::call`, spanned at the field's type: a type that is not a string is
/// reported there, once (both uses give the same diagnostic, which rustc shows once).
fn message_call(ty: &Type, call: &TokenStream) -> TokenStream {
    quote_spanned! {ty.span()=> <#ty as ::capnweb::__private::ErrorMessage>::#call }
}

/// A field (or tag) cannot use a name that a JavaScript `Error` already has.
fn check_not_reserved(key: &str, span: proc_macro2::Span) -> syn::Result<()> {
    match RESERVED.contains(&key) {
        true => Err(Error::new(
            span,
            format!("a JavaScript Error already has `{key}`: choose another name (a field can keep its own with #[rpc(name = \"...\")])"),
        )),
        false => Ok(()),
    }
}

/// What `#[rpc(...)]` says on the type, a variant or a field.
#[derive(Default)]
struct Options {
    name: Option<String>,
    krate: Option<syn::Path>,
    tag: Option<String>,
}

impl Options {
    fn read(attrs: &[Attribute], on_type: bool) -> syn::Result<Options> {
        let mut options = Options::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("rpc")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("name") {
                    options.name = Some(non_empty(&meta, "the name")?);
                } else if on_type && meta.path.is_ident("crate") {
                    options.krate = Some(crate_path(&meta)?);
                } else if on_type && meta.path.is_ident("tag") {
                    options.tag = Some(non_empty(&meta, "the tag")?);
                } else {
                    let expected = match on_type {
                        true => "`name = \"...\"`, `tag = \"...\"` or `crate = \"...\"`",
                        false => "`name = \"...\"`",
                    };
                    return Err(meta.error(format!("unknown #[rpc] option: expected {expected}")));
                }
                Ok(())
            })?;
        }
        Ok(options)
    }
}
