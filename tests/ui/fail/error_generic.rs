use capnweb::RemoteError;

#[derive(Debug, RemoteError, thiserror::Error)]
pub enum ShopError<T: std::fmt::Debug> {
    #[error("bad")]
    Bad { what: T },
}

fn main() {}
