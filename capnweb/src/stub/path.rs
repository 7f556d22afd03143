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
pub(crate) enum Followed<V> {
    Value(V),
    Forward(Stub, Vec<PathKey>),
}

/// Follows `path` through `v`, taking only what it leads to.
pub(crate) fn follow(v: &Value, path: &[PathKey]) -> Result<Followed<Value>, RpcError> {
    Ok(match follow_ref(v, path)? {
        Followed::Value(found) => Followed::Value(found.clone()),
        Followed::Forward(stub, rest) => Followed::Forward(stub, rest),
    })
}

/// Follows `path` through a value it borrows: a settled value is read where it is, never
/// copied whole (a peer may read paths of a large value as often as it likes).
pub(crate) fn follow_ref<'v>(
    mut v: &'v Value,
    path: &[PathKey],
) -> Result<Followed<&'v Value>, RpcError> {
    static UNDEFINED: Value = Value::Undefined;
    for (i, key) in path.iter().enumerate() {
        if let Value::Stub(s) | Value::Promise(s) = v {
            return Ok(Followed::Forward(s.clone(), path[i..].to_vec()));
        }
        if matches!(key, PathKey::Name(n) if OBJECT_PROTOTYPE_NAMES.contains(&n.as_str())) {
            v = &UNDEFINED;
            continue;
        }
        v = match (v, key) {
            (Value::Object(o), k) => o.get(k.to_name().as_ref()).unwrap_or(&UNDEFINED),
            (Value::Array(a), PathKey::Index(i)) => a.get(*i as usize).unwrap_or(&UNDEFINED),
            (Value::Undefined, k) => {
                return Err(RpcError::type_error(format!(
                    "Cannot read properties of undefined (reading '{k}')"
                )))
            }
            _ => &UNDEFINED,
        };
    }
    Ok(match v {
        Value::Stub(s) | Value::Promise(s) => Followed::Forward(s.clone(), Vec::new()),
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

/// Replaces every promise nested in `v` by its resolution. The value it composes is at most
/// [`MAX_COMPOSED_DEPTH`](crate::value::MAX_COMPOSED_DEPTH) deep: each resolution a peer sent
/// was bounded alone, but promises resolving to values that hold promises would otherwise
/// nest without bound (and clone, drop and write recurse).
pub(crate) fn resolve_promises(v: Value) -> BoxFuture<Result<Value, RpcError>> {
    resolve_promises_at(v, 0)
}

/// As [`resolve_promises`], for a value that will sit `level` deep in another.
pub(crate) fn resolve_promises_at(v: Value, level: usize) -> BoxFuture<Result<Value, RpcError>> {
    resolve_nested(v, 0, level)
}

fn too_deep() -> RpcError {
    RpcError::range_error(format!(
        "a value composed from promises' resolutions nests deeper than {} levels",
        crate::value::MAX_COMPOSED_DEPTH
    ))
}

fn resolve_nested(mut v: Value, hops: usize, level: usize) -> BoxFuture<Result<Value, RpcError>> {
    if !v.contains_promise() {
        // Nothing composed: a value as it came (parsed within `max_depth`, or built by the
        // application) is not checked again.
        if hops == 0 && level == 0 {
            return Box::pin(std::future::ready(Ok(v)));
        }
        return Box::pin(std::future::ready(within_depth(v, level)));
    }
    if hops >= MAX_NESTED_PROMISES {
        return Box::pin(std::future::ready(Err(RpcError::error(format!(
            "promises nested in one another's values more than {MAX_NESTED_PROMISES} deep \
             (a promise whose value holds itself?)"
        )))));
    }
    Box::pin(async move {
        // Found by a loop, not by recursion: only a promise's own value (a hop) recurses.
        for path in promise_paths(&v) {
            let Value::Promise(promise) = std::mem::take(slot(&mut v, &path)) else {
                unreachable!("a path to a promise");
            };
            let resolved = promise.0.resolve().await?;
            *slot(&mut v, &path) = resolve_nested(resolved, hops + 1, level + path.len()).await?;
        }
        within_depth(v, level)
    })
}

/// `v`, if it fits `level` deep within [`MAX_COMPOSED_DEPTH`](crate::value::MAX_COMPOSED_DEPTH).
fn within_depth(v: Value, level: usize) -> Result<Value, RpcError> {
    let room = crate::value::MAX_COMPOSED_DEPTH.saturating_sub(level);
    match v.depth_within(room) <= room {
        true => Ok(v),
        false => Err(too_deep()),
    }
}

/// The positions of the promises in `v`, in order, each as the child indexes leading to it.
fn promise_paths(v: &Value) -> Vec<Vec<usize>> {
    let mut found = Vec::new();
    let mut todo = vec![(v, Vec::new())];
    while let Some((v, path)) = todo.pop() {
        if matches!(v, Value::Promise(_)) {
            found.push(path);
            continue;
        }
        let children: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            Value::Object(o) => o.values().collect(),
            Value::Error(e) => e.props.values().collect(),
            Value::Response(r) => vec![&r.0],
            _ => continue,
        };
        // Last pushed, first taken: pushed in reverse, they are found in order.
        for (i, child) in children.into_iter().enumerate().rev() {
            if child.contains_promise() {
                let mut child_path = path.clone();
                child_path.push(i);
                todo.push((child, child_path));
            }
        }
    }
    found
}

/// The value at `path` (as `promise_paths` gives it) in `v`.
fn slot<'v>(mut v: &'v mut Value, path: &[usize]) -> &'v mut Value {
    for &i in path {
        v = match v {
            Value::Array(a) => &mut a[i],
            Value::Object(o) => o.get_index_mut(i).expect("a child found before").1,
            Value::Error(e) => e.props.get_index_mut(i).expect("a child found before").1,
            Value::Response(r) => &mut r.0,
            _ => unreachable!("a path through containers"),
        };
    }
    v
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
