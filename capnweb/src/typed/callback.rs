//! [`Callback`]: a function passed over RPC, typed by its argument and result.

use std::future::Future;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use super::{Param, RpcPromise};
use crate::error::RpcError;
use crate::stub::Stub;
use crate::value::{from_value, to_value, Value};

/// A function of one argument `A` giving `R`, that can cross the wire both ways: a client
/// passes a closure for the server to call back, and the server receives a `Callback` it can
/// [`call`](Callback::call). In TypeScript it is an ordinary function.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use capnweb::Callback;
/// let times_ten = Callback::new(|x: f64| async move { Ok(x * 10.0) });
/// assert_eq!(times_ten.call(4.0).await?, 40.0);
/// # Ok::<(), capnweb::RpcError>(()) }).unwrap();
/// ```
pub struct Callback<A, R> {
    stub: Stub,
    _signature: PhantomData<fn(A) -> R>,
}

impl<A, R> Callback<A, R>
where
    A: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
{
    /// A callback running `f` here, whoever calls it.
    pub fn new<F, Fut>(f: F) -> Callback<A, R>
    where
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, RpcError>> + Send + 'static,
    {
        let stub = Stub::from_fn(move |args: Vec<Value>| {
            let arg = args.into_iter().next().unwrap_or_default();
            let call = from_value::<A>(arg).map(&f);
            async move { Ok(to_value(&call?.await?)?) }
        });
        Callback::from_stub(stub)
    }
}

impl<A, R> Callback<A, R> {
    /// A typed view of a stub (trusted to be such a function).
    pub fn from_stub(stub: Stub) -> Callback<A, R> {
        Callback {
            stub,
            _signature: PhantomData,
        }
    }

    /// The stub underneath.
    pub fn stub(&self) -> &Stub {
        &self.stub
    }
}

impl<A: Serialize, R> Callback<A, R> {
    /// Calls the function (wherever it lives) with `arg`.
    pub fn call(&self, arg: impl Into<Param<A>>) -> RpcPromise<R> {
        match arg.into().into_value() {
            Ok(v) => RpcPromise::from_stub(self.stub.call("", vec![v])),
            Err(e) => RpcPromise::broken(e.into()),
        }
    }
}

impl<A, R> Clone for Callback<A, R> {
    fn clone(&self) -> Self {
        Callback::from_stub(self.stub.clone())
    }
}

impl<A, R> std::fmt::Debug for Callback<A, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Callback({:?})", self.stub)
    }
}

impl<A, R> Serialize for Callback<A, R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.stub.serialize(s)
    }
}

impl<'de, A, R> Deserialize<'de> for Callback<A, R> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Stub::deserialize(d).map(Callback::from_stub)
    }
}
