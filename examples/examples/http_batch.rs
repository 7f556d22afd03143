//! HTTP batch on its own: no WebSocket, one POST carrying every queued call, pipelined calls
//! included, answered in the same response. Suits serverless hosts and one-shot scripts. Run
//! it with `cargo run --example http_batch`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use capnweb::{rpc_interface, HttpBatch, RpcError, Server};

#[rpc_interface]
pub trait Directory {
    /// The id of the user called `name`.
    async fn find(&self, name: String) -> Result<u32, RpcError>;
    /// The profile of user `id`.
    async fn profile(&self, id: u32) -> Result<Profile, RpcError>;
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Profile {
    pub id: u32,
    pub email: String,
}

struct Users;

impl Directory for Users {
    async fn find(&self, name: String) -> Result<u32, RpcError> {
        match name.as_str() {
            "ada" => Ok(1),
            "alan" => Ok(2),
            _ => Err(RpcError::error(format!("no user {name}"))),
        }
    }

    async fn profile(&self, id: u32) -> Result<Profile, RpcError> {
        Ok(Profile {
            id,
            email: format!("user{id}@example.com"),
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Count the sessions the server sees: each batch is one.
    let sessions = Arc::new(AtomicUsize::new(0));
    let seen = sessions.clone();
    let (addr, run) = Server::bind("127.0.0.1:0")
        .listen(move || {
            seen.fetch_add(1, Ordering::SeqCst);
            DirectoryServer::new(Users)
        })
        .await?;
    tokio::spawn(run);
    let url = format!("http://{addr}/");

    // One batch: `profile` takes `find`'s result without waiting for it (pipelining), and the
    // first await sends all of it in one request.
    let batch = HttpBatch::<DirectoryClient>::new(&url);
    let directory = batch.main();
    let ada = directory.profile(directory.find("ada"));
    let alan = directory.profile(directory.find("alan"));
    let nobody = directory.find("nobody");
    let (ada, alan) = (ada.await?, alan.await?);
    println!("{} and {}", ada.email, alan.email);
    println!("nobody: {}", nobody.await.unwrap_err());
    assert_eq!((ada.id, alan.id), (1, 2));
    assert_eq!(
        sessions.load(Ordering::SeqCst),
        1,
        "one request for the whole batch"
    );

    // A batch is over once sent: the next calls need a new one.
    let again = HttpBatch::<DirectoryClient>::new(&url);
    println!("a second batch: {}", again.main().find("ada").await?);
    assert_eq!(sessions.load(Ordering::SeqCst), 2);
    Ok(())
}
