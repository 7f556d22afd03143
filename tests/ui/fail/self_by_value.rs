use capnweb::{rpc_interface, RpcError};

#[rpc_interface]
pub trait Api {
    async fn consume(self) -> Result<i64, RpcError>;
}

fn main() {}
