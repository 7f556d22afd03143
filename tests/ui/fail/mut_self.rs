use capnweb::{rpc_interface, RpcError};

#[rpc_interface]
pub trait Api {
    async fn bump(&mut self) -> Result<i64, RpcError>;
}

fn main() {}
