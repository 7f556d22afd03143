//! Our client, compiled to wasm32-unknown-unknown, in a real browser (headless Chromium, through
//! wasm-bindgen-test) against the interop server: typed calls, pipelining, a callback the server
//! calls back into the page, `map`, typed errors, and a refused connection.
#![cfg(target_arch = "wasm32")]

use capnweb::{rpc_interface, Callback, RemoteError, RpcError, Value};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// The interop server's addresses, given when the test is built (`./run` starts the server).
const URL: &str = env!("CAPNWEB_TEST_URL");
const HTTP_URL: &str = env!("CAPNWEB_TEST_HTTP_URL");

/// The part of the interop server's interface (examples/interop.rs) this test calls.
#[rpc_interface]
pub trait TestTarget {
    async fn square(&self, i: f64) -> Result<f64, RpcError>;
    async fn make_counter(&self, i: f64) -> Result<CounterClient, RpcError>;
    async fn call_function(
        &self,
        func: Callback<Value, Value>,
        i: Value,
    ) -> Result<Settled, RpcError>;
    async fn generate_fibonacci(&self, length: f64) -> Result<Vec<f64>, RpcError>;
    async fn withdraw(&self, amount: f64) -> Result<f64, WithdrawError>;
}

#[rpc_interface]
pub trait Counter {
    async fn increment(&self, amount: Option<f64>) -> Result<f64, RpcError>;
    #[rpc(property)]
    async fn value(&self) -> Result<f64, RpcError>;
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Settled {
    pub result: Value,
}

#[derive(Debug, PartialEq, RemoteError, thiserror::Error)]
#[rpc(tag = "kind")]
pub enum WithdrawError {
    #[error("insufficient funds")]
    InsufficientFunds { balance: f64, requested: f64 },
    #[error("not positive")]
    NotPositive,
    #[error(transparent)]
    Rpc(#[from] RpcError),
}

async fn main() -> TestTargetClient {
    capnweb::wasm::connect(URL)
        .await
        .expect("the interop server is up")
}

#[wasm_bindgen_test]
async fn typed_calls_and_pipelining_work_in_a_browser() {
    let api = main().await;
    assert_eq!(api.square(12).await.unwrap(), 144.0);
    // The counter is used before it arrives: one round trip.
    let counter = api.make_counter(10);
    assert_eq!(counter.increment(5).await.unwrap(), 15.0);
    assert_eq!(counter.value().await.unwrap(), 15.0);
    // Calls pipelined into arguments.
    assert_eq!(api.square(api.square(3)).await.unwrap(), 81.0);
}

#[wasm_bindgen_test]
async fn the_server_calls_back_into_the_page() {
    let api = main().await;
    let triple =
        Callback::new(|x: Value| async move { Ok(Value::from(x.as_f64().unwrap_or(0.0) * 3.0)) });
    let settled = api.call_function(triple, Value::from(14)).await.unwrap();
    assert_eq!(settled.result.as_f64(), Some(42.0));
}

#[wasm_bindgen_test]
async fn map_runs_on_the_server() {
    let api = main().await;
    let squares = api
        .generate_fibonacci(6)
        .map(|x| api.square(x))
        .await
        .unwrap();
    assert_eq!(squares, vec![0.0, 1.0, 1.0, 4.0, 9.0, 25.0]);
}

#[wasm_bindgen_test]
async fn typed_errors_arrive_as_their_variant() {
    let api = main().await;
    assert_eq!(
        api.withdraw(50).await,
        Err(WithdrawError::InsufficientFunds {
            balance: 10.0,
            requested: 50.0
        })
    );
    assert_eq!(api.withdraw(0).await, Err(WithdrawError::NotPositive));
    assert_eq!(api.withdraw(4).await, Ok(6.0));
}

#[wasm_bindgen_test]
async fn a_refused_connection_is_an_error_not_a_hang() {
    // Port 9 (discard) on loopback: nothing listens there.
    let refused = capnweb::wasm::connect::<TestTargetClient>("ws://127.0.0.1:9/").await;
    match refused {
        Err(RpcError::Disconnected { .. }) => {}
        other => panic!("expected a disconnection, got {other:?}"),
    }
}

#[wasm_bindgen_test]
async fn an_http_batch_over_fetch_pipelines_in_one_request() {
    let batch = capnweb::wasm::HttpBatch::<TestTargetClient>::new(HTTP_URL);
    let api = batch.main();
    let counter = api.make_counter(1);
    let (squared, counted) = (api.square(api.square(2)), counter.increment(2));
    assert_eq!(squared.await.unwrap(), 16.0);
    assert_eq!(counted.await.unwrap(), 3.0);
    // The batch is over once sent.
    assert!(api.square(1).await.is_err());
}

#[wasm_bindgen_test]
async fn a_batch_to_a_missing_path_fails_with_the_status() {
    let url = format!("{HTTP_URL}no-such-path");
    let batch = capnweb::wasm::HttpBatch::<TestTargetClient>::new(&url);
    let e = batch.main().square(2).await.unwrap_err();
    assert!(e.to_string().contains("404"), "{e}");
}

#[wasm_bindgen_test]
async fn an_idle_timeout_ends_the_session_on_the_browsers_timer() {
    use capnweb::SessionOptions;
    let options = SessionOptions::default().idle_timeout(std::time::Duration::from_millis(150));
    let session = capnweb::wasm::connect_with(URL, None, options)
        .await
        .unwrap();
    let api = TestTargetClient::from(session.main());
    assert_eq!(api.square(2).await.unwrap(), 4.0);
    let reason = session.closed().await;
    assert!(reason.to_string().contains("idle"), "{reason}");
}
