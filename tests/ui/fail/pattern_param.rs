use capnweb::{rpc_interface, RpcError};

#[rpc_interface]
pub trait Api {
    async fn get(&self, (a, b): (i64, i64)) -> Result<i64, RpcError>;
}

fn main() {}
