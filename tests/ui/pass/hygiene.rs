//! The generated code must not depend on names the user may shadow.
#![allow(dead_code)]

mod core {}
mod std {}
type Result<T> = ::std::result::Result<T, MyError>;
struct Vec;
struct Box;
struct Option;

#[derive(Debug)]
pub struct MyError;

impl ::std::convert::From<MyError> for capnweb::RpcError {
    fn from(_: MyError) -> capnweb::RpcError {
        capnweb::RpcError::error("mine")
    }
}

#[capnweb::rpc_interface]
pub trait Api {
    /// Parameter names that the generated code also uses must not clash.
    async fn call(&self, args: i64, method: i64, stub: i64, serializer: i64) -> Result<i64>;
    #[rpc(property)]
    async fn value(&self) -> Result<String>;
}

struct Impl;

impl Api for Impl {
    async fn call(&self, args: i64, method: i64, stub: i64, serializer: i64) -> Result<i64> {
        Ok(args + method + stub + serializer)
    }
    async fn value(&self) -> Result<String> {
        Err(MyError)
    }
}

fn main() {
    let client = ApiClient::from_impl(Impl);
    let _promise = client.call(1, 2, 3, 4);
    let _server = ApiServer::new(Impl);
}
