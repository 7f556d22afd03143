use std::rc::Rc;

use capnweb::{rpc_interface, RpcError};

#[rpc_interface]
pub trait Api {
    async fn add(&self, a: i64, b: i64) -> Result<i64, RpcError>;
}

struct Impl;

async fn yield_now() {}

impl Api for Impl {
    async fn add(&self, a: i64, b: i64) -> Result<i64, RpcError> {
        let held = Rc::new(a);
        yield_now().await;
        Ok(*held + b)
    }
}

fn main() {}
