// A dependency renamed in Cargo.toml: `#[rpc_interface(crate = "...")]` names it.
extern crate capnweb as my_rpc;

use my_rpc::{rpc_interface, RpcError};

#[rpc_interface(crate = "::my_rpc")]
pub trait Api {
    async fn square(&self, x: f64) -> Result<f64, RpcError>;
}

struct Impl;

impl Api for Impl {
    async fn square(&self, x: f64) -> Result<f64, RpcError> {
        Ok(x * x)
    }
}

fn main() {
    let client = ApiClient::from_impl(Impl);
    let _promise: my_rpc::RpcPromise<f64> = client.square(2.0);
}
