//! The client's health snapshot (`Client::stats`, `Client::health`) against real servers on
//! loopback, dead ports and links that stop answering; and the proactive replacement of a
//! session whose keepalive fails.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use capnweb::client::{Backoff, CircuitBreaker, ConnectionState, EndpointState, Health};
use capnweb::{rpc_interface, Client, RpcError, Server};

#[rpc_interface]
pub trait Store {
    /// The number of writes so far, after `delay_ms`.
    #[rpc(idempotent)]
    async fn read(&self, delay_ms: u64) -> Result<u64, RpcError>;
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
    async fn hello(&self) -> Result<String, RpcError> {
        Ok(self.name.clone())
    }
}

/// A server on a free port that lives as long as the test's runtime; returns its port.
async fn serve(name: &str) -> u16 {
    let name = name.to_owned();
    let writes = Arc::new(AtomicU64::new(0));
    let factory = move || {
        StoreServer::new(Shop {
            name: name.clone(),
            writes: writes.clone(),
        })
    };
    let (addr, serve) = Server::bind("127.0.0.1:0")
        .shutdown_grace(Duration::ZERO)
        .listen(factory)
        .await
        .unwrap();
    tokio::spawn(serve);
    addr.port()
}

/// Completes the WebSocket handshake of the first connection, then never reads it again (so
/// never answers a ping); later connections are passed through to `then` when it is `Some`,
/// and refused otherwise. Returns its port.
async fn silent_first_link(then: Option<u16>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let held = tokio_tungstenite::accept_async(socket).await.unwrap();
        let Some(then) = then else {
            drop(listener);
            // Held open (silent) until the test ends.
            std::future::pending::<()>().await;
            drop(held);
            return;
        };
        let mut held = Some(held);
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let addr = format!("127.0.0.1:{then}");
                let mut upstream = tokio::net::TcpStream::connect(addr).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut socket, &mut upstream).await;
            });
        }
        held.take();
    });
    port
}

/// A port with nothing listening on it.
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn url(port: u16) -> String {
    format!("ws://127.0.0.1:{port}/")
}

fn fast() -> capnweb::client::ClientBuilder<StoreClient> {
    Client::<StoreClient>::builder()
        .backoff(Backoff::exponential(
            Duration::from_millis(10),
            Duration::from_millis(50),
        ))
        .connect_timeout(Duration::from_secs(2))
}

