//! `#[rpc_interface(crate = "...")]`: the generated code names the runtime as `::capnweb`;
//! for a dependency renamed in `Cargo.toml`, every such path is rewritten to the one given.

use proc_macro2::{Group, TokenStream, TokenTree};

/// The arguments of `#[rpc_interface(...)]`.
#[derive(Default)]
pub(crate) struct Args {
    /// `crate = "path"`: a renamed dependency.
    pub(crate) krate: Option<syn::Path>,
    /// `typescript`: the client also implements `capnweb::typescript::TypeScript`.
    pub(crate) typescript: bool,
}

/// The `crate = "path"` and `typescript` arguments; anything else is an error.
pub(crate) fn parse_args(attr: TokenStream) -> syn::Result<Args> {
    let mut args = Args::default();
    if attr.is_empty() {
        return Ok(args);
    }
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("crate") {
            args.krate = Some(crate::attr::crate_path(&meta)?);
            Ok(())
        } else if meta.path.is_ident("typescript") {
            args.typescript = true;
            Ok(())
        } else {
            Err(meta.error(
                "unknown #[rpc_interface] argument: expected `typescript` or `crate = \"path::to::capnweb\"`",
            ))
        }
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(args)
}

/// `tokens` with every `::capnweb` path start replaced by `krate`.
pub(crate) fn rename(tokens: TokenStream, krate: &syn::Path) -> TokenStream {
    let replacement = quote::ToTokens::to_token_stream(krate);
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    let mut i = 0;
    while i < trees.len() {
        if let [TokenTree::Punct(a), TokenTree::Punct(b), TokenTree::Ident(name), ..] = &trees[i..]
        {
            if a.as_char() == ':' && b.as_char() == ':' && name == "capnweb" {
                // Only a path's start: `::capnweb`, not `x::capnweb` (after a keyword, such as
                // `impl ::capnweb::..`, it is a start).
                let follows_path = match out.last() {
                    Some(TokenTree::Ident(prev)) => !is_keyword(&prev.to_string()),
                    Some(TokenTree::Punct(p)) => p.as_char() == '>',
                    _ => false,
                };
                if !follows_path {
                    out.extend(replacement.clone());
                    i += 3;
                    continue;
                }
            }
        }
        out.push(match &trees[i] {
            TokenTree::Group(g) => {
                let mut renamed = Group::new(g.delimiter(), rename(g.stream(), krate));
                renamed.set_span(g.span());
                TokenTree::Group(renamed)
            }
            other => other.clone(),
        });
        i += 1;
    }
    out.into_iter().collect()
}

fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "as" | "async"
            | "await"
            | "break"
            | "const"
            | "continue"
            | "dyn"
            | "else"
            | "enum"
            | "extern"
            | "fn"
            | "for"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "static"
            | "struct"
            | "trait"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn every_capnweb_path_is_renamed_at_any_depth() {
        let krate: syn::Path = syn::parse_str("::my_rpc").unwrap();
        let before = quote! {
            impl ::capnweb::RpcClient for X {
                fn f(s: ::capnweb::Stub) -> Vec<::capnweb::Value> { other::capnweb::Keep }
            }
        };
        let after = rename(before, &krate).to_string();
        assert_eq!(
            after.matches(":: capnweb ::").count(),
            1,
            "only the kept one: {after}"
        );
        assert_eq!(after.matches(":: my_rpc ::").count(), 3, "{after}");
        assert!(after.contains("other :: capnweb :: Keep"), "{after}");
    }

    #[test]
    fn only_crate_and_typescript_are_arguments() {
        assert!(parse_args(quote! {}).unwrap().krate.is_none());
        let args = parse_args(quote! { crate = "::a::b", typescript }).unwrap();
        assert_eq!(
            quote::ToTokens::to_token_stream(&args.krate.unwrap()).to_string(),
            ":: a :: b"
        );
        assert!(args.typescript);
        assert!(parse_args(quote! { krate = "x" }).is_err());
    }
}
