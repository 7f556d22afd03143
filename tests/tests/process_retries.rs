//! Which units of work the resilient client runs again when a real server process is killed
//! with SIGKILL and restarted: what a unit sent is counted through its own handles, whichever
//! task used them, so one unit's calls never decide for another. Side effects are read from
//! the server's own log (`RAN <tag>`), not taken from what the client reports.

use std::future::Future;
use std::time::Duration;

use capnweb::client::{Backoff, CircuitBreaker, RetryPolicy};
use capnweb::{Client, RpcError};
use capnweb_tests::faulty::FaultyClient;
use capnweb_tests::FaultServer;

const READS: usize = 10;

async fn spawn(port: u16) -> FaultServer {
    let exe = env!("CARGO_BIN_EXE_fault_server");
    FaultServer::start(exe, port, &["--delay-ms", "400"]).await
}

/// A client of `server` that retries quickly; its breaker stays closed through a restart.
async fn client(server: &FaultServer) -> Client<FaultyClient> {
    let quick = Backoff::exponential(Duration::from_millis(20), Duration::from_millis(200));
    let client = Client::<FaultyClient>::builder()
        .endpoint(format!("ws://127.0.0.1:{}/", server.port))
        .backoff(quick)
        .retry(RetryPolicy::new().attempts(5).backoff(quick))
        .circuit_breaker(CircuitBreaker::new().failure_threshold(50))
        .connect()
        .await
        .unwrap();
    assert_eq!(client.run(|c| c.ping()).await.unwrap(), 1.0);
    client
}

/// Kills `server` with SIGKILL once the calls are in flight, restarts it on its port, and
/// gives the new one and the side effects the old one ran.
async fn kill_and_restart(mut server: FaultServer) -> (FaultServer, Vec<u32>) {
    tokio::time::sleep(Duration::from_millis(150)).await;
    server.kill9().await;
    let restarted = spawn(server.port).await;
    (restarted, server.ran())
}

fn maybe_delivered<T: std::fmt::Debug>(result: &Result<T, RpcError>) -> bool {
    matches!(
        result,
        Err(RpcError::Disconnected {
            maybe_delivered: true,
            ..
        })
    )
}

/// Runs `work` in a task of its own, as concurrent users of one client do.
fn unit<T: Send + 'static>(
    work: impl Future<Output = Result<T, RpcError>> + Send + 'static,
) -> tokio::task::JoinHandle<Result<T, RpcError>> {
    tokio::spawn(work)
}

