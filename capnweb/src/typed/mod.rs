//! The typed layer that `#[rpc_interface]` generates code against: [`RpcPromise`], [`Param`],
//! [`RpcClient`] and [`Callback`].
//!
//! Everything here is a thin typed view of a [`Stub`](crate::Stub): the values still travel as
//! [`Value`](crate::Value)s, converted with [`to_value`](crate::to_value) and
//! [`from_value`](crate::from_value) at the edges.

mod callback;
mod client;
pub(crate) mod dispatch;
mod error;
mod param;
mod promise;

pub use callback::Callback;
pub use client::{IntoStub, RpcClient};
pub use error::{CallError, RemoteError};
pub use param::Param;
pub use promise::{MapResult, RpcPromise};
