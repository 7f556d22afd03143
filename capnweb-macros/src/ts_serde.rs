//! What serde's attributes say about a type's shape on the wire, as far as its TypeScript form
//! needs: names, renames, skips, optional members, tagging and flattening.

use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitStr};

/// `#[serde(...)]` on a struct or an enum.
#[derive(Default)]
pub(crate) struct Container {
    pub(crate) rename_all: Option<String>,
    pub(crate) rename_all_fields: Option<String>,
    pub(crate) tag: Option<String>,
    pub(crate) content: Option<String>,
    pub(crate) untagged: bool,
    pub(crate) transparent: bool,
    /// The name the type goes by when serde writes it (an internally tagged struct's tag).
    pub(crate) rename: Option<String>,
    /// `into = "Type"`: written as that type.
    pub(crate) into: Option<syn::Type>,
}

/// `#[serde(...)]` on a field.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    pub(crate) rename: Option<String>,
    pub(crate) skip: bool,
    /// Sent only sometimes, or may be left out: `name?:`.
    pub(crate) optional: bool,
    pub(crate) flatten: bool,
}

/// `#[serde(...)]` on a variant.
#[derive(Default)]
pub(crate) struct VariantAttrs {
    pub(crate) rename: Option<String>,
    pub(crate) rename_all: Option<String>,
    pub(crate) skip: bool,
    pub(crate) untagged: bool,
}

impl Container {
    pub(crate) fn read(attrs: &[Attribute]) -> syn::Result<Container> {
        let mut c = Container::default();
        for_each(attrs, |meta| {
            if meta.path.is_ident("rename_all") {
                c.rename_all = serialize_name(&meta)?;
            } else if meta.path.is_ident("rename_all_fields") {
                c.rename_all_fields = serialize_name(&meta)?;
            } else if meta.path.is_ident("tag") {
                c.tag = Some(string(&meta)?);
            } else if meta.path.is_ident("content") {
                c.content = Some(string(&meta)?);
            } else if meta.path.is_ident("untagged") {
                c.untagged = true;
            } else if meta.path.is_ident("transparent") {
                c.transparent = true;
            } else if meta.path.is_ident("rename") {
                c.rename = serialize_name(&meta)?;
            } else if meta.path.is_ident("into") {
                c.into = Some(string_lit(&meta)?.parse()?);
            } else {
                skip_value(&meta)?;
            }
            Ok(())
        })?;
        Ok(c)
    }
}

impl FieldAttrs {
    pub(crate) fn read(attrs: &[Attribute]) -> syn::Result<FieldAttrs> {
        let mut f = FieldAttrs::default();
        for_each(attrs, |meta| {
            if meta.path.is_ident("rename") {
                f.rename = serialize_name(&meta)?;
            } else if meta.path.is_ident("skip") {
                f.skip = true;
            } else if meta.path.is_ident("skip_serializing")
                || meta.path.is_ident("skip_deserializing")
                || meta.path.is_ident("skip_serializing_if")
                || meta.path.is_ident("default")
            {
                f.optional = true;
                skip_value(&meta)?;
            } else if meta.path.is_ident("flatten") {
                f.flatten = true;
            } else {
                skip_value(&meta)?;
            }
            Ok(())
        })?;
        Ok(f)
    }
}

impl VariantAttrs {
    pub(crate) fn read(attrs: &[Attribute]) -> syn::Result<VariantAttrs> {
        let mut v = VariantAttrs::default();
        for_each(attrs, |meta| {
            if meta.path.is_ident("rename") {
                v.rename = serialize_name(&meta)?;
            } else if meta.path.is_ident("rename_all") {
                v.rename_all = serialize_name(&meta)?;
            } else if meta.path.is_ident("skip") || meta.path.is_ident("skip_serializing") {
                v.skip = true;
            } else if meta.path.is_ident("untagged") {
                v.untagged = true;
            } else {
                skip_value(&meta)?;
            }
            Ok(())
        })?;
        Ok(v)
    }
}

