//! The layering of `capnweb/src`, as its `# Layout` says: each layer names only the ones below
//! it. Read from the source with `syn`, so that the layout cannot drift: every path counts
//! (`use` trees with their groups, `super::` paths resolved from the file's module, paths in
//! code and in macro arguments); test code is not the layer's. A lower layer that names a
//! higher one fails this test, naming the file and the line.

use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::visit::Visit;

/// The layers from the bottom up, and what each must never name.
const RULES: &[(&[&str], &[&str])] = &[
    // `Value` holds stubs and streams, hooks take values: these four are one layer.
    (
        &["value", "wire", "stub", "stream"],
        &[
            "session",
            "transport",
            "typed",
            "typescript",
            "server",
            "client",
        ],
    ),
    // The session runs over its `Transport` trait, which the transports above implement (and
    // `crate::transport` re-exports): it names none of them.
    (
        &["session"],
        &["transport", "typed", "typescript", "server", "client"],
    ),
    (&["transport"], &["typed", "typescript", "server", "client"]),
    (&["typed"], &["typescript", "server", "client"]),
    (&["typescript"], &["server", "client"]),
    (&["server"], &["client"]),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../capnweb/src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The files of a layer: its directory, or its single file.
fn layer_files(layer: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let dir = src().join(layer);
    if dir.is_dir() {
        rust_files(&dir, &mut files);
    }
    let file = src().join(format!("{layer}.rs"));
    if file.is_file() {
        files.push(file);
    }
    assert!(!files.is_empty(), "no layer `{layer}` in capnweb/src");
    files
}

/// The module path of a file of `capnweb/src` (`session/core/mod.rs`: `session::core`).
fn module_of(file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src()).unwrap();
    let mut module: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if module
        .last()
        .is_some_and(|last| last == "mod" || last == "lib")
    {
        module.pop();
    }
    module
}

/// Whether a file of `capnweb/src` is test code (a `tests.rs` module, or under a `tests`
/// directory).
fn is_test_file(file: &Path) -> bool {
    let relative = file.strip_prefix(src()).unwrap_or(file);
    relative
        .iter()
        .any(|part| part == "tests" || part == "tests.rs")
}

/// Whether `attrs` hold `#[cfg(test)]`.
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.meta
                .require_list()
                .is_ok_and(|l| l.tokens.to_string() == "test")
    })
}

/// The crate's top-level module a path starting with `segments` names, seen from `module`:
/// `crate::x::..` names `x`; `super::..` and `self::..` are resolved from `module`. Paths that
/// start elsewhere (another crate, a local name) name none.
fn top_module(module: &[String], segments: &[String]) -> Option<String> {
    let (mut at, rest) = match segments.first()?.as_str() {
        "crate" => (Vec::new(), &segments[1..]),
        "super" | "self" => (module.to_vec(), segments),
        _ => return None,
    };
    for segment in rest {
        match segment.as_str() {
            "super" => {
                at.pop();
            }
            "self" => {}
            name => {
                at.push(name.to_owned());
                break;
            }
        }
    }
    at.first().cloned()
}

/// Every top-level module a file names, with the line where it does: `use` trees expanded,
/// paths in code and types, and `crate::`/`super::` paths in macro arguments.
struct Paths {
    module: Vec<String>,
    found: Vec<(usize, String)>,
}

impl Paths {
    fn note(&mut self, segments: &[String], line: usize) {
        if let Some(top) = top_module(&self.module, segments) {
            self.found.push((line, top));
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.use_leaf(prefix, n.ident.to_string(), n.ident.span()),
            syn::UseTree::Rename(r) => self.use_leaf(prefix, r.ident.to_string(), r.ident.span()),
            syn::UseTree::Glob(g) => self.use_leaf(prefix, "*".into(), g.star_token.spans[0]),
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }

    fn use_leaf(&mut self, prefix: &[String], leaf: String, span: Span) {
        let mut path = prefix.to_vec();
        path.push(leaf);
        self.note(&path, span.start().line);
    }

    /// `crate :: x` and `super :: x` sequences in a macro's tokens.
    fn tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        for (i, token) in tokens.iter().enumerate() {
            match token {
                TokenTree::Group(g) => self.tokens(g.stream()),
                TokenTree::Ident(id) if id == "crate" || id == "super" => {
                    let mut segments = vec![id.to_string()];
                    let mut j = i + 1;
                    while let (
                        Some(TokenTree::Punct(a)),
                        Some(TokenTree::Punct(b)),
                        Some(TokenTree::Ident(next)),
                    ) = (tokens.get(j), tokens.get(j + 1), tokens.get(j + 2))
                    {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        segments.push(next.to_string());
                        j += 3;
                        if next != "super" {
                            break;
                        }
                    }
                    self.note(&segments, id.span().start().line);
                }
                _ => {}
            }
        }
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Use(u) => &u.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if !is_test(attrs) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let line = path
            .segments
            .first()
            .map_or(0, |s| s.ident.span().start().line);
        self.note(&segments, line);
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }
}

/// The top-level modules `code`, as the file `file` of `capnweb/src`, names, each with a line
/// where it does.
fn named_in(file: &Path, code: &str) -> Vec<(usize, String)> {
    let ast = syn::parse_file(code).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut paths = Paths {
        module: module_of(file),
        found: Vec::new(),
    };
    paths.visit_file(&ast);
    paths.found
}

#[test]
fn no_layer_names_one_above_it() {
    let (mut wrong, mut checked) = (Vec::new(), 0);
    for (layers, above) in RULES {
        for layer in *layers {
            for file in layer_files(layer) {
                if is_test_file(&file) {
                    continue;
                }
                checked += 1;
                let code = std::fs::read_to_string(&file).unwrap();
                for (line, named) in named_in(&file, &code) {
                    if above.contains(&named.as_str()) {
                        let shown = file.strip_prefix(src()).unwrap_or(&file).display();
                        wrong.push(format!("{shown}:{line}: names `{named}`"));
                    }
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} files read");
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn the_check_sees_what_it_should() {
    let names = |at: &str, code: &str, module: &str| {
        named_in(&src().join(at), code)
            .iter()
            .any(|(_, m)| m == module)
    };
    assert!(names(
        "value/mod.rs",
        "use crate::session::RpcSession;",
        "session"
    ));
    assert!(names(
        "value/mod.rs",
        "fn f() { crate::client::run_log::sent() }",
        "client"
    ));
    // A group spread over lines.
    assert!(names(
        "wire/mod.rs",
        "use crate::{\n    client::Client,\n    value::Value,\n};",
        "client"
    ));
    // `super` from a nested module reaches the layer above the file's own.
    assert!(names(
        "stub/eval/mod.rs",
        "use super::super::session::X;",
        "session"
    ));
    assert!(names(
        "stub/hooks.rs",
        "use super::super::server::X;",
        "server"
    ));
    assert!(!names("stub/hooks.rs", "use super::Stub;", "session"));
    // In a macro's arguments.
    assert!(names(
        "wire/mod.rs",
        "fn f() { let _ = matches!(x, crate::server::Y); }",
        "server"
    ));
    // Test files are skipped, the others are not.
    assert!(is_test_file(&src().join("session/logged/tests.rs")));
    assert!(!is_test_file(&src().join("session/driver.rs")));
    // Not test code, not other crates, not look-alikes.
    assert!(!names(
        "value/mod.rs",
        "#[cfg(test)]\nmod tests { use crate::session::X; }",
        "session"
    ));
    assert!(!names(
        "value/mod.rs",
        "use session::X; use crate::sessions_helper;",
        "session"
    ));
}
