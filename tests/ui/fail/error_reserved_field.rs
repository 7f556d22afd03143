// `name` and `stack` are a JavaScript Error's own; `message` is accepted (it is the message).
use capnweb::RemoteError;

#[derive(Debug, RemoteError, thiserror::Error)]
pub enum ShopError {
    #[error("bad")]
    Bad { message: String, name: String },
}

fn main() {}
