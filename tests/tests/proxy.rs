//! Behind a real reverse proxy, as deployed: nginx (Debian's package) in front of two server
//! processes. WebSocket sessions and HTTP batches through it, the client's own address reaching
//! the server through `X-Forwarded-For` when the server trusts the proxy (and only then), and
//! rolling restarts (each instance in turn drains on SIGTERM and comes back) with no call lost,
//! counted from what the servers ran:
//!
//! - moved by nginx's passive checks (`max_fails`): a backend that stops accepting is left;
//! - moved by readiness, as Kubernetes does it: the test plays the endpoints controller,
//!   probing each backend's `/readyz` every 50 ms and, when the ready set changes, listing only
//!   those in the upstream and reloading nginx (a master process and one worker, `nginx -s
//!   reload`; the reload is in effect once the old worker says "gracefully shutting down", as it
//!   closes its listening socket and keeps its open WebSockets). No passive checks and no second
//!   try there (`max_fails=0`, `proxy_next_upstream off`): only the list moves traffic. A
//!   `bump` caught in a session's end may fail, maybe delivered, and is counted: it never runs
//!   twice.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use capnweb::client::{Backoff, CircuitBreaker, RetryPolicy};
use capnweb::transport::websocket::WebSocketTransport;
use capnweb::{Client, HttpBatch, RpcSession, SessionOptions};
use capnweb_tests::faulty::FaultyClient;
use capnweb_tests::FaultServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

const SERVER: &str = env!("CARGO_BIN_EXE_fault_server");

/// How long anything that should happen may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// A running nginx balancing over `backends`; stopped on drop.
struct Nginx {
    child: tokio::process::Child,
    port: u16,
    dir: PathBuf,
    /// Run with a master process and one worker, reloadable ([`Nginx::reload`]); else a single
    /// process.
    master: bool,
    /// Reloads done.
    reloads: usize,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if self.master {
            // SIGTERM: the master stops its workers (old ones still holding connections too),
            // which a SIGKILL of the master alone would leave behind.
            if let Some(pid) = self.child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
        } else {
            let _ = self.child.start_kill();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How nginx picks and leaves backends.
#[derive(Clone, Copy, PartialEq)]
enum Balancing {
    /// Passive checks: a backend that fails once is left for 2 s, and a request that cannot
    /// reach one goes to the next. A single process.
    Passive,
    /// Only the upstream list: no passive checks (`max_fails=0`), no second try
    /// (`proxy_next_upstream off`), so traffic moves only when the list changes. A master
    /// process and a worker, reloaded with the list the test wants.
    Listed,
}

fn nginx_conf(dir: &std::path::Path, port: u16, backends: &[u16], balancing: Balancing) -> String {
    let (master, per_server, next_upstream, log_level) = match balancing {
        Balancing::Passive => (
            "off",
            "max_fails=1 fail_timeout=2s",
            "error timeout",
            "warn",
        ),
        // `notice`, for the worker's "gracefully shutting down" that tells a reload is done.
        Balancing::Listed => ("on", "max_fails=0", "off", "notice"),
    };
    let servers: String = backends
        .iter()
        .map(|p| format!("server 127.0.0.1:{p} {per_server};\n"))
        .collect();
    format!(
        r#"
daemon off;
master_process {master};
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/logs/error.log {log_level};
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream backends {{
        {servers}
    }}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://backends;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 60s;
            proxy_next_upstream {next_upstream};
        }}
    }}
}}
"#,
        dir = dir.display()
    )
}

/// Debian puts it in /usr/sbin, which not every user's PATH has.
fn nginx_program() -> &'static str {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("nginx")
}

async fn nginx(backends: &[u16]) -> Nginx {
    nginx_with(backends, Balancing::Passive).await
}

async fn nginx_with(backends: &[u16], balancing: Balancing) -> Nginx {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("capnweb-nginx-{port}"));
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let _ = std::fs::remove_file(dir.join("logs/error.log"));
    let conf = nginx_conf(&dir, port, backends, balancing);
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let master = balancing == Balancing::Listed;
    let child = tokio::process::Command::new(nginx_program())
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(!master)
        .spawn()
        .expect("nginx must be installed: scripts/setup installs it (Debian's nginx package)");
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Nginx {
                child,
                port,
                dir,
                master,
                reloads: 0,
            };
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("nginx did not start on {port}");
}

