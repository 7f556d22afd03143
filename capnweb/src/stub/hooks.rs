//! The local hooks: an application object, a pending or settled result (`promise`), an error.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;

use super::path::{follow, follow_ref, not_a_function, Followed};
use super::promise::{panicked, PromiseHook, Resolution};
use super::{resolve_promises, BoxFuture, Hook, RpcTarget, Stub};
use crate::error::RpcError;
use crate::value::Value;
use crate::wire::{Expr, PathKey};

/// Makes a target's future; if the target panics making it, the call fails (a future that
/// panics later is caught by `PromiseHook`).
fn guarded(
    make: impl FnOnce() -> BoxFuture<Result<Value, RpcError>>,
) -> BoxFuture<Result<Value, RpcError>> {
    std::panic::catch_unwind(AssertUnwindSafe(make))
        .unwrap_or_else(|_| Box::pin(std::future::ready(Err(panicked()))))
}

/// A local object.
pub(crate) struct TargetHook {
    pub(crate) target: Arc<dyn RpcTarget>,
}

impl Hook for TargetHook {
    fn call(self: Arc<Self>, path: &[PathKey], args: Vec<Value>) -> Stub {
        match path {
            [] | [_] => {
                let method = path.first().map(|k| k.to_name()).unwrap_or_default();
                let target = self.target.clone();
                if args.iter().any(Value::contains_promise) {
                    let method = method.into_owned();
                    PromiseHook::pending(async move {
                        let args = resolve_args(args).await?;
                        target.call(&method, args).await
                    })
                } else {
                    PromiseHook::boxed(guarded(|| target.call(&method, args)))
                }
            }
            [init @ .., last] => self.get(init).0.call(std::slice::from_ref(last), args),
        }
    }

    fn get(self: Arc<Self>, path: &[PathKey]) -> Stub {
        match path {
            [] => PromiseHook::ready(Ok(Value::Stub(Stub(self)))),
            [first, rest @ ..] => {
                let fut = guarded(|| self.target.clone().get(&first.to_name()));
                if rest.is_empty() {
                    return PromiseHook::boxed(fut);
                }
                let rest = rest.to_vec();
                PromiseHook::pending(async move { get_value(fut.await?, &rest).await })
            }
        }
    }

    fn map(
        self: Arc<Self>,
        path: &[PathKey],
        captures: Vec<Stub>,
        instructions: Arc<[Expr]>,
    ) -> Stub {
        let subject = self.get(path);
        PromiseHook::pending(async move {
            let v = subject.0.resolve().await?;
            crate::stub::map::apply(v, captures, instructions).await
        })
    }

