//! Liveness and readiness probes, and the drain a rolling update needs: readiness `503` as soon
//! as shutdown begins, accepting on for the unready delay, then refusing new connections while
//! the sessions open finish their calls. In process, and on the real `interop_server` binary
//! stopped with SIGTERM, counting every call that completed.

use std::future::Future;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use capnweb::{connect, Callback, RpcError, Server, SessionOptions, Stub, Value};
use capnweb_examples::interop::{test_target, TestTargetClient};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};

/// How long anything that should happen may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// An HTTP answer: its status and body.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    body: String,
}

/// `method path` on its own connection, with extra headers; `Err` if the connection is
/// refused or closed unanswered.
async fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Answer> {
    let exchange = async {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await?;
        let mut head =
            format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        tcp.write_all(head.as_bytes()).await?;
        let mut raw = Vec::new();
        tcp.read_to_end(&mut raw).await?;
        let raw = String::from_utf8_lossy(&raw).into_owned();
        // A connection the server closed unanswered (it stopped accepting): an error too.
        let status = raw.split(' ').nth(1).and_then(|s| s.parse().ok());
        let status = status.ok_or_else(|| {
            let unanswered = format!("{method} {path}: not an HTTP answer: {raw:?}");
            std::io::Error::new(std::io::ErrorKind::ConnectionAborted, unanswered)
        })?;
        let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
        Ok(Answer { status, body })
    };
    tokio::time::timeout(PATIENCE, exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} {path} not answered within {PATIENCE:?}"))
}

async fn get(port: u16, path: &str) -> Answer {
    let answer = request(port, "GET", path, &[]).await;
    answer.unwrap_or_else(|e| panic!("GET {path} on a server that should answer it: {e}"))
}

fn answer(status: u16, body: &str) -> Answer {
    Answer {
        status,
        body: body.to_owned(),
    }
}

/// Polls `check` until it holds, failing after [`PATIENCE`] with `what`.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !check().await {
        assert!(Instant::now() < deadline, "waited {PATIENCE:?} for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn refused(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).await.is_err()
}

/// A gate the test opens: calls wait on it until then.
fn gate() -> (watch::Sender<bool>, watch::Receiver<bool>) {
    watch::channel(false)
}

