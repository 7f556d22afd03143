//! [`Stub`]: a handle on an object that can be called, local or remote, resolved or pending.
//!
//! A stub is a cheap, clonable reference (`Arc`) to a hook. Hooks are the one abstraction the
//! session and the application share: a local [`RpcTarget`], a pending local call, a value, an
//! error, or (in `crate::session`) an entry of a session's import table. Dropping the last clone
//! of a stub releases what it refers to.

pub(crate) mod eval;
mod hooks;
mod intercept;
pub(crate) mod map;
mod path;
mod promise;
mod session_end;
mod target;

pub(crate) use hooks::ErrorHook;
pub(crate) use path::{resolve_promises, OBJECT_PROTOTYPE_NAMES};
pub(crate) use promise::{PromiseHook, Resolution, SessionDriven};
pub(crate) use session_end::SessionEnd;
pub use target::{not_a_function, BoxFuture, RpcTarget};

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::error::RpcError;
use crate::value::Value;
use crate::wire::{Expr, PathKey};

/// What a stub does when it is used. Implemented by this crate only.
pub(crate) trait Hook: Send + Sync + 'static {
    /// Calls the function at `path` (the object itself for an empty path).
    fn call(self: Arc<Self>, path: &[PathKey], args: Vec<Value>) -> Stub;
    /// Reads the property at `path`.
    fn get(self: Arc<Self>, path: &[PathKey]) -> Stub;
    /// Applies a mapper (see `crate::map`) to the value at `path`.
    fn map(
        self: Arc<Self>,
        path: &[PathKey],
        captures: Vec<Stub>,
        instructions: Arc<[Expr]>,
    ) -> Stub;
    /// The value this hook stands for, once known: a stub stands for itself.
    fn resolve(self: Arc<Self>) -> Resolution;
    /// For downcasting (the session recognises its own imports).
    fn as_any(&self) -> &dyn Any;
    /// Polls a local computation once, through the only handle on it (so with no locking):
    /// `None` if this is no such computation. Its result, once ready, stays in the hook (read
    /// it with [`with_settled`](Self::with_settled)): nothing is copied.
    fn poll_unique(&mut self) -> Option<Poll<()>> {
        None
    }
    /// Reads the result this hook holds, settled (a local computation's, kept for
    /// pipelining), in place: `false`, not reading, if it holds none.
    fn with_settled(&self, read: &mut dyn FnMut(&Result<Value, RpcError>)) -> bool {
        let _ = read;
        false
    }
    /// The value, if it is known without waiting and is plain (a settled local promise, or a
    /// path of one): read now, copied only as far as needed. `None` otherwise.
    fn settled_value(&self) -> Option<Result<Value, RpcError>> {
        None
    }
    /// Whether this is a promise (pipelined result) rather than a settled object reference.
    fn is_promise(&self) -> bool {
        false
    }
    /// Polls the resolution of a hook whose `resolve` gave [`Resolution::polled`] (a peer's
    /// promise: its session answers, with no box per wait).
    fn poll_resolution(&self, cx: &mut Context<'_>) -> Poll<Result<Value, RpcError>> {
        let _ = cx;
        Poll::Ready(Err(RpcError::error(
            "nothing to poll: resolve() was not polled",
        )))
    }
    /// The end of the session this object belongs to; `None` for an object of no session (a
    /// local object never breaks). As the reference's `onBroken`.
    fn session_end(&self) -> Option<Arc<SessionEnd>> {
        None
    }
    /// Whether this is a peer's object, which takes flow-controlled `stream` calls.
    fn is_remote(&self) -> bool {
        false
    }
    /// Sends a `stream` call (as the reference's `StubHook.stream`): `done` gets its answer and
    /// the size of the message that carried it; returns that size. Only a peer's object takes
    /// one (see [`is_remote`](Hook::is_remote)).
    fn stream_call(
        &self,
        method: &str,
        args: Vec<Value>,
        done: StreamDone,
    ) -> Result<usize, RpcError> {
        let _ = (method, args, done);
        Err(RpcError::type_error("not a stream of a peer"))
    }
}