    fn resolve(self: Arc<Self>) -> Resolution {
        Resolution::ready(Ok(Value::Stub(Stub(self))))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

async fn resolve_args(args: Vec<Value>) -> Result<Vec<Value>, RpcError> {
    let mut out = Vec::with_capacity(args.len());
    for a in args {
        out.push(resolve_promises(a).await?);
    }
    Ok(out)
}

/// Reads `path` from a settled value, forwarding to any stub on the way. A promise it leads to
/// is followed until it settles, as the reference's `followPath`: the value is what it reads.
async fn get_value(v: Value, path: &[PathKey]) -> Result<Value, RpcError> {
    match follow(&v, path)? {
        Followed::Value(v) => Ok(v),
        Followed::Forward(stub, rest) if rest.is_empty() && stub.is_promise() => {
            stub.0.resolve().await
        }
        Followed::Forward(stub, rest) if rest.is_empty() => Ok(Value::Stub(stub)),
        Followed::Forward(stub, rest) => stub.0.get(&rest).0.resolve().await,
    }
}

/// Calls the function at `path` of a settled value.
async fn call_value(v: Value, path: &[PathKey], args: Vec<Value>) -> Result<Value, RpcError> {
    match follow(&v, path)? {
        Followed::Forward(stub, rest) => stub.0.call(&rest, args).0.resolve().await,
        Followed::Value(_) => Err(not_a_function(path)),
    }
}

/// Where `path` leads in a settled result, read in place: the stub the rest of the path goes
/// to, or (`Err`) the plain value's outcome, copied only as far as `take` asks.
fn settled_path<T>(
    result: &Result<Value, RpcError>,
    path: &[PathKey],
    take: impl FnOnce(&Value) -> Result<T, RpcError>,
) -> Result<(Stub, Vec<PathKey>), Result<T, RpcError>> {
    let found = result.as_ref().map_err(|e| Err(e.clone()))?;
    match follow_ref(found, path).map_err(Err)? {
        Followed::Forward(stub, rest) => Ok((stub, rest)),
        Followed::Value(v) => Err(take(v)),
    }
}

impl Hook for PromiseHook {
    fn poll_unique(&mut self) -> Option<Poll<()>> {
        Some(PromiseHook::poll_unique(self))
    }

    fn with_settled(&self, read: &mut dyn FnMut(&Result<Value, RpcError>)) -> bool {
        self.settled(|r| read(r)).is_some()
    }

    fn settled_value(&self) -> Option<Result<Value, RpcError>> {
        // A settled value holding a promise is answered by the task, which resolves it.
        self.settled(|r| r.clone())
            .filter(|r| !r.as_ref().is_ok_and(Value::contains_promise))
    }

    fn call(self: Arc<Self>, path: &[PathKey], args: Vec<Value>) -> Stub {
        // Settled: the function is found in place, the value not copied to find it.
        let found = self.settled(|r| settled_path(r, path, |_| Err::<(), _>(not_a_function(path))));
        match found {
            Some(Ok((stub, rest))) => return stub.0.call(&rest, args),
            Some(Err(failed)) => return PromiseHook::ready(failed.map(|()| Value::Undefined)),
            None => {}
        }
        let path = path.to_vec();
        PromiseHook::pending(async move { call_value(self.wait().await?, &path, args).await })
    }

    fn get(self: Arc<Self>, path: &[PathKey]) -> Stub {
        if path.is_empty() {
            // The same promise: sharing it copies nothing.
            return Stub(self);
        }
        if self.settled(|_| ()).is_some() {
            return Stub::from_hook(ReadHook {
                base: self,
                path: path.to_vec(),
            });
        }
        let path = path.to_vec();
        PromiseHook::pending(async move { get_value(self.wait().await?, &path).await })
    }

    fn map(
        self: Arc<Self>,
        path: &[PathKey],
        captures: Vec<Stub>,
        instructions: Arc<[Expr]>,
    ) -> Stub {
        let found = self.settled(|r| settled_path(r, path, |v| Ok(v.clone())));
        match found {
            Some(Ok((stub, rest))) => return stub.0.map(&rest, captures, instructions),
            Some(Err(Ok(v))) => {
                return PromiseHook::pending(crate::stub::map::apply(v, captures, instructions))
            }
            Some(Err(Err(e))) => return PromiseHook::ready(Err(e)),
            None => {}
        }
        let path = path.to_vec();
        PromiseHook::pending(async move {
            match follow(&self.wait().await?, &path)? {
                Followed::Forward(stub, rest) => {
                    stub.0.map(&rest, captures, instructions).0.resolve().await
                }
                Followed::Value(v) => crate::stub::map::apply(v, captures, instructions).await,
            }
        })
    }

    fn resolve(self: Arc<Self>) -> Resolution {
        self.wait()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn is_promise(&self) -> bool {
        true
    }
}

/// A property of a settled promise's value: read from it each time it is used, holding no copy
/// of its own (a peer may read a large value's properties as often as it likes, and pipeline
/// on each read).
struct ReadHook {
    base: Arc<PromiseHook>,
    path: Vec<PathKey>,
}

impl ReadHook {
    fn path_to(&self, rest: &[PathKey]) -> Vec<PathKey> {
        let mut path = self.path.clone();
        path.extend_from_slice(rest);
        path
    }
}

impl Hook for ReadHook {
    fn call(self: Arc<Self>, path: &[PathKey], args: Vec<Value>) -> Stub {
        self.base.clone().call(&self.path_to(path), args)
    }

    fn get(self: Arc<Self>, path: &[PathKey]) -> Stub {
        match path.is_empty() {
            true => Stub(self),
            false => self.base.clone().get(&self.path_to(path)),
        }
    }

    fn map(
        self: Arc<Self>,
        path: &[PathKey],
        captures: Vec<Stub>,
        instructions: Arc<[Expr]>,
    ) -> Stub {
        self.base
            .clone()
            .map(&self.path_to(path), captures, instructions)
    }

    fn settled_value(&self) -> Option<Result<Value, RpcError>> {
        self.base
            .settled(|r| settled_path(r, &self.path, |v| Ok(v.clone())))?
            .err()
    }

    fn resolve(self: Arc<Self>) -> Resolution {
        let read = self
            .base
            .settled(|r| settled_path(r, &self.path, |v| Ok(v.clone())));
        match read {
            Some(Err(value)) => Resolution::ready(value),
            Some(Ok((stub, rest))) => {
                PromiseHook::pending(async move { get_value(Value::Promise(stub), &rest).await })
                    .0
                    .resolve()
            }
            None => unreachable!("a ReadHook reads a settled promise"),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn is_promise(&self) -> bool {
        true
    }
}

/// A broken reference: every use fails with the same error.
pub(crate) struct ErrorHook(pub(crate) RpcError);

impl Hook for ErrorHook {
    fn call(self: Arc<Self>, _: &[PathKey], _: Vec<Value>) -> Stub {
        Stub(self)
    }
    fn get(self: Arc<Self>, _: &[PathKey]) -> Stub {
        Stub(self)
    }
    fn map(self: Arc<Self>, _: &[PathKey], _: Vec<Stub>, _: Arc<[Expr]>) -> Stub {
        Stub(self)
    }
    fn resolve(self: Arc<Self>) -> Resolution {
        Resolution::ready(Err(self.0.clone()))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn is_promise(&self) -> bool {
        true
    }
}
