//! The resilient client against real servers on loopback that are killed, restarted, refuse
//! connections or never answer.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use capnweb::client::{Backoff, CircuitBreaker, ConnectionState, RetryPolicy};
use capnweb::server::{AuthRejection, ConnectInfo};
use capnweb::{rpc_interface, Client, RpcClient, RpcError, Server};
use tokio::sync::oneshot;

#[rpc_interface]
pub trait Store {
    /// The number of writes so far, after `delay_ms`.
    #[rpc(idempotent)]
    async fn read(&self, delay_ms: u64) -> Result<u64, RpcError>;
    /// Adds a write after `delay_ms`, and returns the count.
    async fn write(&self, delay_ms: u64) -> Result<u64, RpcError>;
    /// The server's name.
    #[rpc(idempotent)]
    async fn hello(&self) -> Result<String, RpcError>;
}

struct Shop {
    name: String,
    writes: Arc<AtomicU64>,
}

impl Store for Shop {
    async fn read(&self, delay_ms: u64) -> Result<u64, RpcError> {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        Ok(self.writes.load(Ordering::SeqCst))
    }
    async fn write(&self, delay_ms: u64) -> Result<u64, RpcError> {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        Ok(self.writes.fetch_add(1, Ordering::SeqCst) + 1)
    }
    async fn hello(&self) -> Result<String, RpcError> {
        Ok(self.name.clone())
    }
}

/// A server on a port that can be killed (every session aborted at once) and restarted.
struct TestServer {
    port: u16,
    writes: Arc<AtomicU64>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    async fn start(port: u16, name: &str) -> TestServer {
        TestServer::start_with(port, name, |s| s).await
    }

    async fn start_with(
        port: u16,
        name: &str,
        configure: impl FnOnce(Server) -> Server,
    ) -> TestServer {
        let writes = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = Server::bind(format!("127.0.0.1:{port}"))
            .shutdown_grace(Duration::ZERO)
            .shutdown_on(async {
                let _ = stopped.await;
            });
        let (name, w) = (name.to_owned(), writes.clone());
        let factory = move || {
            StoreServer::new(Shop {
                name: name.clone(),
                writes: w.clone(),
            })
        };
        let (addr, serve) = configure(server).listen(factory).await.unwrap();
        let task = tokio::spawn(async move { serve.await.unwrap() });
        TestServer {
            port: addr.port(),
            writes,
            stop: Some(stop),
            task: Some(task),
        }
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.port)
    }

    async fn kill(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// A server that accepts connections and never says anything; returns its port.
async fn silent_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    port
}

