// A parameter whose type has no TypeScript form: the error points at the parameter's type.
use capnweb::{rpc_interface, RpcError};
use std::collections::HashMap;

#[derive(serde::Serialize, serde::Deserialize)]
pub struct NotDerived {
    pub x: u8,
}

#[rpc_interface(typescript)]
pub trait Api {
    async fn take(&self, value: NotDerived) -> Result<(), RpcError>;
    async fn keyed(&self, map: HashMap<u32, String>) -> Result<(), RpcError>;
}

fn main() {}
