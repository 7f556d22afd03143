//! [`RpcPromise`]: the result of a typed call, to await, pipeline through, or map.

use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{ready, Context, Poll};

use serde::de::DeserializeOwned;

use super::{CallError, RpcClient};
use crate::error::RpcError;
use crate::stub::{resolve_promises, BoxFuture, Resolution, Stub};
use crate::value::{from_value, Value};

/// The result of a call, before it arrives.
///
/// - `.await` it for `Result<T, E>`: it is a `Future`, so `join_all`, `FuturesUnordered`,
///   `tokio::spawn` and `select!` take it as it is. `E` is [`RpcError`] unless the method
///   declares an application error (see [`RemoteError`](super::RemoteError)).
/// - If `T` is a client, call its methods on the promise at once (it dereferences to `T`): the
///   calls are pipelined, sent before the result exists, with no extra round trip.
/// - Pass it as an argument of another call (see [`Param`](super::Param)), or a
///   [`field`](RpcPromise::field) of it, to pipeline a result into that call.
/// - [`map`](RpcPromise::map) a promised `Vec` or `Option` with calls run by the server.
/// - Drop it to release the result on the server.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use capnweb::{RpcPromise, Stub, Value};
/// let p = RpcPromise::<Vec<u8>>::from_stub(Stub::resolved(Value::from(vec![Value::from(1)])));
/// assert_eq!(p.await?, vec![1]);
/// # Ok::<(), capnweb::RpcError>(()) }).unwrap();
/// ```
#[must_use = "a promise does nothing more unless awaited or pipelined; dropping it releases the result"]
pub struct RpcPromise<T, E = RpcError> {
    stub: Stub,
    // The client view of a promised capability, made on first use (see `Deref`).
    pipelined: OnceLock<T>,
    // Set once it is first polled.
    awaiting: Option<Awaiting>,
    // The client side of the call, when tracing is on (see `dispatch::call`).
    span: tracing::Span,
    _result: PhantomData<fn() -> Result<T, E>>,
}

impl<T, E> std::fmt::Debug for RpcPromise<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RpcPromise").field(&self.stub).finish()
    }
}

impl<T> RpcPromise<T> {
    /// A typed view of a promise stub (trusted to resolve to a `T`).
    pub fn from_stub(stub: Stub) -> RpcPromise<T> {
        RpcPromise::of(stub)
    }

    /// A promise of what `future` gives, as the reference's `new RpcPromise(promise)`: pass it
    /// to a peer at once, pipeline through it, or await it (see [`Stub::from_future`]).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use capnweb::{RpcError, RpcPromise};
    /// let p = RpcPromise::from_future(async { Ok::<_, RpcError>(vec![1u8, 2]) });
    /// assert_eq!(p.await?, vec![1, 2]);
    /// # Ok::<(), RpcError>(()) }).unwrap();
    /// ```
    pub fn from_future<F>(future: F) -> RpcPromise<T>
    where
        F: Future<Output = Result<T, RpcError>> + Send + 'static,
        T: serde::Serialize,
    {
        RpcPromise::from_stub(Stub::from_future(async move {
            crate::value::to_value(&future.await?).map_err(RpcError::from)
        }))
    }

    /// A promise that fails with `error`.
    pub fn broken(error: RpcError) -> RpcPromise<T> {
        RpcPromise::from_stub(Stub::broken(error))
    }
}

impl<T, E> RpcPromise<T, E> {
    fn of(stub: Stub) -> RpcPromise<T, E> {
        RpcPromise {
            stub,
            pipelined: OnceLock::new(),
            awaiting: None,
            span: tracing::Span::none(),
            _result: PhantomData,
        }
    }

    /// The same promise, awaited in `span` (the call's client span), which records how it
    /// ended.
    pub(crate) fn in_span(mut self, span: tracing::Span) -> Self {
        self.span = span;
        self
    }

    /// The stub underneath. An associated function, so that it never hides a method of `T`.
    pub fn stub(this: &Self) -> &Stub {
        &this.stub
    }

    /// The stub underneath, taking the promise.
    pub fn into_stub(this: Self) -> Stub {
        this.stub
    }

    /// The same promise, typed as a `U`: for a result whose Rust type is not the one declared
    /// (JavaScript has one number type where Rust has several). Checked when it is awaited:
    /// a value that is not a `U` fails then, saying why.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use capnweb::{RpcPromise, Stub, Value};
    /// let p = RpcPromise::<f64>::from_stub(Stub::resolved(Value::from(7)));
    /// assert_eq!(p.cast::<u8>().await?, 7);
    /// let p = RpcPromise::<f64>::from_stub(Stub::resolved(Value::from(-1)));
    /// assert!(p.cast::<u8>().await.is_err());
    /// # Ok::<(), capnweb::RpcError>(()) }).unwrap();
    /// ```
    pub fn cast<U>(self) -> RpcPromise<U, E> {
        RpcPromise::<U, E>::of(self.stub).in_span(self.span)
    }