/// A port with nothing listening on it.
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn fast() -> capnweb::client::ClientBuilder<StoreClient> {
    Client::<StoreClient>::builder()
        .backoff(Backoff::exponential(
            Duration::from_millis(10),
            Duration::from_millis(50),
        ))
        .connect_timeout(Duration::from_secs(2))
        .retry(RetryPolicy::new().attempts(5).backoff(Backoff::exponential(
            Duration::from_millis(20),
            Duration::from_millis(100),
        )))
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..300 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_call_reruns_only_what_is_safe_to_repeat() {
    let mut server = TestServer::start(0, "one").await;
    let port = server.port;
    let client = fast().endpoint(server.url()).connect().await.unwrap();
    assert_eq!(client.run(|s| s.hello()).await.unwrap(), "one");
    let mut state = client.connection_state();
    assert_eq!(*state.borrow_and_update(), ConnectionState::Connected);

    let (c1, c2) = (client.clone(), client.clone());
    let read = tokio::spawn(async move { c1.run(|s| s.read(300)).await });
    let write = tokio::spawn(async move { c2.run(|s| s.write(300)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.kill().await;
    let mut restarted = TestServer::start(port, "two").await;

    // The read is idempotent: run again on the new server. The write was delivered: not.
    assert_eq!(read.await.unwrap().unwrap(), 0);
    match write.await.unwrap() {
        Err(RpcError::Disconnected {
            maybe_delivered: true,
            ..
        }) => {}
        other => panic!("the write should fail as maybe delivered, got {other:?}"),
    }
    assert_eq!(
        restarted.writes.load(Ordering::SeqCst),
        0,
        "the write was not repeated"
    );
    assert_eq!(client.run(|s| s.hello()).await.unwrap(), "two");
    let stats = client.stats();
    assert!(stats.reconnects >= 1 && stats.retries >= 1, "{stats:?}");
    assert_eq!(
        *client.connection_state().borrow(),
        ConnectionState::Connected
    );
    restarted.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out_and_opens_the_circuit() {
    // Accepts connections, never speaks.
    let port = silent_server().await;
    let client = fast()
        .endpoint(format!("ws://127.0.0.1:{port}/"))
        .connect_timeout(Duration::from_millis(150))
        .circuit_breaker(
            CircuitBreaker::new()
                .failure_threshold(2)
                .open_for(Duration::from_secs(60)),
        )
        .build();
    let err = client.main().await.unwrap_err();
    assert!(
        matches!(
            err,
            RpcError::Disconnected {
                maybe_delivered: false,
                ..
            }
        ),
        "{err:?}"
    );
    eventually("the circuit opens", || client.stats().breaker_trips == 1).await;
    // Open: work fails fast instead of waiting.
    let start = Instant::now();
    let err = client.run(|s| s.hello()).await.unwrap_err();
    assert!(err.to_string().contains("circuit open"), "{err}");
    assert!(start.elapsed() < Duration::from_millis(100));
    assert!(client.stats().endpoints[0].breaker_open);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_to_a_live_endpoint_and_back_when_the_first_heals() {
    let port_a = dead_port();
    let mut b = TestServer::start(0, "b").await;
    let client = fast()
        .endpoints([format!("ws://127.0.0.1:{port_a}/"), b.url()])
        .circuit_breaker(
            CircuitBreaker::new()
                .failure_threshold(1)
                .open_for(Duration::from_millis(200)),
        )
        .connect()
        .await
        .unwrap();
    assert_eq!(client.run(|s| s.hello()).await.unwrap(), "b");
    let stats = client.stats();
    assert!(stats.endpoints[0].failures >= 1, "{stats:?}");

    // A comes up; B goes away: the next session goes to A again.
    let mut a = TestServer::start(port_a, "a").await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    b.kill().await;
    assert_eq!(client.run(|s| s.hello()).await.unwrap(), "a");
    a.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_circuit_opens_on_a_refusing_endpoint_and_recovers() {
    let port = dead_port();
    let client = fast()
        .endpoint(format!("ws://127.0.0.1:{port}/"))
        .circuit_breaker(
            CircuitBreaker::new()
                .failure_threshold(2)
                .open_for(Duration::from_millis(300)),
        )
        .build();
    eventually("the circuit opens", || client.stats().breaker_trips >= 1).await;
    let err = client.run(|s| s.hello()).await.unwrap_err();
    assert!(err.to_string().contains("circuit open"), "{err}");
    let mut server = TestServer::start(port, "back").await;
    // After `open_for`, a trial connection succeeds and closes the circuit.
    eventually("a session after the trial", || {
        !client.sessions().is_empty()
    })
    .await;
    assert_eq!(client.run(|s| s.hello()).await.unwrap(), "back");
    assert!(!client.stats().endpoints[0].breaker_open);
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_keeps_serving_while_one_session_dies() {
    let mut server = TestServer::start(0, "pool").await;
    let client = fast()
        .endpoint(server.url())
        .pool_size(3)
        .connect()
        .await
        .unwrap();
    eventually("three sessions", || client.sessions().len() == 3).await;
    client.sessions()[0].abort(RpcError::error("one session dies"));
    let work: Vec<_> = (0..30)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.run(|s| s.write(50)).await })
        })
        .collect();
    for w in work {
        w.await.unwrap().unwrap();
    }
    assert_eq!(server.writes.load(Ordering::SeqCst), 30);
    eventually("the dead one replaced", || client.sessions().len() == 3).await;
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_over_its_time_is_released_and_the_session_stays() {
    let mut server = TestServer::start(0, "slow").await;
    let client = fast()
        .endpoint(server.url())
        .call_timeout(Duration::from_millis(100))
        .connect()
        .await
        .unwrap();
    let session = client.sessions()[0].clone();
    let err = client.run(|s| s.read(1_000)).await.unwrap_err();
    assert_eq!(
        err,
        RpcError::Timeout {
            after: Duration::from_millis(100)
        }
    );
    // The same session goes on, and the timed-out call was released.
    assert_eq!(client.run(|s| s.hello()).await.unwrap(), "slow");
    assert!(!session.is_closed());
    eventually("the call released", || session.stats().imports == 1).await;
    // A longer limit for one unit of work.
    let n = client
        .run_with_timeout(Some(Duration::from_secs(5)), |s| s.read(150))
        .await
        .unwrap();
    assert_eq!(n, 0);
    assert_eq!(client.stats().reconnects, 0);
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_and_on_connect_apply_to_every_new_session() {
    let auth = |s: Server| {
        s.auth(|info: ConnectInfo| async move {
            match info.header("authorization") {
                Some("Bearer t") => Ok(()),
                _ => Err(AuthRejection::Unauthorized("token needed".into())),
            }
        })
    };
    let mut server = TestServer::start_with(0, "first", auth).await;
    let port = server.port;
    let connects = Arc::new(AtomicUsize::new(0));
    let seen = connects.clone();
    let client = fast()
        .endpoint(server.url())
        .headers(|| async { [("authorization", "Bearer t")] })
        .on_connect(move |main: StoreClient| {
            let seen = seen.clone();
            async move {
                main.hello().await?;
                seen.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
        .connect()
        .await
        .unwrap();
    assert_eq!(client.run(|s| s.hello()).await.unwrap(), "first");
    server.kill().await;
    let mut again = TestServer::start_with(port, "second", auth).await;
    assert_eq!(client.run(|s| s.hello()).await.unwrap(), "second");
    assert_eq!(connects.load(Ordering::SeqCst), 2);
    again.kill().await;

    // Without the header, the server refuses (401): not the server's health, no circuit trip.
    let mut third = TestServer::start_with(port, "third", auth).await;
    let bare = fast()
        .endpoint(third.url())
        .connect_timeout(Duration::from_millis(300))
        .circuit_breaker(CircuitBreaker::new().failure_threshold(1))
        .build();
    let err = bare.main().await.unwrap_err();
    assert!(matches!(err, RpcError::Disconnected { .. }), "{err:?}");
    assert_eq!(bare.stats().breaker_trips, 0);
    third.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_broken_fires_once_and_a_dropped_guard_unregisters() {
    let mut server = TestServer::start(0, "x").await;
    let client = fast().endpoint(server.url()).connect().await.unwrap();
    let main = client.main().await.unwrap();
    let fired = Arc::new(AtomicUsize::new(0));
    let (f1, f2) = (fired.clone(), fired.clone());
    let _kept = main.stub().on_broken(move |_| {
        f1.fetch_add(1, Ordering::SeqCst);
    });
    let dropped = main.stub().on_broken(move |_| {
        f2.fetch_add(100, Ordering::SeqCst);
    });
    drop(dropped);
    server.kill().await;
    eventually("on_broken fired", || fired.load(Ordering::SeqCst) == 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(fired.load(Ordering::SeqCst), 1);
    // A capability of the dead session fails at once, and keeps failing.
    for _ in 0..2 {
        let err = main.hello().await.unwrap_err();
        assert!(matches!(err, RpcError::Disconnected { .. }), "{err:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_urls_speak_tls() {
    use tokio::io::AsyncReadExt;
    // A plain TCP server that records the first byte a client sends.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let first = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut byte = [0u8; 1];
        socket.read_exact(&mut byte).await.unwrap();
        byte[0]
    });
    let url = format!("wss://localhost:{port}/");
    let attempt = tokio::spawn(async move {
        let connecting = capnweb::connect::<capnweb::Stub>(&url);
        tokio::time::timeout(Duration::from_secs(5), connecting).await
    });
    // 0x16: a TLS handshake record (a ClientHello), not an HTTP upgrade request.
    let first = tokio::time::timeout(Duration::from_secs(5), first).await;
    assert_eq!(first.expect("the client connected").unwrap(), 0x16);
    attempt.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_waiting_for_a_session_is_bounded_in_number_and_time() {
    // Accepts, never answers: every attempt hangs until the connect timeout.
    let port = silent_server().await;
    let client = fast()
        .endpoint(format!("ws://127.0.0.1:{port}/"))
        .connect_timeout(Duration::from_millis(300))
        .max_waiting(2)
        .build();
    let waiting: Vec<_> = (0..2)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.main().await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let start = Instant::now();
    let third = client.main().await.unwrap_err();
    assert!(
        third.to_string().contains("too many calls are waiting"),
        "{third}"
    );
    assert!(start.elapsed() < Duration::from_millis(100));
    for w in waiting {
        let err = w.await.unwrap().unwrap_err();
        assert!(err.to_string().contains("no connection within"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_detects_a_server_that_stopped_answering() {
    // Completes the WebSocket handshake, then never reads again (so never answers a ping).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            if let Ok(ws) = tokio_tungstenite::accept_async(socket).await {
                held.push(ws);
            }
        }
    });
    let client = fast()
        .endpoint(format!("ws://127.0.0.1:{port}/"))
        .keepalive(Duration::from_millis(100))
        .connect()
        .await
        .unwrap();
    let first = client.sessions()[0].clone();
    let reason = tokio::time::timeout(Duration::from_secs(3), first.closed())
        .await
        .expect("the silent server was detected");
    assert!(reason.to_string().contains("keep-alive"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_stub_from_connect_reports_its_sessions_end() {
    let mut server = TestServer::start(0, "x").await;
    let main: capnweb::Stub = capnweb::connect(&server.url()).await.unwrap();
    let fired = Arc::new(AtomicUsize::new(0));
    let f = fired.clone();
    let _guard = main.on_broken(move |_| {
        f.fetch_add(1, Ordering::SeqCst);
    });
    server.kill().await;
    eventually("on_broken fired", || fired.load(Ordering::SeqCst) == 1).await;
}
