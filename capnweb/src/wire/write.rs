//! Writing messages and expressions as JSON text (values: `value_writer`), byte for byte as the reference does
//! where JSON leaves a choice (escaped arrays, type codes, unpadded base64).

use base64::Engine as _;

use super::expr::{Capture, ErrorExpr, Expr, FetchExpr, ImportExpr, Message, PathKey};
use crate::value::{Bytes, Date, Number, Value};

/// Writes a message.
///
/// ```
/// use capnweb::wire::{write_message, Expr, Message};
/// assert_eq!(write_message(&Message::Resolve { export_id: 1, value: Expr::Undefined }), r#"["resolve",1,["undefined"]]"#);
/// ```
pub fn write_message(msg: &Message) -> String {
    // Room for the common small messages (pull, release) in one allocation.
    let mut out = String::with_capacity(32);
    write_message_to(&mut out, msg);
    out
}

/// Writes a message at the end of `out` (as [`write_message`] does, into a buffer the caller
/// keeps: a session writes many messages into one).
pub fn write_message_to(out: &mut String, msg: &Message) {
    let (tag, id, expr): (&str, Option<i64>, Option<&Expr>) = match msg {
        Message::Push(e) => ("push", None, Some(e)),
        Message::Stream(e) => ("stream", None, Some(e)),
        Message::Abort(e) => ("abort", None, Some(e)),
        Message::Pull { import_id: i } => ("pull", Some(*i), None),
        Message::Resolve {
            export_id: i,
            value: e,
        } => ("resolve", Some(*i), Some(e)),
        Message::Reject {
            export_id: i,
            error: e,
        } => ("reject", Some(*i), Some(e)),
        Message::Release {
            import_id: i,
            refcount: n,
        } => {
            out.push_str("[\"release\",");
            push_int(out, *i);
            out.push(',');
            push_int(out, *n as i64);
            out.push(']');
            return;
        }
        Message::Pipe => return out.push_str("[\"pipe\"]"),
    };
    out.push_str("[\"");
    out.push_str(tag);
    out.push('"');
    if let Some(i) = id {
        out.push(',');
        push_int(out, i);
    }
    if let Some(e) = expr {
        out.push(',');
        write_expr(out, e);
    }
    out.push(']');
}

/// Writes an expression.
pub fn write_expr(out: &mut String, e: &Expr) {
    match e {
        Expr::Null => out.push_str("null"),
        Expr::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Expr::Number(n) => write_number(out, *n),
        Expr::String(s) => write_str(out, s),
        Expr::Utf16(units) => super::write_utf16(out, units),
        Expr::Array(items) => {
            out.push_str("[[");
            write_list(out, items, write_expr);
            out.push_str("]]");
        }
        Expr::Object(members) => {
            out.push('{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write_expr(out, v);
            }
            out.push('}');
        }
        Expr::Undefined => out.push_str("[\"undefined\"]"),
        Expr::BigInt(b) => {
            out.push_str("[\"bigint\",\"");
            out.push_str(b.as_str());
            out.push_str("\"]");
        }
        Expr::Date(d) => write_date(out, *d),
        Expr::Bytes(b) => write_bytes(out, b),
        Expr::Error(e) => {
            let ErrorExpr {
                name,
                message,
                stack,
                props,
            } = &**e;
            write_error_head(out, name, message, stack.as_deref(), props.is_some());
            if let Some(props) = props {
                write_expr(out, &Expr::Object(props.clone()));
            }
            out.push(']');
        }
        Expr::Url(u) => tagged_str(out, "url", u),
        Expr::RegExp(r) => write_regexp(out, r),
        Expr::Headers(h) => write_headers(out, h),
        Expr::Request(r) => {
            let FetchExpr { url, body, fields } = &**r;
            out.push_str("[\"request\",");
            write_str(out, url);
            out.push(',');
            write_init(
                out,
                fields,
                body.as_ref().map(|b| |out: &mut String| write_expr(out, b)),
            );
            out.push(']');
        }
        Expr::Response(r) => {
            out.push_str("[\"response\",");
            write_expr(out, r.body.as_ref().unwrap_or(&Expr::Null));
            out.push(',');
            write_init(out, &r.fields, None::<fn(&mut String)>);
            out.push(']');
        }
        Expr::Blob(b) => {
            out.push_str("[\"blob\",");
            write_str(out, &b.content_type);
            out.push(',');
            write_expr(out, &b.content);
            out.push(']');
        }
        Expr::Import(i) => write_import(out, "import", i),
        Expr::Pipeline(i) => write_import(out, "pipeline", i),
        Expr::Remap(r) => {
            out.push_str("[\"remap\",");
            push_int(out, r.id);
            out.push(',');
            write_path(out, &r.path);
            out.push_str(",[");
            for (i, c) in r.captures.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let (tag, id) = match c {
                    Capture::Import(id) => ("import", id),
                    Capture::Export(id) => ("export", id),
                };
                tagged_id(out, tag, *id);
            }
            out.push_str("],[");
            write_list(out, &r.instructions, write_expr);
            out.push_str("]]");
        }
        Expr::Export(id) => tagged_id(out, "export", *id),
        Expr::Promise(id) => tagged_id(out, "promise", *id),
        Expr::Writable(id) => tagged_id(out, "writable", *id),
        Expr::Readable(id) => tagged_id(out, "readable", *id),
    }
}

fn write_import(out: &mut String, tag: &str, i: &ImportExpr) {
    out.push_str("[\"");
    out.push_str(tag);
    out.push_str("\",");
    push_int(out, i.id);
    if let Some(path) = &i.path {
        out.push(',');
        write_path(out, path);
        if let Some(args) = &i.args {
            out.push_str(",[");
            write_list(out, args, write_expr);
            out.push(']');
        }
    }
    out.push(']');
}

