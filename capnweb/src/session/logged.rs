//! [`LoggedHook`]: a handle that belongs to one unit of work of `Client::run`. What is sent
//! through it is written to the unit's log whichever task uses it, and the handles it gives
//! (results, capabilities in them) belong to the same unit.

use std::any::Any;
use std::sync::Arc;

use super::run_log::{self, RunLog};
use crate::error::RpcError;
use crate::stream::WritableStream;
use crate::stub::{ErrorHook, Hook, PromiseHook, Resolution, StreamDone, Stub};
use crate::value::Value;
use crate::wire::{Expr, PathKey};

pub(crate) struct LoggedHook {
    pub(crate) inner: Stub,
    log: Arc<RunLog>,
    /// For the promise of a call this handle sent to a peer: whether it was idempotent, until
    /// it is found not to have run (then `None`: counted out once).
    sent: std::sync::Mutex<Option<bool>>,
}

impl LoggedHook {
    /// `stub` as a handle of the unit that `log` belongs to. A broken stub can send nothing and
    /// stays as it is; so does a handle that belongs to a unit already.
    pub(crate) fn wrap(log: &Arc<RunLog>, stub: Stub) -> Stub {
        LoggedHook::wrap_sent(log, stub, None)
    }

    /// [`wrap`](Self::wrap), for the promise of a call sent to a peer (`sent`: whether it was
    /// idempotent), or of none.
    fn wrap_sent(log: &Arc<RunLog>, stub: Stub, sent: Option<bool>) -> Stub {
        if stub.downcast::<ErrorHook>().is_some() || stub.downcast::<LoggedHook>().is_some() {
            return stub;
        }
        Stub::from_hook(LoggedHook {
            inner: stub,
            log: log.clone(),
            sent: std::sync::Mutex::new(sent),
        })
    }

    /// `stub` as a handle of no unit: the stub a unit's handle wraps, or `stub` itself.
    pub(crate) fn unwrap(stub: Stub) -> Stub {
        match stub.downcast::<LoggedHook>() {
            Some(logged) => logged.inner.clone(),
            None => stub,
        }
    }

    /// `v` with every handle in it made one of this unit's, this one's own inner stub as this
    /// very handle.
    fn adopt(self: &Arc<Self>, v: Value) -> Value {
        match v {
            Value::Stub(s) if s.same(&self.inner) => Value::Stub(Stub(self.clone())),
            Value::Stub(s) => Value::Stub(LoggedHook::wrap(&self.log, s)),
            Value::Promise(s) => Value::Promise(LoggedHook::wrap(&self.log, s)),
            Value::Writable(w) => {
                let stub = LoggedHook::wrap(&self.log, w.stub().clone());
                match stub.same(w.stub()) {
                    true => Value::Writable(w),
                    false => Value::Writable(WritableStream::from_stub(stub)),
                }
            }
            Value::Array(items) => Value::Array(items.into_iter().map(|i| self.adopt(i)).collect()),
            Value::Object(fields) => Value::Object(
                fields
                    .into_iter()
                    .map(|(k, v)| (k, self.adopt(v)))
                    .collect(),
            ),
            other => other,
        }
    }

    /// The error a call sent through this handle failed with. One the peer says it did not run
    /// is counted out of the unit's log (once), and is a disconnection that delivered nothing:
    /// the unit may run again.
    fn failed(&self, e: RpcError) -> RpcError {
        let not_run = match &e {
            RpcError::Remote(v) if v.name == crate::error::NOT_RUN => Some(v.message.clone()),
            RpcError::Disconnected {
                reason,
                maybe_delivered: false,
            } => Some(reason.clone()),
            _ => None,
        };
        let Some(reason) = not_run else {
            return e;
        };
        if let Some(idempotent) = lock(&self.sent).take() {
            self.log.not_run(idempotent);
        }
        RpcError::Disconnected {
            reason,
            maybe_delivered: false,
        }
    }

    fn logged(&self, send: impl FnOnce() -> Stub) -> Stub {
        LoggedHook::wrap(&self.log, run_log::through(&self.log, send))
    }
}

impl Hook for LoggedHook {
    fn call(self: Arc<Self>, path: &[PathKey], args: Vec<Value>) -> Stub {
        let (promise, sent) =
            run_log::through_call(&self.log, || self.inner.0.clone().call(path, args));
        LoggedHook::wrap_sent(&self.log, promise, sent)
    }

    fn get(self: Arc<Self>, path: &[PathKey]) -> Stub {
        self.logged(|| self.inner.0.clone().get(path))
    }

    fn map(
        self: Arc<Self>,
        path: &[PathKey],
        captures: Vec<Stub>,
        instructions: Arc<[Expr]>,
    ) -> Stub {
        self.logged(|| self.inner.0.clone().map(path, captures, instructions))
    }

    fn resolve(self: Arc<Self>) -> Resolution {
        let resolving = self.inner.0.clone().resolve();
        let adopted = async move {
            match resolving.await {
                Ok(v) => Ok(self.adopt(v)),
                Err(e) => Err(self.failed(e)),
            }
        };
        PromiseHook::pending(adopted).0.resolve()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn is_promise(&self) -> bool {
        self.inner.0.is_promise()
    }

    fn session_end(&self) -> Option<Arc<crate::stub::SessionEnd>> {
        self.inner.0.session_end()
    }

    fn is_remote(&self) -> bool {
        self.inner.0.is_remote()
    }

    fn stream_call(
        &self,
        method: &str,
        args: Vec<Value>,
        done: StreamDone,
    ) -> Result<usize, RpcError> {
        run_log::through(&self.log, || self.inner.0.stream_call(method, args, done))
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poison| poison.into_inner())
}

#[cfg(test)]
mod tests;
