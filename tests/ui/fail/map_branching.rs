use capnweb::{rpc_interface, RpcError};

#[rpc_interface]
pub trait Api {
    async fn ids(&self) -> Result<Vec<u64>, RpcError>;
    async fn name(&self, id: u64) -> Result<String, RpcError>;
}

fn demo(api: ApiClient) {
    let _ = api.ids().map(|id| if id > 100 { api.name(id) } else { api.name(0) });
}

fn main() {}
