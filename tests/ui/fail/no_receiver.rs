use capnweb::{rpc_interface, RpcError};

#[rpc_interface]
pub trait Api {
    async fn get(x: i64) -> Result<i64, RpcError>;
}

fn main() {}
