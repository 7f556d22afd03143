//! A server and a client in one process: calls, pipelining, a callback, and map().
//!
//! `cargo run --example quickstart`

use std::sync::Arc;

use capnweb::stub::{not_a_function, BoxFuture};
use capnweb::{connect, RpcError, RpcTarget, Server, Stub, Value};

/// A calculator with `add(a, b)`, `makeCounter(start)` and `apply(f, x)`.
struct Calculator;

impl RpcTarget for Calculator {
    fn call(self: Arc<Self>, method: &str, args: Vec<Value>) -> BoxFuture<Result<Value, RpcError>> {
        let num = |i: usize| {
            args.get(i)
                .and_then(Value::as_f64)
                .ok_or_else(|| RpcError::type_error("expected a number"))
        };
        match method {
            "add" => {
                let r = num(0).and_then(|a| Ok(Value::from(a + num(1)?)));
                Box::pin(async move { r })
            }
            "makeCounter" => {
                let r = num(0).map(|start| {
                    Value::Stub(Stub::new(capnweb_examples::interop::Counter::new(start)))
                });
                Box::pin(async move { r })
            }
            "apply" => Box::pin(async move {
                let f = args
                    .first()
                    .and_then(Value::as_stub)
                    .cloned()
                    .ok_or_else(|| RpcError::type_error("expected a function"))?;
                // Calls the client back, on the same connection.
                f.call("", vec![args.get(1).cloned().unwrap_or_default()])
                    .resolve()
                    .await
            }),
            _ => not_a_function(method),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (addr, serve) = Server::bind("127.0.0.1:0")
        .listen(|| Stub::new(Calculator))
        .await?;
    tokio::spawn(serve);

    let calc: Stub = connect(&format!("ws://{addr}/")).await?;
    let sum = calc
        .call("add", vec![Value::from(1), Value::from(2)])
        .resolve()
        .await?;
    println!("add(1, 2) = {}", sum.as_f64().unwrap_or_default());

    // Pipelining: the counter is used before it exists; one round trip.
    let n = calc
        .call("makeCounter", vec![Value::from(5)])
        .call("increment", vec![Value::from(3)]);
    println!(
        "makeCounter(5).increment(3) = {}",
        n.resolve().await?.as_f64().unwrap_or_default()
    );

    // A callback: the server calls our closure.
    let times_ten = Stub::from_fn(|args: Vec<Value>| async move {
        Ok(Value::from(args[0].as_f64().unwrap_or(0.0) * 10.0))
    });
    let r = calc
        .call("apply", vec![Value::Stub(times_ten), Value::from(4)])
        .resolve()
        .await?;
    println!("apply(x => x * 10, 4) = {}", r.as_f64().unwrap_or_default());

    // map(): the closure is recorded once and runs on the server for each element.
    let list = Stub::resolved(Value::from(vec![
        Value::from(1),
        Value::from(2),
        Value::from(3),
    ]));
    let sums = list.map(|x| {
        Value::Promise(calc.call("add", vec![Value::Promise(x.clone()), Value::Promise(x)]))
    });
    println!(
        "[1, 2, 3].map(x => add(x, x)) = {:?}",
        sums.resolve()
            .await?
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect::<Vec<_>>())
    );
    Ok(())
}
