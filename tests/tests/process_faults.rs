//! The resilient client against a real server process that is killed with SIGKILL mid-call and
//! restarted on the same port. What ran is read from the server's own log (`RAN <tag>` when a
//! call's side effect happens), not taken from what the client reports.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use capnweb::client::Backoff;
use capnweb::{Client, RpcError};
use capnweb_tests::faulty::FaultyClient;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running `fault_server` and the tags of the calls it ran.
struct Process {
    child: Child,
    ran: Arc<Mutex<Vec<u32>>>,
}

async fn spawn(port: u16) -> (Process, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fault_server"))
        .args(["--port", &port.to_string(), "--delay-ms", "400"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("fault_server");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the server starts")
        .expect("reads")
        .expect("a line");
    let port = first
        .strip_prefix("LISTENING ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("expected LISTENING, got {first}"));
    let ran = Arc::new(Mutex::new(Vec::new()));
    let log = ran.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(tag) = line.strip_prefix("RAN ").and_then(|t| t.parse().ok()) {
                log.lock().unwrap().push(tag);
            }
        }
    });
    (Process { child, ran }, port)
}

impl Process {
    fn ran(&self) -> Vec<u32> {
        let mut ran = self.ran.lock().unwrap().clone();
        ran.sort_unstable();
        ran
    }
    async fn kill9(&mut self) {
        self.child.start_kill().expect("SIGKILL");
        let _ = self.child.wait().await;
    }
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
