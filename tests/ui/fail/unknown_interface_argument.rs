use capnweb::{rpc_interface, RpcError};

#[rpc_interface(krate = "::capnweb")]
pub trait Api {
    async fn get(&self) -> Result<i64, RpcError>;
}

fn main() {}
