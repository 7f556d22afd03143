//! The interface as the macro understands it, read from the trait with every check that can
//! point at a span.

use syn::spanned::Spanned;
use syn::{
    Attribute, Error, FnArg, GenericArgument, Ident, ItemTrait, Pat, PathArguments, ReturnType,
    TraitItem, TraitItemFn, Type,
};

/// One `#[rpc_interface]` trait.
pub(crate) struct Interface {
    pub(crate) methods: Vec<Method>,
}

/// One method of the trait.
pub(crate) struct Method {
    pub(crate) ident: Ident,
    /// The name on the wire (camelCase unless `#[rpc(name = "...")]`).
    pub(crate) wire_name: String,
    /// `#[rpc(property)]`: read as a property rather than called.
    pub(crate) property: bool,
    /// `#[rpc(idempotent)]`: safe to send again after a reconnect.
    pub(crate) idempotent: bool,
    pub(crate) params: Vec<Param>,
    /// `T` in the method's `Result<T, E>`.
    pub(crate) ok_type: Type,
    /// `E` in the method's `Result<T, E>`, unless it is `RpcError` (or not written, as in an
    /// alias `Result<T>`): an application error, which the client gives back as itself.
    pub(crate) error_type: Option<Type>,
    /// The `#[doc]` attributes, for the client method.
    pub(crate) docs: Vec<Attribute>,
}

pub(crate) struct Param {
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
}

impl Param {
    /// Whether the type is written `Option<..>` (so a caller may leave it out).
    pub(crate) fn is_option(&self) -> bool {
        last_segment_named(&self.ty, "Option").is_some()
    }
}

impl Interface {
    pub(crate) fn read(item: &ItemTrait) -> syn::Result<Interface> {
        if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
            return Err(Error::new(
                item.generics.span(),
                "an #[rpc_interface] trait cannot be generic: every method needs concrete types on the wire",
            ));
        }
        let mut methods = Vec::new();
        let mut errors: Option<Error> = None;
        for trait_item in &item.items {
            let result = match trait_item {
                TraitItem::Fn(f) => Method::read(f),
                other => Err(Error::new(
                    other.span(),
                    "an #[rpc_interface] trait can only contain `async fn` methods",
                )),
            };
            match result {
                Ok(m) => methods.push(m),
                Err(e) => match &mut errors {
                    Some(all) => all.combine(e),
                    None => errors = Some(e),
                },
            }
        }
        if let Some(e) = errors {
            return Err(e);
        }
        for (i, m) in methods.iter().enumerate() {
            if m.ident == "from_impl" {
                return Err(Error::new(
                    m.ident.span(),
                    "`from_impl` is taken by the generated client's constructor: rename the method and keep its wire name with #[rpc(name = \"fromImpl\")]",
                ));
            }
            if let Some(other) = methods[..i].iter().find(|o| o.wire_name == m.wire_name) {
                return Err(Error::new(
                    m.ident.span(),
                    format!(
                        "two methods have the wire name \"{}\" (`{}` and `{}`)",
                        m.wire_name, other.ident, m.ident
                    ),
                ));
            }
        }
        Ok(Interface { methods })
    }
}

impl Method {
    fn read(f: &TraitItemFn) -> syn::Result<Method> {
        let sig = &f.sig;
        if sig.asyncness.is_none() {
            return Err(Error::new(
                sig.fn_token.span,
                "RPC methods must be `async fn`: every call goes over the network",
            ));
        }
        if let Some(body) = &f.default {
            return Err(Error::new(
                body.span(),
                "an #[rpc_interface] method cannot have a default body: implement it in the `impl`",
            ));
        }
        if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
            return Err(Error::new(
                sig.generics.span(),
                "RPC methods cannot be generic: each parameter needs one concrete type on the wire",
            ));
        }
        if let Some(v) = &sig.variadic {
            return Err(Error::new(v.span(), "RPC methods cannot be variadic"));
        }
        if let Some(c) = &sig.constness {
            return Err(Error::new(c.span, "RPC methods cannot be `const`"));
        }
        if let Some(u) = &sig.unsafety {
            return Err(Error::new(u.span, "RPC methods cannot be `unsafe`"));
        }
        let mut inputs = sig.inputs.iter();
        match inputs.next() {
            Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() => {}
            Some(FnArg::Receiver(r)) if r.mutability.is_some() && r.reference.is_some() => {
                return Err(Error::new_spanned(
                    r,
                    "RPC methods take `&self`, not `&mut self`: one object serves concurrent calls, so keep mutable state behind a Mutex or atomics",
                ))
            }
            Some(FnArg::Receiver(r)) => {
                return Err(Error::new(
                    r.span(),
                    "RPC methods take `&self`: the object outlives each call, so it cannot be taken by value",
                ))
            }
            _ => {
                return Err(Error::new(
                    sig.ident.span(),
                    "RPC methods take `&self` as their first parameter",
                ))
            }
        }
        let mut params = Vec::new();
        for input in inputs {
            let FnArg::Typed(pt) = input else {
                unreachable!("a receiver can only come first")
            };
            let Pat::Ident(pi) = &*pt.pat else {
                return Err(Error::new(
                    pt.pat.span(),
                    "RPC method parameters must be plain names (they name the argument in errors)",
                ));
            };
            check_owned(&pt.ty)?;
            params.push(Param {
                ident: pi.ident.clone(),
                ty: (*pt.ty).clone(),
            });
        }
        let (ok_type, error_type) = result_types(&sig.output, sig.ident.span())?;
        let options = RpcOptions::read(&f.attrs)?;
        if options.property && !params.is_empty() {
            return Err(Error::new(
                sig.inputs.span(),
                "an #[rpc(property)] takes no arguments besides `&self`",
            ));
        }
        let wire_name = options
            .name
            .unwrap_or_else(|| camel_case(&sig.ident.to_string()));
        Ok(Method {
            ident: sig.ident.clone(),
            wire_name,
            property: options.property,
            idempotent: options.idempotent,
            params,
            ok_type,
            error_type,
            docs: f
                .attrs
                .iter()
                .filter(|a| a.path().is_ident("doc"))
                .cloned()
                .collect(),
        })
    }
}

