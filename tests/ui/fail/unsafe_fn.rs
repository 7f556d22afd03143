use capnweb::{rpc_interface, RpcError};

#[rpc_interface]
pub trait Api {
    async unsafe fn get(&self) -> Result<i64, RpcError>;
}

fn main() {}
