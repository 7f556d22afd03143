//! `#[derive(RemoteError)]` must not depend on names the user may shadow, and follows a renamed
//! crate.
#![allow(dead_code)]
extern crate capnweb as my_rpc;

mod core {}
mod std {}
struct Option;
struct String;
type Result<T> = ::std::result::Result<T, ()>;

#[derive(Debug, my_rpc::RemoteError, thiserror::Error)]
#[rpc(crate = "::my_rpc", tag = "kind")]
pub enum Hostile {
    #[error("a")]
    A {
        __capnweb_error: u32,
        r#type: ::std::string::String,
    },
    #[error("b")]
    B,
    #[error("c")]
    C {
        message: ::std::string::String,
        __capnweb_field0: u32,
    },
    #[error(transparent)]
    Rpc(#[from] my_rpc::RpcError),
}

#[derive(Debug, my_rpc::RemoteError, thiserror::Error)]
#[rpc(crate = "::my_rpc")]
#[error("unit")]
pub struct Unit;

impl ::std::convert::From<my_rpc::RpcError> for Unit {
    fn from(_: my_rpc::RpcError) -> Unit {
        Unit
    }
}

#[my_rpc::rpc_interface(crate = "::my_rpc")]
pub trait Api {
    async fn go(&self) -> ::std::result::Result<u32, Hostile>;
    async fn unit(&self) -> ::std::result::Result<(), Unit>;
}

fn main() {
    let _: ::std::option::Option<Hostile> =
        <Hostile as my_rpc::RemoteError>::from_error_value(&my_rpc::ErrorValue::new("B", ""));
    let e = <Hostile as my_rpc::RemoteError>::to_error_value(&Hostile::A {
        __capnweb_error: 1,
        r#type: "t".into(),
    });
    assert!(e.props.contains_key("type") && e.props.contains_key("kind"));
    let e = <Hostile as my_rpc::RemoteError>::to_error_value(&Hostile::C {
        message: "m".into(),
        __capnweb_field0: 2,
    });
    assert!(e.message == "m" && !e.props.contains_key("message"));
}
