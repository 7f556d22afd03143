//! `#[rpc_interface]` end to end over an in-process session: typed calls, pipelining,
//! capabilities both ways, callbacks, map(), argument validation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use capnweb::transport::in_process;
use capnweb::{rpc_interface, Callback, RpcClient, RpcError, RpcSession, SessionOptions};

#[rpc_interface]
pub trait Counter {
    /// Adds `amount` (1 if left out) and returns the new count.
    async fn increment(&self, amount: Option<f64>) -> Result<f64, RpcError>;
    #[rpc(property)]
    async fn value(&self) -> Result<f64, RpcError>;
}

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
pub struct User {
    pub id: u64,
    pub name: String,
}

#[rpc_interface]
pub trait Calculator {
    async fn add(&self, a: i64, b: i64) -> Result<i64, RpcError>;
    async fn make_counter(&self, start: f64) -> Result<CounterClient, RpcError>;
    async fn apply(&self, f: Callback<f64, f64>, x: f64) -> Result<f64, RpcError>;
    #[rpc(idempotent)]
    async fn list_ids(&self) -> Result<Vec<i64>, RpcError>;
    async fn read_counter(&self, counter: CounterClient) -> Result<f64, RpcError>;
    async fn user(&self, id: u64) -> Result<User, RpcError>;
    async fn greet(&self, name: String) -> Result<String, RpcError>;
    async fn maybe_user(&self, id: u64) -> Result<Option<User>, RpcError>;
    #[rpc(name = "explode")]
    async fn fail(&self) -> Result<(), RpcError>;
}

struct Count(AtomicU64);

impl Counter for Count {
    async fn increment(&self, amount: Option<f64>) -> Result<f64, RpcError> {
        let add = amount.unwrap_or(1.0);
        let mut cur = self.0.load(Ordering::SeqCst);
        loop {
            let next = (f64::from_bits(cur) + add).to_bits();
            match self
                .0
                .compare_exchange(cur, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return Ok(f64::from_bits(next)),
                Err(actual) => cur = actual,
            }
        }
    }
    async fn value(&self) -> Result<f64, RpcError> {
        Ok(f64::from_bits(self.0.load(Ordering::SeqCst)))
    }
}

fn counter(start: f64) -> CounterClient {
    CounterClient::from_impl(Count(AtomicU64::new(start.to_bits())))
}

struct Calc;

impl Calculator for Calc {
    async fn add(&self, a: i64, b: i64) -> Result<i64, RpcError> {
        a.checked_add(b)
            .ok_or_else(|| RpcError::range_error("overflow"))
    }
    async fn make_counter(&self, start: f64) -> Result<CounterClient, RpcError> {
        Ok(counter(start))
    }
    async fn apply(&self, f: Callback<f64, f64>, x: f64) -> Result<f64, RpcError> {
        f.call(x).await
    }
    async fn list_ids(&self) -> Result<Vec<i64>, RpcError> {
        Ok(vec![1, 2, 3])
    }
    async fn read_counter(&self, counter: CounterClient) -> Result<f64, RpcError> {
        counter.value().await
    }
    async fn user(&self, id: u64) -> Result<User, RpcError> {
        Ok(User {
            id,
            name: format!("user{id}"),
        })
    }
    async fn greet(&self, name: String) -> Result<String, RpcError> {
        Ok(format!("hello {name}"))
    }
    async fn maybe_user(&self, id: u64) -> Result<Option<User>, RpcError> {
        Ok((id > 0).then(|| User {
            id,
            name: "x".into(),
        }))
    }
    async fn fail(&self) -> Result<(), RpcError> {
        Err(RpcError::new("RangeError", "nope"))
    }
}

/// A client on one end of an in-process session, the server on the other.
fn pair() -> (CalculatorClient, RpcSession) {
    let (a, b) = in_process::pair();
    let _server = RpcSession::spawn(
        a,
        Some(capnweb::Stub::new(CalculatorServer::new(Calc))),
        SessionOptions::default(),
    );
    let session = RpcSession::spawn(b, None, SessionOptions::default());
    (CalculatorClient::from(session.main()), session)
}

#[tokio::test]
async fn typed_calls_round_trip() {
    let (calc, _s) = pair();
    assert_eq!(calc.add(1, 2).await.unwrap(), 3);
    assert_eq!(calc.greet("bob").await.unwrap(), "hello bob");
    assert_eq!(
        calc.user(7).await.unwrap(),
        User {
            id: 7,
            name: "user7".into()
        }
    );
    assert_eq!(calc.maybe_user(0).await.unwrap(), None);
    let e = calc.fail().await.unwrap_err();
    assert_eq!((e.name(), e.message().as_str()), ("RangeError", "nope"));
    let e = calc.add(i64::MAX, 1).await.unwrap_err();
    assert_eq!(e.name(), "RangeError");
}

