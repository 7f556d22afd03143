//! Restorable capabilities (`Client::restorable`) against real server processes killed with
//! SIGKILL and restarted, and with failover to a second server. What ran is read from the
//! servers' own logs (`RAN <tag>`, `JOINED <room>`), not taken from what the client reports.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use capnweb::client::{Backoff, CircuitBreaker, Restorable, RetryPolicy};
use capnweb::{Client, RpcError};
use capnweb_tests::faulty::{FaultyClient, Listener, ListenerClient, RoomClient};
use capnweb_tests::FaultServer;

async fn spawn(port: u16) -> FaultServer {
    let exe = env!("CARGO_BIN_EXE_fault_server");
    FaultServer::start(exe, port, &["--delay-ms", "300"]).await
}

/// A client of these servers, in order, that retries quickly. Its breaker opens after
/// `failures` failed connections: many keep it closed through a restart, one fails over at
/// once.
async fn client(servers: &[&FaultServer], pool: usize, failures: u32) -> Client<FaultyClient> {
    let quick = Backoff::exponential(Duration::from_millis(20), Duration::from_millis(200));
    Client::<FaultyClient>::builder()
        .endpoints(
            servers
                .iter()
                .map(|s| format!("ws://127.0.0.1:{}/", s.port)),
        )
        .pool_size(pool)
        .backoff(quick)
        .retry(RetryPolicy::new().attempts(5).backoff(quick))
        .circuit_breaker(CircuitBreaker::new().failure_threshold(failures))
        .connect_timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap()
}

/// The posts a member heard, through the callback it handed over when joining.
#[derive(Clone, Default)]
struct Heard(Arc<Mutex<Vec<u32>>>);

impl Listener for Heard {
    async fn heard(&self, tag: f64) -> Result<(), RpcError> {
        self.0.lock().unwrap().push(tag as u32);
        Ok(())
    }
}

impl Heard {
    async fn wait_for(&self, tag: u32) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !self.0.lock().unwrap().contains(&tag) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the callback never heard {tag}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The lobby, joined (again) on each new session with a callback of `heard`; counts how often
/// `on_restored` ran.
fn lobby(
    client: &Client<FaultyClient>,
    heard: &Heard,
    restored: &Arc<AtomicUsize>,
) -> Restorable<RoomClient> {
    let heard = heard.clone();
    let restored = restored.clone();
    client
        .restorable(move |main: FaultyClient| {
            let listener = ListenerClient::from_impl(heard.clone());
            async move { main.join("lobby", listener).await }
        })
        .on_restored(move |_room| {
            restored.fetch_add(1, Ordering::SeqCst);
            async {}
        })
}

fn maybe_delivered<T>(result: &Result<T, RpcError>) -> bool {
    matches!(
        result,
        Err(RpcError::Disconnected {
            maybe_delivered: true,
            ..
        })
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_is_joined_again_after_kill_9_and_no_post_runs_twice() {
    joined_again_after_kill_9().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_room_is_joined_again_after_kill_9_and_no_post_runs_twice_on_one_thread() {
    joined_again_after_kill_9().await;
}

async fn joined_again_after_kill_9() {
    let first = spawn(0).await;
    let client = client(&[&first], 2, 50).await;
    let (heard, restored) = (Heard::default(), Arc::new(AtomicUsize::new(0)));
    let room = lobby(&client, &heard, &restored);
    assert_eq!(room.run(|r| r.post(1.0)).await.unwrap(), 1.0);
    heard.wait_for(1).await;
    assert_eq!(
        first.joined(),
        1,
        "joined once, on one of the pool's sessions"
    );
    // Posts in flight (each takes the server's 300 ms) when the server is killed, and more
    // made while it is down, which wait for the room on the restarted one.
    let post = |tag: u32| {
        let room = room.clone();
        tokio::spawn(async move { (tag, room.run(|r| r.post(f64::from(tag))).await) })
    };
    let mut posts: Vec<_> = (100..120).map(post).collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut first = first;
    first.kill9().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    posts.extend((200..220).map(post));
    let second = spawn(first.port).await;
    let mut answered = Vec::new();
    for post in posts {
        let (tag, result) = post.await.unwrap();
        match result {
            Ok(v) => {
                assert_eq!(v, f64::from(tag));
                answered.push(tag);
            }
            Err(e) => assert!(maybe_delivered(&Err::<(), _>(e.clone())), "{tag}: {e:?}"),
        }
    }
    assert!(
        answered.iter().any(|t| (200..220).contains(t)),
        "no post made while the server was down was answered: {answered:?}"
    );
    // After the restart: the room was joined again, once, and the callback handed over again.
    assert_eq!(room.run(|r| r.post(999.0)).await.unwrap(), 999.0);
    heard.wait_for(999).await;
    assert_eq!(second.joined(), 1, "the new server was joined once");
    assert_eq!((room.restored(), restored.load(Ordering::SeqCst)), (1, 1));
    let mut ran = first.ran();
    ran.extend(second.ran());
    for tag in (100..120).chain(200..220) {
        let times = ran.iter().filter(|&&t| t == tag).count();
        assert!(times <= 1, "post {tag} ran {times} times");
        if answered.contains(&tag) {
            assert_eq!(times, 1, "post {tag} answered but ran {times} times");
        }
    }
    eprintln!(
        "over a kill -9, of 40 posts: {} answered, {} ran, none twice",
        answered.len(),
        ran.iter().filter(|&&t| t >= 100 && t != 999).count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_is_joined_on_the_second_server_when_the_first_dies() {
    let (first, second) = (spawn(0).await, spawn(0).await);
    let client = client(&[&first, &second], 1, 1).await;
    let (heard, restored) = (Heard::default(), Arc::new(AtomicUsize::new(0)));
    let room = lobby(&client, &heard, &restored);
    assert_eq!(room.run(|r| r.post(1.0)).await.unwrap(), 1.0);
    assert_eq!((first.joined(), second.joined()), (1, 0));
    let mut first = first;
    first.kill9().await;
    // Once the client has seen the session end (a post sent before that may have reached the
    // dead server, and is not repeated), the room is joined on the second server.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while room.restored() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "never restored");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(room.run(|r| r.post(2.0)).await.unwrap(), 2.0);
    heard.wait_for(2).await;
    assert_eq!(second.joined(), 1, "joined on the second server");
    assert_eq!(second.ran(), vec![2]);
    assert_eq!((room.restored(), restored.load(Ordering::SeqCst)), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_derivation_with_a_side_effect_is_not_repeated_and_says_why() {
    let first = spawn(0).await;
    let client = client(&[&first], 1, 50).await;
    let room: Restorable<RoomClient> = client.restorable(|main: FaultyClient| async move {
        // `bump` is not idempotent: this derivation may not run twice.
        main.bump(7.0).await?;
        main.join("lobby", ListenerClient::from_impl(Heard::default()))
            .await
    });
    assert_eq!(room.run(|r| r.post(1.0)).await.unwrap(), 1.0);
    let mut first = first;
    first.kill9().await;
    let second = spawn(first.port).await;
    let refused = room.run(|r| r.post(2.0)).await.unwrap_err();
    assert!(refused.to_string().contains("idempotent"), "{refused}");
    // The new server got neither the derivation nor the work.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!((second.joined(), second.ran()), (0, vec![]));
    assert_eq!(first.ran(), vec![1, 7]);
}
