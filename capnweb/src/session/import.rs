//! [`ImportHook`]: a stub on an entry of a session's import table.

use std::any::Any;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::core::Core;
use crate::error::RpcError;
use crate::stub::SessionEnd;
use crate::stub::{Hook, Resolution, StreamDone, Stub};
use crate::value::Value;
use crate::wire::{Expr, PathKey};

pub(crate) struct ImportHook {
    pub(crate) core: Arc<Core>,
    pub(crate) id: i64,
    /// A promise (a call's result or an exported promise) rather than a settled object.
    pub(crate) promise: bool,
}

impl Hook for ImportHook {
    fn call(self: Arc<Self>, path: &[PathKey], args: Vec<Value>) -> Stub {
        self.core.send_call(self.id, path, Some(args))
    }

    fn get(self: Arc<Self>, path: &[PathKey]) -> Stub {
        self.core.send_call(self.id, path, None)
    }

    fn map(
        self: Arc<Self>,
        path: &[PathKey],
        captures: Vec<Stub>,
        instructions: Arc<[Expr]>,
    ) -> Stub {
        self.core.send_map(self.id, path, captures, instructions)
    }

    fn resolve(self: Arc<Self>) -> Resolution {
        if !self.promise {
            return Resolution::ready(Ok(Value::Stub(Stub(self))));
        }
        Resolution::polled(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn is_promise(&self) -> bool {
        self.promise
    }

    fn poll_resolution(&self, cx: &mut Context<'_>) -> Poll<Result<Value, RpcError>> {
        self.core.poll_import(self.id, cx)
    }

    fn session_end(&self) -> Option<Arc<SessionEnd>> {
        Some(self.core.end())
    }

    fn is_remote(&self) -> bool {
        true
    }

    fn stream_call(
        &self,
        method: &str,
        args: Vec<Value>,
        done: StreamDone,
    ) -> Result<usize, RpcError> {
        self.core.send_stream(self.id, method, args, done)
    }
}

impl Drop for ImportHook {
    fn drop(&mut self) {
        self.core.drop_import(self.id);
    }
}

/// The main stub of a session that nothing else owns (from `capnweb::connect`): dropping its
/// last clone ends the session, as disposing the main stub does in the reference.
pub(crate) struct OwningMain {
    pub(crate) inner: Stub,
    pub(crate) session: super::RpcSession,
}

impl Hook for OwningMain {
    fn call(self: Arc<Self>, path: &[PathKey], args: Vec<Value>) -> Stub {
        self.inner.0.clone().call(path, args)
    }
    fn get(self: Arc<Self>, path: &[PathKey]) -> Stub {
        self.inner.0.clone().get(path)
    }
    fn map(
        self: Arc<Self>,
        path: &[PathKey],
        captures: Vec<Stub>,
        instructions: Arc<[Expr]>,
    ) -> Stub {
        self.inner.0.clone().map(path, captures, instructions)
    }
    fn resolve(self: Arc<Self>) -> Resolution {
        Resolution::ready(Ok(Value::Stub(Stub(self))))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn session_end(&self) -> Option<Arc<SessionEnd>> {
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
        self.inner.0.stream_call(method, args, done)
    }
}

impl Drop for OwningMain {
    fn drop(&mut self) {
        self.session.core_abort_quietly(RpcError::disconnected(
            "RPC session was shut down by disposing the main stub",
        ));
    }
}