#[tokio::test]
async fn a_promised_capability_is_pipelined() {
    let (calc, _s) = pair();
    let n = calc.make_counter(5.0).increment(Some(3.0)).await.unwrap();
    assert_eq!(n, 8.0);
    let counter = calc.make_counter(1.0);
    assert_eq!(counter.increment(None).await.unwrap(), 2.0);
    // An optional parameter takes its value directly, too.
    assert_eq!(counter.increment(2.0).await.unwrap(), 4.0);
    assert_eq!(counter.value().await.unwrap(), 4.0);
}

#[tokio::test]
async fn capabilities_go_both_ways() {
    let (calc, _s) = pair();
    // A counter made here, served by the client, read by the server.
    assert_eq!(calc.read_counter(counter(41.0)).await.unwrap(), 41.0);
    // A remote counter passed back to its own server, and a pipelined one.
    let remote = calc.make_counter(2.0).await.unwrap();
    assert_eq!(calc.read_counter(remote.clone()).await.unwrap(), 2.0);
    assert_eq!(
        calc.read_counter(calc.make_counter(9.0)).await.unwrap(),
        9.0
    );
    // A callback: the server calls the closure.
    let r = calc
        .apply(Callback::new(|x: f64| async move { Ok(x * 10.0) }), 4.0)
        .await
        .unwrap();
    assert_eq!(r, 40.0);
}

#[tokio::test]
async fn fields_and_results_pipeline_into_arguments() {
    let (calc, _s) = pair();
    let user = calc.user(3);
    let greeting = calc.greet(user.field::<String>("name"));
    assert_eq!(greeting.await.unwrap(), "hello user3");
    let sum = calc.add(calc.add(1, 2), 10);
    assert_eq!(sum.await.unwrap(), 13);
}

#[tokio::test]
async fn map_runs_calls_on_each_element_remotely() {
    let (calc, _s) = pair();
    let doubled = calc.list_ids().map(|id| calc.add(&id, &id));
    assert_eq!(doubled.await.unwrap(), vec![2, 4, 6]);
    let names = calc
        .maybe_user(4)
        .map(|u| calc.greet(u.field::<String>("name")));
    assert_eq!(names.await.unwrap(), Some("hello x".to_owned()));
    let none = calc
        .maybe_user(0)
        .map(|u| calc.greet(u.field::<String>("name")));
    assert_eq!(none.await.unwrap(), None);
}

#[tokio::test]
async fn idempotent_methods_are_recorded() {
    assert_eq!(CalculatorClient::IDEMPOTENT, &["listIds"]);
    assert!(CalculatorClient::is_idempotent("listIds"));
    assert!(!CalculatorClient::is_idempotent("add"));
}

#[tokio::test]
async fn arguments_are_checked_by_their_rust_types() {
    let (calc, _s) = pair();
    let stub = calc.stub();
    use capnweb::Value;
    let e = stub
        .call("add", vec![Value::from("x"), Value::from(1)])
        .resolve()
        .await
        .unwrap_err();
    assert_eq!(e.name(), "TypeError");
    assert_eq!(
        e.message(),
        r#"add: argument `a`: invalid type: string "x", expected i64"#
    );
    let e = stub
        .call("add", vec![Value::from(1)])
        .resolve()
        .await
        .unwrap_err();
    assert_eq!(e.message(), "add: missing argument `b`");
    let e = stub.call("nope", vec![]).resolve().await.unwrap_err();
    assert_eq!(e.message(), "'nope' is not a function.");
    // The wire names are camelCase, and renamed methods answer to their new name only.
    assert!(stub
        .call("makeCounter", vec![Value::from(1)])
        .resolve()
        .await
        .is_ok());
    assert!(stub.call("explode", vec![]).resolve().await.is_err());
    let e = stub.call("fail", vec![]).resolve().await.unwrap_err();
    assert_eq!(e.message(), "'fail' is not a function.");
    // The server is still serving.
    assert_eq!(calc.add(2, 2).await.unwrap(), 4);
}

