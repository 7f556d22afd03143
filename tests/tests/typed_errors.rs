//! Typed application errors (`#[derive(RemoteError)]`) end to end: the variant a server returns
//! comes back to the caller as itself, with its fields; every other failure goes through
//! `From<RpcError>`; and on the wire it is the ordinary error form.

use std::time::Duration;

use capnweb::transport::in_process;
use capnweb::{
    rpc_interface, CallError, RemoteError, RpcError, RpcPromise, RpcSession, Server,
    SessionOptions, Stub, Value,
};
use futures_util::{SinkExt, StreamExt};

#[derive(Debug, Clone, PartialEq, RemoteError, thiserror::Error)]
pub enum ShopError {
    #[error("only {left} left")]
    OutOfStock { left: u32, restock: Option<String> },
    #[error("no such item")]
    #[rpc(name = "NotFound")]
    Missing {
        #[rpc(name = "itemId")]
        item_id: String,
    },
    #[error("closed")]
    Closed,
    /// Its `message` field is the error's message, not a property.
    #[error("refused ({code}): {message}")]
    Refused { message: String, code: u32 },
    #[error(transparent)]
    Rpc(#[from] RpcError),
}

/// A struct error: its name is the type's.
#[derive(Debug, PartialEq, RemoteError, thiserror::Error)]
#[error("slow down: retry in {retry_after} s")]
pub struct RateLimited {
    pub retry_after: f64,
}

impl From<RpcError> for RateLimited {
    fn from(_: RpcError) -> RateLimited {
        RateLimited { retry_after: -1.0 }
    }
}

#[rpc_interface]
pub trait Shop {
    async fn buy(&self, item: String, count: u32) -> Result<u32, ShopError>;
    async fn cart(&self) -> Result<CartClient, ShopError>;
    async fn ping(&self) -> Result<(), RateLimited>;
    #[rpc(property)]
    async fn status(&self) -> Result<String, ShopError>;
}

#[rpc_interface]
pub trait Cart {
    async fn total(&self) -> Result<u32, ShopError>;
}

struct Store;
struct EmptyCart;

impl Shop for Store {
    async fn buy(&self, item: String, count: u32) -> Result<u32, ShopError> {
        match item.as_str() {
            "apple" if count > 3 => Err(ShopError::OutOfStock {
                left: 3,
                restock: Some("monday".into()),
            }),
            "apple" => Ok(3 - count),
            "pear" => Err(ShopError::OutOfStock {
                left: 0,
                restock: None,
            }),
            "closed" => Err(ShopError::Closed),
            "gift card" => Err(ShopError::Refused {
                message: "gift cards are sold at the till".into(),
                code: 7,
            }),
            "range" => Err(ShopError::Rpc(RpcError::range_error("too far"))),
            other => Err(ShopError::Missing {
                item_id: other.into(),
            }),
        }
    }
    async fn cart(&self) -> Result<CartClient, ShopError> {
        Ok(CartClient::from_impl(EmptyCart))
    }
    async fn ping(&self) -> Result<(), RateLimited> {
        Err(RateLimited { retry_after: 2.5 })
    }
    async fn status(&self) -> Result<String, ShopError> {
        Err(ShopError::Closed)
    }
}

impl Cart for EmptyCart {
    async fn total(&self) -> Result<u32, ShopError> {
        Err(ShopError::Missing {
            item_id: "cart".into(),
        })
    }
}

fn pair() -> (ShopClient, RpcSession, RpcSession) {
    let (a, b) = in_process::pair();
    let server = RpcSession::spawn(
        a,
        Some(Stub::new(ShopServer::new(Store))),
        SessionOptions::default(),
    );
    let session = RpcSession::spawn(b, None, SessionOptions::default());
    (ShopClient::from(session.main()), session, server)
}

#[tokio::test]
async fn each_variant_comes_back_as_itself_with_its_fields() {
    let (shop, _s, _server) = pair();
    assert_eq!(shop.buy("apple", 2u32).await, Ok(1));
    assert_eq!(
        shop.buy("apple", 9u32).await,
        Err(ShopError::OutOfStock {
            left: 3,
            restock: Some("monday".into())
        })
    );
    // An `Option` field that is `None` travels as null and comes back `None`.
    assert_eq!(
        shop.buy("pear", 1u32).await,
        Err(ShopError::OutOfStock {
            left: 0,
            restock: None
        })
    );
    assert_eq!(
        shop.buy("kiwi", 1u32).await,
        Err(ShopError::Missing {
            item_id: "kiwi".into()
        })
    );
    assert_eq!(shop.buy("closed", 1u32).await, Err(ShopError::Closed));
    assert_eq!(
        shop.buy("gift card", 1u32).await,
        Err(ShopError::Refused {
            message: "gift cards are sold at the till".into(),
            code: 7
        })
    );
    // A struct error, and a property with a typed error.
    assert_eq!(shop.ping().await, Err(RateLimited { retry_after: 2.5 }));
    assert_eq!(shop.status().await, Err(ShopError::Closed));
}

#[tokio::test]
async fn pipelined_calls_keep_their_own_error_types() {
    let (shop, _s, _server) = pair();
    // `cart()` is not awaited: `total()` is pipelined on the promise, and fails as a ShopError.
    let cart = shop.cart();
    assert_eq!(
        cart.total().await,
        Err(ShopError::Missing {
            item_id: "cart".into()
        })
    );
}

#[tokio::test]
async fn other_failures_go_through_from_rpc_error() {
    let (shop, session, _server) = pair();
    // An RpcError the server returns inside the type is sent as itself.
    match shop.buy("range", 1u32).await {
        Err(ShopError::Rpc(e)) => {
            assert_eq!((e.name(), e.message().as_str()), ("RangeError", "too far"))
        }
        other => panic!("{other:?}"),
    }
    // A bad argument is a TypeError from the server's decoding.
    let bad = RpcPromise::<u32>::from_stub(
        capnweb::RpcClient::stub(&shop).call("buy", vec![Value::from("apple"), Value::from(-1)]),
    )
    .with_error::<ShopError>();
    match bad.await {
        Err(ShopError::Rpc(e)) => assert_eq!(e.name(), "TypeError", "{e}"),
        other => panic!("{other:?}"),
    }
    // A disconnection.
    session.abort(RpcError::error("bye"));
    match shop.buy("apple", 1u32).await {
        Err(ShopError::Rpc(RpcError::Disconnected { .. })) => {}
        other => panic!("expected a disconnection, got {other:?}"),
    }
    // A struct type's own From<RpcError>.
    assert_eq!(shop.ping().await, Err(RateLimited { retry_after: -1.0 }));
}

/// A `message` field is the error's message both ways: sent in place of the `Display` (not as
/// a property), and filled from the message of an error that never had it as a property, as a
/// TypeScript server's `Error` does not.
#[test]
fn a_message_field_is_the_error_message() {
    let e = ShopError::Refused {
        message: "no".into(),
        code: 3,
    }
    .to_error_value();
    assert_eq!((e.name.as_str(), e.message.as_str()), ("Refused", "no"));
    assert_eq!(e.props.get("code"), Some(&Value::from(3)));
    assert_eq!(e.props.len(), 1, "no `message` property: {:?}", e.props);

    let from_js = capnweb::ErrorValue::new("Refused", "sold out").with_prop("code", 9);
    assert_eq!(
        ShopError::from_error_value(&from_js),
        Some(ShopError::Refused {
            message: "sold out".into(),
            code: 9
        })
    );
    // A `message` property, which a JavaScript `Error` cannot have apart from its message, is
    // not where it is read from.
    let odd = from_js.with_prop("message", "elsewhere");
    assert!(matches!(
        ShopError::from_error_value(&odd),
        Some(ShopError::Refused { message, .. }) if message == "sold out"
    ));
}

/// A field renamed to `message`, in a struct, of another string type: the same.
#[test]
fn a_field_sent_as_message_is_the_message_too() {
    #[derive(Debug, PartialEq, RemoteError, thiserror::Error)]
    #[error("ignored")]
    struct Teapot {
        #[rpc(name = "message")]
        text: Box<str>,
    }
    impl From<RpcError> for Teapot {
        fn from(e: RpcError) -> Teapot {
            Teapot {
                text: e.message().into(),
            }
        }
    }
    let wire = RpcError::from(Teapot {
        text: "short and stout".into(),
    });
    assert_eq!(
        (wire.name(), wire.message().as_str()),
        ("Teapot", "short and stout")
    );
    assert_eq!(
        Teapot::from_rpc_error(wire),
        Teapot {
            text: "short and stout".into()
        }
    );
}

#[test]
fn a_received_error_that_does_not_decode_is_left_as_it_came() {
    // The right name with a field of the wrong type: not this variant, so From<RpcError>,
    // which keeps everything the peer sent.
    let sent = capnweb::ErrorValue::new("OutOfStock", "?").with_prop("left", "many");
    assert_eq!(ShopError::from_error_value(&sent), None);
    match ShopError::from_rpc_error(RpcError::from(sent.clone())) {
        ShopError::Rpc(RpcError::Remote(e)) => assert_eq!(*e, sent),
        other => panic!("{other:?}"),
    }
    // A missing required field is the same.
    let sent = capnweb::ErrorValue::new("NotFound", "?");
    assert_eq!(ShopError::from_error_value(&sent), None);
    // The Rust name of a renamed variant is not its wire name.
    let sent = capnweb::ErrorValue::new("Missing", "?").with_prop("itemId", "x");
    assert_eq!(ShopError::from_error_value(&sent), None);
    // The held RpcError's variant is never matched by name.
    assert_eq!(
        ShopError::from_error_value(&capnweb::ErrorValue::new("Rpc", "?")),
        None
    );
}

#[test]
fn the_error_travels_as_name_message_and_properties() {
    let e = ShopError::Missing {
        item_id: "kiwi".into(),
    }
    .to_error_value();
    assert_eq!(
        (e.name.as_str(), e.message.as_str()),
        ("NotFound", "no such item")
    );
    assert_eq!(e.props.get("itemId"), Some(&Value::from("kiwi")));
    assert_eq!(e.props.len(), 1);
    let e = RpcError::from(ShopError::Rpc(RpcError::type_error("t")));
    assert_eq!(
        e,
        RpcError::type_error("t"),
        "a held error is given back unchanged"
    );
}

/// Over a real WebSocket, as raw frames: the reject carries the ordinary error form, with the
/// fields in the properties slot (stack null), which is what a TypeScript peer reads.
#[tokio::test]
async fn on_the_wire_it_is_the_ordinary_error_form() {
    use tokio_tungstenite::tungstenite::Message;
    let (addr, run) = Server::bind("127.0.0.1:0")
        .listen(|| ShopServer::new(Store))
        .await
        .unwrap();
    let server = tokio::spawn(run);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .unwrap();
    for frame in [
        r#"["push",["pipeline",0,["buy"],["apple",9]]]"#,
        r#"["pull",1]"#,
    ] {
        ws.send(Message::text(frame)).await.unwrap();
    }
    let reply = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let reply: serde_json::Value = serde_json::from_str(reply.to_text().unwrap()).unwrap();
    assert_eq!(
        reply,
        serde_json::json!(["reject", 1, ["error", "OutOfStock", "only 3 left", null, {"left": 3, "restock": "monday"}]])
    );
    // A `message` field is the message slot, and not among the properties.
    for frame in [
        r#"["push",["pipeline",0,["buy"],["gift card",1]]]"#,
        r#"["pull",2]"#,
    ] {
        ws.send(Message::text(frame)).await.unwrap();
    }
    let reply = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let reply: serde_json::Value = serde_json::from_str(reply.to_text().unwrap()).unwrap();
    assert_eq!(
        reply,
        serde_json::json!(["reject", 2, ["error", "Refused", "gift cards are sold at the till", null, {"code": 7}]])
    );
    server.abort();
}
