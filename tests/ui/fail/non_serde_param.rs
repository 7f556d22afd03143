use capnweb::{rpc_interface, RpcError};

pub struct Opaque;

#[rpc_interface]
pub trait Api {
    async fn take(&self, x: Opaque) -> Result<(), RpcError>;
}

fn main() {}