/// Parameters are deserialized into owned values: borrowed and `impl Trait` types cannot be.
fn check_owned(ty: &Type) -> syn::Result<()> {
    match ty {
        Type::Reference(r) => Err(Error::new_spanned(
            r,
            "RPC parameters must be owned types (e.g. `String` rather than `&str`): arguments are decoded from the wire",
        )),
        Type::ImplTrait(t) => Err(Error::new_spanned(
            t,
            "RPC parameters need a concrete type, not `impl Trait`",
        )),
        _ => Ok(()),
    }
}

/// `T` and `E` in a return type written `Result<T, E>` (or `SomeAlias::Result<T>`, whose `E`
/// is taken to be `RpcError`); `E` is `None` when it is `RpcError`.
fn result_types(
    output: &ReturnType,
    fallback: proc_macro2::Span,
) -> syn::Result<(Type, Option<Type>)> {
    let err = |span| {
        Error::new(
            span,
            "RPC methods return `Result<T, E>` (with `E` `capnweb::RpcError` or a type deriving `capnweb::RemoteError`): every call can fail",
        )
    };
    let ReturnType::Type(_, ty) = output else {
        return Err(err(fallback));
    };
    let args = last_segment_named(ty, "Result").ok_or_else(|| err(ty.span()))?;
    let mut types = args.iter().filter_map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    });
    let ok = types.next().ok_or_else(|| err(ty.span()))?.clone();
    let error = types.next().filter(|e| !is_named(e, "RpcError")).cloned();
    Ok((ok, error))
}

/// Whether `ty` is a path whose last segment is `name` (with no generic arguments).
fn is_named(ty: &Type, name: &str) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| s.ident == name && s.arguments.is_none()))
}

/// The generic arguments of a path type whose last segment is `name`.
fn last_segment_named<'a>(
    ty: &'a Type,
    name: &str,
) -> Option<&'a syn::punctuated::Punctuated<GenericArgument, syn::Token![,]>> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    match &last.arguments {
        PathArguments::AngleBracketed(a) => Some(&a.args),
        _ => None,
    }
}

/// What `#[rpc(...)]` says about a method.
#[derive(Default)]
struct RpcOptions {
    name: Option<String>,
    property: bool,
    idempotent: bool,
}

impl RpcOptions {
    fn read(attrs: &[Attribute]) -> syn::Result<RpcOptions> {
        let mut options = RpcOptions::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("rpc")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("name") {
                    options.name = Some(crate::attr::non_empty(&meta, "the wire name")?);
                } else if meta.path.is_ident("property") {
                    options.property = true;
                } else if meta.path.is_ident("idempotent") {
                    options.idempotent = true;
                } else {
                    return Err(meta.error(
                        "unknown #[rpc] option: expected `name = \"...\"`, `property` or `idempotent`",
                    ));
                }
                Ok(())
            })?;
        }
        Ok(options)
    }
}

/// `make_counter` -> `makeCounter`; leading underscores and `r#` are dropped.
pub(crate) fn camel_case(ident: &str) -> String {
    let ident = ident.strip_prefix("r#").unwrap_or(ident);
    let mut out = String::with_capacity(ident.len());
    let mut upper = false;
    for c in ident.trim_start_matches('_').chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::camel_case;

    #[test]
    fn snake_case_becomes_camel_case() {
        assert_eq!(camel_case("make_counter"), "makeCounter");
        assert_eq!(camel_case("add"), "add");
        assert_eq!(camel_case("get_http_url"), "getHttpUrl");
        assert_eq!(camel_case("r#type"), "type");
        assert_eq!(camel_case("_hidden_thing"), "hiddenThing");
    }
}