/// Polls `check` every 5 ms for up to 10 s; returns how long it took.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if check() {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("never within 10 s: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_reports_its_last_error_and_its_open_breaker() {
    let before = SystemTime::now();
    let client = fast()
        .endpoint(url(dead_port()))
        .circuit_breaker(
            CircuitBreaker::new()
                .failure_threshold(2)
                .open_for(Duration::from_secs(60)),
        )
        .build();
    eventually("the breaker opens", || client.stats().breaker_trips == 1).await;
    let stats = client.stats();
    let e = &stats.endpoints[0];
    assert_eq!(e.state, EndpointState::Open, "{stats:#?}");
    assert!(e.breaker_open);
    let until = e.breaker_open_until.expect("open until a time");
    let left = until.saturating_duration_since(Instant::now());
    assert!(
        left > Duration::from_secs(50) && left <= Duration::from_secs(60),
        "open for another {left:?}, expected about 60 s"
    );
    let error = e.last_error.as_ref().expect("the refusal is kept");
    assert!(!error.message.is_empty());
    assert!(
        error.at >= before && error.at <= SystemTime::now(),
        "{error:?}"
    );
    assert!(e.failures >= 2, "{stats:#?}");
    assert_eq!((e.sessions, e.connects, e.latency), (0, 0, None));
    assert_eq!(stats.sessions, 0);
    assert_eq!(stats.state, ConnectionState::Connecting);
    assert_eq!(stats.health(), Health::Down);
    assert_eq!(client.health(), Health::Down);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_and_sessions_are_reported_after_successful_calls() {
    let port = serve("one").await;
    let client = fast()
        .endpoint(url(port))
        .pool_size(2)
        .connect()
        .await
        .unwrap();
    eventually("both pool slots connect", || client.stats().sessions == 2).await;
    assert_eq!(client.stats().endpoints[0].latency, None, "no work yet");
    for _ in 0..10 {
        client.run(|s| s.read(30)).await.unwrap();
    }
    let stats = client.stats();
    let e = &stats.endpoints[0];
    let latency = e.latency.expect("a latency after successful work");
    // Every unit took at least the server's 30 ms, so their weighted mean did too.
    assert!(
        latency >= Duration::from_millis(30) && latency < Duration::from_secs(3),
        "latency {latency:?}, expected 30 ms and a little"
    );
    assert_eq!(
        (e.state, e.sessions, e.connects),
        (EndpointState::Connected, 2, 2),
        "{stats:#?}"
    );
    assert_eq!(e.last_error, None);
    assert_eq!(
        (stats.state, stats.sessions, stats.pool_size),
        (ConnectionState::Connected, 2, 2)
    );
    assert_eq!(stats.health(), Health::Healthy);

    // A failed unit (an application error) moves neither the latency nor the sessions.
    let err = client
        .run(|_| async { Err::<(), _>(RpcError::error("no")) })
        .await;
    assert!(err.is_err());
    assert_eq!(client.stats().endpoints[0].latency, Some(latency));

    client.close();
    let stats = client.stats();
    assert_eq!((stats.state, stats.sessions), (ConnectionState::Closed, 0));
    assert_eq!(
        stats.endpoints[0].last_error, None,
        "closing is not an error"
    );
    assert_eq!(stats.health(), Health::Down);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_on_its_fallback_is_degraded_and_says_why() {
    let good = serve("b").await;
    let client = fast()
        .endpoints([url(dead_port()), url(good)])
        .circuit_breaker(
            CircuitBreaker::new()
                .failure_threshold(1)
                .open_for(Duration::from_secs(60)),
        )
        .connect()
        .await
        .unwrap();
    assert_eq!(client.run(|s| s.hello()).await.unwrap(), "b");
    let stats = client.stats();
    let [dead, live] = &stats.endpoints[..] else {
        panic!("two endpoints: {stats:#?}")
    };
    assert_eq!((dead.state, dead.sessions), (EndpointState::Open, 0));
    assert!(dead.last_error.is_some() && dead.breaker_open_until.is_some());
    assert_eq!((live.state, live.sessions), (EndpointState::Connected, 1));
    assert!(live.latency.is_some() && dead.latency.is_none());
    assert_eq!(stats.health(), Health::Degraded);
}

/// Connects to `endpoints` (the first a link that goes silent) with a keepalive of `every`,
/// and returns how long after the first session opened a replacement was open on
/// `replacement`, without any work asking for one. (A session that dies within a second of
/// opening counts against its endpoint's breaker: `breaker` says whether that sends the
/// replacement elsewhere.)
async fn time_to_replace(
    endpoints: Vec<String>,
    every: Duration,
    breaker: CircuitBreaker,
    replacement: usize,
) -> Duration {
    let client = fast()
        .endpoints(endpoints)
        .keepalive(every)
        .circuit_breaker(breaker)
        .connect()
        .await
        .unwrap();
    let opened = Instant::now();
    let first = client.sessions()[0].clone();
    assert_eq!(
        client.stats().endpoints[0].sessions,
        1,
        "first on the silent link"
    );
    eventually("a replacement session", || {
        first.is_closed() && client.stats().endpoints[replacement].sessions == 1
    })
    .await;
    let took = opened.elapsed();
    let stats = client.stats();
    assert_eq!(stats.calls, 0, "replaced before any work asked");
    let error = stats.endpoints[0]
        .last_error
        .as_ref()
        .expect("the dead link's error");
    assert!(error.message.contains("keep-alive"), "{error:?}");
    assert_eq!(client.run(|s| s.hello()).await.unwrap(), "healthy");
    took
}

/// The bound on replacing a dead link: it is noticed within two keepalive periods (a ping, then
/// a silent period), and replaced after one backoff and one connection. Generous, for a loaded
/// machine: three periods, the connect timeout, and two seconds more.
fn bound(every: Duration) -> Duration {
    3 * every + Duration::from_secs(2) + Duration::from_secs(2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_whose_keepalive_fails_is_replaced_on_another_endpoint_before_work_needs_it() {
    let every = Duration::from_millis(200);
    let healthy = serve("healthy").await;
    let silent = silent_first_link(None).await;
    let first_failure_fails_over = CircuitBreaker::new().failure_threshold(1);
    let endpoints = vec![url(silent), url(healthy)];
    let took = time_to_replace(endpoints, every, first_failure_fails_over, 1).await;
    println!("dead link to a ready session on the second endpoint: {took:?} (keepalive {every:?})");
    assert!(
        took < bound(every),
        "took {took:?}, bound {:?}",
        bound(every)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_whose_keepalive_fails_is_replaced_on_the_same_endpoint_once_it_answers() {
    let every = Duration::from_millis(200);
    let healthy = serve("healthy").await;
    let flaky = silent_first_link(Some(healthy)).await;
    let took = time_to_replace(vec![url(flaky)], every, CircuitBreaker::new(), 0).await;
    println!("dead link to a ready session on the same endpoint: {took:?} (keepalive {every:?})");
    assert!(
        took < bound(every),
        "took {took:?}, bound {:?}",
        bound(every)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_that_went_silent_after_a_long_life_counts_against_its_endpoint() {
    // The session lives past a second before its keepalive fails: still a failing endpoint,
    // so the replacement goes to the second one.
    let every = Duration::from_millis(600);
    let healthy = serve("healthy").await;
    let silent = silent_first_link(None).await;
    let first_failure_fails_over = CircuitBreaker::new().failure_threshold(1);
    let endpoints = vec![url(silent), url(healthy)];
    let took = time_to_replace(endpoints, every, first_failure_fails_over, 1).await;
    println!("silent after {took:?}: replaced on the second endpoint");
    assert!(
        took > Duration::from_secs(1),
        "the link died early: {took:?}"
    );
}
