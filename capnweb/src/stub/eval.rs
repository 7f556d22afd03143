//! Evaluating a parsed [`Expr`] into a [`Value`], against an [`Importer`] that resolves ids.
//!
//! The session's tables and a mapper's variables are both importers. Keys that the reference
//! drops on receipt (`__proto__`, `toJSON`, the names on `Object.prototype`) are dropped here;
//! the stubs under them are still evaluated, then released.

use std::sync::Arc;

use crate::error::RpcError;
use crate::stream::{Blob, ReadableStream, WritableStream};
use crate::stub::{PromiseHook, Stub};
use crate::value::{ErrorValue, Object, OpaqueInit, Value};
use crate::wire::{BlobExpr, Capture, Expr, Limits, PathKey, WireError};

/// Resolves the ids an expression refers to.
pub(crate) trait Importer {
    /// `["export", id]`: a stub the peer exports.
    fn import_stub(&mut self, id: i64) -> Result<Stub, RpcError>;
    /// `["promise", id]`: a promise the peer exports and will resolve.
    fn import_promise(&mut self, id: i64) -> Result<Stub, RpcError>;
    /// `["import", id]` and friends: one of our exports.
    fn get_export(&mut self, id: i64) -> Result<Stub, RpcError>;
    /// `["readable", id]`: the readable end of a pipe the peer opened.
    fn take_pipe(&mut self, id: i64) -> Result<ReadableStream, RpcError> {
        Err(
            WireError::Unserializable(format!("cannot read pipe {id} without an RPC session"))
                .into(),
        )
    }
    /// The most bytes a received `Blob` may hold.
    fn max_blob_size(&self) -> usize {
        Limits::default().max_blob_size
    }
    /// The most mapper applications one received `remap` may make.
    fn max_map_applications(&self) -> usize {
        Limits::default().max_map_applications
    }
    /// What is left of the bytes the maps of received `remap`s may build at once (shared by
    /// the session's maps).
    fn map_bytes(&self) -> std::sync::Arc<dyn crate::stub::map::MapBytes> {
        std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(
            Limits::default().max_answer_bytes,
        ))
    }
    /// A call was started while evaluating; the session drives it.
    fn started(&mut self, _call: &Stub) {}
}

/// Whether a key is dropped on receipt, as the reference does.
pub(crate) fn is_dropped_key(key: &str) -> bool {
    key == "toJSON" || crate::stub::OBJECT_PROTOTYPE_NAMES.contains(&key)
}

