//! Typed application errors, end to end: the server returns a `BankError` variant, the client
//! gets that variant back with its fields (a TypeScript caller sees `err.name` and
//! `err.balance`), and every other failure arrives through `From<RpcError>`. Run it with
//! `cargo run --example typed_errors`.

use std::sync::Mutex;

use capnweb::{rpc_interface, RemoteError, RpcError, Server};

/// What can go wrong at the bank, as the caller sees it.
#[derive(Debug, RemoteError, thiserror::Error)]
pub enum BankError {
    /// Sent as `name: "InsufficientFunds"` with the properties `balance` and `requested`.
    #[error("insufficient funds: {requested} requested, {balance} available")]
    InsufficientFunds { balance: f64, requested: f64 },
    /// Sent as `name: "AccountFrozen"`, with `until` only when there is a date.
    #[error("the account is frozen")]
    #[rpc(name = "AccountFrozen")]
    Frozen { until: Option<String> },
    /// Everything that is not the bank's: a disconnection, a bad argument. Sent as itself.
    #[error(transparent)]
    Rpc(#[from] RpcError),
}

#[rpc_interface]
pub trait Account {
    /// Moves `amount` out; the new balance.
    async fn withdraw(&self, amount: f64) -> Result<f64, BankError>;
    /// Stops every withdrawal.
    async fn freeze(&self) -> Result<(), RpcError>;
}

struct Holding {
    balance: Mutex<f64>,
    frozen: Mutex<bool>,
}

impl Account for Holding {
    async fn withdraw(&self, amount: f64) -> Result<f64, BankError> {
        if *self.frozen.lock().unwrap_or_else(|e| e.into_inner()) {
            return Err(BankError::Frozen { until: None });
        }
        let mut balance = self.balance.lock().unwrap_or_else(|e| e.into_inner());
        if amount > *balance {
            return Err(BankError::InsufficientFunds {
                balance: *balance,
                requested: amount,
            });
        }
        *balance -= amount;
        Ok(*balance)
    }

    async fn freeze(&self) -> Result<(), RpcError> {
        *self.frozen.lock().unwrap_or_else(|e| e.into_inner()) = true;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (addr, run) = Server::bind("127.0.0.1:0")
        .listen(|| {
            AccountServer::new(Holding {
                balance: Mutex::new(100.0),
                frozen: Mutex::new(false),
            })
        })
        .await?;
    tokio::spawn(run);

    let account: AccountClient = capnweb::connect(&format!("ws://{addr}/")).await?;
    println!("balance after 30: {}", account.withdraw(30.0).await?);

    match account.withdraw(500.0).await {
        Err(BankError::InsufficientFunds { balance, requested }) => {
            println!("refused: {requested} requested, only {balance} there");
            assert_eq!((balance, requested), (70.0, 500.0));
        }
        other => panic!("expected InsufficientFunds, got {other:?}"),
    }

    account.freeze().await?;
    match account.withdraw(1.0).await {
        Err(BankError::Frozen { until }) => println!("refused: frozen (until {until:?})"),
        other => panic!("expected Frozen, got {other:?}"),
    }

    // A failure that is not the bank's comes through `From<RpcError>`.
    let stub = capnweb::RpcClient::stub(&account).clone();
    let bad = capnweb::RpcPromise::<f64>::from_stub(stub.call("withdraw", vec!["lots".into()]))
        .with_error::<BankError>();
    match bad.await {
        Err(BankError::Rpc(e)) => println!("not the bank's: {e}"),
        other => panic!("expected a TypeError, got {other:?}"),
    }
    Ok(())
}
