//! The interface both interop servers implement (the reference's `TestTarget` and `Counter`),
//! written against the dynamic [`RpcTarget`] API.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use capnweb::stub::{not_a_function, BoxFuture};
use capnweb::{Object, RpcError, RpcTarget, Stub, Value};

/// The main object: `square`, `add`, `echo`, `callSquare`, `callFunction`, `throwError`,
/// `makeCounter`, `incrementCounter`, `generateFibonacci`, `returnNull`, `returnUndefined`,
/// `returnNumber`.
pub struct TestTarget;

fn number(args: &[Value], i: usize, method: &str) -> Result<f64, RpcError> {
    args.get(i)
        .and_then(Value::as_f64)
        .ok_or_else(|| RpcError::type_error(format!("{method}: argument {i} must be a number")))
}

fn stub(args: &[Value], i: usize, method: &str) -> Result<Stub, RpcError> {
    args.get(i)
        .and_then(Value::as_stub)
        .cloned()
        .ok_or_else(|| RpcError::type_error(format!("{method}: argument {i} must be a stub")))
}

fn done(v: Result<Value, RpcError>) -> BoxFuture<Result<Value, RpcError>> {
    Box::pin(std::future::ready(v))
}

impl RpcTarget for TestTarget {
    fn call(self: Arc<Self>, method: &str, args: Vec<Value>) -> BoxFuture<Result<Value, RpcError>> {
        match method {
            "square" => done(number(&args, 0, method).map(|i| Value::from(i * i))),
            "add" => done(match (args.first(), args.get(1)) {
                // `a + b` in JavaScript: strings concatenate.
                (Some(Value::String(a)), Some(Value::String(b))) => {
                    Ok(Value::String(format!("{a}{b}")))
                }
                _ => (|| {
                    Ok(Value::from(
                        number(&args, 0, "add")? + number(&args, 1, "add")?,
                    ))
                })(),
            }),
            "echo" => done(Ok(args.into_iter().next().unwrap_or_default())),
            "callSquare" => done((|| {
                let this = stub(&args, 0, "callSquare")?;
                let i = args.get(1).cloned().unwrap_or_default();
                let mut o = Object::new();
                o.insert(
                    "result".into(),
                    Value::Promise(this.call("square", vec![i])),
                );
                Ok(Value::Object(o))
            })()),
            "callFunction" => Box::pin(async move {
                let func = stub(&args, 0, "callFunction")?;
                let i = args.get(1).cloned().unwrap_or_default();
                let result = func.call("", vec![i]).resolve().await?;
                let mut o = Object::new();
                o.insert("result".into(), result);
                Ok(Value::Object(o))
            }),
            "throwError" => done(Err(RpcError::range_error("test error"))),
            "makeCounter" => {
                done(number(&args, 0, method).map(|i| Value::Stub(Stub::new(Counter::new(i)))))
            }
            "incrementCounter" => Box::pin(async move {
                let counter = stub(&args, 0, "incrementCounter")?;
                let amount = match args.get(1) {
                    None | Some(Value::Undefined) => Value::from(1),
                    Some(v) => v.clone(),
                };
                counter.call("increment", vec![amount]).resolve().await
            }),
            "generateFibonacci" => done(number(&args, 0, method).map(|n| {
                let mut fib: Vec<f64> = Vec::new();
                let (mut a, mut b) = (0.0, 1.0);
                for _ in 0..(n.max(0.0) as usize).min(10_000) {
                    fib.push(a);
                    (a, b) = (b, a + b);
                }
                Value::Array(fib.into_iter().map(Value::from).collect())
            })),
            "returnNull" => done(Ok(Value::Null)),
            "returnUndefined" => done(Ok(Value::Undefined)),
            "returnNumber" => done(number(&args, 0, method).map(Value::from)),
            _ => not_a_function(method),
        }
    }
}

/// A counter: `increment(amount = 1)` and the read-only property `value`.
pub struct Counter {
    // f64 bits: the count is a JavaScript number.
    value: AtomicU64,
}

impl Counter {
    /// A counter starting at `start`.
    pub fn new(start: f64) -> Counter {
        Counter {
            value: AtomicU64::new(start.to_bits()),
        }
    }

    fn current(&self) -> f64 {
        f64::from_bits(self.value.load(Ordering::SeqCst))
    }
}

impl RpcTarget for Counter {
    fn call(self: Arc<Self>, method: &str, args: Vec<Value>) -> BoxFuture<Result<Value, RpcError>> {
        match method {
            "increment" => {
                let amount = match args.first() {
                    None | Some(Value::Undefined) => 1.0,
                    Some(v) => match v.as_f64() {
                        Some(a) => a,
                        None => {
                            return done(Err(RpcError::type_error(
                                "increment: amount must be a number",
                            )))
                        }
                    },
                };
                let mut current = self.value.load(Ordering::SeqCst);
                loop {
                    let next = (f64::from_bits(current) + amount).to_bits();
                    match self.value.compare_exchange(
                        current,
                        next,
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    ) {
                        Ok(_) => return done(Ok(Value::from(f64::from_bits(next)))),
                        Err(actual) => current = actual,
                    }
                }
            }
            _ => not_a_function(method),
        }
    }

    fn get(self: Arc<Self>, property: &str) -> BoxFuture<Result<Value, RpcError>> {
        done(Ok(match property {
            "value" => Value::from(self.current()),
            _ => Value::Undefined,
        }))
    }
}