/// What to do with the answer to a `stream` call: told the size of the message that carried the
/// call, and its result.
pub(crate) type StreamDone = Box<dyn FnOnce(usize, Result<Value, RpcError>) + Send>;

/// A reference to an object that can be called: a remote object, a pending result, or a local
/// [`RpcTarget`].
///
/// ```
/// # tokio_test_block(async {
/// use capnweb::{Stub, Value, RpcError};
/// let stub = Stub::from_fn(|args: Vec<Value>| async move {
///     Ok::<_, RpcError>(Value::from(args[0].as_f64().unwrap() * 2.0))
/// });
/// let v = stub.call("", vec![Value::from(21)]).resolve().await.unwrap();
/// assert_eq!(v.as_f64(), Some(42.0));
/// # });
/// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone)]
pub struct Stub(pub(crate) Arc<dyn Hook>);

impl Stub {
    pub(crate) fn from_hook(hook: impl Hook) -> Stub {
        Stub(Arc::new(hook))
    }

    /// A stub for a local object.
    pub fn new(target: impl RpcTarget) -> Stub {
        Stub::from_target(Arc::new(target))
    }

    /// A stub for a shared local object.
    pub fn from_target(target: Arc<dyn RpcTarget>) -> Stub {
        Stub::from_hook(hooks::TargetHook { target })
    }

