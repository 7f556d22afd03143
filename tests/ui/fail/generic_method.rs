use capnweb::{rpc_interface, RpcError};

#[rpc_interface]
pub trait Api {
    async fn echo<T>(&self, value: T) -> Result<T, RpcError>;
}

fn main() {}