impl Nginx {
    /// Lists only `backends` in the upstream, with `nginx -s reload`, and returns once the
    /// reload is in effect: a new worker takes new connections, and the old one has stopped
    /// accepting (it says "gracefully shutting down" as it closes its listening socket; it
    /// keeps the connections it has, WebSockets included, until they end).
    async fn reload(&mut self, backends: &[u16]) {
        assert!(self.master, "only an nginx with a master process reloads");
        let conf = self.dir.join("nginx.conf");
        let text = nginx_conf(&self.dir, self.port, backends, Balancing::Listed);
        std::fs::write(&conf, text).unwrap();
        let signal = tokio::process::Command::new(nginx_program())
            .arg("-p")
            .arg(&self.dir)
            .arg("-c")
            .arg(&conf)
            .args(["-s", "reload"])
            .output()
            .await
            .unwrap();
        assert!(
            signal.status.success(),
            "nginx -s reload: {}: {}",
            signal.status,
            String::from_utf8_lossy(&signal.stderr)
        );
        self.reloads += 1;
        let log = self.dir.join("logs/error.log");
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.matches("gracefully shutting down").count() >= self.reloads {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nginx reload {} not done within {PATIENCE:?}: {text}",
                self.reloads
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A WebSocket session to `port`, opened from the loopback address `from`.
async fn session_from(from: &str, port: u16) -> FaultyClient {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let tcp = socket
        .connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .unwrap();
    let url = format!("ws://127.0.0.1:{port}/");
    let (ws, _) = tokio_tungstenite::client_async(url, tcp).await.unwrap();
    let session = RpcSession::spawn(WebSocketTransport::new(ws), None, SessionOptions::default());
    FaultyClient::from(session.into_main())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_nginx_sessions_and_batches_work_and_the_client_address_is_forwarded() {
    let a = FaultServer::start(SERVER, 0, &["--trust-proxy"]).await;
    let b = FaultServer::start(SERVER, 0, &["--trust-proxy"]).await;
    let proxy = nginx(&[a.port, b.port]).await;

    // Over WebSocket, from 127.0.0.2: the server sees that address, not nginx's.
    let client = session_from("127.0.0.2", proxy.port).await;
    assert_eq!(client.ping().await.unwrap(), 1.0);
    assert_eq!(client.peer().await.unwrap(), "127.0.0.2:0");

    // An HTTP batch through it, pipelined.
    let batch = HttpBatch::<FaultyClient>::new(&format!("http://127.0.0.1:{}/", proxy.port));
    let main = batch.main();
    let (pinged, peer) = (main.ping(), main.peer());
    assert_eq!(pinged.await.unwrap(), 1.0);
    // From 127.0.0.1, nginx's own address, which the server trusts: so it is not the client.
    assert!(peer.await.unwrap().starts_with("127.0.0.1:"));
    // A batch from 127.0.0.4 is forwarded for that address.
    let http = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 4]))
        .build()
        .unwrap();
    let answer = http
        .post(format!("http://127.0.0.1:{}/", proxy.port))
        .body("[\"push\",[\"pipeline\",0,[\"peer\"],[]]]\n[\"pull\",1]")
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.text().await.unwrap(),
        "[\"resolve\",1,\"127.0.0.4:0\"]"
    );

