//! The resilient client against a real server process that is killed with SIGKILL mid-call and
//! restarted on the same port. What ran is read from the server's own log (`RAN <tag>` when a
//! call's side effect happens), not taken from what the client reports.

use std::time::Duration;

use capnweb::client::Backoff;
use capnweb::{Client, RpcError};
use capnweb_tests::faulty::FaultyClient;
use capnweb_tests::FaultServer;

async fn spawn(port: u16) -> (FaultServer, u16) {
    let exe = env!("CARGO_BIN_EXE_fault_server");
    let server = FaultServer::start(exe, port, &["--delay-ms", "400"]).await;
    let port = server.port;
    (server, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_call_runs_nothing_twice_and_is_reconnected() {
    let (mut first, port) = spawn(0).await;
    let client = Client::<FaultyClient>::builder()
        .endpoint(format!("ws://127.0.0.1:{port}/"))
        .backoff(Backoff::exponential(
            Duration::from_millis(50),
            Duration::from_millis(400),
        ))
        .connect()
        .await
        .unwrap();
    assert_eq!(client.run(|c| c.ping()).await.unwrap(), 1.0);

    // Twenty side effects in flight when the process is killed.
    let runs: Vec<_> = (0..20u32)
        .map(|tag| {
            let client = client.clone();
            tokio::spawn(async move { client.run(move |c| c.bump(f64::from(tag))).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    first.kill9().await;
    for run in runs {
        let result = run.await.unwrap();
        assert!(
            matches!(
                result,
                Err(RpcError::Disconnected {
                    maybe_delivered: true,
                    ..
                })
            ),
            "a call in flight at the kill: {result:?}"
        );
    }
    let ran_before_kill = first.ran();
    assert_eq!(
        ran_before_kill,
        (0..20).collect::<Vec<_>>(),
        "each ran once"
    );

    // Restarted on the same port: the client comes back by itself, and nothing is re-run.
    let (second, _) = spawn(port).await;
    let ping = client
        .run_with_timeout(Some(Duration::from_secs(10)), |c| c.ping())
        .await;
    assert_eq!(ping.unwrap(), 1.0);
    assert_eq!(client.run(|c| c.bump(100.0)).await.unwrap(), 100.0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        second.ran(),
        vec![100],
        "the restarted server ran only the new call"
    );
    assert!(client.stats().reconnects >= 1);
}
