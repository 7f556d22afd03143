use capnweb::RemoteError;

#[derive(Debug, RemoteError, thiserror::Error)]
pub enum ShopError {
    #[error("bad")]
    Bad { message: String },
}

fn main() {}