fn for_each(
    attrs: &[Attribute],
    mut f: impl FnMut(ParseNestedMeta) -> syn::Result<()>,
) -> syn::Result<()> {
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(&mut f)?;
    }
    Ok(())
}

fn string_lit(meta: &ParseNestedMeta) -> syn::Result<LitStr> {
    meta.value()?.parse()
}

fn string(meta: &ParseNestedMeta) -> syn::Result<String> {
    Ok(string_lit(meta)?.value())
}

/// `name = "x"`, or `name(serialize = "x", deserialize = "y")`: the name serde writes (`None`
/// when only the deserialized one is given).
fn serialize_name(meta: &ParseNestedMeta) -> syn::Result<Option<String>> {
    if meta.input.peek(syn::Token![=]) {
        return string(meta).map(Some);
    }
    let mut name = None;
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("serialize") {
            name = Some(string(&inner)?);
        } else {
            skip_value(&inner)?;
        }
        Ok(())
    })?;
    Ok(name)
}

/// Consumes what follows an attribute we do not read: `= value`, `(...)`, or nothing.
fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _group: proc_macro2::Group = meta.input.parse()?;
    }
    Ok(())
}

/// A field's name under `rename_all = rule`, as serde writes it (fields are snake_case).
pub(crate) fn rename_field(field: &str, rule: Option<&str>) -> String {
    match rule {
        None | Some("lowercase" | "snake_case") => field.to_owned(),
        Some("UPPERCASE" | "SCREAMING_SNAKE_CASE") => field.to_ascii_uppercase(),
        Some("PascalCase") => pascal(field),
        Some("camelCase") => {
            let pascal = pascal(field);
            let mut chars = pascal.chars();
            match chars.next() {
                Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
                None => pascal,
            }
        }
        Some("kebab-case") => field.replace('_', "-"),
        Some("SCREAMING-KEBAB-CASE") => field.to_ascii_uppercase().replace('_', "-"),
        Some(_) => field.to_owned(),
    }
}

/// A variant's name under `rename_all = rule`, as serde writes it (variants are PascalCase).
pub(crate) fn rename_variant(variant: &str, rule: Option<&str>) -> String {
    let snake = || {
        let mut out = String::new();
        for (i, c) in variant.char_indices() {
            if i > 0 && c.is_uppercase() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    };
    match rule {
        None | Some("PascalCase") => variant.to_owned(),
        Some("lowercase") => variant.to_ascii_lowercase(),
        Some("UPPERCASE") => variant.to_ascii_uppercase(),
        Some("camelCase") => {
            let mut chars = variant.chars();
            match chars.next() {
                Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        }
        Some("snake_case") => snake(),
        Some("SCREAMING_SNAKE_CASE") => snake().to_ascii_uppercase(),
        Some("kebab-case") => snake().replace('_', "-"),
        Some("SCREAMING-KEBAB-CASE") => snake().to_ascii_uppercase().replace('_', "-"),
        Some(_) => variant.to_owned(),
    }
}

fn pascal(field: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_follow_serde() {
        assert_eq!(rename_field("user_id", Some("camelCase")), "userId");
        assert_eq!(rename_field("user_id", Some("PascalCase")), "UserId");
        assert_eq!(
            rename_field("user_id", Some("SCREAMING-KEBAB-CASE")),
            "USER-ID"
        );
        assert_eq!(rename_field("user_id", Some("kebab-case")), "user-id");
        assert_eq!(
            rename_variant("OutOfStock", Some("snake_case")),
            "out_of_stock"
        );
        assert_eq!(
            rename_variant("OutOfStock", Some("camelCase")),
            "outOfStock"
        );
        assert_eq!(
            rename_variant("OutOfStock", Some("SCREAMING_SNAKE_CASE")),
            "OUT_OF_STOCK"
        );
        assert_eq!(
            rename_variant("OutOfStock", Some("kebab-case")),
            "out-of-stock"
        );
        assert_eq!(
            rename_variant("OutOfStock", Some("lowercase")),
            "outofstock"
        );
    }
}
