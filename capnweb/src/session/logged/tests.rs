use std::time::Duration;

use futures_util::{SinkExt, StreamExt};

use super::*;
use crate::session::{RpcSession, SessionOptions};
use crate::transport::in_process::{self, InProcess};

/// A client session whose peer is the raw other end of its transport.
fn session() -> (RpcSession, InProcess) {
    let (a, b) = in_process::pair();
    (RpcSession::spawn(a, None, SessionOptions::default()), b)
}

async fn next_frame(peer: &mut InProcess) -> String {
    tokio::time::timeout(Duration::from_secs(5), peer.next())
        .await
        .expect("a frame")
        .expect("open")
        .expect("ok")
}

#[tokio::test]
async fn a_units_handles_go_back_to_their_session_as_its_own_imports() {
    let (session, mut peer) = session();
    let log = Arc::new(RunLog::default());
    let main = LoggedHook::wrap(&log, session.main());
    let first = main.call("first", vec![]);
    let args = vec![Value::Stub(main.clone()), Value::Promise(first.clone())];
    let _second = main.call("second", args);
    assert_eq!(
        next_frame(&mut peer).await,
        r#"["push",["pipeline",0,["first"],[]]]"#
    );
    // Not new exports of ours: the peer's main object and the pipelined first result.
    assert_eq!(
        next_frame(&mut peer).await,
        r#"["push",["pipeline",0,["second"],[["import",0],["pipeline",1]]]]"#
    );
    assert!(!log.safe_to_repeat());
}

#[tokio::test]
async fn a_capability_in_a_result_belongs_to_the_unit_whichever_task_uses_it() {
    let (session, mut peer) = session();
    let log = Arc::new(RunLog::default());
    let main = LoggedHook::wrap(&log, session.main());
    let got = crate::session::run_log::idempotent(|| main.call("get", vec![]));
    assert_eq!(
        next_frame(&mut peer).await,
        r#"["push",["pipeline",0,["get"],[]]]"#
    );
    assert!(log.safe_to_repeat(), "only an idempotent call so far");
    let resolving = tokio::spawn(async move { got.resolve().await });
    assert_eq!(next_frame(&mut peer).await, r#"["pull",1]"#);
    peer.send(r#"["resolve",1,{"obj":["export",-5]}]"#.into())
        .await
        .unwrap();
    let value = resolving.await.unwrap().unwrap();
    let obj = value.get("obj").and_then(Value::as_stub).expect("a stub");
    assert!(
        obj.downcast::<LoggedHook>().is_some(),
        "not the unit's handle"
    );
    // Used from a task of no unit, it is still counted in the unit's log.
    let obj = obj.clone();
    tokio::spawn(async move { drop(obj.call("bump", vec![])) })
        .await
        .unwrap();
    let mut frame = next_frame(&mut peer).await;
    if frame.starts_with(r#"["release""#) {
        frame = next_frame(&mut peer).await;
    }
    assert_eq!(frame, r#"["push",["pipeline",-5,["bump"],[]]]"#);
    assert!(!log.safe_to_repeat());
}

#[tokio::test]
async fn a_handle_resolves_to_itself_and_a_broken_one_stays_broken() {
    let (session, _peer) = session();
    let log = Arc::new(RunLog::default());
    let main = LoggedHook::wrap(&log, session.main());
    let resolved = main.resolve().await.unwrap();
    assert!(resolved.as_stub().is_some_and(|s| s.same(&main)));
    let broken = LoggedHook::wrap(&log, Stub::broken(RpcError::error("gone")));
    assert!(broken.downcast::<ErrorHook>().is_some());
    assert!(log.safe_to_repeat(), "resolving sends no call");
}