async fn reads_are_retried_while_another_unit_calls_from_a_spawned_task() {
    let first = spawn(0).await;
    let client = client(&first).await;
    let reads: Vec<_> = (0..READS)
        .map(|_| {
            let client = client.clone();
            unit(async move { client.run(|c| c.read()).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(30)).await;
    // Another unit on the same session: a side effect, from a task it spawned.
    let bumper = client.clone();
    let bump = unit(async move {
        bumper
            .run(|c| async move {
                tokio::spawn(async move { c.bump(7.0).await })
                    .await
                    .unwrap()
            })
            .await
    });
    let (second, ran_before) = kill_and_restart(first).await;
    for read in reads {
        assert_eq!(
            read.await.unwrap().unwrap(),
            1.0,
            "an idempotent read failed"
        );
    }
    let bump = bump.await.unwrap();
    assert!(maybe_delivered(&bump), "the side effect: {bump:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ran_before, vec![7], "the side effect ran once");
    assert_eq!(second.ran(), Vec::<u32>::new(), "and was never run again");
    assert!(
        client.stats().retries >= READS as u64,
        "{:?}",
        client.stats()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_reads_are_retried_while_another_unit_spawns_a_call() {
    reads_are_retried_while_another_unit_calls_from_a_spawned_task().await;
}

#[tokio::test(flavor = "current_thread")]
async fn idempotent_reads_are_retried_while_another_unit_spawns_a_call_on_one_thread() {
    reads_are_retried_while_another_unit_calls_from_a_spawned_task().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_a_unit_spawned_through_its_handle_keeps_it_from_running_again() {
    let first = spawn(0).await;
    let client = client(&first).await;
    let run = unit({
        let client = client.clone();
        async move {
            client
                .run(|c| async move {
                    let handle = c.clone();
                    let bump = tokio::spawn(async move { handle.bump(8.0).await });
                    // The unit's own task makes only an idempotent call.
                    let read = c.read().await;
                    let _ = bump.await;
                    read
                })
                .await
        }
    });
    let (second, ran_before) = kill_and_restart(first).await;
    let result = run.await.unwrap();
    assert!(maybe_delivered(&result), "{result:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ran_before, vec![8]);
    assert_eq!(second.ran(), Vec::<u32>::new(), "the side effect ran again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_that_wrote_to_a_peers_stream_is_not_run_again() {
    let first = spawn(0).await;
    let client = client(&first).await;
    let run = unit({
        let client = client.clone();
        async move {
            client
                .run(|c| async move {
                    // Got by an idempotent call through the unit's handle, written from
                    // another task.
                    let sink = c.sink().await?;
                    tokio::spawn(async move { sink.write(9.0).await })
                        .await
                        .unwrap()?;
                    c.read().await
                })
                .await
        }
    });
    let (second, ran_before) = kill_and_restart(first).await;
    let result = run.await.unwrap();
    assert!(maybe_delivered(&result), "{result:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ran_before, vec![9]);
    assert_eq!(second.ran(), Vec::<u32>::new(), "the write was made again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_write_in_the_units_task_counts_whatever_handle_it_went_through() {
    let first = spawn(0).await;
    let client = client(&first).await;
    let run = unit({
        let client = client.clone();
        async move {
            let outside = client.clone();
            client
                .run(|c| {
                    let outside = outside.clone();
                    async move {
                        // A stream got through a handle of no unit, written in the unit's task.
                        let sink = outside.main().await?.sink().await?;
                        sink.write(10.0).await?;
                        c.read().await
                    }
                })
                .await
        }
    });
    let (second, ran_before) = kill_and_restart(first).await;
    let result = run.await.unwrap();
    assert!(maybe_delivered(&result), "{result:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ran_before, vec![10]);
    assert_eq!(second.ran(), Vec::<u32>::new(), "the write was made again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_a_draining_server_refuses_runs_once_on_the_other_server() {
    let exe = env!("CARGO_BIN_EXE_fault_server");
    let args = ["--delay-ms", "1500", "--grace-ms", "10000"];
    let (a, b) = (
        FaultServer::start(exe, 0, &args).await,
        FaultServer::start(exe, 0, &args).await,
    );
    let quick = Backoff::exponential(Duration::from_millis(20), Duration::from_millis(200));
    let client = Client::<FaultyClient>::builder()
        .endpoints([a.port, b.port].map(|p| format!("ws://127.0.0.1:{p}/")))
        .backoff(quick)
        .retry(RetryPolicy::new().attempts(3).backoff(quick))
        .circuit_breaker(CircuitBreaker::new().failure_threshold(1))
        .connect()
        .await
        .unwrap();
    assert_eq!(client.run(|c| c.ping()).await.unwrap(), 1.0);
    // A read in flight keeps the session on `a` open through its drain.
    let slow = unit({
        let client = client.clone();
        async move { client.run(|c| c.read()).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    a.sigterm();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", a.port))
        .await
        .is_ok()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a never stopped accepting"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Sent on the draining session, refused there unrun, run again on the other server.
    assert_eq!(client.run(|c| c.bump(5.0)).await.unwrap(), 5.0);
    assert_eq!(
        slow.await.unwrap().unwrap(),
        1.0,
        "the call in flight finished"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        a.ran(),
        Vec::<u32>::new(),
        "the draining server ran nothing new"
    );
    assert_eq!(b.ran(), vec![5], "the other ran it, once");
    assert!(client.stats().retries >= 1, "{:?}", client.stats());
}
