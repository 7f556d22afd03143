//! The live WebSocket sessions of a server, so that shutdown can let their calls finish and then
//! tell each peer why the session ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::future::join_all;

use crate::error::RpcError;
use crate::session::RpcSession;

/// The reason sessions get when the server stops.
pub(crate) const SHUTTING_DOWN: &str = "server is shutting down";

#[derive(Default)]
pub(crate) struct Registry {
    next: AtomicU64,
    /// Each with the address of its peer.
    sessions: Mutex<HashMap<u64, (RpcSession, Option<IpAddr>)>>,
    stopping: AtomicBool,
}

impl Registry {
    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (RpcSession, Option<IpAddr>)>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn add(&self, session: &RpcSession, peer: Option<IpAddr>) -> u64 {
        if self.stopping.load(Ordering::Acquire) {
            session.abort(RpcError::disconnected(SHUTTING_DOWN));
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.sessions().insert(id, (session.clone(), peer));
        id
    }

    /// Ends the session (of peer `of`, if given) idle longest, if it has been idle at least
    /// `idle`, to make room for a new one; returns whether one was ended.
    pub(crate) fn reclaim_idlest(&self, of: Option<IpAddr>, idle: Duration) -> bool {
        let idlest = self
            .sessions()
            .values()
            .filter(|(s, peer)| of.is_none_or(|of| *peer == Some(of)) && !s.is_closed())
            .map(|(s, _)| (s.idle_for(), s.clone()))
            .filter(|(idle_for, _)| *idle_for >= idle)
            .max_by_key(|(idle_for, _)| *idle_for);
        let Some((idle_for, session)) = idlest else {
            return false;
        };
        session.abort(RpcError::disconnected(format!(
            "the server is full: this session, idle for {}s (the longest), made room for a new one",
            idle_for.as_secs()
        )));
        true
    }

    pub(crate) fn remove(&self, id: u64) {
        self.sessions().remove(&id);
    }

    /// Lets every session answer what it was asked, for up to `grace`, then ends them all with
    /// an abort saying the server is shutting down, and waits (briefly) for them to close.
    pub(crate) async fn shut_down(&self, grace: Duration) {
        self.stopping.store(true, Ordering::Release);
        let sessions: Vec<RpcSession> = self.sessions().values().map(|(s, _)| s.clone()).collect();
        // No new call runs; each session ends as soon as its calls are answered, telling the
        // peer that what it left unanswered did not run (so a client may run it elsewhere).
        for s in &sessions {
            s.refuse_new_calls();
        }
        let answered = join_all(sessions.iter().map(|s| s.end_once_answered(SHUTTING_DOWN)));
        let _ = tokio::time::timeout(grace, answered).await;
        for s in &sessions {
            s.abort(RpcError::disconnected(SHUTTING_DOWN));
        }
        let closed = join_all(sessions.iter().map(RpcSession::closed));
        let _ = tokio::time::timeout(Duration::from_secs(1), closed).await;
    }
}
