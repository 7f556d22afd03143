//! Values of the macros' attribute options, read the same way everywhere.

use syn::meta::ParseNestedMeta;
use syn::LitStr;

/// `key = "text"`, refused when empty (the error says `<what> cannot be empty`).
pub(crate) fn non_empty(meta: &ParseNestedMeta, what: &str) -> syn::Result<String> {
    let text: LitStr = meta.value()?.parse()?;
    match text.value().is_empty() {
        true => Err(meta.error(format!("{what} cannot be empty"))),
        false => Ok(text.value()),
    }
}

/// `crate = "path::to::capnweb"`.
pub(crate) fn crate_path(meta: &ParseNestedMeta) -> syn::Result<syn::Path> {
    let path: LitStr = meta.value()?.parse()?;
    path.parse()
}