    // Straight to a server, a forged header is not believed: it is not from the proxy.
    let direct = session_from("127.0.0.3", a.port).await;
    let seen = direct.peer().await.unwrap();
    assert!(
        seen.starts_with("127.0.0.3:") && seen != "127.0.0.3:0",
        "{seen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_behind_nginx_loses_no_call() {
    let args = ["--grace-ms", "300"];
    let mut a = FaultServer::start(SERVER, 0, &args).await;
    let mut b = FaultServer::start(SERVER, 0, &args).await;
    let (port_a, port_b) = (a.port, b.port);
    let proxy = nginx(&[port_a, port_b]).await;
    let client = Client::<FaultyClient>::builder()
        .endpoint(format!("ws://127.0.0.1:{}/", proxy.port))
        .pool_size(2)
        .backoff(Backoff::exponential(
            Duration::from_millis(20),
            Duration::from_millis(200),
        ))
        .circuit_breaker(CircuitBreaker::new().failure_threshold(1000))
        .call_timeout(Duration::from_secs(20))
        .connect()
        .await
        .unwrap();

    // Calls keep coming, eight at a time, while each instance drains and comes back in turn.
    let calls = tokio::spawn({
        let client = client.clone();
        async move {
            let mut failed = Vec::new();
            for round in 0..150u32 {
                let batch: Vec<_> = (0..8u32)
                    .map(|i| {
                        let client = client.clone();
                        let tag = round * 8 + i;
                        tokio::spawn(async move {
                            (tag, client.run(move |c| c.record(f64::from(tag))).await)
                        })
                    })
                    .collect();
                for call in batch {
                    let (tag, result) = call.await.unwrap();
                    if result.is_err() {
                        failed.push((tag, result));
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            failed
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.terminate().await;
    let a2 = FaultServer::start(SERVER, port_a, &args).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.terminate().await;
    let b2 = FaultServer::start(SERVER, port_b, &args).await;
    let failed = tokio::time::timeout(Duration::from_secs(60), calls)
        .await
        .expect("the calls finish")
        .unwrap();
    assert!(failed.is_empty(), "calls lost in the restart: {failed:?}");

    // Every call ran, on one instance or another (an idempotent call may have run twice).
    let mut ran: Vec<u32> = [a.ran(), b.ran(), a2.ran(), b2.ran()].concat();
    ran.sort_unstable();
    ran.dedup();
    assert_eq!(ran, (0..1200).collect::<Vec<_>>());
    assert!(client.stats().reconnects >= 1, "{:?}", client.stats());
}

/// Whether the server on `port` answers `200` on `/readyz` now (a refused connection, a `503`
/// or no answer within 2 s: not ready), as a kubelet's readiness probe asks it.
async fn is_ready(port: u16) -> bool {
    let probe = async {
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        tcp.write_all(b"GET /readyz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
            .await?;
        let mut raw = Vec::new();
        tcp.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw.starts_with(b"HTTP/1.1 200 "))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), probe).await,
        Ok(Ok(true))
    )
}

/// The endpoints controller, as Kubernetes runs one: probes every backend's `/readyz` every
/// 50 ms and, whenever the set of ready ones changes, lists only those in nginx and reloads it
/// (a set with none is not applied: nginx needs one). Publishes the list in effect, and returns
/// nginx and each change with its time once `stop` is set.
struct Controller {
    listed: watch::Receiver<Vec<u16>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(Nginx, Changes)>,
}

/// The lists put in effect, each with when.
type Changes = Vec<(Instant, Vec<u16>)>;

fn control(mut nginx: Nginx, backends: Vec<u16>) -> Controller {
    let (publish, listed) = watch::channel(backends.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let task = tokio::spawn(async move {
        let mut changes = Vec::new();
        let mut current = backends.clone();
        while !stopped.load(Ordering::Acquire) {
            let probes = backends
                .iter()
                .map(|&port| async move { is_ready(port).await.then_some(port) });
            let ready: Vec<u16> = futures_util::future::join_all(probes)
                .await
                .into_iter()
                .flatten()
                .collect();
            if !ready.is_empty() && ready != current {
                nginx.reload(&ready).await;
                current = ready;
                changes.push((Instant::now(), current.clone()));
                publish.send_replace(current.clone());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (nginx, changes)
    });
    Controller { listed, stop, task }
}

/// Waits (up to [`PATIENCE`]) until the list nginx has in effect satisfies `check`.
async fn until_listed(
    listed: &watch::Receiver<Vec<u16>>,
    what: &str,
    check: impl Fn(&[u16]) -> bool,
) {
    let mut listed = listed.clone();
    tokio::time::timeout(PATIENCE, listed.wait_for(|l| check(l)))
        .await
        .unwrap_or_else(|_| panic!("waited {PATIENCE:?} for {what}"))
        .unwrap();
}

/// What one backend's restart looked like.
#[derive(Debug)]
struct Restart {
    /// From SIGTERM until nginx no longer listed it.
    unlisted_after: Duration,
    /// From then until it was listed again (its replacement ready).
    out_of_rotation: Duration,
    /// Tags recorded on fresh sessions through nginx while it was unlisted.
    probes: Vec<u32>,
    /// Whether it still accepted connections after those sessions were made: they would
    /// have reached it had nginx still listed it.
    accepting_during_probes: bool,
}

/// Restarts `server` as a rolling update does: SIGTERM, and meanwhile, once the controller has
/// unlisted it, opens `PROBES` fresh sessions through nginx recording `probe_base..`; then waits
/// for it to exit, starts a new one on its port, and waits until that one is listed again.
async fn restart(
    server: &mut FaultServer,
    args: &[&str],
    listed: &watch::Receiver<Vec<u16>>,
    proxy: u16,
    probe_base: u32,
) -> (FaultServer, Restart) {
    const PROBES: u32 = 8;
    let port = server.port;
    let sigterm = Instant::now();
    let probing = async {
        until_listed(listed, "the draining backend to be unlisted", |l| {
            !l.contains(&port)
        })
        .await;
        let unlisted = Instant::now();
        let probes: Vec<u32> = (probe_base..probe_base + PROBES).collect();
        for &tag in &probes {
            let session = session_from("127.0.0.1", proxy).await;
            assert_eq!(
                session.record(f64::from(tag)).await.unwrap(),
                f64::from(tag)
            );
        }
        let accepting = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok();
        (unlisted, probes, accepting)
    };
    let ((), (unlisted, probes, accepting_during_probes)) =
        tokio::join!(server.terminate(), probing);
    let replacement = FaultServer::start(SERVER, port, args).await;
    until_listed(listed, "the replacement to be listed", |l| {
        l.contains(&port)
    })
    .await;
    let restart = Restart {
        unlisted_after: unlisted - sigterm,
        out_of_rotation: unlisted.elapsed(),
        probes,
        accepting_during_probes,
    };
    (replacement, restart)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Record,
    Bump,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_moved_by_readiness_behind_nginx_runs_no_call_twice() {
    let args = [
        "--health",
        "--unready-delay-ms",
        "1000",
        "--delay-ms",
        "5",
        "--grace-ms",
        "5000",
    ];
    let mut a = FaultServer::start(SERVER, 0, &args).await;
    let mut b = FaultServer::start(SERVER, 0, &args).await;
    let (port_a, port_b) = (a.port, b.port);
    let proxy = nginx_with(&[port_a, port_b], Balancing::Listed).await;
    let proxy_port = proxy.port;
    let controller = control(proxy, vec![port_a, port_b]);
    let client = Client::<FaultyClient>::builder()
        .endpoint(format!("ws://127.0.0.1:{proxy_port}/"))
        .pool_size(4)
        .backoff(Backoff::exponential(
            Duration::from_millis(20),
            Duration::from_millis(200),
        ))
        .retry(RetryPolicy::new().attempts(5))
        .circuit_breaker(CircuitBreaker::new().failure_threshold(1000))
        .call_timeout(Duration::from_secs(20))
        .connect()
        .await
        .unwrap();

    // Six tasks call without pause, alternating an idempotent `record` and a `bump` that must
    // never run twice, each with a tag of its own.
    let next = Arc::new(AtomicU32::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let callers: Vec<_> = (0..6)
        .map(|_| {
            let (client, next, answered, stop) =
                (client.clone(), next.clone(), answered.clone(), stop.clone());
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                while !stop.load(Ordering::Acquire) {
                    let tag = next.fetch_add(1, Ordering::AcqRel);
                    let kind = if tag % 2 == 0 {
                        Kind::Record
                    } else {
                        Kind::Bump
                    };
                    let result = client
                        .run(move |c| async move {
                            match kind {
                                Kind::Record => c.record(f64::from(tag)).await,
                                Kind::Bump => c.bump(f64::from(tag)).await,
                            }
                        })
                        .await;
                    if result.is_ok() {
                        answered.fetch_add(1, Ordering::AcqRel);
                    }
                    outcomes.push((tag, kind, result));
                }
                outcomes
            })
        })
        .collect();
    let answered_beyond = |n: usize| {
        let answered = answered.clone();
        async move {
            let deadline = Instant::now() + PATIENCE;
            while answered.load(Ordering::Acquire) < n {
                assert!(
                    Instant::now() < deadline,
                    "waited {PATIENCE:?} for {n} answers"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    answered_beyond(200).await;

    // A, then B: each drains on SIGTERM, is unlisted when its readiness turns, and comes back.
    const PROBES_A: u32 = 1_000_000;
    const PROBES_B: u32 = 2_000_000;
    let (a2, restart_a) = restart(&mut a, &args, &controller.listed, proxy_port, PROBES_A).await;
    answered_beyond(answered.load(Ordering::Acquire) + 100).await;
    let (b2, restart_b) = restart(&mut b, &args, &controller.listed, proxy_port, PROBES_B).await;
    answered_beyond(answered.load(Ordering::Acquire) + 100).await;
    stop.store(true, Ordering::Release);
    let mut outcomes = Vec::new();
    for caller in callers {
        let done = tokio::time::timeout(PATIENCE, caller).await;
        outcomes.extend(done.expect("the callers finish").unwrap());
    }
    controller.stop.store(true, Ordering::Release);
    let (_nginx, changes) = controller.task.await.unwrap();

    // Every answered call ran on some process: wait for their output to be read.
    let ran_counts = || {
        let mut counts = std::collections::HashMap::<u32, usize>::new();
        for tag in [a.ran(), b.ran(), a2.ran(), b2.ran()].concat() {
            *counts.entry(tag).or_default() += 1;
        }
        counts
    };
    let deadline = Instant::now() + PATIENCE;
    let counts = loop {
        let counts = ran_counts();
        let missing = (outcomes.iter())
            .filter(|(tag, _, r)| r.is_ok() && !counts.contains_key(tag))
            .count();
        if missing == 0 {
            break counts;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} answered calls never ran"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    let mut failed = Vec::new();
    for (tag, kind, result) in &outcomes {
        let runs = counts.get(tag).copied().unwrap_or(0);
        match result {
            Ok(v) => {
                assert_eq!(*v, f64::from(*tag));
                assert_eq!(runs, 1, "{kind:?} {tag} answered but ran {runs} times");
            }
            Err(capnweb::RpcError::Disconnected {
                maybe_delivered: true,
                ..
            }) => {
                assert!(runs <= 1, "{kind:?} {tag} failed and ran {runs} times");
                failed.push((*tag, *kind, runs));
            }
            Err(e) => panic!("{kind:?} {tag} failed other than maybe delivered: {e:?}"),
        }
    }
    // Nothing ran that was not asked for.
    let made = next.load(Ordering::Acquire);
    for tag in counts.keys() {
        assert!(
            *tag < made
                || (PROBES_A..PROBES_A + 8).contains(tag)
                || (PROBES_B..PROBES_B + 8).contains(tag),
            "{tag} ran but was never called"
        );
    }

    // Readiness moved the traffic: while a backend was unlisted, fresh sessions through nginx
    // all reached the other one.
    let (on_b, on_a2) = (b.ran(), a2.ran());
    for tag in &restart_a.probes {
        assert!(
            on_b.contains(tag),
            "A unlisted, yet probe {tag} did not run on B"
        );
    }
    for tag in &restart_b.probes {
        assert!(
            on_a2.contains(tag),
            "B unlisted, yet probe {tag} did not run on A"
        );
    }

    let stats = client.stats();
    eprintln!(
        "rolling restart by readiness: {} calls made, {} answered, {} failed (maybe delivered: \
         {:?}); A out of rotation {:?} (unlisted {:?} after SIGTERM, accepting during probes: \
         {}), B out {:?} (unlisted {:?} after SIGTERM, accepting during probes: {}); {} list \
         changes; client: {} retries, {} reconnects",
        outcomes.len(),
        outcomes.iter().filter(|o| o.2.is_ok()).count(),
        failed.len(),
        failed,
        restart_a.out_of_rotation,
        restart_a.unlisted_after,
        restart_a.accepting_during_probes,
        restart_b.out_of_rotation,
        restart_b.unlisted_after,
        restart_b.accepting_during_probes,
        changes.len(),
        stats.retries,
        stats.reconnects,
    );
    // A's removal, its return, B's removal, its return.
    assert_eq!(changes.len(), 4, "{changes:?}");
    assert!(stats.reconnects >= 1, "{stats:?}");
}
