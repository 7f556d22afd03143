use capnweb::{rpc_interface, RpcError};

#[rpc_interface]
pub trait Api {
    async fn get_value(&self) -> Result<i64, RpcError>;
    #[rpc(name = "getValue")]
    async fn other(&self) -> Result<i64, RpcError>;
}

fn main() {}
