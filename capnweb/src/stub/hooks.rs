//! The local hooks: an application object, a pending or settled result (`promise`), an error.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;

use super::path::{follow, not_a_function, Followed};
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
    match follow(v, path)? {
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
    match follow(v, path)? {
        Followed::Forward(stub, rest) => stub.0.call(&rest, args).0.resolve().await,
        Followed::Value(_) => Err(not_a_function(path)),
    }
}

impl Hook for PromiseHook {
    fn poll_unique(&mut self) -> Option<Poll<Result<Value, RpcError>>> {
        Some(PromiseHook::poll_unique(self))
    }

    fn call(self: Arc<Self>, path: &[PathKey], args: Vec<Value>) -> Stub {
        let path = path.to_vec();
        PromiseHook::pending(async move { call_value(self.wait().await?, &path, args).await })
    }

    fn get(self: Arc<Self>, path: &[PathKey]) -> Stub {
        let path = path.to_vec();
        PromiseHook::pending(async move { get_value(self.wait().await?, &path).await })
    }

    fn map(
        self: Arc<Self>,
        path: &[PathKey],
        captures: Vec<Stub>,
        instructions: Arc<[Expr]>,
    ) -> Stub {
        let path = path.to_vec();
        PromiseHook::pending(async move {
            match follow(self.wait().await?, &path)? {
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