/// Evaluates `e`.
pub(crate) fn evaluate(e: Expr, imp: &mut dyn Importer) -> Result<Value, RpcError> {
    Ok(match e {
        Expr::Null => Value::Null,
        Expr::Undefined => Value::Undefined,
        Expr::Bool(b) => Value::Bool(b),
        Expr::Number(n) => Value::Number(n),
        Expr::String(s) => Value::String(s),
        Expr::Utf16(units) => Value::Utf16(units),
        Expr::Array(items) => {
            // A plain loop: a frame per level of nesting, not an iterator adapter's dozen.
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(evaluate(item, imp)?);
            }
            Value::Array(out)
        }
        Expr::Object(members) => Value::Object(evaluate_object(members, imp)?),
        Expr::BigInt(b) => Value::BigInt(b),
        Expr::Date(d) => Value::Date(d),
        Expr::Bytes(b) => Value::Bytes(b),
        Expr::Error(e) => {
            let e = *e;
            let props = match e.props {
                Some(p) => evaluate_object(p, imp)?,
                None => Object::new(),
            };
            let mut props = props;
            props.shift_remove("name");
            props.shift_remove("message");
            props.shift_remove("stack");
            Value::Error(Box::new(ErrorValue {
                name: e.name,
                message: e.message,
                stack: e.stack,
                props,
            }))
        }
        Expr::Url(u) => Value::Url(u),
        Expr::RegExp(r) => Value::RegExp(r),
        Expr::Headers(h) => Value::Headers(h),
        Expr::Request(r) => {
            let r = *r;
            let body = r.body.map(|b| evaluate(b, imp)).transpose()?;
            Value::Request(Box::new((
                r.url,
                OpaqueInit {
                    fields: r.fields,
                    body,
                },
            )))
        }
        Expr::Response(r) => {
            let r = *r;
            let body = r
                .body
                .map(|b| evaluate(b, imp))
                .transpose()?
                .unwrap_or(Value::Null);
            Value::Response(Box::new((
                body,
                OpaqueInit {
                    fields: r.fields,
                    body: None,
                },
            )))
        }
        Expr::Readable(id) => Value::Readable(imp.take_pipe(id)?),
        Expr::Writable(id) => Value::Writable(WritableStream::from_stub(imp.import_stub(id)?)),
        Expr::Blob(b) => {
            let BlobExpr {
                content_type,
                content,
            } = *b;
            let Value::Readable(stream) = evaluate(content, imp)? else {
                return Err(RpcError::type_error(
                    "Blob content must be serialized as a ReadableStream.",
                ));
            };
            // Delivered once all its bytes are in, like any promise in a message.
            let max = imp.max_blob_size();
            Value::Promise(PromiseHook::pending(async move {
                let data = stream.read_bytes(max).await?;
                Ok(Value::Blob(Box::new(Blob { content_type, data })))
            }))
        }
        Expr::Export(id) => Value::Stub(imp.import_stub(id)?),
        Expr::Promise(id) => Value::Promise(imp.import_promise(id)?),
        Expr::Import(i) | Expr::Pipeline(i) if false => unreachable!("{i:?}"),
        Expr::Import(i) => reference(*i, false, imp)?,
        Expr::Pipeline(i) => reference(*i, true, imp)?,
        Expr::Remap(r) => {
            let r = *r;
            let subject = imp.get_export(r.id)?;
            let captures = r
                .captures
                .iter()
                .map(|c| match *c {
                    Capture::Import(id) => imp.get_export(id),
                    Capture::Export(id) => imp.import_stub(id),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mapped = subject.map_raw(&r.path, captures, Arc::from(r.instructions));
            // The map carries its own budget of applications (nested maps included), whoever
            // drives it and wherever in a message it was.
            let result =
                crate::stub::map::budgeted(imp.max_map_applications(), imp.map_bytes(), mapped);
            imp.started(&result);
            Value::Promise(result)
        }
    })
}

fn evaluate_object(
    members: Vec<(String, Expr)>,
    imp: &mut dyn Importer,
) -> Result<Object, RpcError> {
    let mut out = Object::with_capacity(members.len());
    for (k, v) in members {
        let v = evaluate(v, imp)?;
        if !is_dropped_key(&k) {
            out.insert(k, v);
        }
    }
    Ok(out)
}

fn reference(
    i: crate::wire::ImportExpr,
    promise: bool,
    imp: &mut dyn Importer,
) -> Result<Value, RpcError> {
    let stub = imp.get_export(i.id)?;
    let wrap = |s: Stub| {
        if promise {
            Value::Promise(s)
        } else {
            Value::Stub(s)
        }
    };
    let path: Vec<PathKey> = match i.path {
        None => return Ok(wrap(stub)),
        Some(p) => p,
    };
    // The stub is ours: handed to the call, not cloned for it.
    let result = match i.args {
        None => stub.0.get(&path),
        Some(args) => {
            let args = args
                .into_iter()
                .map(|a| evaluate(a, imp))
                .collect::<Result<Vec<_>, _>>()?;
            stub.0.call(&path, args)
        }
    };
    imp.started(&result);
    Ok(wrap(result))
}

/// Evaluates a plain expression that may not refer to any table (for `deserialize`).
pub(crate) struct NoImporter;

impl Importer for NoImporter {
    fn import_stub(&mut self, _: i64) -> Result<Stub, RpcError> {
        Err(
            WireError::Unserializable("cannot deserialize stubs without an RPC session".into())
                .into(),
        )
    }
    fn import_promise(&mut self, id: i64) -> Result<Stub, RpcError> {
        self.import_stub(id)
    }
    fn get_export(&mut self, id: i64) -> Result<Stub, RpcError> {
        self.import_stub(id)
    }
}
