// Two fields cannot travel under one key: here both would be the message.
use capnweb::RemoteError;

#[derive(Debug, RemoteError, thiserror::Error)]
pub enum ShopError {
    #[error("bad")]
    Bad {
        message: String,
        #[rpc(name = "message")]
        text: String,
    },
}

fn main() {}
