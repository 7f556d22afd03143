//! The interface both interop servers implement: the reference's `TestTarget` and `Counter`
//! (from its `__tests__/test-util.ts`), declared with `#[rpc_interface]`.

use std::sync::Mutex;

use capnweb::typescript::{DeclarationError, Declarations, TypeScript};
use capnweb::{
    rpc_interface, Blob, Callback, ReadableStream, RemoteError, RpcError, RpcPromise, Stub, Value,
    WritableStream,
};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};

/// The reference test suite's main object.
#[rpc_interface(typescript)]
pub trait TestTarget {
    /// `i * i`.
    async fn square(&self, i: f64) -> Result<f64, RpcError>;
    /// `a + b` as JavaScript computes it: numbers add, strings concatenate.
    async fn add(&self, a: Value, b: Value) -> Result<Value, RpcError>;
    /// Its argument, unchanged.
    async fn echo(&self, value: Value) -> Result<Value, RpcError>;
    /// `{ result: target.square(i) }`, pipelined: the result holds a promise.
    async fn call_square(&self, target: TestTargetClient, i: f64) -> Result<Pending, RpcError>;
    /// `{ result: await func(i) }`.
    async fn call_function(
        &self,
        func: Callback<Value, Value>,
        i: Value,
    ) -> Result<Settled, RpcError>;
    /// Always fails with `RangeError: test error`.
    async fn throw_error(&self) -> Result<(), RpcError>;
    /// A new counter starting at `i`.
    async fn make_counter(&self, i: f64) -> Result<CounterClient, RpcError>;
    /// `counter.increment(i)`, with `i` 1 when left out.
    async fn increment_counter(
        &self,
        counter: CounterClient,
        i: Option<f64>,
    ) -> Result<f64, RpcError>;
    /// The first `length` Fibonacci numbers.
    async fn generate_fibonacci(&self, length: f64) -> Result<Vec<f64>, RpcError>;
    /// `null`.
    async fn return_null(&self) -> Result<Option<f64>, RpcError>;
    /// `undefined`.
    async fn return_undefined(&self) -> Result<(), RpcError>;
    /// Its argument.
    async fn return_number(&self, i: f64) -> Result<f64, RpcError>;

    // Beyond the reference's `TestTarget`: streams and blobs.

    /// Every chunk of `stream`, in order.
    async fn read_stream(&self, stream: ReadableStream) -> Result<Vec<Value>, RpcError>;
    /// A stream of the numbers `0..n`.
    async fn make_stream(&self, n: f64) -> Result<ReadableStream, RpcError>;
    /// Writes the numbers `0..n` into `sink`, then closes it.
    async fn write_to(&self, sink: WritableStream, n: f64) -> Result<(), RpcError>;
    /// A blob's type, size and text.
    async fn blob_info(&self, blob: Blob) -> Result<(String, f64, String), RpcError>;
    /// A blob holding `text`, of type `content_type`.
    async fn make_blob(&self, text: String, content_type: String) -> Result<Blob, RpcError>;

    // Beyond the reference: a typed application error.

    /// `10 - amount`, from a balance of 10; fails with a [`WithdrawError`] for an amount that
    /// is not positive, is more than 10, or is not whole.
    async fn withdraw(&self, amount: f64) -> Result<f64, WithdrawError>;
}

/// The balance [`TestTarget::withdraw`] draws from.
pub const BALANCE: f64 = 10.0;

/// Why [`TestTarget::withdraw`] refused: an application error, with a `kind` property so that
/// TypeScript callers can tell the variants apart.
#[derive(Debug, PartialEq, RemoteError, thiserror::Error)]
#[rpc(tag = "kind")]
pub enum WithdrawError {
    /// More than the balance.
    #[error("insufficient funds: {requested} requested, {balance} available")]
    InsufficientFunds {
        /// What there is.
        balance: f64,
        /// What was asked for.
        requested: f64,
    },
    /// Zero or less.
    #[error("the amount must be positive")]
    NotPositive,
    /// Not a whole number.
    #[error("{message}")]
    NotWhole {
        /// Why: the error's message itself (`err.message` in TypeScript), not a property.
        message: String,
    },
    /// Every other failure.
    #[error(transparent)]
    Rpc(#[from] RpcError),
}

/// A counter.
#[rpc_interface(typescript)]
pub trait Counter {
    /// Adds `amount` (1 when left out) and returns the new value.
    async fn increment(&self, amount: Option<f64>) -> Result<f64, RpcError>;
    /// The current value, read as a property.
    #[rpc(property)]
    async fn value(&self) -> Result<f64, RpcError>;
}

/// A result holding a promise, as `callSquare` returns.
#[derive(Debug, Serialize, Deserialize, TypeScript)]
pub struct Pending {
    /// The promised square.
    pub result: RpcPromise<f64>,
}

/// A result holding a value, as `callFunction` returns.
#[derive(Debug, Serialize, Deserialize, TypeScript)]
pub struct Settled {
    /// What the function returned.
    pub result: Value,
}

/// The implementation of [`TestTarget`].
#[derive(Debug)]
pub struct Tests;

/// The TypeScript module declaring [`TestTarget`] and [`Counter`] (and what they use), for
/// TypeScript callers: `newWebSocketRpcSession<TestTarget>(url)`.
pub fn typescript_module() -> Result<String, DeclarationError> {
    Declarations::new()
        .with::<TestTargetClient>()
        .with::<CounterClient>()
        .module()
}

/// A new main object for the interop tests.
pub fn test_target() -> Stub {
    Stub::new(TestTargetServer::new(Tests))
}

impl TestTarget for Tests {
    async fn square(&self, i: f64) -> Result<f64, RpcError> {
        Ok(i * i)
    }

