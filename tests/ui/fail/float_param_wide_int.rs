// Integers a float holds exactly may be given for a float parameter; an i64 may not (it can
// round), so the type check stays.
use capnweb::{rpc_interface, RpcError};

#[rpc_interface]
pub trait Api {
    async fn square(&self, x: f64) -> Result<f64, RpcError>;
}

fn call(api: ApiClient, n: i64) {
    let _ = api.square(3);
    let _ = api.square(n);
}

fn main() {
    drop(call);
}
