//! Writing a [`Value`] as an expression, with the capabilities and streams in it referred to
//! through an [`Exporter`] (the session's tables).

use super::expr::PathKey;
use super::write::{
    push_int, tagged_id, tagged_str, write_bytes, write_date, write_error_head, write_headers,
    write_init, write_number, write_path, write_str,
};
use super::WireError;
use crate::stream::ReadableStream;
use crate::stub::Stub;
use crate::value::{ErrorValue, Value};

/// How a capability in a value being written is referred to.
#[derive(Clone, Debug, PartialEq)]
pub enum WireRef {
    /// `["import", id]`: the stub is one of the receiver's own exports.
    Import(i64),
    /// `["pipeline", id, path?]`: a promise on one of the receiver's exports.
    Pipeline(i64, Vec<PathKey>),
    /// `["export", id]`: a stub the writer exports.
    Export(i64),
    /// `["promise", id]`: a promise the writer exports and will resolve.
    Promise(i64),
}

/// Assigns wire references to the capabilities found in a value being written (the session's
/// export table does this).
pub trait Exporter {
    /// The reference for `stub`, sent as a promise if `promise` is set.
    fn export(&mut self, stub: &Stub, promise: bool) -> Result<WireRef, WireError>;

    /// Opens a pipe to the receiver that will carry `stream`, and returns the pipe's import id
    /// (written as `["readable", id]`).
    fn pipe(&mut self, stream: &ReadableStream) -> Result<i64, WireError> {
        let _ = stream;
        Err(WireError::Unserializable(
            "a stream cannot be sent outside an RPC session".into(),
        ))
    }
}

/// An exporter for values that must not contain capabilities.
#[derive(Debug)]
pub struct NoExporter;

impl Exporter for NoExporter {
    fn export(&mut self, _: &Stub, _: bool) -> Result<WireRef, WireError> {
        Err(WireError::Unserializable(
            "a stub cannot be sent outside an RPC session".into(),
        ))
    }
}

/// The deepest value the writer accepts, as the reference's serializer.
const MAX_WRITE_DEPTH: usize = 256;

/// Writes a value as an expression, asking `exporter` how to refer to each capability in it.
///
/// ```
/// use capnweb::wire::{write_value, NoExporter};
/// use capnweb::Value;
/// let mut out = String::new();
/// write_value(&mut out, &Value::from(vec![Value::from(1), Value::Undefined]), &mut NoExporter).unwrap();
/// assert_eq!(out, r#"[[1,["undefined"]]]"#);
/// ```
pub fn write_value(
    out: &mut String,
    v: &Value,
    exporter: &mut dyn Exporter,
) -> Result<(), WireError> {
    ValueWriter { exporter }.write(out, v, 0)
}

struct ValueWriter<'e> {
    exporter: &'e mut dyn Exporter,
}

