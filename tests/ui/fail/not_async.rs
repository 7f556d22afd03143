use capnweb::{rpc_interface, RpcError};

#[rpc_interface]
pub trait Api {
    fn add(&self, a: i64, b: i64) -> Result<i64, RpcError>;
}

fn main() {}
