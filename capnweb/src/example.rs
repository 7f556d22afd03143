//! What [`rpc_interface`] generates, for reading: this module exists in
//! the documentation only (`#[cfg(doc)]`). From the [`Calculator`] trait below come
//! [`CalculatorClient`] (typed methods returning [`RpcPromise`](crate::RpcPromise)s, a property
//! read, an optional trailing parameter, a capability in a result) and [`CalculatorServer`]
//! (the [`RpcTarget`](crate::RpcTarget) serving an implementation).

use crate::{rpc_interface, RpcError};

/// An example interface: a calculator that hands out counters.
#[rpc_interface]
pub trait Calculator {
    /// The sum of two numbers. On the wire: `add`; safe to send again after a reconnect.
    #[rpc(idempotent)]
    async fn add(&self, a: f64, b: f64) -> Result<f64, RpcError>;
    /// A new counter starting at `start`. On the wire: `makeCounter`.
    async fn make_counter(&self, start: f64) -> Result<CounterClient, RpcError>;
    /// A property, read rather than called: `["pipeline", id, ["version"]]`.
    #[rpc(property)]
    async fn version(&self) -> Result<String, RpcError>;
}

/// The counters a [`Calculator`] makes.
#[rpc_interface]
pub trait Counter {
    /// Adds `by` (1 when left out: a trailing `Option` may be omitted) and gives the new value.
    async fn increment(&self, by: Option<f64>) -> Result<f64, RpcError>;
}