impl ValueWriter<'_> {
    fn write(&mut self, out: &mut String, v: &Value, depth: usize) -> Result<(), WireError> {
        if depth >= MAX_WRITE_DEPTH {
            return Err(WireError::Unserializable(format!(
                "value nests deeper than {MAX_WRITE_DEPTH} levels"
            )));
        }
        match v {
            Value::Undefined => out.push_str("[\"undefined\"]"),
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => write_number(out, *n),
            Value::String(s) => write_str(out, s),
            Value::Utf16(units) => super::write_utf16(out, units),
            Value::Array(items) => {
                out.push_str("[[");
                self.list(out, items, depth)?;
                out.push_str("]]");
            }
            Value::Object(o) => {
                out.push('{');
                for (i, (k, v)) in o.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(out, k);
                    out.push(':');
                    self.write(out, v, depth + 1)?;
                }
                out.push('}');
            }
            Value::BigInt(b) => {
                out.push_str("[\"bigint\",\"");
                out.push_str(b.as_str());
                out.push_str("\"]");
            }
            Value::Date(d) => write_date(out, *d),
            Value::Bytes(b) => write_bytes(out, b),
            Value::Error(e) => self.error(out, e, depth)?,
            Value::Url(u) => tagged_str(out, "url", u),
            Value::RegExp(r) => super::write::write_regexp(out, r),
            Value::Headers(h) => write_headers(out, h),
            Value::Request(r) => {
                let (url, init) = &**r;
                out.push_str("[\"request\",");
                write_str(out, url);
                out.push(',');
                if init.body.is_some() && !init.fields.iter().any(|(k, _)| k == "duplex") {
                    // As the reference: the Fetch spec (and Chrome) require `duplex: "half"` on
                    // a request with a body, and a TypeScript receiver rejects one without it.
                    let mut fields = init.fields.clone();
                    fields.push(("duplex".into(), Value::from("half")));
                    self.init(out, &fields, init.body.as_ref(), depth)?;
                } else {
                    self.init(out, &init.fields, init.body.as_ref(), depth)?;
                }
                out.push(']');
            }
            Value::Response(r) => {
                let (body, init) = &**r;
                out.push_str("[\"response\",");
                self.write(out, body, depth + 1)?;
                out.push(',');
                self.init(out, &init.fields, init.body.as_ref(), depth)?;
                out.push(']');
            }
            Value::Stub(s) => write_ref(out, &self.exporter.export(s, false)?),
            Value::Promise(s) => write_ref(out, &self.exporter.export(s, true)?),
            Value::Readable(s) => tagged_id(out, "readable", self.exporter.pipe(s)?),
            Value::Writable(s) => match self.exporter.export(s.stub(), false)? {
                WireRef::Export(id) => tagged_id(out, "writable", id),
                _ => {
                    return Err(WireError::Unserializable(
                        "a WritableStream cannot be sent back to the peer it came from".into(),
                    ))
                }
            },
            Value::Blob(b) => {
                let content = ReadableStream::from_bytes(&b.data);
                out.push_str("[\"blob\",");
                write_str(out, &b.content_type);
                out.push(',');
                tagged_id(out, "readable", self.exporter.pipe(&content)?);
                out.push(']');
            }
        }
        Ok(())
    }

    fn list(&mut self, out: &mut String, items: &[Value], depth: usize) -> Result<(), WireError> {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            self.write(out, item, depth + 1)?;
        }
        Ok(())
    }

    fn error(&mut self, out: &mut String, e: &ErrorValue, depth: usize) -> Result<(), WireError> {
        write_error_head(
            out,
            &e.name,
            &e.message,
            e.stack.as_deref(),
            !e.props.is_empty(),
        );
        if !e.props.is_empty() {
            self.write(out, &Value::Object(e.props.clone()), depth)?;
        }
        out.push(']');
        Ok(())
    }

    fn init(
        &mut self,
        out: &mut String,
        fields: &[(String, Value)],
        body: Option<&Value>,
        depth: usize,
    ) -> Result<(), WireError> {
        let mut written = None;
        if let Some(b) = body {
            let mut text = String::new();
            self.write(&mut text, b, depth + 1)?;
            written = Some(text);
        }
        let body = written;
        write_init(
            out,
            fields,
            body.map(|t| move |out: &mut String| out.push_str(&t)),
        );
        Ok(())
    }
}

/// Writes the call arguments of an `import`/`pipeline` expression: a bare array of values.
pub(crate) fn write_args(
    out: &mut String,
    args: &[Value],
    exporter: &mut dyn Exporter,
) -> Result<(), WireError> {
    out.push('[');
    ValueWriter { exporter }.list(out, args, 0)?;
    out.push(']');
    Ok(())
}

fn write_ref(out: &mut String, r: &WireRef) {
    match r {
        WireRef::Import(id) => tagged_id(out, "import", *id),
        WireRef::Export(id) => tagged_id(out, "export", *id),
        WireRef::Promise(id) => tagged_id(out, "promise", *id),
        WireRef::Pipeline(id, path) => {
            out.push_str("[\"pipeline\",");
            push_int(out, *id);
            if !path.is_empty() {
                out.push(',');
                write_path(out, path);
            }
            out.push(']');
        }
    }
}