    /// A stub for a local function: calling the stub itself (an empty method name) runs `f`.
    pub fn from_fn<F, Fut>(f: F) -> Stub
    where
        F: Fn(Vec<Value>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<Value, RpcError>> + Send + 'static,
    {
        Stub::new(target::FnTarget(f))
    }

    /// A stub whose every use fails with `error`.
    pub fn broken(error: RpcError) -> Stub {
        Stub::from_hook(ErrorHook(error))
    }

    /// A settled promise for `value`: calls and reads go to the value.
    pub fn resolved(value: Value) -> Stub {
        PromiseHook::ready(Ok(value))
    }

    /// A promise of what `future` gives, as the reference's `new RpcPromise(promise)`: it can
    /// be passed to a peer at once (which gets a promise, resolved when `future` is done),
    /// called (the calls go to the value once it is there), or awaited. The future runs when
    /// somebody waits for it: a peer that pulls it, or [`resolve`](Stub::resolve).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use capnweb::{Stub, Value, RpcError};
    /// let later = Stub::from_future(async { Ok::<_, RpcError>(Value::from(7)) });
    /// assert!(later.is_promise());
    /// assert_eq!(later.resolve().await?.as_f64(), Some(7.0));
    /// # Ok::<(), RpcError>(()) }).unwrap();
    /// ```
    pub fn from_future(
        future: impl std::future::Future<Output = Result<Value, RpcError>> + Send + 'static,
    ) -> Stub {
        PromiseHook::pending(future)
    }

    /// Calls `method` with `args`. The call is sent at once; the result is a promise that can be
    /// awaited with [`resolve`](Stub::resolve) or used at once for further calls (pipelining).
    /// An empty `method` calls the object itself as a function.
    pub fn call(&self, method: &str, args: Vec<Value>) -> Stub {
        let path: &[PathKey] = if method.is_empty() {
            &[]
        } else {
            &[PathKey::Name(method.to_owned())]
        };
        if let Some(recorded) = intercept::call(self, path, &args) {
            return recorded;
        }
        self.0.clone().call(path, args)
    }

    /// Calls the function at a property path.
    pub fn call_path(&self, path: &[PathKey], args: Vec<Value>) -> Stub {
        if let Some(recorded) = intercept::call(self, path, &args) {
            return recorded;
        }
        self.0.clone().call(path, args)
    }

    /// Reads property `name`, as a promise (pipelinable like a call result).
    pub fn get(&self, name: &str) -> Stub {
        self.get_path(&[PathKey::Name(name.to_owned())])
    }

    /// Reads the property at `path`, as a promise.
    pub fn get_path(&self, path: &[PathKey]) -> Stub {
        if let Some(recorded) = intercept::get(self, path) {
            return recorded;
        }
        self.0.clone().get(path)
    }

    /// Waits for the value this stub stands for: the result of a call, or (for a settled object
    /// reference) the stub itself. Promises nested in the value are resolved too.
    pub async fn resolve(&self) -> Result<Value, RpcError> {
        let v = self.0.clone().resolve().await?;
        if !v.contains_promise() {
            return Ok(v);
        }
        resolve_promises(v).await
    }

    /// Maps `f` over the value this promise resolves to, on the remote side, in the same round
    /// trip: over each element of an array, or over the value itself (`null` and `undefined` map
    /// to themselves). `f` runs once, now, on a placeholder: it may only make calls on stubs
    /// (the placeholder or captured ones) and build a value from their results.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use capnweb::{Stub, Value, RpcError};
    /// let double = Stub::from_fn(|a: Vec<Value>| async move { Ok::<_, RpcError>(Value::from(a[0].as_f64().unwrap() * 2.0)) });
    /// let list = Stub::resolved(Value::from(vec![Value::from(1), Value::from(2)]));
    /// let doubled = list.map(|x| Value::Promise(double.call("", vec![Value::Promise(x)])));
    /// let v = doubled.resolve().await.unwrap();
    /// assert_eq!(v, Value::from(vec![Value::from(2.0), Value::from(4.0)]));
    /// # });
    /// ```
    pub fn map(&self, f: impl FnOnce(Stub) -> Value) -> Stub {
        crate::stub::map::map(self, &[], f)
    }

    pub(crate) fn map_raw(
        &self,
        path: &[PathKey],
        captures: Vec<Stub>,
        instructions: Arc<[Expr]>,
    ) -> Stub {
        self.0.clone().map(path, captures, instructions)
    }

    /// Whether two stubs are the same handle.
    pub fn same(&self, other: &Stub) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.0), Arc::as_ptr(&other.0))
    }

    /// Whether this stub is a promise (a pipelined result) rather than an object reference.
    pub fn is_promise(&self) -> bool {
        self.0.is_promise()
    }

    /// Calls `f` once, with the reason, when this capability breaks: when the session it
    /// belongs to ends (a local object never breaks; a broken stub is broken already).
    /// Dropping the returned guard unregisters `f`.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use capnweb::{RpcError, Stub};
    /// let (tx, rx) = tokio::sync::oneshot::channel();
    /// let broken = Stub::broken(RpcError::error("gone"));
    /// let _guard = broken.on_broken(move |e| { let _ = tx.send(e); });
    /// assert_eq!(rx.await.unwrap().message(), "gone");
    /// # });
    /// ```
    #[must_use = "dropping the guard unregisters the callback"]
    pub fn on_broken(&self, f: impl FnOnce(RpcError) + Send + 'static) -> OnBroken {
        let task = if let Some(error) = self.downcast::<ErrorHook>() {
            let error = error.0.clone();
            tokio::spawn(async move { f(error) })
        } else if let Some(end) = self.0.session_end() {
            tokio::spawn(async move { f(end.ended().await) })
        } else {
            return OnBroken(None);
        };
        OnBroken(Some(task.abort_handle()))
    }

    pub(crate) fn downcast<T: 'static>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref::<T>()
    }

    pub(crate) fn key(&self) -> usize {
        Arc::as_ptr(&self.0) as *const () as usize
    }
}

impl fmt::Debug for Stub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Stub({:#x})", self.key())
    }
}

/// Keeps an [`on_broken`](Stub::on_broken) callback registered; dropping it unregisters it.
#[derive(Debug)]
pub struct OnBroken(Option<tokio::task::AbortHandle>);

impl Drop for OnBroken {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}