async fn through(mut gate: watch::Receiver<bool>) {
    let _ = gate.wait_for(|open| *open).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_paths_are_off_by_default_and_answer_as_unknown_paths_do() {
    let (addr, serve) = Server::bind("127.0.0.1:0")
        .shutdown_on(std::future::pending())
        .listen(test_target)
        .await
        .unwrap();
    let _served = tokio::spawn(serve);
    let unknown = get(addr.port(), "/no-such-path").await;
    assert_eq!(unknown.status, 404, "{unknown:?}");
    assert_eq!(get(addr.port(), "/livez").await, unknown);
    assert_eq!(get(addr.port(), "/readyz").await, unknown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_get_and_head_without_a_session_a_slot_or_the_auth_and_origin_checks() {
    let server = Server::bind("127.0.0.1:0")
        .health_paths("/livez", "/readyz")
        .max_connections(1)
        .allowed_origins(["https://app.example"])
        .auth(|info: capnweb::server::ConnectInfo| async move {
            match info.header("authorization") {
                Some("let-me-in") => Ok(()),
                _ => Err(capnweb::server::AuthRejection::Unauthorized("no".into())),
            }
        })
        .shutdown_on(std::future::pending());
    let metrics = server.metrics();
    let (addr, serve) = server.listen(test_target).await.unwrap();
    let _served = tokio::spawn(serve);
    let port = addr.port();

    // The one connection slot taken by a session that passed the auth hook.
    let (socket, _) = tokio_tungstenite::connect_async({
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("ws://127.0.0.1:{port}/")
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("authorization", "let-me-in".parse().unwrap());
        req
    })
    .await
    .unwrap();
    let session = capnweb::RpcSession::spawn(
        capnweb::transport::websocket::WebSocketTransport::new(socket),
        None,
        SessionOptions::default(),
    );
    let main = TestTargetClient::from(session.main());
    assert_eq!(main.square(3.0).await.unwrap(), 9.0);
    // The RPC path refuses what the probes let through.
    let evil = [("origin", "https://evil.example")];
    assert_eq!(request(port, "POST", "/", &evil).await.unwrap().status, 403);
    assert_eq!(request(port, "POST", "/", &[]).await.unwrap().status, 401);

    for _ in 0..3 {
        assert_eq!(get(port, "/livez").await, answer(200, "live"));
        assert_eq!(get(port, "/readyz").await, answer(200, "ready"));
        let from_evil = request(port, "GET", "/readyz", &evil).await.unwrap();
        assert_eq!(from_evil, answer(200, "ready"));
        assert_eq!(
            request(port, "HEAD", "/readyz", &[]).await.unwrap(),
            answer(200, ""),
            "HEAD: the status, no body"
        );
        assert_eq!(
            request(port, "HEAD", "/livez", &[]).await.unwrap(),
            answer(200, "")
        );
    }
    let post = request(port, "POST", "/readyz", &[("content-length", "0")]).await;
    assert_eq!(post.unwrap().status, 405, "only GET and HEAD");
    // Fifteen probes, none of them a session: the one session is still the only one.
    let counted = metrics.snapshot();
    assert_eq!(
        (counted.sessions_total, counted.sessions_open),
        (1, 1),
        "{counted:?}"
    );
    assert_eq!(main.square(4.0).await.unwrap(), 16.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_marks_the_server_unready_and_ready_again() {
    let server = Server::bind("127.0.0.1:0")
        .health_paths("/livez", "/readyz")
        .shutdown_on(std::future::pending());
    let readiness = server.readiness();
    readiness.set_ready(false); // warming up before it serves
    let (addr, serve) = server.listen(test_target).await.unwrap();
    let _served = tokio::spawn(serve);
    let port = addr.port();
    assert_eq!(get(port, "/readyz").await, answer(503, "not ready"));
    assert_eq!(get(port, "/livez").await, answer(200, "live"));
    // Unready is advice to balancers, not a refusal: sessions are still served.
    let main: TestTargetClient = connect(&format!("ws://127.0.0.1:{port}/")).await.unwrap();
    assert_eq!(main.square(5.0).await.unwrap(), 25.0);
    readiness.set_ready(true);
    assert!(readiness.is_ready());
    assert_eq!(get(port, "/readyz").await, answer(200, "ready"));
    readiness.set_ready(false);
    assert_eq!(get(port, "/readyz").await, answer(503, "not ready"));
}

/// A call of `main` with `arg`.
async fn call(main: Stub, arg: &'static str) -> Result<Value, RpcError> {
    main.call("", vec![Value::from(arg)]).resolve().await
}

/// A main object whose method waits for `gate` when its argument is `"wait"` (counting it in
/// `entered`), and echoes its argument.
fn gated(gate: watch::Receiver<bool>, entered: Arc<AtomicUsize>) -> impl Fn() -> Stub + Clone {
    move || {
        let (gate, entered) = (gate.clone(), entered.clone());
        Stub::from_fn(move |args: Vec<Value>| {
            let (gate, entered) = (gate.clone(), entered.clone());
            async move {
                let arg = args.into_iter().next().unwrap_or_default();
                if arg == Value::from("wait") {
                    entered.fetch_add(1, Ordering::SeqCst);
                    through(gate).await;
                }
                Ok::<_, RpcError>(arg)
            }
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_turns_readiness_503_at_once_and_open_sessions_finish_after_accepting_stops() {
    const DELAY: Duration = Duration::from_secs(3);
    let (open, gate) = gate();
    let entered = Arc::new(AtomicUsize::new(0));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = Server::bind("127.0.0.1:0")
        .health_paths("/livez", "/readyz")
        .unready_delay(DELAY)
        .shutdown_grace(Duration::from_secs(20))
        .shutdown_on(async {
            let _ = stopped.await;
        });
    let readiness = server.readiness();
    let (addr, serve) = server.listen(gated(gate, entered.clone())).await.unwrap();
    let served = tokio::spawn(serve);
    let port = addr.port();
    let url = format!("ws://127.0.0.1:{port}/");

    let session = capnweb::connect_with(&url, None, SessionOptions::default())
        .await
        .unwrap();
    let in_flight = tokio::spawn(call(session.main(), "wait"));
    until("the call to reach the server", || {
        let entered = entered.clone();
        async move { entered.load(Ordering::SeqCst) == 1 }
    })
    .await;
    assert_eq!(get(port, "/readyz").await, answer(200, "ready"));

    let signalled = Instant::now();
    stop.send(()).unwrap();
    until("readiness to answer 503", || async {
        get(port, "/readyz").await == answer(503, "draining")
    })
    .await;
    let unready_after = signalled.elapsed();
    assert_eq!(get(port, "/livez").await, answer(200, "live"));
    readiness.set_ready(true);
    assert_eq!(
        get(port, "/readyz").await,
        answer(503, "draining"),
        "a drain, once begun, is not undone by the application"
    );
    // Within the unready delay: still accepting, a new session is served.
    let late = capnweb::connect_with(&url, None, SessionOptions::default())
        .await
        .expect("a session opened during the unready delay");
    assert_eq!(
        call(late.main(), "late").await.unwrap(),
        Value::from("late")
    );
    assert!(
        signalled.elapsed() < DELAY,
        "the machine was too slow to check the delay ({:?})",
        signalled.elapsed()
    );

    until("new connections to be refused", || refused(port)).await;
    let refused_after = signalled.elapsed();
    assert!(
        refused_after >= DELAY,
        "refused {refused_after:?} after the signal, before the {DELAY:?} unready delay"
    );
    // Accepting has stopped. The session open finishes its calls in flight, and answers a new
    // one without running it, saying so (a client may run it elsewhere).
    assert!(!in_flight.is_finished(), "the gated call is still waiting");
    let during_grace = call(session.main(), "grace").await.unwrap_err();
    assert!(
        during_grace.to_string().contains("was not run"),
        "{during_grace}"
    );
    open.send(true).unwrap();
    assert_eq!(
        in_flight.await.unwrap().unwrap(),
        Value::from("wait"),
        "the call in flight at the signal completed"
    );
    let reason = tokio::time::timeout(PATIENCE, session.closed())
        .await
        .expect("the server ends the session once its calls are answered");
    assert!(
        reason.to_string().contains("server is shutting down"),
        "{reason}"
    );
    tokio::time::timeout(PATIENCE, served)
        .await
        .expect("serve returns after the drain")
        .unwrap()
        .unwrap();
    eprintln!("in process: readiness 503 after {unready_after:?}, refused after {refused_after:?}");
}

/// The `interop_server` binary, started with `args`, and its port.
async fn interop_server(args: &[&str]) -> (tokio::process::Child, u16) {
    let exe = tokio::task::spawn_blocking(capnweb_tests::build_interop_server)
        .await
        .unwrap();
    let mut child = tokio::process::Command::new(&exe)
        .args(["--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::time::timeout(PATIENCE, BufReader::new(stdout).read_line(&mut line))
        .await
        .expect("interop_server prints LISTENING")
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("LISTENING ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("expected `LISTENING <port>`, got {line:?}"));
    (child, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_interop_server_and_it_exits_0_with_no_call_lost() {
    const DELAY: Duration = Duration::from_secs(3);
    const CALLS: usize = 8;
    let delay_ms = DELAY.as_millis().to_string();
    let (mut child, port) = interop_server(&["--health", "--unready-delay-ms", &delay_ms]).await;
    let url = format!("ws://127.0.0.1:{port}/");
    assert_eq!(get(port, "/livez").await, answer(200, "live"));
    assert_eq!(get(port, "/readyz").await, answer(200, "ready"));

    // Calls in flight: the server waits on our callback, which waits on the gate.
    let main: TestTargetClient = connect(&url).await.unwrap();
    let (open, gate) = gate();
    let entered = Arc::new(AtomicUsize::new(0));
    let calls: Vec<_> = (0..CALLS)
        .map(|i| {
            let (gate, entered) = (gate.clone(), entered.clone());
            let callback = Callback::new(move |x: Value| {
                let (gate, entered) = (gate.clone(), entered.clone());
                async move {
                    entered.fetch_add(1, Ordering::SeqCst);
                    through(gate).await;
                    Ok(Value::from(x.as_f64().unwrap_or(f64::NAN) * 10.0))
                }
            });
            let call = main.call_function(callback, Value::from(i as f64));
            tokio::spawn(call)
        })
        .collect();
    until("every call to be in flight", || {
        let entered = entered.clone();
        async move { entered.load(Ordering::SeqCst) == CALLS }
    })
    .await;

    let pid = child.id().unwrap().to_string();
    let signalled = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success(), "kill -TERM {pid}: {kill}");
    until("readiness to answer 503", || async {
        get(port, "/readyz").await == answer(503, "draining")
    })
    .await;
    let unready_after = signalled.elapsed();
    assert_eq!(get(port, "/livez").await, answer(200, "live"));
    // Within the unready delay: a new session is still served.
    let late: TestTargetClient = connect(&url).await.expect("accepting during the delay");
    assert_eq!(late.square(3.0).await.unwrap(), 9.0);
    assert!(
        signalled.elapsed() < DELAY,
        "the machine was too slow to check the delay ({:?})",
        signalled.elapsed()
    );

    until("new connections to be refused", || refused(port)).await;
    let refused_after = signalled.elapsed();
    assert!(
        refused_after >= DELAY,
        "refused {refused_after:?} after SIGTERM, before the {DELAY:?} unready delay"
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "the process waits for its calls in flight"
    );
    assert!(calls.iter().all(|c| !c.is_finished()));
    // During the grace, a new call on the open session is answered without running, saying so.
    let refused = main.square(4.0).await.unwrap_err();
    assert!(refused.to_string().contains("was not run"), "{refused}");

    open.send(true).unwrap();
    let mut completed = 0;
    for (i, call) in calls.into_iter().enumerate() {
        let settled = call
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("call {i} lost: {e}"));
        assert_eq!(settled.result, Value::from(i as f64 * 10.0));
        completed += 1;
    }
    assert_eq!(
        completed, CALLS,
        "every call in flight at SIGTERM completed"
    );
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .expect("the process exits after the drain")
        .unwrap();
    let exited_after = signalled.elapsed();
    assert_eq!(status.code(), Some(0), "{status}");
    // The default grace is 10 s: the drain ended with its calls, well before.
    assert!(
        exited_after < DELAY + Duration::from_secs(10),
        "exited {exited_after:?} after SIGTERM"
    );
    eprintln!(
        "interop_server: SIGTERM to readiness 503 {unready_after:?}, to refusing {refused_after:?}, \
         to exit 0 {exited_after:?}; {completed} of {CALLS} calls in flight completed"
    );
}
