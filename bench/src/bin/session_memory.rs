//! Memory a server keeps per session after hostile peers have come and gone: heap bytes still
//! allocated, over 10,000 sessions each fed a hostile sequence (the leaks the hardening issue
//! found, and the session fuzzer's finds), and the live session count.
//! `cargo run --release --manifest-path bench/Cargo.toml --bin session_memory`.

use std::time::Duration;

use capnweb::session::live_sessions;
use capnweb::transport::in_process;
use capnweb::{RpcSession, SessionOptions};
use futures_util::SinkExt;

#[path = "../counting.rs"]
mod counting;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

const HOSTILE: &[&[&str]] = &[
    &[r#"["resolve",0,["promise",5]]"#],
    &[r#"["resolve",-3,["writable",-3]]"#],
    &[
        r#"["push",["pipeline",0,["callFunction"],[["export",0]]]]"#,
        r#"["resolve",1,["import",1]]"#,
        r#"["stream",["import",1]]"#,
    ],
    &[
        r#"["push",["pipeline",0,["makeCounter"],[1]]]"#,
        r#"["push",["pipeline",1,["increment"],[["promise",-1]]]]"#,
        r#"["pipe"]"#,
        r#"["stream",["pipeline",-1,["write"],["x"]]]"#,
    ],
    &[
        r#"["push",["pipeline",0,["echo"],["a\ud800"]]]"#,
        r#"["pull",1]"#,
    ],
];

async fn hostile_session(messages: &[&str]) {
    let (ours, mut theirs) = in_process::pair();
    let (_session, run) = RpcSession::new(
        ours,
        Some(capnweb_examples::interop::test_target()),
        SessionOptions::default(),
    );
    let run = tokio::spawn(run);
    for m in messages {
        let _ = theirs.send((*m).to_owned()).await;
    }
    tokio::task::yield_now().await;
    drop(theirs);
    let _ = tokio::time::timeout(Duration::from_secs(5), run).await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Warm up: allocations that stay for the process (thread locals, tables) come first.
        for seq in HOSTILE {
            hostile_session(seq).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let before = counting::live().0;
        let sessions_before = live_sessions();
        // `SESSIONS`: how many (10,000 by default); bytes that stay the same whatever the count
        // are the process's (a thread's spare buffers), not the sessions'.
        let n: usize = std::env::var("SESSIONS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(10_000);
        for i in 0..n {
            hostile_session(HOSTILE[i % HOSTILE.len()]).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = counting::live().0;
        println!(
            "after {n} hostile sessions: {} bytes still allocated ({:.2} per session), \
             live sessions {} -> {}",
            after - before,
            (after - before) as f64 / n as f64,
            sessions_before,
            live_sessions()
        );
    });
}
