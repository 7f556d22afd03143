use capnweb::{rpc_interface, RpcError};

#[rpc_interface]
pub trait Api {
    async fn get(&self) -> Result<i64, RpcError> {
        Ok(1)
    }
}

fn main() {}
