use capnweb::{rpc_interface, RpcError};

#[rpc_interface]
pub trait Api {
    async fn greet(&self, name: &str) -> Result<String, RpcError>;
}

fn main() {}
