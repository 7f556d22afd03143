//! Our client against the official TypeScript server (npm `capnweb`, in Node).

use capnweb::transport::http_batch::HttpBatch;
use capnweb::{connect, RpcError, Stub, Value};
use capnweb_examples::interop::test_target;
use capnweb_tests::{describe, TsServer};
use futures_util::future::join_all;

fn n(x: f64) -> Value {
    Value::from(x)
}

async fn call(stub: &Stub, method: &str, args: Vec<Value>) -> Result<Value, RpcError> {
    stub.call(method, args).resolve().await
}

fn url(server: &TsServer) -> String {
    format!("ws://127.0.0.1:{}/", server.port)
}

#[tokio::test]
async fn every_method_answers_as_specified() {
    let server = TsServer::start();
    let main: Stub = connect(&url(&server)).await.unwrap();
    assert_eq!(
        call(&main, "square", vec![n(7.0)]).await.unwrap().as_f64(),
        Some(49.0)
    );
    assert_eq!(
        call(&main, "add", vec![n(2.0), n(3.5)])
            .await
            .unwrap()
            .as_f64(),
        Some(5.5)
    );
    assert_eq!(
        call(&main, "returnNull", vec![]).await.unwrap(),
        Value::Null
    );
    assert_eq!(
        call(&main, "returnUndefined", vec![]).await.unwrap(),
        Value::Undefined
    );
    assert_eq!(
        call(&main, "returnNumber", vec![n(-4.25)])
            .await
            .unwrap()
            .as_f64(),
        Some(-4.25)
    );
    let fib = call(&main, "generateFibonacci", vec![n(10.0)])
        .await
        .unwrap();
    let fib: Vec<f64> = fib
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(
        fib,
        vec![0.0, 1.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0]
    );
    let counter = call(&main, "makeCounter", vec![n(10.0)]).await.unwrap();
    let counter = counter.as_stub().unwrap().clone();
    assert_eq!(
        call(&counter, "increment", vec![]).await.unwrap().as_f64(),
        Some(11.0)
    );
    assert_eq!(
        counter.get("value").resolve().await.unwrap().as_f64(),
        Some(11.0)
    );
    let by_five = call(
        &main,
        "incrementCounter",
        vec![Value::Stub(counter.clone()), n(5.0)],
    )
    .await
    .unwrap();
    assert_eq!(by_five.as_f64(), Some(16.0));
    let by_default = call(
        &main,
        "incrementCounter",
        vec![Value::Stub(counter.clone())],
    )
    .await
    .unwrap();
    assert_eq!(by_default.as_f64(), Some(17.0));
}

#[tokio::test]
async fn errors_arrive_with_their_class_and_the_session_survives() {
    let server = TsServer::start();
    let main: Stub = connect(&url(&server)).await.unwrap();
    match call(&main, "throwError", vec![]).await {
        Err(RpcError::Remote(e)) => {
            assert_eq!(
                (e.name.as_str(), e.message.as_str()),
                ("RangeError", "test error")
            );
            assert_eq!(e.stack, None, "stacks are redacted by default");
        }
        other => panic!("expected a RangeError, got {other:?}"),
    }
    match call(&main, "noSuchMethod", vec![]).await {
        Err(e) => assert_eq!(e.name(), "TypeError", "{e}"),
        Ok(v) => panic!("an undeclared method answered {v:?}"),
    }
    assert_eq!(
        call(&main, "square", vec![n(3.0)]).await.unwrap().as_f64(),
        Some(9.0)
    );
}

#[tokio::test]
async fn special_values_round_trip_through_echo() {
    let server = TsServer::start();
    let main: Stub = connect(&url(&server)).await.unwrap();
    let values = [
        "[\"undefined\"]",
        "null",
        "[\"nan\"]",
        "[\"inf\"]",
        "[\"-inf\"]",
        "[\"bigint\",\"-1606938044258990275541962092341162602522202993782792835301376\"]",
        "[\"date\",1749342170815]",
        "[\"date\",null]",
        "[\"bytes\",\"AAEC/w\"]",
        "[\"bytes\",\"AQACAA\",\"Int16Array\"]",
        "[\"error\",\"TypeError\",\"bad\",null,{\"code\":42}]",
        "[\"url\",\"https://example.com/x?y=1\"]",
        "[\"headers\",[[\"a\",\"1\"],[\"b\",\"2\"]]]",
        "[[[[1,[[\"date\",1]]]],{\"k\":[[\"bigint\",\"1\"]],\"u\":[\"undefined\"]},\"\\u0000😀\"]]",
    ];
    for wire in values {
        let v = capnweb::deserialize(wire).unwrap();
        let echoed = call(&main, "echo", vec![v.clone()]).await.unwrap();
        assert_eq!(describe(&echoed), describe(&v), "echo of {wire}");
    }
}

