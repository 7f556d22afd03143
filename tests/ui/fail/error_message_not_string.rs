// A field sent as `message` is the error's message: it must be a string.
use capnweb::{RemoteError, RpcError};

#[derive(Debug, RemoteError, thiserror::Error)]
pub enum ShopError {
    #[error("bad")]
    Bad { message: u32 },
    #[error(transparent)]
    Rpc(#[from] RpcError),
}

fn main() {}
