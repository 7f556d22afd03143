//! A server and a client in one process: typed calls, pipelining, capabilities, a callback,
//! and map().
//!
//! `cargo run --example quickstart`

use std::sync::Mutex;

use capnweb::{connect, rpc_interface, Callback, RpcClient, RpcError, Server};

/// A counter: a capability the calculator hands out.
#[rpc_interface]
pub trait Counter {
    /// Adds `amount` (1 when left out) and returns the new count.
    async fn increment(&self, amount: Option<f64>) -> Result<f64, RpcError>;
    /// The count, read as a property on the wire.
    #[rpc(property)]
    async fn value(&self) -> Result<f64, RpcError>;
}

/// The main object the server offers.
#[rpc_interface]
pub trait Calculator {
    async fn add(&self, a: i64, b: i64) -> Result<i64, RpcError>;
    /// Returns a new capability.
    async fn make_counter(&self, start: f64) -> Result<CounterClient, RpcError>;
    /// Calls the caller back.
    async fn apply(&self, f: Callback<f64, f64>, x: f64) -> Result<f64, RpcError>;
    /// Safe to retry after a reconnect.
    #[rpc(idempotent)]
    async fn list_ids(&self) -> Result<Vec<i64>, RpcError>;
}

struct Count(Mutex<f64>);

impl Counter for Count {
    async fn increment(&self, amount: Option<f64>) -> Result<f64, RpcError> {
        let mut n = self.0.lock().unwrap();
        *n += amount.unwrap_or(1.0);
        Ok(*n)
    }
    async fn value(&self) -> Result<f64, RpcError> {
        Ok(*self.0.lock().unwrap())
    }
}

struct Calc;

impl Calculator for Calc {
    async fn add(&self, a: i64, b: i64) -> Result<i64, RpcError> {
        a.checked_add(b)
            .ok_or_else(|| RpcError::range_error("overflow"))
    }
    async fn make_counter(&self, start: f64) -> Result<CounterClient, RpcError> {
        Ok(CounterClient::from_impl(Count(Mutex::new(start))))
    }
    async fn apply(&self, f: Callback<f64, f64>, x: f64) -> Result<f64, RpcError> {
        f.call(x).await
    }
    async fn list_ids(&self) -> Result<Vec<i64>, RpcError> {
        Ok(vec![1, 2, 3])
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // One new main object per connection; WebSocket and HTTP batch on the same address.
    let (addr, serve) = Server::bind("127.0.0.1:0")
        .listen(|| CalculatorServer::new(Calc))
        .await?;
    tokio::spawn(serve);

    let calc: CalculatorClient = connect(&format!("ws://{addr}/")).await?;
    println!("add(1, 2) = {}", calc.add(1, 2).await?);

    // Pipelining: the counter is used before it exists; one round trip.
    let n = calc.make_counter(5.0).increment(Some(3.0)).await?;
    println!("makeCounter(5).increment(3) = {n}");

    // A capability kept and used again; `value` is a property read.
    let counter = calc.make_counter(1.0).await?;
    counter.increment(None).await?;
    println!("counter.value = {}", counter.value().await?);

    // A callback: the server calls our closure.
    let times_ten = Callback::new(|x: f64| async move { Ok(x * 10.0) });
    println!(
        "apply(x => x * 10, 4) = {}",
        calc.apply(times_ten, 4.0).await?
    );

    // map(): the closure is recorded once and runs on the server for each element.
    let doubled = calc.list_ids().map(|id| calc.add(&id, &id)).await?;
    println!("listIds().map(id => add(id, id)) = {doubled:?}");

    // A wrong call is an error, and the server keeps serving.
    let err = calc
        .stub()
        .call("divide", vec![])
        .resolve()
        .await
        .unwrap_err();
    println!("divide() -> {err}");
    Ok(())
}
