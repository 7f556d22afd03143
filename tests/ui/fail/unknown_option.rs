use capnweb::{rpc_interface, RpcError};

#[rpc_interface]
pub trait Api {
    #[rpc(retry)]
    async fn add(&self, a: i64, b: i64) -> Result<i64, RpcError>;
}

fn main() {}
