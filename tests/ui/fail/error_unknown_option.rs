use capnweb::RemoteError;

#[derive(Debug, RemoteError, thiserror::Error)]
pub enum ShopError {
    #[error("bad")]
    #[rpc(tag = "kind")]
    Bad,
}

fn main() {}
