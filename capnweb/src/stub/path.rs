//! Following a property path through a settled value, as the reference's `followPath`.

use super::{BoxFuture, Stub};
use crate::error::RpcError;
use crate::value::Value;
use crate::wire::PathKey;

/// Names that exist on every JavaScript object: never reachable over RPC.
pub(crate) const OBJECT_PROTOTYPE_NAMES: &[&str] = &[
    "__proto__",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
    "constructor",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "toString",
    "valueOf",
];

/// Where a path leads: a plain value, or a stub that the rest of the path is forwarded to.
pub(crate) enum Followed {
    Value(Value),
    Forward(Stub, Vec<PathKey>),
}

pub(crate) fn follow(mut v: Value, path: &[PathKey]) -> Result<Followed, RpcError> {
    for (i, key) in path.iter().enumerate() {
        if let Value::Stub(s) | Value::Promise(s) = v {
            return Ok(Followed::Forward(s, path[i..].to_vec()));
        }
        if matches!(key, PathKey::Name(n) if OBJECT_PROTOTYPE_NAMES.contains(&n.as_str())) {
            v = Value::Undefined;
            continue;
        }
        v = match (v, key) {
            (Value::Object(mut o), k) => o.swap_remove(k.to_name().as_ref()).unwrap_or_default(),
            (Value::Array(mut a), PathKey::Index(i)) if (*i as usize) < a.len() => {
                a.swap_remove(*i as usize)
            }
            (Value::Undefined, k) => {
                return Err(RpcError::type_error(format!(
                    "Cannot read properties of undefined (reading '{k}')"
                )))
            }
            _ => Value::Undefined,
        };
    }
    Ok(match v {
        Value::Stub(s) | Value::Promise(s) => Followed::Forward(s, Vec::new()),
        v => Followed::Value(v),
    })
}

pub(crate) fn not_a_function(path: &[PathKey]) -> RpcError {
    let names: Vec<String> = path.iter().map(|k| k.to_name().into_owned()).collect();
    RpcError::type_error(format!("'{}' is not a function.", names.join(".")))
}

/// How many promises deep `resolve_promises` follows: a value may hold the promise it is the
/// value of (a peer can arrange that), which would be followed without end.
const MAX_NESTED_PROMISES: usize = 64;

/// Replaces every promise nested in `v` by its resolution.
pub(crate) fn resolve_promises(v: Value) -> BoxFuture<Result<Value, RpcError>> {
    resolve_nested(v, 0)
}

fn resolve_nested(v: Value, depth: usize) -> BoxFuture<Result<Value, RpcError>> {
    if !v.contains_promise() {
        return Box::pin(std::future::ready(Ok(v)));
    }
    if depth >= MAX_NESTED_PROMISES {
        return Box::pin(std::future::ready(Err(RpcError::error(format!(
            "promises nested in one another's values more than {MAX_NESTED_PROMISES} deep \
             (a promise whose value holds itself?)"
        )))));
    }
    Box::pin(async move {
        Ok(match v {
            Value::Promise(s) => resolve_nested(s.0.resolve().await?, depth + 1).await?,
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(resolve_nested(item, depth).await?);
                }
                Value::Array(out)
            }
            Value::Object(o) => {
                let mut out = crate::value::Object::with_capacity(o.len());
                for (k, item) in o {
                    out.insert(k, resolve_nested(item, depth).await?);
                }
                Value::Object(out)
            }
            Value::Error(mut e) => {
                let props = std::mem::take(&mut e.props);
                if let Value::Object(p) = resolve_nested(Value::Object(props), depth).await? {
                    e.props = p;
                }
                Value::Error(e)
            }
            Value::Response(r) => {
                let (body, init) = *r;
                Value::Response(Box::new((resolve_nested(body, depth).await?, init)))
            }
            other => other,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stub::PromiseHook;

    #[tokio::test]
    async fn a_promise_whose_value_holds_itself_is_an_error_not_a_loop() {
        let (tx, rx) = tokio::sync::oneshot::channel::<Value>();
        let p = PromiseHook::pending(async move { Ok(rx.await.unwrap()) });
        let mut o = crate::value::Object::new();
        o.insert("again".into(), Value::Promise(p.clone()));
        tx.send(Value::Object(o)).unwrap();
        let e = p.resolve().await.unwrap_err();
        assert!(e.to_string().contains("holds itself"), "{e}");
        // Sixty-three promises deep is fine.
        let mut v = Value::from(7);
        for _ in 0..63 {
            v = Value::Promise(Stub::resolved(v));
        }
        assert_eq!(resolve_promises(v).await.unwrap().as_f64(), Some(7.0));
    }
}
