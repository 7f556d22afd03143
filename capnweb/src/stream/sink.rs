//! A writable stream over an application's [`Sink`]: the hook taking `write`, `close` and
//! `abort` calls (from the peer, or local writes) and applying them to the sink in the order
//! they were made. A write or close the sink refuses fails with the sink's error, which is how
//! a remote writer learns it, as from a throwing sink in the reference.

use std::any::Any;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures_util::{Sink, SinkExt};
use tokio::sync::oneshot;

use crate::error::RpcError;
use crate::stub::{resolve_promises, Hook, PromiseHook, Resolution, Stub};
use crate::value::Value;
use crate::wire::{Expr, PathKey};

type BoxSink = Pin<Box<dyn Sink<Value, Error = RpcError> + Send>>;

/// The writable end over a sink.
pub(crate) struct SinkHook {
    state: Arc<tokio::sync::Mutex<State>>,
    /// Done when the last operation made is: the next one waits for it.
    last: Mutex<Option<oneshot::Receiver<()>>>,
}

struct State {
    /// `None` once closed or aborted.
    sink: Option<BoxSink>,
    /// The first failure: every later operation reports it.
    error: Option<RpcError>,
}

enum Op {
    Write(Value),
    Close,
    Abort,
}

impl SinkHook {
    pub(crate) fn stub(sink: impl Sink<Value, Error = RpcError> + Send + 'static) -> Stub {
        Stub::from_hook(SinkHook {
            state: Arc::new(tokio::sync::Mutex::new(State {
                sink: Some(Box::pin(sink)),
                error: None,
            })),
            last: Mutex::new(None),
        })
    }

    /// Queues `op` after every operation made before it.
    fn queue(&self, op: Op) -> Stub {
        let (done, next) = oneshot::channel();
        let before = self
            .last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(next);
        let state = self.state.clone();
        PromiseHook::pending(async move {
            if let Some(before) = before {
                // Finished, or dropped without running: either way it is this one's turn.
                let _ = before.await;
            }
            let result = state.lock().await.apply(op).await;
            drop(done);
            result.map(|()| Value::Undefined)
        })
    }
}

impl State {
    async fn apply(&mut self, op: Op) -> Result<(), RpcError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let closed = || RpcError::type_error("the WritableStream is closed");
        let result = match op {
            Op::Write(chunk) => {
                let sink = self.sink.as_mut().ok_or_else(closed)?;
                match resolve_promises(chunk).await {
                    Ok(chunk) => sink.send(chunk).await,
                    Err(e) => Err(e),
                }
            }
            Op::Close => {
                let mut sink = self.sink.take().ok_or_else(closed)?;
                sink.close().await
            }
            Op::Abort => {
                self.sink = None;
                Ok(())
            }
        };
        if let Err(e) = &result {
            self.error = Some(e.clone());
            self.sink = None;
        }
        result
    }
}

impl Hook for SinkHook {
    fn call(self: Arc<Self>, path: &[PathKey], mut args: Vec<Value>) -> Stub {
        let [PathKey::Name(method)] = path else {
            return broken("WritableStream stub only supports direct method calls".into());
        };
        match method.as_str() {
            "write" => {
                let chunk = (!args.is_empty()).then(|| args.swap_remove(0));
                self.queue(Op::Write(chunk.unwrap_or_default()))
            }
            "close" => self.queue(Op::Close),
            "abort" => {
                // Taken at once when nothing is writing (a local abort does not wait).
                if let Ok(mut state) = self.state.try_lock() {
                    state.sink = None;
                }
                self.queue(Op::Abort)
            }
            other => broken(format!("Unknown WritableStream method: {other}")),
        }
    }

    fn get(self: Arc<Self>, _: &[PathKey]) -> Stub {
        broken("Cannot access properties on a WritableStream stub".into())
    }

    fn map(self: Arc<Self>, _: &[PathKey], _: Vec<Stub>, _: Arc<[Expr]>) -> Stub {
        broken("Cannot use map() on a WritableStream".into())
    }

    fn resolve(self: Arc<Self>) -> Resolution {
        Resolution::ready(Ok(Value::Stub(Stub(self))))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn broken(message: String) -> Stub {
    super::pipe::broken(RpcError::error(message))
}
