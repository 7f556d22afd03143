// An error type that converts into RpcError but does not derive RemoteError: the server side
// compiles, the client's promise cannot be awaited, and the compiler says what to do.
use capnweb::{rpc_interface, RpcError};

#[derive(Debug)]
pub struct Mine;

impl From<Mine> for RpcError {
    fn from(_: Mine) -> RpcError {
        RpcError::error("mine")
    }
}

#[rpc_interface]
pub trait Api {
    async fn go(&self) -> Result<u32, Mine>;
}

async fn caller(api: ApiClient) {
    let _ = api.go().await;
}

fn main() {
    drop(caller);
}
