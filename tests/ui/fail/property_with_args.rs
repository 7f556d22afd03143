use capnweb::{rpc_interface, RpcError};

#[rpc_interface]
pub trait Api {
    #[rpc(property)]
    async fn value(&self, scale: f64) -> Result<f64, RpcError>;
}

fn main() {}