    /// The same promise, failing with an `F` instead: `with_error::<RpcError>()` sees every
    /// failure as it came (for [`Client::run`](crate::Client::run), whose retries look at
    /// disconnections), and [`CallError::from_rpc_error`] makes the application error later.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use capnweb::{RpcError, RpcPromise};
    /// let p = RpcPromise::<f64>::broken(RpcError::range_error("no"));
    /// let e: RpcError = p.with_error::<RpcError>().await.unwrap_err();
    /// assert_eq!(e.name(), "RangeError");
    /// # });
    /// ```
    pub fn with_error<F>(self) -> RpcPromise<T, F> {
        RpcPromise::<T, F>::of(self.stub).in_span(self.span)
    }

    /// A field of the promised value, as a promise of its own: read by the server, so it can be
    /// passed on to another call without waiting.
    pub fn field<U>(&self, name: &str) -> RpcPromise<U, E> {
        RpcPromise::of(self.stub.get(name))
    }
}

/// Awaiting a promise gives its result, with any promises nested in it resolved, as a `T`. A
/// plain result takes no allocation.
impl<T: DeserializeOwned, E: CallError> Future for RpcPromise<T, E> {
    type Output = Result<T, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let _entered = this.span.enter();
        let stub = &this.stub;
        let state = this
            .awaiting
            .get_or_insert_with(|| Awaiting::Result(stub.0.clone().resolve()));
        loop {
            let result = match state {
                Awaiting::Result(r) => ready!(Pin::new(r).poll(cx)),
                Awaiting::Nested(f) => ready!(f.as_mut().poll(cx)),
                Awaiting::Done => panic!("RpcPromise polled after completion"),
            };
            match result {
                Ok(v) if v.contains_promise() && matches!(state, Awaiting::Result(_)) => {
                    *state = Awaiting::Nested(resolve_promises(v));
                }
                result => {
                    *state = Awaiting::Done;
                    let result = result.and_then(|v| Ok(from_value(v)?));
                    if let Err(e) = &result {
                        this.span.record("otel.status_code", "ERROR");
                        this.span.record("error.type", e.name());
                    }
                    return Poll::Ready(result.map_err(E::from_rpc_error));
                }
            }
        }
    }
}

// Nothing of a promise is pinned in place: its state is boxed or behind `Arc`s, and `T` is only
// ever made and handed out by reference (see `Deref`).
impl<T, E> Unpin for RpcPromise<T, E> {}

/// Where awaiting a promise stands.
enum Awaiting {
    Result(Resolution),
    /// The result held promises (rare): they resolve in turn.
    Nested(BoxFuture<Result<Value, RpcError>>),
    Done,
}

/// A promise inside a result or an argument is sent as a promise: the peer receives the value
/// once it is known, and can pipeline on it meanwhile.
impl<T, E> serde::Serialize for RpcPromise<T, E> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.stub.serialize(s)
    }
}

/// A promise inside a received value: a promise or capability stays one; a settled value becomes
/// a promise already resolved to it (checked against `T` when awaited).
impl<'de, T, E> serde::Deserialize<'de> for RpcPromise<T, E> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(RpcPromise::of(match Value::deserialize(d)? {
            Value::Stub(s) | Value::Promise(s) => s,
            settled => Stub::resolved(settled),
        }))
    }
}

impl<T: RpcClient, E> Deref for RpcPromise<T, E> {
    type Target = T;

    /// The promised capability, usable at once: its calls are pipelined.
    fn deref(&self) -> &T {
        self.pipelined
            .get_or_init(|| T::from_stub(self.stub.clone()))
    }
}

/// What a [`map`](RpcPromise::map) closure may return: a promise from a call, or a client.
#[diagnostic::on_unimplemented(
    message = "a map() closure cannot return `{Self}`",
    label = "return the promise of a call (or a client) here",
    note = "the closure runs once, on a placeholder, to record calls: it can only return what those calls give"
)]
pub trait MapResult {
    /// The type of each mapped element.
    type Output;
    /// The value the recorded closure returns.
    fn into_map_value(self) -> Value;
}

impl<U, E> MapResult for RpcPromise<U, E> {
    type Output = U;
    fn into_map_value(self) -> Value {
        Value::Promise(self.stub)
    }
}

impl<C: RpcClient> MapResult for C {
    type Output = C;
    fn into_map_value(self) -> Value {
        Value::Stub(self.stub().clone())
    }
}

impl<T, E> RpcPromise<Vec<T>, E> {
    /// Runs `f` on the server for each element, in the same round trip.
    ///
    /// `f` runs once, here, on a placeholder: it can make calls (on the placeholder, or on
    /// clients it captures) and return their promise. It cannot look at the element, which
    /// does not exist yet: the placeholder offers no comparison, formatting or branching.
    pub fn map<R: MapResult>(
        &self,
        f: impl FnOnce(RpcPromise<T>) -> R,
    ) -> RpcPromise<Vec<R::Output>, E> {
        RpcPromise::of(
            self.stub
                .map(|x| f(RpcPromise::from_stub(x)).into_map_value()),
        )
    }
}

impl<T, E> RpcPromise<Option<T>, E> {
    /// Runs `f` on the server on the value if there is one (`None` stays `None`), in the same
    /// round trip. See [`RpcPromise::map`] on a `Vec` for what `f` may do.
    pub fn map<R: MapResult>(
        &self,
        f: impl FnOnce(RpcPromise<T>) -> R,
    ) -> RpcPromise<Option<R::Output>, E> {
        RpcPromise::of(
            self.stub
                .map(|x| f(RpcPromise::from_stub(x)).into_map_value()),
        )
    }
}