#[tokio::test]
async fn a_trailing_none_is_left_out_so_javascript_defaults_apply() {
    // A raw target that reports how many arguments it got.
    let seen = Arc::new(AtomicU64::new(99));
    let s2 = seen.clone();
    let probe = capnweb::Stub::from_fn(move |args| {
        s2.store(args.len() as u64, Ordering::SeqCst);
        async { Ok(capnweb::Value::from(0.0)) }
    });
    struct Probe(capnweb::Stub);
    impl capnweb::RpcTarget for Probe {
        fn call(
            self: Arc<Self>,
            method: &str,
            args: Vec<capnweb::Value>,
        ) -> capnweb::stub::BoxFuture<Result<capnweb::Value, RpcError>> {
            let p = self.0.call("", args);
            let _ = method;
            Box::pin(async move { p.resolve().await })
        }
    }
    let c = CounterClient::from(capnweb::Stub::new(Probe(probe)));
    c.increment(None).await.unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 0);
    c.increment(Some(2.0)).await.unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn integer_literals_and_small_integers_are_accepted_for_float_parameters() {
    let (calc, _s) = pair();
    // `make_counter(start: f64)` and `increment(amount: Option<f64>)`, given integers.
    let counter = calc.make_counter(5);
    assert_eq!(counter.increment(2).await.unwrap(), 7.0);
    let (small, unsigned): (u8, u32) = (3, 4_000_000_000);
    assert_eq!(counter.increment(small).await.unwrap(), 10.0);
    assert_eq!(counter.increment(unsigned).await.unwrap(), 4_000_000_010.0);
    assert_eq!(
        calc.apply(Callback::new(|x: f64| async move { Ok(x * 2.0) }), 21)
            .await
            .unwrap(),
        42.0
    );
}

#[rpc_interface]
pub trait Profile {
    /// What `nickname` was: left out, `null`, or a value.
    async fn update(&self, nickname: capnweb::JsOption<String>) -> Result<String, RpcError>;
    /// Gives back what it is given, keeping `undefined` and `null` apart.
    async fn echo(&self, value: capnweb::JsOption<f64>)
        -> Result<capnweb::JsOption<f64>, RpcError>;
}

struct Profiles;

impl Profile for Profiles {
    async fn update(&self, nickname: capnweb::JsOption<String>) -> Result<String, RpcError> {
        Ok(match nickname {
            capnweb::JsOption::Undefined => "kept".into(),
            capnweb::JsOption::Null => "cleared".into(),
            capnweb::JsOption::Some(n) => format!("set to {n}"),
        })
    }
    async fn echo(
        &self,
        value: capnweb::JsOption<f64>,
    ) -> Result<capnweb::JsOption<f64>, RpcError> {
        Ok(value)
    }
}

#[tokio::test]
async fn js_option_keeps_undefined_and_null_apart_both_ways() {
    use capnweb::{JsOption, Value};
    let (a, b) = in_process::pair();
    let _server = RpcSession::spawn(
        a,
        Some(capnweb::Stub::new(ProfileServer::new(Profiles))),
        SessionOptions::default(),
    );
    let session = RpcSession::spawn(b, None, SessionOptions::default());
    let profile = ProfileClient::from(session.main());
    assert_eq!(profile.update(JsOption::Undefined).await.unwrap(), "kept");
    assert_eq!(profile.update(JsOption::Null).await.unwrap(), "cleared");
    assert_eq!(
        profile.update("ann".to_owned()).await.unwrap(),
        "set to ann"
    );
    // As a JavaScript caller sends them: left out, `["undefined"]`, `null`.
    let stub = profile.stub();
    for (args, expected) in [
        (vec![], "kept"),
        (vec![Value::Undefined], "kept"),
        (vec![Value::Null], "cleared"),
    ] {
        let got = stub.call("update", args).resolve().await.unwrap();
        assert_eq!(got, Value::from(expected));
    }
    let e = stub
        .call("update", vec![Value::from(1)])
        .resolve()
        .await
        .unwrap_err();
    assert_eq!(e.name(), "TypeError", "a wrong type is still refused: {e}");
    // Results too: each comes back as itself, and is sent as itself.
    for v in [JsOption::Undefined, JsOption::Null, JsOption::Some(1.5)] {
        assert_eq!(profile.echo(v).await.unwrap(), v);
    }
    let raw = stub
        .call("echo", vec![Value::Undefined])
        .resolve()
        .await
        .unwrap();
    assert!(matches!(raw, Value::Undefined), "{raw:?}");
    let raw = stub
        .call("echo", vec![Value::Null])
        .resolve()
        .await
        .unwrap();
    assert!(matches!(raw, Value::Null), "{raw:?}");
}
