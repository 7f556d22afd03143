use capnweb::RemoteError;

#[derive(Debug, RemoteError, thiserror::Error)]
pub enum ShopError {
    #[error("missing {0}")]
    Missing(String),
}

fn main() {}
