//! The layering of `capnweb/src`, as its `# Layout` says: each layer names only the ones below
//! it. Read from the source, so that the layout cannot drift: a lower layer that imports a
//! higher one fails this test, naming the file and the line.

use std::path::{Path, PathBuf};

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
    // The session runs over the `Transport` trait, which the transports implement.
    (&["session"], &["typed", "typescript", "server", "client"]),
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

/// The places in `code` that name module `higher` of the crate: `crate::higher`, or `higher`
/// inside a `use crate::{...}` group.
fn names(code: &str, higher: &str) -> bool {
    let direct = format!("crate::{higher}");
    if code.match_indices(&direct).any(|(i, _)| {
        !code[i + direct.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
    }) {
        return true;
    }
    if let Some(group) = code.split("crate::{").nth(1) {
        return group
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .any(|word| word == higher);
    }
    false
}

#[test]
fn no_layer_names_one_above_it() {
    let mut wrong = Vec::new();
    for (layers, above) in RULES {
        for layer in *layers {
            for file in layer_files(layer) {
                let text = std::fs::read_to_string(&file).unwrap();
                // Comments (docs among them) may mention any layer.
                let code_lines = text
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| !l.trim_start().starts_with("//"));
                for (n, line) in code_lines {
                    for higher in *above {
                        if names(line, higher) {
                            let file = file.strip_prefix(src()).unwrap_or(&file).display();
                            wrong.push(format!(
                                "{file}:{}: names `{higher}`: {}",
                                n + 1,
                                line.trim()
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn the_check_sees_what_it_should() {
    assert!(names("use crate::session::RpcSession;", "session"));
    assert!(names("    crate::client::run_log::sent()", "client"));
    assert!(names(
        "use crate::{client::Client, value::Value};",
        "client"
    ));
    assert!(!names("use crate::sessions_helper;", "session"));
    assert!(!names("use crate::value::Value;", "session"));
}
