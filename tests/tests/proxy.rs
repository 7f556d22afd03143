//! Behind a real reverse proxy, as deployed: nginx (Debian's package) in front of two server
//! processes. WebSocket sessions and HTTP batches through it, the client's own address reaching
//! the server through `X-Forwarded-For` when the server trusts the proxy (and only then), and a
//! rolling restart (each instance in turn drains on SIGTERM and comes back) with no call lost,
//! counted from what the servers ran.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use capnweb::client::{Backoff, CircuitBreaker};
use capnweb::transport::websocket::WebSocketTransport;
use capnweb::{Client, HttpBatch, RpcSession, SessionOptions};
use capnweb_tests::faulty::FaultyClient;
use capnweb_tests::FaultServer;

const SERVER: &str = env!("CARGO_BIN_EXE_fault_server");

/// A running nginx balancing over `backends`; stopped on drop.
struct Nginx {
    child: tokio::process::Child,
    port: u16,
    _dir: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn nginx(backends: &[u16]) -> Nginx {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("capnweb-nginx-{port}"));
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let servers: String = backends
        .iter()
        .map(|p| format!("server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;\n"))
        .collect();
    let conf = format!(
        r#"
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/logs/error.log warn;
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
            proxy_next_upstream error timeout;
        }}
    }}
}}
"#,
        dir = dir.display()
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    // Debian puts it in /usr/sbin, which not every user's PATH has.
    let program = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("nginx");
    let child = tokio::process::Command::new(program)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
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
                _dir: dir,
            };
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("nginx did not start on {port}");
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