    async fn add(&self, a: Value, b: Value) -> Result<Value, RpcError> {
        match (a, b) {
            (Value::String(a), Value::String(b)) => Ok(Value::String(a + &b)),
            (a, b) => match (a.as_f64(), b.as_f64()) {
                (Some(a), Some(b)) => Ok(Value::from(a + b)),
                _ => Err(RpcError::type_error(
                    "add: expected two numbers or two strings",
                )),
            },
        }
    }

    async fn echo(&self, value: Value) -> Result<Value, RpcError> {
        Ok(value)
    }

    async fn call_square(&self, target: TestTargetClient, i: f64) -> Result<Pending, RpcError> {
        Ok(Pending {
            result: target.square(i),
        })
    }

    async fn call_function(
        &self,
        func: Callback<Value, Value>,
        i: Value,
    ) -> Result<Settled, RpcError> {
        Ok(Settled {
            result: func.call(i).await?,
        })
    }

    async fn throw_error(&self) -> Result<(), RpcError> {
        Err(RpcError::range_error("test error"))
    }

    async fn make_counter(&self, i: f64) -> Result<CounterClient, RpcError> {
        Ok(CounterClient::from_impl(Count::new(i)))
    }

    async fn increment_counter(
        &self,
        counter: CounterClient,
        i: Option<f64>,
    ) -> Result<f64, RpcError> {
        counter.increment(i.unwrap_or(1.0)).await
    }

    async fn generate_fibonacci(&self, length: f64) -> Result<Vec<f64>, RpcError> {
        let mut fib = Vec::new();
        let (mut a, mut b) = (0.0, 1.0);
        for _ in 0..(length.max(0.0) as usize).min(10_000) {
            fib.push(a);
            (a, b) = (b, a + b);
        }
        Ok(fib)
    }

    async fn return_null(&self) -> Result<Option<f64>, RpcError> {
        Ok(None)
    }

    async fn return_undefined(&self) -> Result<(), RpcError> {
        Ok(())
    }

    async fn return_number(&self, i: f64) -> Result<f64, RpcError> {
        Ok(i)
    }

    async fn read_stream(&self, stream: ReadableStream) -> Result<Vec<Value>, RpcError> {
        stream.try_collect().await
    }

    async fn make_stream(&self, n: f64) -> Result<ReadableStream, RpcError> {
        let n = n.clamp(0.0, 1e6) as u32;
        Ok(ReadableStream::from_values((0..n).map(Value::from)))
    }

    async fn write_to(&self, sink: WritableStream, n: f64) -> Result<(), RpcError> {
        for i in 0..n.clamp(0.0, 1e6) as u32 {
            sink.write(i).await?;
        }
        sink.close().await
    }

    async fn blob_info(&self, blob: Blob) -> Result<(String, f64, String), RpcError> {
        let size = blob.data.len() as f64;
        let text = String::from_utf8_lossy(&blob.data).into_owned();
        Ok((blob.content_type, size, text))
    }

    async fn make_blob(&self, text: String, content_type: String) -> Result<Blob, RpcError> {
        Ok(Blob::new(content_type, text.into_bytes()))
    }

    async fn withdraw(&self, amount: f64) -> Result<f64, WithdrawError> {
        match amount {
            a if a.is_nan() || a <= 0.0 => Err(WithdrawError::NotPositive),
            a if a > BALANCE => Err(WithdrawError::InsufficientFunds {
                balance: BALANCE,
                requested: a,
            }),
            a if a.fract() != 0.0 => Err(WithdrawError::NotWhole {
                message: format!("{a} is not a whole amount"),
            }),
            a => Ok(BALANCE - a),
        }
    }
}

/// The implementation of [`Counter`].
#[derive(Debug)]
pub struct Count(Mutex<f64>);

impl Count {
    /// A counter starting at `start`.
    pub fn new(start: f64) -> Count {
        Count(Mutex::new(start))
    }
}

impl Counter for Count {
    async fn increment(&self, amount: Option<f64>) -> Result<f64, RpcError> {
        let mut n = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *n += amount.unwrap_or(1.0);
        Ok(*n)
    }

    async fn value(&self) -> Result<f64, RpcError> {
        Ok(*self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