pub(crate) fn write_path(out: &mut String, path: &[PathKey]) {
    out.push('[');
    for (i, k) in path.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match k {
            PathKey::Name(n) => write_str(out, n),
            // Written as the u64 it is: an index above i64::MAX must not wrap.
            PathKey::Index(i) => out.push_str(itoa::Buffer::new().format(*i)),
        }
    }
    out.push(']');
}

pub(super) fn write_list<T>(out: &mut String, items: &[T], f: impl Fn(&mut String, &T)) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        f(out, item);
    }
}

pub(super) fn write_error_head(
    out: &mut String,
    name: &str,
    message: &str,
    stack: Option<&str>,
    has_props: bool,
) {
    out.push_str("[\"error\",");
    write_str(out, name);
    out.push(',');
    write_str(out, message);
    match (stack, has_props) {
        (Some(s), _) => {
            out.push(',');
            write_str(out, s);
        }
        // With props, the stack slot is normalised to null so props stay at index 4.
        (None, true) => out.push_str(",null"),
        (None, false) => {}
    }
    if has_props {
        out.push(',');
    }
}

pub(super) fn write_init(
    out: &mut String,
    fields: &[(String, Value)],
    body: Option<impl FnOnce(&mut String)>,
) {
    out.push('{');
    let mut first = true;
    for (k, v) in fields {
        if !first {
            out.push(',');
        }
        first = false;
        write_str(out, k);
        out.push(':');
        write_literal(out, v);
    }
    if let Some(body) = body {
        if !first {
            out.push(',');
        }
        out.push_str("\"body\":");
        body(out);
    }
    out.push('}');
}

/// Plain JSON (arrays not escaped), for the literal members of a Fetch `init`.
fn write_literal(out: &mut String, v: &Value) {
    match v {
        Value::Array(items) => {
            out.push('[');
            write_list(out, items, write_literal);
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, v)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write_literal(out, v);
            }
            out.push('}');
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if n.is_finite() => write_number(out, *n),
        Value::String(s) => write_str(out, s),
        _ => out.push_str("null"),
    }
}

pub(super) fn write_headers(out: &mut String, pairs: &[(String, String)]) {
    out.push_str("[\"headers\",[");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        write_str(out, k);
        out.push(',');
        write_str(out, v);
        out.push(']');
    }
    out.push_str("]]");
}

pub(super) fn write_date(out: &mut String, d: Date) {
    out.push_str("[\"date\",");
    match d.millis() {
        Some(ms) => write_number(out, Number::Float(ms)),
        None => out.push_str("null"),
    }
    out.push(']');
}

pub(super) fn write_bytes(out: &mut String, b: &Bytes) {
    out.push_str("[\"bytes\",\"");
    base64::engine::general_purpose::STANDARD_NO_PAD.encode_string(&b.data, out);
    out.push('"');
    if b.kind != crate::value::ByteKind::Uint8Array {
        out.push_str(",\"");
        out.push_str(b.kind.name());
        out.push('"');
    }
    out.push(']');
}

pub(super) fn tagged_id(out: &mut String, tag: &str, id: i64) {
    out.push_str("[\"");
    out.push_str(tag);
    out.push_str("\",");
    push_int(out, id);
    out.push(']');
}

/// `["regexp", source, flags]`, the flags left out when empty (as the reference writes it).
pub(super) fn write_regexp(out: &mut String, r: &crate::value::RegExp) {
    out.push_str("[\"regexp\",");
    write_str(out, &r.source);
    if !r.flags.is_empty() {
        out.push(',');
        write_str(out, &r.flags);
    }
    out.push(']');
}

pub(super) fn tagged_str(out: &mut String, tag: &str, s: &str) {
    out.push_str("[\"");
    out.push_str(tag);
    out.push_str("\",");
    write_str(out, s);
    out.push(']');
}

pub(super) fn push_int(out: &mut String, i: i64) {
    out.push_str(itoa::Buffer::new().format(i));
}

pub(super) fn write_number(out: &mut String, n: Number) {
    match n {
        Number::Int(i) => push_int(out, i),
        Number::UInt(u) => out.push_str(itoa::Buffer::new().format(u)),
        Number::Float(f) if f.is_nan() => out.push_str("[\"nan\"]"),
        Number::Float(f) if f.is_infinite() => {
            out.push_str(if f > 0.0 { "[\"inf\"]" } else { "[\"-inf\"]" })
        }
        Number::Float(f) => write_f64(out, f),
    }
}

/// A finite `f64` as JavaScript's `JSON.stringify` writes it, for the integral ones and the
/// common ones; others in shortest round-trip form (`1e21` where JavaScript writes `1e+21`).
pub(crate) fn write_f64(out: &mut String, f: f64) {
    if f.fract() == 0.0 && f.abs() < 1e21 {
        if f.abs() < 9.007_199_254_740_992e15 {
            // Integral: no ".0", and -0 is written as 0, as JavaScript does.
            push_int(out, f as i64);
            return;
        }
        // Large integral values: JavaScript writes all the digits.
        out.push_str(&format!("{f:.0}"));
        return;
    }
    out.push_str(ryu::Buffer::new().format_finite(f));
}

/// A JSON string literal, escaped as `JSON.stringify` does.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    write_escaped(out, s);
    out.push('"');
}

/// The inside of a JSON string literal: `s` escaped as `JSON.stringify` does, without quotes.
pub(crate) fn write_escaped(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            out.push_str(&format!("\\u{b:04x}"));
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
}
