use capnweb::{rpc_interface, RpcError};

#[rpc_interface]
pub trait Api {
    const LIMIT: usize;
    async fn get(&self) -> Result<i64, RpcError>;
}

fn main() {}
