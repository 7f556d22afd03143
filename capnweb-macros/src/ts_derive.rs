//! `#[derive(TypeScript)]`: a serde type's TypeScript form, as serde writes it.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Error, Fields};

use crate::attr::{crate_path, non_empty};
use crate::ts_serde::{rename_field, rename_variant, Container, FieldAttrs, VariantAttrs};

pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    if !input.generics.params.is_empty() {
        return Err(Error::new(
            input.generics.span(),
            "#[derive(TypeScript)] does not support generic types: give the type concrete field types (or write its TypeScript impl by hand)",
        ));
    }
    let ts = TsOptions::read(&input.attrs, true)?;
    let serde = Container::read(&input.attrs)?;
    let ident = &input.ident;
    let name = ts.rename.clone().unwrap_or_else(|| ident.to_string());
    let docs = doc_strings(&input.attrs);
    let declaration = match (&serde.into, &input.data) {
        (Some(into), _) => alias(&name, &docs, &type_of(into)),
        (None, Data::Struct(s)) => structure(&name, ident, &docs, &serde, &s.fields)?,
        (None, Data::Enum(e)) => {
            let mut variants = Vec::new();
            for v in &e.variants {
                let attrs = VariantAttrs::read(&v.attrs)?;
                if attrs.skip {
                    continue;
                }
                let wire = attrs.rename.clone().unwrap_or_else(|| {
                    rename_variant(&v.ident.to_string(), serde.rename_all.as_deref())
                });
                let field_rule = attrs
                    .rename_all
                    .as_deref()
                    .or(serde.rename_all_fields.as_deref());
                variants.push(variant(&serde, &attrs, &wire, field_rule, &v.fields)?);
            }
            alias(
                &name,
                &docs,
                &quote!(::capnweb::typescript::union(&[#(#variants),*])),
            )
        }
        (None, Data::Union(u)) => {
            return Err(Error::new(
                u.union_token.span,
                "#[derive(TypeScript)] is for structs and enums",
            ))
        }
    };
    let out = quote! {
        impl ::capnweb::typescript::TypeScript for #ident {
            fn typescript(
                __capnweb_d: &mut ::capnweb::typescript::Declarations,
            ) -> ::std::string::String {
                __capnweb_d.declare::<Self>(#name, |__capnweb_d| { #declaration })
            }
        }
    };
    Ok(match ts.krate {
        Some(krate) => crate::krate::rename(out, &krate),
        None => out,
    })
}

/// A struct: an interface for named fields (an intersection when some are flattened), else
/// what serde writes for it.
fn structure(
    name: &str,
    ident: &syn::Ident,
    docs: &[String],
    serde: &Container,
    fields: &Fields,
) -> syn::Result<TokenStream> {
    if serde.transparent {
        let field = fields
            .iter()
            .find(|f| !FieldAttrs::read(&f.attrs).is_ok_and(|a| a.skip))
            .ok_or_else(|| Error::new(fields.span(), "a transparent struct needs a field"))?;
        return Ok(alias(name, docs, &field_type(field)?));
    }
    match fields {
        Fields::Named(_) => {
            let mut members = named_fields(fields, serde.rename_all.as_deref())?;
            if let Some(tag) = &serde.tag {
                // The name serde writes: its own rename, else the Rust name (not `#[ts(rename)]`).
                let written = serde.rename.clone().unwrap_or_else(|| ident.to_string());
                members.plain.insert(0, tag_field(tag, &written));
            }
            let Members { plain, flattened } = members;
            Ok(match flattened.is_empty() {
                true => quote! {
                    ::capnweb::typescript::object_interface(#name, &[#(::std::string::String::from(#docs)),*], &[#(#plain),*])
                },
                false => alias(
                    name,
                    docs,
                    &quote! {
                        ::capnweb::typescript::intersection(&[
                            ::capnweb::typescript::inline_object(&[#(#plain),*]),
                            #(#flattened),*
                        ])
                    },
                ),
            })
        }
        Fields::Unnamed(u) if u.unnamed.len() == 1 => {
            Ok(alias(name, docs, &field_type(&u.unnamed[0])?))
        }
        Fields::Unnamed(_) => Ok(alias(name, docs, &tuple(fields)?)),
        Fields::Unit => Ok(alias(
            name,
            docs,
            &quote!(::std::string::String::from("null")),
        )),
    }
}

/// One variant's form, under the enum's tagging.
fn variant(
    serde: &Container,
    attrs: &VariantAttrs,
    wire: &str,
    field_rule: Option<&str>,
    fields: &Fields,
) -> syn::Result<TokenStream> {
    let literal = quote!(::capnweb::typescript::string_literal(#wire));
    // The variant's content, as untagged and adjacent forms carry it.
    let content = |extra: Vec<TokenStream>| -> syn::Result<TokenStream> {
        Ok(match fields {
            // serde writes a lone unit variant with `serialize_unit`: `undefined` here.
            Fields::Unit => quote!(::std::string::String::from("undefined")),
            Fields::Unnamed(u) if u.unnamed.len() == 1 => field_type(&u.unnamed[0])?,
            Fields::Unnamed(_) => tuple(fields)?,
            Fields::Named(_) => {
                let mut members = named_fields(fields, field_rule)?;
                for (i, e) in extra.into_iter().enumerate() {
                    members.plain.insert(i, e);
                }
                members.inline()
            }
        })
    };
    if serde.untagged || attrs.untagged {
        return content(Vec::new());
    }
    match (&serde.tag, &serde.content) {
        // Adjacent: `{ tag: "V", content: ... }`.
        (Some(tag), Some(content_key)) => {
            let tag_member = tag_field(tag, wire);
            Ok(match fields {
                Fields::Unit => quote!(::capnweb::typescript::inline_object(&[#tag_member])),
                _ => {
                    let inner = content(Vec::new())?;
                    quote!(::capnweb::typescript::inline_object(&[
                        #tag_member,
                        ::capnweb::typescript::Field::new(#content_key, #inner),
                    ]))
                }
            })
        }
        // Internal: the tag among the variant's own members.
        (Some(tag), None) => {
            let tag_member = tag_field(tag, wire);
            Ok(match fields {
                Fields::Unit => quote!(::capnweb::typescript::inline_object(&[#tag_member])),
                Fields::Named(_) => content(vec![tag_member])?,
                Fields::Unnamed(u) if u.unnamed.len() == 1 => {
                    let inner = field_type(&u.unnamed[0])?;
                    quote!(::capnweb::typescript::intersection(&[
                        ::capnweb::typescript::inline_object(&[#tag_member]),
                        #inner,
                    ]))
                }
                Fields::Unnamed(_) => {
                    return Err(Error::new(
                        fields.span(),
                        "serde cannot tag a tuple variant internally",
                    ))
                }
            })
        }
        (None, _) => Ok(match fields {
            // External: a unit variant is its name; any other, `{ "V": content }`.
            Fields::Unit => literal,
            _ => {
                let inner = content(Vec::new())?;
                quote!(::capnweb::typescript::inline_object(&[
                    ::capnweb::typescript::Field::new(#wire, #inner),
                ]))
            }
        }),
    }
}

/// The members of named fields: plain ones, and the types of flattened ones.
struct Members {
    plain: Vec<TokenStream>,
    flattened: Vec<TokenStream>,
}

impl Members {
    /// As one inline object type (intersected with the flattened ones).
    fn inline(self) -> TokenStream {
        let Members { plain, flattened } = self;
        let object = quote!(::capnweb::typescript::inline_object(&[#(#plain),*]));
        match flattened.is_empty() {
            true => object,
            false => quote!(::capnweb::typescript::intersection(&[#object, #(#flattened),*])),
        }
    }
}

fn named_fields(fields: &Fields, rule: Option<&str>) -> syn::Result<Members> {
    let mut members = Members {
        plain: Vec::new(),
        flattened: Vec::new(),
    };
    for f in fields {
        let attrs = FieldAttrs::read(&f.attrs)?;
        if attrs.skip {
            continue;
        }
        let ty = field_type(f)?;
        if attrs.flatten {
            members
                .flattened
                .push(quote!(::capnweb::typescript::flattened(&#ty)));
            continue;
        }
        let ident = f
            .ident
            .as_ref()
            .expect("named fields have names")
            .to_string();
        let ident = ident.strip_prefix("r#").unwrap_or(&ident);
        let key = attrs.rename.unwrap_or_else(|| rename_field(ident, rule));
        let optional = attrs.optional;
        let docs = doc_strings(&f.attrs);
        members.plain.push(quote! {
            ::capnweb::typescript::Field {
                name: ::std::string::String::from(#key),
                ty: #ty,
                optional: #optional,
                docs: ::std::vec![#(::std::string::String::from(#docs)),*],
            }
        });
    }
    Ok(members)
}

/// `[A, B, ...]` of unnamed fields.
fn tuple(fields: &Fields) -> syn::Result<TokenStream> {
    let types = fields
        .iter()
        .filter(|f| !FieldAttrs::read(&f.attrs).is_ok_and(|a| a.skip))
        .map(field_type)
        .collect::<syn::Result<Vec<_>>>()?;
    Ok(quote!(::std::format!("[{}]", [#(#types),*].join(", "))))
}

fn tag_field(tag: &str, value: &str) -> TokenStream {
    quote!(::capnweb::typescript::Field::new(#tag, ::capnweb::typescript::string_literal(#value)))
}

/// A field's TypeScript type: `#[ts(type = "...")]`, or its Rust type's.
fn field_type(f: &syn::Field) -> syn::Result<TokenStream> {
    let ts = TsOptions::read(&f.attrs, false)?;
    Ok(match ts.ty {
        Some(ty) => quote!(::std::string::String::from(#ty)),
        None => type_of(&f.ty),
    })
}

/// `<T as TypeScript>::typescript(d)`, spanned at the type so a missing impl points there.
pub(crate) fn type_of(ty: &syn::Type) -> TokenStream {
    // Only the path takes the type's span: the local `__capnweb_d` keeps the macro's own
    // hygiene (else it is not found when the item comes from a `macro_rules!`).
    let function = quote_spanned! {ty.span()=>
        <#ty as ::capnweb::typescript::TypeScript>::typescript
    };
    quote!(#function(__capnweb_d))
}

/// `export type name = ty;`, where `ty` is an expression giving the type's text.
fn alias(name: &str, docs: &[String], ty: &TokenStream) -> TokenStream {
    quote! {
        ::capnweb::typescript::alias(#name, &[#(::std::string::String::from(#docs)),*], &#ty)
    }
}

/// The text of each `#[doc = "..."]`.
pub(crate) fn doc_strings(attrs: &[Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// What `#[ts(...)]` says: on the type `rename` and `crate`, on a field `type`.
#[derive(Default)]
struct TsOptions {
    rename: Option<String>,
    krate: Option<syn::Path>,
    ty: Option<String>,
}

impl TsOptions {
    fn read(attrs: &[Attribute], on_type: bool) -> syn::Result<TsOptions> {
        let mut options = TsOptions::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("ts")) {
            attr.parse_nested_meta(|meta| {
                if on_type && meta.path.is_ident("rename") {
                    options.rename = Some(non_empty(&meta, "this")?);
                } else if on_type && meta.path.is_ident("crate") {
                    options.krate = Some(crate_path(&meta)?);
                } else if !on_type && meta.path.is_ident("type") {
                    options.ty = Some(non_empty(&meta, "this")?);
                } else {
                    let expected = match on_type {
                        true => "`rename = \"...\"` or `crate = \"...\"`",
                        false => "`type = \"...\"`",
                    };
                    return Err(
                        meta.error(format!("unknown #[ts] option here: expected {expected}"))
                    );
                }
                Ok(())
            })?;
        }
        Ok(options)
    }
}
