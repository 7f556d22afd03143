//! In-band authentication, the capability way: the server's main object can do one thing,
//! check a token, and answers with the capability that can do the rest. Without the token
//! there is nothing to call; a session that never authenticates holds no power. Run it with
//! `cargo run --example authentication`.

use capnweb::{rpc_interface, RpcError, Server};

#[rpc_interface]
pub trait Gate {
    /// The account of the holder of `token`.
    async fn authenticate(&self, token: String) -> Result<AccountClient, RpcError>;
}

#[rpc_interface]
pub trait Account {
    /// Whose account this is.
    async fn owner(&self) -> Result<String, RpcError>;
    /// Moves `amount` out; the new balance.
    async fn withdraw(&self, amount: f64) -> Result<f64, RpcError>;
}

struct Bank;

impl Gate for Bank {
    async fn authenticate(&self, token: String) -> Result<AccountClient, RpcError> {
        match token.as_str() {
            "alice-token" => Ok(AccountClient::from_impl(Holding {
                owner: "alice".into(),
                balance: std::sync::Mutex::new(100.0),
            })),
            _ => Err(RpcError::error("unknown token")),
        }
    }
}

struct Holding {
    owner: String,
    balance: std::sync::Mutex<f64>,
}

impl Account for Holding {
    async fn owner(&self) -> Result<String, RpcError> {
        Ok(self.owner.clone())
    }

    async fn withdraw(&self, amount: f64) -> Result<f64, RpcError> {
        let mut balance = self.balance.lock().unwrap_or_else(|e| e.into_inner());
        if amount > *balance {
            return Err(RpcError::range_error("insufficient funds"));
        }
        *balance -= amount;
        Ok(*balance)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (addr, run) = Server::bind("127.0.0.1:0")
        .listen(|| GateServer::new(Bank))
        .await?;
    tokio::spawn(run);
    let gate: GateClient = capnweb::connect(&format!("ws://{addr}/")).await?;

    // Pipelined: the account is used before the authentication's answer arrives, one round trip.
    let account = gate.authenticate("alice-token".to_owned());
    let (owner, left) = tokio::join!(account.owner(), account.withdraw(30.0));
    println!("{} has {} left", owner?, left?);
    assert_eq!(
        account.withdraw(100.0).await.unwrap_err().message(),
        "insufficient funds"
    );

    // A wrong token gives nothing to call: every use of the would-be account fails the same way.
    let stranger = gate.authenticate("guess".to_owned());
    let refused = stranger.owner().await.unwrap_err();
    println!("a stranger gets: {refused}");
    assert_eq!(refused.message(), "unknown token");
    Ok(())
}
