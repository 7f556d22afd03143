use capnweb::{rpc_interface, RpcError};

#[rpc_interface]
pub trait Api {
    async fn from_impl(&self) -> Result<i64, RpcError>;
}

fn main() {}
