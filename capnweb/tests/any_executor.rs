//! The session core on an executor other than tokio's: a client and a server session, their
//! calls, pipelining and `map`, all driven by `futures-executor`'s single-threaded pool, with
//! no tokio runtime anywhere. (Timeouts and keep-alives need a timer, which they take from
//! tokio.)

use capnweb::transport::in_process;
use capnweb::{RpcError, RpcSession, SessionOptions, Stub, Value};
use futures_executor::LocalPool;
use futures_util::task::LocalSpawnExt;

fn square() -> Stub {
    Stub::from_fn(|args: Vec<Value>| async move {
        let x = args.first().and_then(Value::as_f64).unwrap_or(0.0);
        Ok::<_, RpcError>(Value::from(x * x))
    })
}

#[test]
fn sessions_run_on_any_executor() {
    let mut pool = LocalPool::new();
    let spawner = pool.spawner();
    let (a, b) = in_process::pair();
    let (_server, serve) = RpcSession::new(a, Some(square()), SessionOptions::default());
    let (client, run) = RpcSession::new(b, None, SessionOptions::default());
    spawner.spawn_local(serve).unwrap();
    spawner.spawn_local(run).unwrap();
    let main = client.main();
    let results = pool.run_until(async move {
        // A call, a call on a promise (pipelined), and a callback the server calls back.
        let nine = main.call("", vec![Value::from(3)]).resolve().await?;
        let pipelined = main.call(
            "",
            vec![Value::Promise(main.call("", vec![Value::from(2)]))],
        );
        let sixteen = pipelined.resolve().await?;
        let squares = main
            .call("", vec![Value::from(4)])
            .map(|x| Value::Promise(main.call("", vec![Value::Promise(x)])));
        let two_fifty_six = squares.resolve().await?;
        Ok::<_, RpcError>((nine, sixteen, two_fifty_six))
    });
    let (nine, sixteen, two_fifty_six) = results.unwrap();
    assert_eq!(nine.as_f64(), Some(9.0));
    assert_eq!(sixteen.as_f64(), Some(16.0));
    assert_eq!(two_fifty_six.as_f64(), Some(256.0));
}

/// A timer of the test's own (a thread per sleep), standing for another executor's.
fn thread_sleep(after: std::time::Duration) -> capnweb::stub::BoxFuture<()> {
    let (woken, wake) = futures_util::future::abortable(futures_util::future::pending::<()>());
    std::thread::spawn(move || {
        std::thread::sleep(after);
        wake.abort();
    });
    Box::pin(async move {
        let _ = woken.await;
    })
}

#[test]
fn timeouts_run_on_a_timer_given_to_the_session() {
    let mut pool = LocalPool::new();
    let spawner = pool.spawner();
    let (a, b) = in_process::pair();
    let idle = std::time::Duration::from_millis(100);
    let options = SessionOptions::default()
        .idle_timeout(idle)
        .timer(thread_sleep);
    let (_server, serve) = RpcSession::new(a, Some(square()), options);
    let (client, run) = RpcSession::new(b, None, SessionOptions::default());
    spawner.spawn_local(serve).unwrap();
    spawner.spawn_local(run).unwrap();
    let main = client.main();
    let started = std::time::Instant::now();
    let (nine, ended) = pool.run_until(async move {
        let nine = main.call("", vec![Value::from(3)]).resolve().await;
        // Then nothing: the server ends the session once idle, on the given timer.
        (nine, client.closed().await)
    });
    assert_eq!(nine.unwrap().as_f64(), Some(9.0));
    assert!(ended.to_string().contains("idle"), "{ended}");
    assert!(started.elapsed() >= idle, "{:?}", started.elapsed());
}