#[tokio::test]
async fn pipelined_calls_need_no_awaits_in_between() {
    let server = TsServer::start();
    let main: Stub = connect(&url(&server)).await.unwrap();
    let counter = main.call("makeCounter", vec![n(5.0)]);
    let eight = counter.call("increment", vec![n(3.0)]);
    let seven = main.call("makeCounter", vec![n(7.0)]).get("value");
    assert_eq!(eight.resolve().await.unwrap().as_f64(), Some(8.0));
    assert_eq!(seven.resolve().await.unwrap().as_f64(), Some(7.0));
    // A promise passed as an argument is resolved by the server before the call.
    let four = main.call("returnNumber", vec![n(4.0)]);
    assert_eq!(
        call(&main, "square", vec![Value::Promise(four)])
            .await
            .unwrap()
            .as_f64(),
        Some(16.0)
    );
}

#[tokio::test]
async fn the_server_calls_back_into_the_client() {
    let server = TsServer::start();
    let main: Stub = connect(&url(&server)).await.unwrap();
    let triple = Stub::from_fn(|args: Vec<Value>| async move {
        Ok(Value::from(args[0].as_f64().unwrap_or(0.0) * 3.0))
    });
    let r = call(&main, "callFunction", vec![Value::Stub(triple), n(5.0)])
        .await
        .unwrap();
    assert_eq!(r.get("result").and_then(Value::as_f64), Some(15.0));
    // Our own object passed as `self`: the server calls its `square`.
    let local = test_target();
    let r = call(&main, "callSquare", vec![Value::Stub(local), n(6.0)])
        .await
        .unwrap();
    assert_eq!(r.get("result").and_then(Value::as_f64), Some(36.0));
}

#[tokio::test]
async fn map_runs_on_the_server_with_captured_stubs() {
    let server = TsServer::start();
    let main: Stub = connect(&url(&server)).await.unwrap();
    let squares = main
        .call("generateFibonacci", vec![n(6.0)])
        .map(|x| Value::Promise(main.call("square", vec![Value::Promise(x)])));
    let squares: Vec<f64> = squares
        .resolve()
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(squares, vec![0.0, 1.0, 1.0, 4.0, 9.0, 25.0]);

    let counter = main.call("makeCounter", vec![n(0.0)]);
    let sums = main
        .call("generateFibonacci", vec![n(5.0)])
        .map(|i| Value::Promise(counter.call("increment", vec![Value::Promise(i)])));
    let sums: Vec<f64> = sums
        .resolve()
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(sums, vec![0.0, 1.0, 2.0, 4.0, 7.0]);

    let nothing = main
        .call("returnNull", vec![])
        .map(|x| Value::Promise(main.call("square", vec![Value::Promise(x)])));
    assert_eq!(nothing.resolve().await.unwrap(), Value::Null);
}

#[tokio::test]
async fn http_batch_pipelines_in_one_request() {
    let server = TsServer::start();
    let batch = HttpBatch::new(&format!("http://127.0.0.1:{}/", server.port));
    let a = batch.main().call("square", vec![n(5.0)]);
    let b = batch
        .main()
        .call("makeCounter", vec![n(3.0)])
        .call("increment", vec![n(2.0)]);
    let c = batch.main().call("throwError", vec![]);
    assert_eq!(a.resolve().await.unwrap().as_f64(), Some(25.0));
    assert_eq!(b.resolve().await.unwrap().as_f64(), Some(5.0));
    assert_eq!(c.resolve().await.unwrap_err().name(), "RangeError");
    // The batch is over: a new call fails clearly.
    let late = batch.main().call("square", vec![n(1.0)]).resolve().await;
    assert!(
        matches!(late, Err(RpcError::Disconnected { .. })),
        "{late:?}"
    );
}

#[tokio::test]
async fn thousands_of_concurrent_calls_on_one_connection() {
    let server = TsServer::start();
    let main: Stub = connect(&url(&server)).await.unwrap();
    let calls: Vec<Stub> = (0..3000)
        .map(|i| main.call("square", vec![n(i as f64)]))
        .collect();
    let results = join_all(calls.iter().map(|c| c.resolve())).await;
    for (i, r) in results.into_iter().enumerate() {
        assert_eq!(r.unwrap().as_f64(), Some((i * i) as f64));
    }
}

#[tokio::test]
async fn two_clients_have_independent_state() {
    let server = TsServer::start();
    let a: Stub = connect(&url(&server)).await.unwrap();
    let b: Stub = connect(&url(&server)).await.unwrap();
    let ca = a.call("makeCounter", vec![n(100.0)]);
    let cb = b.call("makeCounter", vec![n(0.0)]);
    for _ in 0..3 {
        ca.call("increment", vec![]).resolve().await.unwrap();
        cb.call("increment", vec![n(10.0)]).resolve().await.unwrap();
    }
    assert_eq!(
        ca.get("value").resolve().await.unwrap().as_f64(),
        Some(103.0)
    );
    assert_eq!(
        cb.get("value").resolve().await.unwrap().as_f64(),
        Some(30.0)
    );
}
